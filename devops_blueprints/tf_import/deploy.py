"""Create or extend a stack with an IMPORT change set, then add it to DevOps Guru's coverage.

Only imports: the change set type is IMPORT, so CloudFormation never creates, replaces or deletes
the resources. On an existing stack, resources already in it (same logical id, or same physical
id / identifier) are left alone and only the new ones are imported; the stack's current template is
kept and the new resources are added to it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from jsonschema import Draft202012Validator

from devops_blueprints._json_input import JsonInputError, loads, read_text, schema_problem
from devops_blueprints.tf_import.errors import TfImportError
from devops_blueprints.tf_import.s3path import upload_template
from devops_blueprints.tf_import.template import STACK_RESOURCE_LIMIT, TEMPLATE_BODY_LIMIT, template_body

DEFAULT_STACK_NAME = "terraform-import"
_BUSY = ("_IN_PROGRESS",)
_UNUSABLE = {
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "CREATE_FAILED",
    "IMPORT_ROLLBACK_FAILED",
}
_DONE_OK = {"IMPORT_COMPLETE"}
_DONE_FAILED = {"IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}

Printer = Callable[[str], None]


@dataclass
class ImportPlan:
    """What one deploy will do."""

    template: dict[str, Any]
    to_import: list[dict[str, Any]]
    already_in_stack: list[str] = field(default_factory=list)  # logical ids of our resources already there
    stack_exists: bool = False


@dataclass
class DeployResult:
    stack_name: str
    imported: list[str]
    already_in_stack: list[str]
    guru_added: bool


# CreateStack / CreateChangeSet StackName: "A stack name can contain only alphanumeric characters (case
# sensitive) and hyphens. It must start with an alphabetical character and can't be longer than 128
# characters." (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html)
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
MAX_INPUT_BYTES = 16 * 1024 * 1024  # templates go up to 1 MB through S3; ResourcesToImport is smaller

# What `tf cfn` writes. The logical id rule is CloudFormation's ("alphanumeric (A-Za-z0-9) and unique within
# the template", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html);
# resource types are SERVICE-PROVIDER::SERVICE-NAME::DATA-TYPE-NAME.
_LOGICAL_ID = {"type": "string", "pattern": "^[A-Za-z0-9]{1,255}$"}
_RESOURCE_TYPE = {"type": "string", "pattern": "^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$"}
TEMPLATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["Resources"],
    "properties": {
        "Resources": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z0-9]{1,255}$"},
            "additionalProperties": {
                "type": "object",
                "required": ["Type"],
                "properties": {"Type": _RESOURCE_TYPE, "Properties": {"type": "object"}},
            },
        }
    },
}
RESOURCES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["ResourceType", "LogicalResourceId", "ResourceIdentifier"],
        "additionalProperties": False,
        "properties": {
            "ResourceType": _RESOURCE_TYPE,
            "LogicalResourceId": _LOGICAL_ID,
            "ResourceIdentifier": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 2048},
            },
        },
    },
}


_SHAPES = {
    "--template": "expected a CloudFormation template written by `tf cfn`",
    "--resources": "expected a ResourcesToImport list [{ResourceType, LogicalResourceId, ResourceIdentifier}]",
}


def check_stack_name(name: str) -> None:
    if not _STACK_NAME.match(name):
        raise TfImportError(
            f"--stack-name {name!r}: a stack name is 1-128 letters, digits and hyphens, starting with a letter"
        )


def load_inputs(template_path: str | Path, resources_path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The template and ResourcesToImport files written by ``tf cfn``, checked for shape (JSON Schema) and
    against each other."""
    template = _read_json(template_path, "--template", TEMPLATE_SCHEMA)
    resources = _read_json(resources_path, "--resources", RESOURCES_SCHEMA)
    seen: set[str] = set()
    for position, item in enumerate(resources):
        lid = item["LogicalResourceId"]
        if lid in seen:
            raise TfImportError(f"--resources {resources_path}: [{position}]: LogicalResourceId {lid} is listed twice")
        seen.add(lid)
        declared = template["Resources"].get(lid)
        if declared is None or declared.get("Type") != item["ResourceType"]:
            raise TfImportError(
                f"--resources {resources_path}: {lid} ({item['ResourceType']}) "
                f"is not a resource of that type in --template {template_path}"
            )
        if declared.get("DeletionPolicy") != "Retain":
            raise TfImportError(f"--template {template_path}: {lid} needs DeletionPolicy Retain to be imported")
    return template, resources


def _read_json(path: str | Path, option: str, schema: dict[str, Any]) -> Any:
    source = f"{option} {path}"
    try:
        value = loads(read_text(path, source, max_bytes=MAX_INPUT_BYTES), source)
    except FileNotFoundError:
        raise TfImportError(f"{source}: no such file (write it with `devops-blueprints tf cfn`)") from None
    except JsonInputError as exc:
        raise TfImportError(str(exc)) from None
    problem = schema_problem(Draft202012Validator(schema), value)
    if problem is not None:
        raise TfImportError(f"{source}: {problem} ({_SHAPES[option]})")
    return value


def _aws_error(action: str, exc: Exception) -> TfImportError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return TfImportError(f"{action}: {error.get('Code', 'Error')}: {error.get('Message', exc)}")
    return TfImportError(f"{action}: {exc}")


def describe_stack(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    """The stack, or ``None`` when it does not exist."""
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
            return None
        raise _aws_error(f"describe stack {stack_name}", exc) from None
    except BotoCoreError as exc:
        raise _aws_error(f"describe stack {stack_name}", exc) from None
    return dict(stacks[0]) if stacks else None


def plan_import(cfn: Any, stack_name: str, template: dict[str, Any], resources: list[dict[str, Any]]) -> ImportPlan:
    """Compare with the existing stack (if any): the merged template and the resources still to import."""
    stack = describe_stack(cfn, stack_name)
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":  # nothing there yet
        return ImportPlan(template, list(resources), [], stack_exists=False)
    status = stack["StackStatus"]
    if status.endswith(_BUSY):
        raise TfImportError(f"stack {stack_name} is busy ({status}); wait for it to finish and run again")
    if status in _UNUSABLE:
        raise TfImportError(f"stack {stack_name} is in {status} and cannot be updated; inspect or delete it first")
    try:
        body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
        existing = _paginate_stack_resources(cfn, stack_name)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"read stack {stack_name}", exc) from None
    current = _parse_template(body, stack_name)
    current_resources = current.setdefault("Resources", {})
    physical = {(r["ResourceType"], r.get("PhysicalResourceId")) for r in existing}
    to_import: list[dict[str, Any]] = []
    already: list[str] = []
    for item in resources:
        lid, rtype = item["LogicalResourceId"], item["ResourceType"]
        if lid in current_resources:
            if current_resources[lid].get("Type") != rtype:
                raise TfImportError(
                    f"stack {stack_name} already has a {current_resources[lid].get('Type')} "
                    f"with logical id {lid}, "
                    f"not the {rtype} to import"
                )
            already.append(lid)
            continue
        if _same_resource_in_stack(item, rtype, physical, current_resources):
            already.append(lid)
            continue
        current_resources[lid] = template["Resources"][lid]
        to_import.append(item)
    return ImportPlan(current, to_import, already, stack_exists=True)


def _paginate_stack_resources(cfn: Any, stack_name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"StackName": stack_name}
        if token:
            kwargs["NextToken"] = token
        page = cfn.list_stack_resources(**kwargs)
        found.extend(page.get("StackResourceSummaries", []))
        token = page.get("NextToken")
        if not token:
            return found


def _parse_template(body: Any, stack_name: str) -> dict[str, Any]:
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    try:
        parsed = json.loads(body)
    except (TypeError, json.JSONDecodeError):
        raise TfImportError(
            f"stack {stack_name} has a YAML template; import into a stack with a JSON template or a new --stack-name"
        ) from None
    if not isinstance(parsed, dict):
        raise TfImportError(f"stack {stack_name}: its template is not a JSON object")
    return parsed


def _same_resource_in_stack(
    item: dict[str, Any], rtype: str, physical: set[tuple[str, Any]], current: dict[str, Any]
) -> bool:
    identifier: dict[str, str] = item["ResourceIdentifier"]
    if len(identifier) == 1 and (rtype, next(iter(identifier.values()))) in physical:
        return True
    # Compound identifiers (ECS service, API Gateway stage): compare with the declared properties.
    for declared in current.values():
        if declared.get("Type") != rtype:
            continue
        props = declared.get("Properties") or {}
        if all(props.get(key) == value for key, value in identifier.items()):
            return True
    return False


def deploy(
    cfn: Any,
    guru: Any | None,
    s3: Any | None,
    *,
    template: dict[str, Any],
    resources: list[dict[str, Any]],
    stack_name: str = DEFAULT_STACK_NAME,
    s3_path: str | None = None,
    change_set_name: str | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    echo: Printer = print,
) -> DeployResult:
    """Import ``resources`` into ``stack_name`` and (unless ``guru`` is None) add it to DevOps Guru."""
    plan = plan_import(cfn, stack_name, template, resources)
    if plan.already_in_stack:
        echo(f"already in stack {stack_name}: {len(plan.already_in_stack)} resource(s), left as they are")
    if plan.to_import:
        count = len(plan.template.get("Resources", {}))
        if count > STACK_RESOURCE_LIMIT:
            raise TfImportError(
                f"stack {stack_name} would hold {count} resources, over CloudFormation's "
                f"{STACK_RESOURCE_LIMIT} per "
                "stack; split the import with --types or by module into several stacks"
            )
        source = _template_source(plan.template, s3, s3_path, stack_name)
        name = change_set_name or "tf-import-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        _create_change_set(cfn, stack_name, name, plan, source, poll_seconds, timeout_seconds, sleep, echo)
        execute_and_wait(cfn, stack_name, name, poll_seconds, timeout_seconds, sleep, echo)
        echo(f"imported {len(plan.to_import)} resource(s) into stack {stack_name}")
    else:
        echo(f"nothing new to import into stack {stack_name}")
    guru_added = False
    if guru is not None:
        add_to_devops_guru(guru, stack_name)
        echo(f"stack {stack_name} added to the DevOps Guru resource collection")
        guru_added = True
    return DeployResult(stack_name, [r["LogicalResourceId"] for r in plan.to_import], plan.already_in_stack, guru_added)


def _template_source(template: dict[str, Any], s3: Any | None, s3_path: str | None, stack_name: str) -> dict[str, str]:
    body = template_body(template)
    size = len(body.encode("utf-8"))
    if size <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": body}
    if not s3_path or s3 is None:
        raise TfImportError(
            f"the template for stack {stack_name} is {size} bytes, over CloudFormation's "
            f"{TEMPLATE_BODY_LIMIT}-byte "
            "TemplateBody limit; pass --s3-path s3://BUCKET/PREFIX to upload it"
        )
    return {"TemplateURL": upload_template(s3, s3_path, body)}


def _create_change_set(
    cfn: Any,
    stack_name: str,
    name: str,
    plan: ImportPlan,
    source: dict[str, str],
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None],
    echo: Printer,
) -> None:
    echo(f"creating IMPORT change set {name} for {len(plan.to_import)} resource(s) in stack {stack_name}")
    try:
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType="IMPORT",
            ResourcesToImport=plan.to_import,
            Description="Import Terraform-managed resources (devops-blueprints tf deploy)",
            **source,
        )
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"create IMPORT change set for stack {stack_name}", exc) from None
    described = wait_for_change_set(cfn, stack_name, name, poll_seconds, timeout_seconds, sleep, echo)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason") or "no reason given"
        raise TfImportError(f"change set {name} for stack {stack_name} failed: {reason}")


def wait_for_change_set(
    cfn: Any,
    stack_name: str,
    name: str,
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None],
    echo: Printer,
) -> dict[str, Any]:
    """Poll change set ``name`` until it is created or has failed; its last description."""
    waited = 0.0
    while True:
        try:
            described: dict[str, Any] = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(f"describe change set {name}", exc) from None
        status = described["Status"]
        if status in ("CREATE_COMPLETE", "FAILED"):
            echo(f"change set {name}: {status}")
            return described
        echo(f"change set {name}: {status} ({waited:.0f} s)")
        waited = _wait(waited, poll_seconds, timeout_seconds, f"change set {name}", sleep)


def execute_and_wait(
    cfn: Any,
    stack_name: str,
    name: str,
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None],
    echo: Printer,
    *,
    done_ok: frozenset[str] | set[str] = _DONE_OK,
    done_failed: frozenset[str] | set[str] = _DONE_FAILED,
    what: str = "import into",
) -> None:
    """Execute change set ``name`` and follow the stack's events until it reaches ``done_ok`` (or fails,
    naming every failed resource's reason)."""
    try:
        # Events already there (an existing stack's history) are not this import's progress.
        seen = {event["EventId"] for event in cfn.describe_stack_events(StackName=stack_name)["StackEvents"]}
        cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(f"execute change set {name}", exc) from None
    failures: list[str] = []
    waited = 0.0
    while True:
        try:
            events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
            status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(f"watch stack {stack_name}", exc) from None
        for event in reversed(events):  # the API lists newest first
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            reason = event.get("ResourceStatusReason")
            line = f"{event['LogicalResourceId']} {event['ResourceStatus']}"
            echo(f"  {line}: {reason}" if reason else f"  {line}")
            if event["ResourceStatus"].endswith("_FAILED") and reason:
                failures.append(f"{event['LogicalResourceId']}: {reason}")
        if status in done_ok:
            return
        if status in done_failed:
            detail = "; ".join(failures) or "no reason given"
            raise TfImportError(f"{what} stack {stack_name} failed ({status}): {detail}")
        echo(f"stack {stack_name}: {status} ({waited:.0f} s)")
        waited = _wait(waited, poll_seconds, timeout_seconds, f"stack {stack_name}", sleep)


def _wait(
    waited: float, poll_seconds: float, timeout_seconds: float, what: str, sleep: Callable[[float], None]
) -> float:
    if waited >= timeout_seconds:
        raise TfImportError(
            f"{what}: still in progress after {timeout_seconds:.0f} s; check the CloudFormation console"
        )
    sleep(poll_seconds)
    return waited + poll_seconds


def add_to_devops_guru(guru: Any, stack_name: str) -> None:
    """Add ``stack_name`` to the account's DevOps Guru resource collection (CloudFormation stacks)."""
    try:
        guru.update_resource_collection(
            Action="ADD", ResourceCollection={"CloudFormation": {"StackNames": [stack_name]}}
        )
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error(
            f"add stack {stack_name} to DevOps Guru (an account using tag-based coverage needs the "
            "stack tagged instead; rerun with --no-guru)",
            exc,
        ) from None

"""``tf deploy --engine cloudwatch``: the CloudWatch engine for imported resources, as a companion stack.

DevOps Guru ends on 2027-09-30; after that ``UpdateResourceCollection`` has nothing to add the import stack
to. With the CloudWatch engine the imported resources get the engine's alarms, composite alarm, log anomaly
detectors and dashboard from a second stack, ``<stack>-observability``, that addresses them by the physical
names the import template holds (no cross-stack references, so the import stack is never touched again).
The companion is synthesized in-process with the library's own ``CloudWatchEngine`` and deployed with an
ordinary CREATE or UPDATE change set.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devops_blueprints.tf_import.deploy import execute_and_wait, wait_for_change_set
from devops_blueprints.tf_import.errors import TfImportError

COMPANION_SUFFIX = "-observability"
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_CREATED = frozenset({"CREATE_COMPLETE"})
_UPDATED = frozenset({"UPDATE_COMPLETE"})
_FAILED = frozenset(
    {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"}
)


def companion_stack_name(stack_name: str) -> str:
    return f"{stack_name}{COMPANION_SUFFIX}"


def companion_template(template: dict[str, Any], stack_name: str) -> tuple[dict[str, Any], Any]:
    """The companion stack's template for the resources of ``template`` (the import stack ``stack_name``),
    and the engine's :class:`ApplicationCoverage` of them (application name: the import stack's name)."""
    import aws_cdk as cdk

    from devops_blueprints.constructs.observability.cloudwatch_engine import CloudWatchEngine

    name = companion_stack_name(stack_name)
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(outdir=outdir, analytics_reporting=False)
        # Deployed by boto3, not by the CDK CLI: no bootstrap version check.
        stack = cdk.Stack(
            app,
            name,
            synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
            description=f"CloudWatch engine for the resources imported into {stack_name} (devops-blueprints)",
        )
        engine = CloudWatchEngine(stack, "Engine")
        try:
            coverage = engine.cover_template(template, stack_name, source=stack_name)
        except ValueError as exc:
            raise TfImportError(f"companion stack {name}: {exc}") from None
        if not coverage.alarms and not coverage.log_anomaly_detectors:
            raise TfImportError(
                f"no resource of stack {stack_name} is one the CloudWatch engine covers; nothing to deploy "
                f"(uncovered: {', '.join(sorted(coverage.uncovered)) or 'none'})"
            )
        body = app.synth().get_stack_by_name(name).template
    return body, coverage


def deploy_companion(
    cfn: Any,
    template: dict[str, Any],
    stack_name: str,
    *,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    echo: Callable[[str], None] = print,
) -> bool:
    """Create or update the companion stack, with ``tf deploy``'s change-set waiting and progress; False
    when it was already up to date."""
    name = companion_stack_name(stack_name)
    try:
        exists = _exists(cfn, name)
        change_set = "tf-observability-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        cfn.create_change_set(
            StackName=name,
            ChangeSetName=change_set,
            ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateBody=json.dumps(template, allow_nan=False),
            Description="CloudWatch engine for imported resources (devops-blueprints tf deploy)",
        )
    except (ClientError, BotoCoreError) as exc:
        raise TfImportError(f"companion stack {name}: {exc}") from None
    described = wait_for_change_set(cfn, name, change_set, poll_seconds, timeout_seconds, sleep, echo)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason") or "no reason given"
        if any(marker in reason for marker in _NO_CHANGES):
            echo(f"companion stack {name} is up to date")
            return False
        raise TfImportError(f"change set {change_set} for companion stack {name} failed: {reason}")
    execute_and_wait(
        cfn,
        name,
        change_set,
        poll_seconds,
        timeout_seconds,
        sleep,
        echo,
        done_ok=_UPDATED if exists else _CREATED,
        done_failed=_FAILED,
        what="update of" if exists else "creation of",
    )
    echo(f"companion stack {name} {'updated' if exists else 'created'}")
    return True


def _exists(cfn: Any, name: str) -> bool:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return bool(stacks) and stacks[0]["StackStatus"] != "REVIEW_IN_PROGRESS"

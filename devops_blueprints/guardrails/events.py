"""CloudTrail events -> the request an SCP is evaluated against.

* **Action** from ``eventSource`` + ``eventName``: the service prefix is the event source's host name
  (``ec2.amazonaws.com`` -> ``ec2``) except where the IAM prefix differs (:data:`SOURCE_PREFIXES`); the
  action is the IAM action of that name, or else the one action whose documented API operation is the
  event name (the IAM database's ``api_documentation_link``, ``.../API_<Operation>.html``, so S3's
  ``ListObjectsV2`` is ``s3:ListBucket`` and ``ListBuckets`` is ``s3:ListAllMyBuckets``). An operation
  documented for several actions (KMS ``ReEncrypt``: ``ReEncryptFrom`` and ``ReEncryptTo``) is
  reported as ambiguous rather than guessed.
* **Principal** from ``userIdentity``
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html):
  an ``AssumedRole`` session counts as its role (``sessionContext.sessionIssuer.arn``, which keeps the
  role's path), ``IAMUser``, ``Root`` and ``FederatedUser`` by their ARN; ``AWSService`` calls (made by
  AWS itself) and service-linked roles are not restricted by SCPs, nor is anything in the management
  account ("SCPs don't affect users or roles in the management account"; "SCPs do not affect any
  service-linked role": https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html).
* **Context**: ``awsRegion`` -> ``aws:RequestedRegion``, the principal's account -> ``aws:PrincipalAccount``,
  ``sourceIPAddress`` (when it is an address) -> ``aws:SourceIp``, ``vpcEndpointId`` -> ``aws:SourceVpce``,
  ``sessionContext.attributes.mfaAuthenticated`` -> ``aws:MultiFactorAuthPresent``, a given organization
  ID -> ``aws:PrincipalOrgID``, tags in ``requestParameters`` -> ``aws:RequestTag/KEY`` and ``aws:TagKeys``.
  A condition key that CloudTrail does not record (``iam:ResourceTag/...``, ``ec2:InstanceType``) makes
  the event unmapped for the statements that read it: its decision cannot be known from the log.
* **Resource** (only where the policies' statements for the action name resources): the ARNs of the
  event's ``resources`` element, else the ARNs that :data:`RESOURCE_PARAMETERS` builds from
  ``requestParameters``; with none, the event is unmapped (``resource-unknown``) rather than guessed.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from devops_blueprints.guardrails import iamdb
from devops_blueprints.guardrails.cloudtrail import Event, Identity

_SUFFIX = ".amazonaws.com"
_CACHE_LIMIT = 100_000

# Event sources whose host name is not the IAM service prefix.
SOURCE_PREFIXES: Mapping[str, str] = {
    # CloudWatch's API is served from monitoring.<region>.amazonaws.com; its events carry
    # eventSource monitoring.amazonaws.com (https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-monitoring.html)
    "monitoring.amazonaws.com": "cloudwatch",
    # Resource Groups Tagging API: eventSource tagging.amazonaws.com, actions tag:TagResources ...
    # (https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/overview.html)
    "tagging.amazonaws.com": "tag",
    # DynamoDB Streams API (GetRecords, GetShardIterator): actions in the dynamodb prefix
    "streams.dynamodb.amazonaws.com": "dynamodb",
}

# Keys this module can supply from an event; any other key a statement reads is not in CloudTrail.
SUPPLIED_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:requestedregion",
        "aws:sourceip",
        "aws:sourcevpce",
        "aws:multifactorauthpresent",
        "aws:principalorgid",
        "aws:tagkeys",
    }
)
_REQUEST_TAG = "aws:requesttag/"

# Identity types (the userIdentity page above)
_ARN_TYPES = frozenset({"IAMUser", "Root", "FederatedUser"})
_EXTERNAL_TYPES = frozenset({"SAMLUser", "WebIdentityUser"})


@dataclass(frozen=True)
class MappedAction:
    action: str  # service:Name as the IAM database spells it
    resource_level: bool  # the action has resource types


@dataclass(frozen=True)
class Unmapped:
    reason: str  # groups the summary: "unknown-action: ec2.amazonaws.com DescribeFoo"


@dataclass(frozen=True)
class ActionIndex:
    """What mapping event names to actions needs from the IAM database (the indexes of
    :class:`~devops_blueprints.guardrails.iamdb.IamDatabase` of the same names)."""

    services: frozenset[str]  # lower-case service prefixes
    action_names: Mapping[str, str]  # "svc:lowername" -> "svc:Name"
    api_operations: Mapping[str, tuple[str, ...]]  # "svc:apioperation" -> the actions documented for it
    resource_level: frozenset[str]  # "svc:lowername" of the actions with resource types

    def is_service(self, prefix: str) -> bool:
        return prefix.lower() in self.services

    @classmethod
    def of(cls, db: iamdb.IamDatabase) -> ActionIndex:
        return cls(frozenset(db.actions), db.action_names, db.api_operations, db.resource_level)


class _Privilege(msgspec.Struct):
    api_documentation_link: str | None = None
    resource_types: dict[str, msgspec.Raw] = {}


class _Service(msgspec.Struct):
    prefix: str
    privileges: dict[str, _Privilege] = {}


@functools.cache
def action_index() -> ActionIndex:
    """:class:`ActionIndex` read straight from the bundled IAM definitions with msgspec, decoding only the
    privileges' names, documentation links and resource types: several times faster than building the whole
    :func:`iamdb.database` (which every replay worker process would otherwise do first). Built by the same rules
    (:class:`iamdb.ActionIndexes`); ``tests/guardrails/test_replay.py`` checks it equals ``ActionIndex.of(database())``."""
    decode_service = msgspec.json.Decoder(_Service).decode
    services: set[str] = set()
    indexes = iamdb.ActionIndexes()
    for raw in msgspec.json.decode(iamdb.definitions(), type=dict[str, msgspec.Raw]).values():
        if bytes(memoryview(raw)[:1]) != b"{":  # the file's metadata entries
            continue
        service = decode_service(raw)
        prefix = service.prefix.lower()
        services.add(prefix)
        for name, privilege in service.privileges.items():
            indexes.add(prefix, name, privilege.api_documentation_link, any(privilege.resource_types))
    return ActionIndex(frozenset(services), indexes.names, indexes.api_operations(), frozenset(indexes.resource_level))


class ActionMap:
    """``(eventSource, eventName)`` -> :class:`MappedAction` or :class:`Unmapped`, from the IAM database
    (:func:`action_index`, or the given database's indexes)."""

    def __init__(self, db: iamdb.IamDatabase | None = None) -> None:
        self._db = ActionIndex.of(db) if db is not None else action_index()
        self._cache: dict[tuple[Any, Any], MappedAction | Unmapped] = {}

    def lookup(self, source: Any, name: Any) -> MappedAction | Unmapped:
        key = (source, name)
        found = self._cache.get(key)
        if found is None:
            found = self._lookup(source, name)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = found
        return found

    def _lookup(self, source: Any, name: Any) -> MappedAction | Unmapped:
        if not isinstance(source, str) or not source:
            return Unmapped("missing-field: eventSource")
        if not isinstance(name, str) or not name:
            return Unmapped("missing-field: eventName")
        prefix = SOURCE_PREFIXES.get(source)
        if prefix is None:
            if not source.endswith(_SUFFIX):
                return Unmapped(f"unknown-event-source: {source}")
            prefix = source[: -len(_SUFFIX)]
        db = self._db
        if not db.is_service(prefix):
            return Unmapped(f"unknown-event-source: {source}")
        lowered = f"{prefix}:{name.lower()}"
        action = db.action_names.get(lowered)
        if action is None:
            candidates = db.api_operations.get(lowered, ())
            if len(candidates) > 1:
                return Unmapped(f"ambiguous-action: {source} {name} ({', '.join(candidates)})")
            if not candidates:
                return Unmapped(f"unknown-action: {source} {name}")
            action = candidates[0]
        return MappedAction(action, action.lower() in db.resource_level)


@dataclass(frozen=True)
class Principal:
    arn: str | None  # the aws:PrincipalArn value (a role session: its role)
    account: str | None


def principal(identity: Identity | None) -> Principal | Unmapped | str:
    """The calling principal; a ``str`` is why SCPs do not apply (``aws-service``, ``service-linked-role``)."""
    if identity is None:
        return Unmapped("missing-field: userIdentity")
    kind = identity.type
    account = identity.accountId
    if kind == "AssumedRole":
        context = identity.sessionContext
        issuer = context.sessionIssuer if context is not None else None
        arn = issuer.arn if issuer is not None else None
        if not isinstance(arn, str):
            session = identity.arn
            if not isinstance(session, str):
                return Unmapped("missing-field: userIdentity.arn")
            arn = _session_role(session)
        if ":role/aws-service-role/" in arn:
            return "service-linked-role"
        return Principal(arn, account if isinstance(account, str) else _account(arn))
    if kind in _ARN_TYPES:
        arn = identity.arn
        if not isinstance(arn, str):
            return Unmapped("missing-field: userIdentity.arn")
        return Principal(arn, account if isinstance(account, str) else _account(arn))
    if kind == "AWSService":
        return "aws-service"
    if kind == "AWSAccount":
        # Another account's principal, not named (only its account): its own account's SCPs apply.
        return Principal(None, account if isinstance(account, str) else None)
    if kind in _EXTERNAL_TYPES:
        return "external-identity"
    if kind is None:
        return Unmapped("missing-field: userIdentity.type")
    return Unmapped(f"unsupported-identity-type: {kind}")


def _account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] or None if len(parts) == 6 else None


def _session_role(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
    return arn


def partition(arn: str | None) -> str:
    if arn and arn.startswith("arn:"):
        return arn.split(":", 2)[1] or "aws"
    return "aws"


def is_ip(value: Any) -> bool:
    if not isinstance(value, str) or not value or not (value[0].isdigit() or ":" in value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def request_tags(parameters: Any) -> dict[str, str]:
    """Tags in a request, in the shapes services log them: ``tags``/``Tags`` as a map or a list of
    ``{Key, Value}`` / ``{key, value}``, and EC2's ``tagSpecificationSet.items[].tags``."""
    found: dict[str, str] = {}
    if not isinstance(parameters, dict):
        return found
    for name in ("tags", "Tags"):
        _add_tags(found, parameters.get(name))
    specs = parameters.get("tagSpecificationSet")
    items = specs.get("items") if isinstance(specs, dict) else None
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            _add_tags(found, item.get("tags"))
    return found


def _add_tags(found: dict[str, str], tags: Any) -> None:
    if isinstance(tags, dict):
        found.update((str(k), str(v)) for k, v in tags.items())
    elif isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict):
                key = tag.get("Key", tag.get("key"))
                if key is not None:
                    found[str(key)] = str(tag.get("Value", tag.get("value", "")))


# -- resources -----------------------------------------------------------------------------------

Builder = Callable[[dict[str, Any], str, str, str], list[str]]


def _s3(p: dict[str, Any], part: str, _region: str, _account: str) -> list[str]:
    bucket = p.get("bucketName")
    if not isinstance(bucket, str):
        return []
    key = p.get("key")
    return [f"arn:{part}:s3:::{bucket}/{key}" if isinstance(key, str) else f"arn:{part}:s3:::{bucket}"]


def _named(parameter: str, template: str, *, many: str | None = None) -> Builder:
    def build(p: dict[str, Any], part: str, region: str, account: str) -> list[str]:
        values = p.get(many) if many else None
        names = values if isinstance(values, list) else [p.get(parameter)]
        result = []
        for name in names:
            if isinstance(name, str) and name:
                result.append(name if name.startswith("arn:") else template.format(part, region, account, name))
        return result

    return build


def _sqs(p: dict[str, Any], part: str, region: str, account: str) -> list[str]:
    url = p.get("queueUrl")  # https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
    if not isinstance(url, str) or "/" not in url:
        return []
    pieces = url.rstrip("/").split("/")
    owner = pieces[-2] if len(pieces) >= 2 and pieces[-2].isdigit() else account
    return [f"arn:{part}:sqs:{region}:{owner}:{pieces[-1]}"]


# Request parameters that name the resource, per service (ARN formats from the IAM database's
# resource types: arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId} ...). A secret's
# ARN ends with a random suffix CloudTrail does not show when the call names the secret; ``name*``
# patterns still match the ARN built without it.
RESOURCE_PARAMETERS: Mapping[str, Builder] = {
    "s3": _s3,
    "secretsmanager": _named("secretId", "arn:{0}:secretsmanager:{1}:{2}:secret:{3}"),
    "logs": _named("logGroupName", "arn:{0}:logs:{1}:{2}:log-group:{3}"),
    "cloudwatch": _named("alarmName", "arn:{0}:cloudwatch:{1}:{2}:alarm:{3}", many="alarmNames"),
    "lambda": _named("functionName", "arn:{0}:lambda:{1}:{2}:function:{3}"),
    "dynamodb": _named("tableName", "arn:{0}:dynamodb:{1}:{2}:table/{3}"),
    "sns": _named("topicArn", "{3}"),
    "kms": _named("keyId", "arn:{0}:kms:{1}:{2}:key/{3}"),
    "sqs": _sqs,
    "iam": _named("roleName", "arn:{0}:iam::{2}:role/{3}"),
}


def _parsed(raw: msgspec.Raw) -> Any:
    try:
        return msgspec.json.decode(raw) if raw else None
    except (msgspec.DecodeError, RecursionError):
        return None


def parameters(record: Event) -> dict[str, Any] | None:
    """``requestParameters`` parsed (kept raw by the reader until a policy needs it)."""
    value = _parsed(record.requestParameters)
    return value if isinstance(value, dict) else None


def resources(record: Event, action: str, part: str, region: str, account: str) -> list[str]:
    """The ARNs the call acted on (see the module docstring); empty when the event does not say."""
    listed = _parsed(record.resources)  # kept raw by the reader too
    if isinstance(listed, list):
        arns = [r["ARN"] for r in listed if isinstance(r, dict) and isinstance(r.get("ARN"), str)]
        if arns:
            return arns
    builder = RESOURCE_PARAMETERS.get(action.split(":", 1)[0])
    found = parameters(record) if builder is not None else None
    if builder is None or found is None:
        return []
    return builder(found, part, region, account)

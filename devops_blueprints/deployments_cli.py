"""``devops-blueprints deployments add|list|remove``: operate the tenant deployment table.

Records are validated by the same module the provisioner Lambda uses
(``lambda_src/deployment_provisioner/records.py``), loaded from the checkout or the installed wheel.
The table's AWS region and credentials come from the usual AWS environment (``AWS_DEFAULT_REGION``,
``AWS_PROFILE``, ...); ``--region`` is the deployment's (the component's) region.

Hostile input: every error is one line (``--table``, the AWS endpoint URL and AWS's own messages are checked
or flattened); ``list`` escapes control characters in every value it prints (a value cannot fake a row or
drive the terminal) and flags malformed items in its PROBLEMS column instead of failing on them.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, NoReturn, Protocol, cast

from devops_blueprints._text import escaped as escape
from devops_blueprints.assets import AssetNotFoundError, load_lambda_module
from devops_blueprints.cli import CliError, add_group, aws_failure, call_aws

_INTEGER = re.compile(r"[+-]?[0-9]+")
# DynamoDB TableName: a table name (3-255 of a-z A-Z 0-9 _ - .) or the table's ARN.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_TABLE_ARN = re.compile(r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}")
#: Longest value shown inside a PROBLEMS cell (the full value is in its own column).
_PROBLEM_VALUE_CHARS = 40


class DeploymentRecord(Protocol):
    id: str
    type: str
    account: str
    region: str
    tier: str | None
    wave: int | None

    @property
    def effective_wave(self) -> int: ...

    def to_item(self) -> dict[str, Any]: ...


class RecordError(Protocol):
    field: str
    value: object
    expected: str
    missing: bool


class RecordsModule(Protocol):
    """What the CLI uses of ``records.py``."""

    __file__: str | None
    DEFAULT_WAVE: int
    STATUSES: tuple[str, ...]
    SYSTEM_ATTRIBUTES: tuple[str, ...]
    InvalidRecordError: type[ValueError]
    RecordError: type[ValueError]

    def check_wave(self, value: object) -> int | None: ...

    def validate(self, item: Mapping[str, Any], *, regions: Collection[str] | None = None) -> DeploymentRecord: ...


@cache
def records() -> RecordsModule:
    """The provisioner's record validation module (one implementation for the Lambda and the CLI)."""
    try:
        return cast(RecordsModule, load_lambda_module("deployment_provisioner", "records"))
    except AssetNotFoundError as exc:
        raise CliError(f"cannot load the record validation module: {exc}") from None


def check_table(table: str) -> str:
    if not (_TABLE_NAME.fullmatch(table) or _TABLE_ARN.fullmatch(table)):
        raise CliError(
            "--table must be a DynamoDB table name (3-255 letters, digits, '_', '-' or '.') or a table ARN, "
            f"got {table!r}"
        )
    return table


def _dynamodb(table: str) -> Any:
    import boto3

    from devops_blueprints._aws import AwsSetupError, client

    check_table(table)
    if boto3.session.Session().region_name is None:
        raise CliError("no AWS region for the deployment table: set AWS_DEFAULT_REGION or a profile region")
    try:
        return client("dynamodb")  # a malformed AWS_ENDPOINT_URL(_DYNAMODB) is one line, not a traceback
    except AwsSetupError as exc:
        raise CliError(str(exc)) from None


def _table_problem(table: str, exc: Exception) -> CliError | None:
    """What a failed call on the deployment table means, where that is clearer than AWS's words."""
    from botocore.exceptions import ClientError, NoRegionError

    if isinstance(exc, NoRegionError):
        return CliError("no AWS region for the deployment table: set AWS_DEFAULT_REGION or a profile region")
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
        return CliError(f"table {table!r} not found (check --table and the AWS region)")
    return None


def _fail(action: str, table: str, exc: Exception) -> NoReturn:
    raise aws_failure(f"{action} on table {table!r}", exc, functools.partial(_table_problem, table)) from None


def _call(action: str, table: str, call: Callable[[], Any]) -> Any:
    return call_aws(f"{action} on table {table!r}", call, functools.partial(_table_problem, table))


def _is_conditional_failure(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == (
        "ConditionalCheckFailedException"
    )


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items()}


@dataclass(frozen=True)
class Unreadable:
    """An attribute value boto3 cannot deserialize (e.g. a number of more than 38 digits from a store that is
    laxer than DynamoDB): shown as its raw typed value and flagged, instead of stopping the listing."""

    raw: object

    def __str__(self) -> str:
        return f"<unreadable {self.raw!r}>"


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    values: dict[str, Any] = {}
    for name, value in item.items():
        try:
            values[name] = deserializer.deserialize(value)
        except (ArithmeticError, TypeError, ValueError, KeyError):  # decimal.Rounded/Inexact are ArithmeticErrors
            values[name] = Unreadable(value)
    return values


def _get(client: Any, table: str, deployment_id: str) -> dict[str, Any] | None:
    response = _call(
        "GetItem",
        table,
        lambda: client.get_item(TableName=table, Key={"id": {"S": deployment_id}}, ConsistentRead=True),
    )
    item = response.get("Item")
    return None if item is None else _deserialize(item)


def _wave_argument(value: str | None) -> object:
    """--wave as given: a Decimal when it is an integer (exact at any length, unlike int() past 4,300 digits),
    else the text (so validation names the bad value)."""
    if value is None:
        return None
    return Decimal(value.strip()) if _INTEGER.fullmatch(value.strip()) else value


def add(args: argparse.Namespace) -> int:
    module = records()
    candidate = {
        "id": args.id,
        "type": args.type,
        "account": args.account,
        "region": args.region,
        "tier": args.tier,
        "wave": _wave_argument(args.wave),
    }
    try:
        deployment = module.validate(candidate)
    except module.InvalidRecordError as exc:
        raise CliError(f"invalid deployment: {exc}") from None
    client = _dynamodb(args.table)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.put_item(
            TableName=args.table,
            Item=_serialize(deployment.to_item()),
            ConditionExpression="attribute_not_exists(#id)",
            ExpressionAttributeNames={"#id": "id"},
        )
    except (BotoCoreError, ClientError) as exc:
        if not _is_conditional_failure(exc):
            _fail("PutItem", args.table, exc)
        existing = _get(client, args.table, deployment.id) or {}
        status = _cell(existing.get("status", "not yet provisioned"))
        raise CliError(
            f"deployment {deployment.id!r} already exists in table {args.table!r} (status {status}); "
            "records are never overwritten: remove it first or choose another id"
        ) from None
    print(
        f"added deployment {deployment.id} ({deployment.type}, {deployment.account}/{deployment.region}, "
        f"wave {deployment.effective_wave}); provisioning starts from the table stream"
    )
    return 0


def _scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("scan")
    pages = iter(paginator.paginate(TableName=table, ConsistentRead=True))
    while True:
        page = _call("Scan", table, lambda: next(pages, None))
        if page is None:
            return
        for item in page["Items"]:
            yield _deserialize(item)


def _kind(value: object) -> str:
    """The DynamoDB type of a deserialized value, as a word for a message."""
    from boto3.dynamodb.types import Binary

    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (str, "string"),
        (bool, "boolean"),
        ((Decimal, int), "number"),
        ((Binary, bytes), "binary"),
        (list, "list"),
        (dict, "map"),
        ((set, frozenset), "set"),
        (Unreadable, "unreadable value"),
    )
    return next((word for types, word in kinds if isinstance(value, types)), type(value).__name__)


def _cell(value: object) -> str:
    """Any deserialized attribute value as one escaped table cell ("-" when absent)."""
    from boto3.dynamodb.types import Binary

    if value is None:
        return "-"
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Binary | bytes):
        data = value.value if isinstance(value, Binary) else value
        return f"<binary, {len(data)} bytes>"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_cell(member) for member in value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_cell(member) for member in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{escape(str(key))}: {_cell(member)}" for key, member in value.items()) + "}"
    return escape(str(value))


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else _cell(value)  # repr() escapes what is not printable
    return text if len(text) <= _PROBLEM_VALUE_CHARS else text[: _PROBLEM_VALUE_CHARS - 3] + "..."


def problems(item: Mapping[str, Any]) -> list[str]:
    """What is wrong with a table item, one phrase per attribute (empty for a well-formed record)."""
    module = records()
    found: list[str] = []
    try:
        module.validate(item)
    except module.InvalidRecordError as exc:
        for error in cast(tuple[RecordError, ...], getattr(exc, "errors", ())):
            if error.missing:
                found.append(f"{error.field} missing")
            else:
                found.append(f"{error.field} must be {error.expected}, got {_kind(error.value)} {_shown(error.value)}")
    for name in module.SYSTEM_ATTRIBUTES:
        value = item.get(name)
        if value is None:
            continue
        if name == "status" and value not in module.STATUSES:
            found.append(f"status must be one of {', '.join(module.STATUSES)}, got {_kind(value)} {_shown(value)}")
        elif not isinstance(value, str):
            found.append(f"{name} must be a string, got {_kind(value)} {_shown(value)}")
    return found


def list_deployments(args: argparse.Namespace) -> int:
    module = records()
    items = list(_scan(_dynamodb(args.table), args.table))
    if not items:
        print(f"no deployments in table {escape(args.table)}")
        return 0

    def wave_of(item: Mapping[str, Any]) -> int:
        try:
            wave = module.check_wave(item.get("wave"))
        except module.RecordError:
            wave = None
        return module.DEFAULT_WAVE if wave is None else wave

    def row_cells(item: Mapping[str, Any]) -> tuple[str, ...]:
        # No wave is the default wave (what add prints and what a release uses), not "-".
        wave = item.get("wave")
        shown = {**item, "wave": module.DEFAULT_WAVE if wave is None else wave}
        return tuple(_cell(shown.get(column)) for column in columns)

    columns = ("id", "type", "account", "region", "tier", "wave", "status", "updated_at", "status_reason")
    rows = sorted((wave_of(item), (*row_cells(item), "; ".join(problems(item)) or "-")) for item in items)
    table = [tuple(column.upper() for column in (*columns, "problems")), *(row for _, row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]).rstrip())
    counts: dict[str, int] = {}
    for item in items:
        status = _cell(item.get("status", "NEW"))
        counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    malformed = sum(1 for _, row in rows if row[-1] != "-")
    print(f"{len(items)} deployment(s): {summary}" + (f"; {malformed} malformed (see PROBLEMS)" if malformed else ""))
    return 0


def remove(args: argparse.Namespace) -> int:
    if not args.id:
        raise CliError("--id must not be empty")
    try:
        args.id.encode("utf-8")
    except UnicodeEncodeError:  # bytes of another encoding in argv arrive as lone surrogates
        raise CliError(f"--id must be UTF-8 text, got {args.id!r}") from None
    client = _dynamodb(args.table)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.delete_item(
            TableName=args.table,
            Key={"id": {"S": args.id}},
            ConditionExpression="attribute_exists(#id) AND (attribute_not_exists(#status) OR #status <> :leaving)",
            ExpressionAttributeNames={"#id": "id", "#status": "status"},
            ExpressionAttributeValues={":leaving": {"S": "DEPROVISIONING"}},
        )
    except (BotoCoreError, ClientError) as exc:
        if not _is_conditional_failure(exc):
            _fail("DeleteItem", args.table, exc)
        existing = _get(client, args.table, args.id)
        if existing is None:
            raise CliError(f"deployment {args.id!r} not found in table {args.table!r}") from None
        raise CliError(
            f"deployment {args.id!r} is already being deprovisioned (build {_cell(existing.get('build_id'))})"
        ) from None
    print(f"removed deployment {escape(args.id)}; deprovisioning starts from the table stream")
    return 0


def register(subparsers: Any) -> None:
    commands = add_group(subparsers, "deployments", ("add", "list", "remove"), description=__doc__)

    add_parser = commands.add_parser("add", help="add a deployment record (never overwrites)")
    add_parser.add_argument("--table", required=True, help="deployment table name")
    add_parser.add_argument("--id", required=True, help="deployment id: ^[a-z][a-z0-9-]{0,30}$")
    add_parser.add_argument("--type", required=True, metavar="silo|pool", help="silo or pool")
    add_parser.add_argument("--account", required=True, help="component AWS account (12 digits)")
    add_parser.add_argument("--region", required=True, help="component AWS region, e.g. eu-west-1")
    add_parser.add_argument("--tier", help="optional tier label")
    add_parser.add_argument("--wave", metavar="N", help="release wave, 0 = canary (default: after the canary)")
    add_parser.set_defaults(func=add)

    list_parser = commands.add_parser("list", help="list deployment records with their status")
    list_parser.add_argument("--table", required=True, help="deployment table name")
    list_parser.set_defaults(func=list_deployments)

    remove_parser = commands.add_parser("remove", help="remove a deployment record (starts deprovisioning)")
    remove_parser.add_argument("--table", required=True, help="deployment table name")
    remove_parser.add_argument("--id", required=True, help="deployment id")
    remove_parser.set_defaults(func=remove)

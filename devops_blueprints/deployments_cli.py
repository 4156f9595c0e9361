"""``devops-blueprints deployments add|list|remove``: operate the tenant deployment table.

Records are validated by the same module the provisioner Lambda uses
(``lambda_src/deployment_provisioner/records.py``), loaded from the checkout or the installed wheel.
The table's AWS region and credentials come from the usual AWS environment (``AWS_DEFAULT_REGION``,
``AWS_PROFILE``, ...); ``--region`` is the deployment's (the component's) region.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any, NoReturn, Protocol, cast

from devops_blueprints.assets import AssetNotFoundError, load_lambda_module
from devops_blueprints.cli import CliError

_INTEGER = re.compile(r"[+-]?[0-9]+")


class DeploymentRecord(Protocol):
    id: str
    type: str
    account: str
    region: str
    tier: str | None
    wave: int | None

    def to_item(self) -> dict[str, Any]: ...


class RecordsModule(Protocol):
    """What the CLI uses of ``records.py``."""

    __file__: str | None
    DEFAULT_WAVE: int
    InvalidRecordError: type[ValueError]

    def validate(self, item: Mapping[str, Any], *, regions: Collection[str] | None = None) -> DeploymentRecord: ...


@cache
def records() -> RecordsModule:
    """The provisioner's record validation module (one implementation for the Lambda and the CLI)."""
    try:
        return cast(RecordsModule, load_lambda_module("deployment_provisioner", "records"))
    except AssetNotFoundError as exc:
        raise CliError(f"cannot load the record validation module: {exc}") from None


def _dynamodb(table: str) -> Any:
    import boto3

    return _call("connect", table, lambda: boto3.client("dynamodb"))


def _fail(action: str, table: str, exc: Exception) -> NoReturn:
    from botocore.exceptions import ClientError, NoRegionError

    if isinstance(exc, NoRegionError):
        raise CliError("no AWS region for the deployment table: set AWS_DEFAULT_REGION or a profile region") from None
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            raise CliError(f"table {table!r} not found (check --table and the AWS region)") from None
        raise CliError(f"{action} on table {table!r} failed: {error.get('Code')}: {error.get('Message')}") from None
    raise CliError(f"{action} on table {table!r} failed: {exc}") from None


def _call(action: str, table: str, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except (BotoCoreError, ClientError) as exc:
        _fail(action, table, exc)


def _is_conditional_failure(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == (
        "ConditionalCheckFailedException"
    )


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def _get(client: Any, table: str, deployment_id: str) -> dict[str, Any] | None:
    response = _call(
        "GetItem",
        table,
        lambda: client.get_item(TableName=table, Key={"id": {"S": deployment_id}}, ConsistentRead=True),
    )
    item = response.get("Item")
    return None if item is None else _deserialize(item)


def _wave_argument(value: str | None) -> object:
    """--wave as given: an integer when it is one, else the text (so validation names the bad value)."""
    if value is None:
        return None
    return int(value) if _INTEGER.fullmatch(value.strip()) else value


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
        status = existing.get("status", "not yet provisioned")
        raise CliError(
            f"deployment {deployment.id!r} already exists in table {args.table!r} (status {status}); "
            "records are never overwritten: remove it first or choose another id"
        ) from None
    wave = module.DEFAULT_WAVE if deployment.wave is None else deployment.wave
    print(
        f"added deployment {deployment.id} ({deployment.type}, {deployment.account}/{deployment.region}, "
        f"wave {wave}); provisioning starts from the table stream"
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


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def list_deployments(args: argparse.Namespace) -> int:
    default_wave = records().DEFAULT_WAVE
    items = list(_scan(_dynamodb(args.table), args.table))
    if not items:
        print(f"no deployments in table {args.table}")
        return 0

    def order(item: Mapping[str, Any]) -> tuple[int, str]:
        wave = item.get("wave")
        return (int(wave) if isinstance(wave, int | Decimal) else default_wave, str(item.get("id")))

    columns = ("id", "type", "account", "region", "tier", "wave", "status", "updated_at", "status_reason")
    rows = [tuple(_text(item.get(column)) for column in columns) for item in sorted(items, key=order)]
    header = tuple(column.upper() for column in columns)
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(columns) - 1)]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]).rstrip())
    counts: dict[str, int] = {}
    for item in items:
        status = str(item.get("status", "NEW"))
        counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    print(f"{len(items)} deployment(s): {summary}")
    return 0


def remove(args: argparse.Namespace) -> int:
    if not args.id:
        raise CliError("--id must not be empty")
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
            f"deployment {args.id!r} is already being deprovisioned (build {existing.get('build_id')})"
        ) from None
    print(f"removed deployment {args.id}; deprovisioning starts from the table stream")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deployments", help="add, list and remove tenant deployment records", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", metavar="{add,list,remove}")
    commands.required = True

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

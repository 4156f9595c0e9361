"""Deployment table stream -> CodeBuild provisioning and deprovisioning builds.

Environment (interface): ``DEPLOYMENT_TABLE``, ``PROVISIONING_PROJECT``, ``DEPROVISIONING_PROJECT``;
also ``IDEMPOTENCY_TABLE`` (Powertools idempotency store, partition key ``id``, TTL attribute
``expiration``) and optionally ``IDEMPOTENCY_TTL_SECONDS`` (default 25 hours: longer than the 24-hour
stream retention, so a redelivered record can never start a second build).

Every stream record goes through Powertools' ``BatchProcessor``: a record that raises is reported in
``batchItemFailures`` (Lambda retries it, then sends it to the on-failure destination) while the rest of
the batch is processed. Starting a build is wrapped in Powertools idempotency keyed on the record's table
key and stream sequence number, so the same record version starts at most one build; the status writes
that follow are conditional and safe to repeat.

Record values reach a build only as CodeBuild environment variables; the buildspec passes them to the CDK
CLI as list arguments, never through a shell string.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import records
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

logger = Logger(service="deployment-provisioner")

# The idempotency key: which item (table key) and which version of it (stream sequence number).
IDEMPOTENCY_KEY_JMESPATH = "[dynamodb.Keys, dynamodb.SequenceNumber]"
DEFAULT_IDEMPOTENCY_TTL_SECONDS = 25 * 3600
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})

_DESERIALIZER = TypeDeserializer()
_SERIALIZER = TypeSerializer()

BuildStarter = Callable[..., dict[str, str]]
_SKIPPED_BY_RELEASES = "; releases skip this deployment until it is fixed"


class UnprocessableRecordError(Exception):
    """A stream record this function cannot handle; reported as a batch item failure (ends in the DLQ)."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def make_build_starter(
    codebuild: Any, persistence_store: BasePersistenceLayer, config: IdempotencyConfig
) -> BuildStarter:
    """``start(record=..., project=..., environment=[...]) -> {"build_id": ...}``, once per record version."""

    @idempotent_function(
        data_keyword_argument="record",
        persistence_store=persistence_store,
        config=config,
        key_prefix="deployment-provisioner#start-build",
    )
    def start_build_for_record(
        *, record: dict[str, Any], project: str, environment: list[dict[str, str]]
    ) -> dict[str, str]:
        response = codebuild.start_build(projectName=project, environmentVariablesOverride=environment)
        return {"build_id": str(response["build"]["id"])}

    return start_build_for_record


def make_build_stopper(codebuild: Any) -> Callable[[str], bool]:
    """``stop(build_id) -> bool``: stop a build still running; False when it has already ended or is gone."""

    def stop(build_id: str) -> bool:
        try:
            codebuild.stop_build(id=build_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("InvalidInputException", "ResourceNotFoundException"):
                return False
            raise
        return True

    return stop


def idempotency_config(ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL_SECONDS) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=ttl_seconds,
    )


@dataclass(frozen=True)
class Provisioner:
    table: str
    provisioning_project: str
    deprovisioning_project: str
    dynamodb: Any
    start_build: BuildStarter
    stop_build: Callable[[str], bool]
    clock: Callable[[], str] = field(default=utc_now)

    # -- writes ---------------------------------------------------------------------------------------
    def _update(
        self,
        keys: Mapping[str, Any],
        sets: Mapping[str, Any],
        condition: str,
        condition_values: Mapping[str, Any] | None = None,
        removes: tuple[str, ...] = (),
    ) -> bool:
        """Conditional UpdateItem; False when the condition does not hold (the item changed or is gone)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        assignments = []
        for index, (name, value) in enumerate({**sets, "updated_at": self.clock()}.items()):
            names[f"#s{index}"] = name
            values[f":s{index}"] = _SERIALIZER.serialize(value)
            assignments.append(f"#s{index} = :s{index}")
        expression = "SET " + ", ".join(assignments)
        if removes:
            for index, name in enumerate(removes):
                names[f"#r{index}"] = name
            expression += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(removes)))
        names["#id"] = "id"
        for placeholder, value in (condition_values or {}).items():
            values[placeholder] = _SERIALIZER.serialize(value)
        for name in ("type", "account", "region", "build_id", "status"):
            if f"#{name}" in condition:
                names[f"#{name}"] = name
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=dict(keys),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @staticmethod
    def _same_build(image: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Condition: the item still has the build_id this stream image had (none: still has none)."""
        previous_build = image.get("build_id")
        if previous_build is None:
            return "attribute_exists(#id) AND attribute_not_exists(#build_id)", {}
        return "attribute_exists(#id) AND #build_id = :prev", {":prev": previous_build}

    # -- events ---------------------------------------------------------------------------------------
    def on_insert(self, raw: dict[str, Any], keys: Mapping[str, Any], new: Mapping[str, Any]) -> str:
        if new.get("status") == "DEPROVISIONING":
            return "ignored: deprovisioning marker written by this function"
        try:
            deployment = records.validate(new)
        except records.InvalidRecordError as exc:
            reason = f"invalid record: {exc}"
            # Conditional: a redelivery must not fail a record that was corrected and provisioned since.
            self._update(keys, {"status": "FAILED", "status_reason": reason}, *self._same_build(new))
            logger.warning("invalid deployment record; no build started", extra={"reason": reason})
            return "invalid"
        build_id = self.start_build(
            record=raw, project=self.provisioning_project, environment=deployment.build_environment()
        )["build_id"]
        written = self._update(
            keys,
            {"status": "PROVISIONING", "build_id": build_id},
            *self._same_build(new),
            removes=("status_reason",),
        )
        logger.info(
            "provisioning build started",
            extra={"deployment_id": deployment.id, "build_id": build_id, "status_written": written},
        )
        return "provisioning"

    def on_modify(
        self, raw: dict[str, Any], keys: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> str:
        changed = records.changed_attributes(old, new)
        if "updated_at" in changed:
            return "ignored: written by the system"
        if changed <= set(records.SYSTEM_ATTRIBUTES):
            return "ignored: system attributes only"
        if old.get("status") == "FAILED" and old.get("build_id") is None:
            # Never provisioned (it was invalid): the corrected record is a new submission.
            return self.on_insert(raw, keys, new)
        identity_changes = sorted(changed & set(records.IDENTITY_ATTRIBUTES))
        if identity_changes:
            return self._refuse_identity_change(keys, old, new, identity_changes)
        problems = []
        for name, check in (("tier", records.check_tier), ("wave", records.check_wave)):
            try:
                check(new.get(name))
            except records.RecordError as exc:
                problems.append(str(exc))
        if problems:
            reason = "; ".join(problems) + _SKIPPED_BY_RELEASES
            self._update(keys, {"status_reason": reason}, "attribute_exists(#id)")
            return "invalid tier/wave"
        if str(new.get("status_reason", "")).endswith(_SKIPPED_BY_RELEASES):
            # The tier/wave problem noted earlier is fixed: clear the note (status is unchanged).
            self._update(keys, {}, "attribute_exists(#id)", removes=("status_reason",))
            return "tier/wave fixed"
        return "ignored: tier/wave only matter to releases"

    def _refuse_identity_change(
        self, keys: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any], fields: list[str]
    ) -> str:
        described = ", ".join(f"{name} {old.get(name)!r} -> {new.get(name)!r}" for name in fields)
        sets: dict[str, Any] = {"status": "FAILED"}
        condition_parts = ["attribute_exists(#id)"]
        condition_values: dict[str, Any] = {}
        try:
            records.validate(old)
            revertible = True
        except records.InvalidRecordError:
            revertible = False
        if revertible:
            # Put the deployed identity back so that a later REMOVE deprovisions what really exists.
            for index, name in enumerate(records.IDENTITY_ATTRIBUTES):
                sets[name] = old[name]
                if new.get(name) is None:
                    condition_parts.append(f"attribute_not_exists(#{name})")
                else:
                    condition_parts.append(f"#{name} = :n{index}")
                    condition_values[f":n{index}"] = new[name]
            reason = (
                f"identity is immutable: {described} refused and reverted; the deployment was not changed "
                "(to move it, remove the record and add a new one)"
            )
        else:
            reason = f"identity is immutable: {described} refused; the deployment was not changed"
        sets["status_reason"] = reason
        self._update(keys, sets, " AND ".join(condition_parts), condition_values)
        logger.warning("identity change refused", extra={"reason": reason})
        return "identity refused"

    def on_remove(self, raw: dict[str, Any], keys: Mapping[str, Any], old: Mapping[str, Any]) -> str:
        if old.get("status") == "DEPROVISIONING":
            return "ignored: deprovisioning marker removed after a successful deprovisioning build"
        try:
            deployment = records.validate(old)
        except records.InvalidRecordError:
            return "ignored: the removed record was never valid, so nothing was provisioned"
        if old.get("status") == "PROVISIONING" and old.get("build_id"):
            # Removed while its provisioning build still runs: stop it so the two builds cannot overlap.
            stopped = self.stop_build(str(old["build_id"]))
            logger.info("provisioning build stop requested", extra={"build_id": old["build_id"], "stopped": stopped})
        build_id = self.start_build(
            record=raw, project=self.deprovisioning_project, environment=deployment.build_environment()
        )["build_id"]
        # A marker item shows the deprovisioning in `deployments list` and blocks re-adding the id until the
        # build has removed the stacks; the status handler deletes it when the build succeeds.
        marker = {
            **deployment.to_item(),
            "status": "DEPROVISIONING",
            "status_reason": f"deprovisioning build {build_id} started",
            "build_id": build_id,
            "updated_at": self.clock(),
        }
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={name: _SERIALIZER.serialize(value) for name, value in marker.items()},
                ConditionExpression="attribute_not_exists(#id)",
                ExpressionAttributeNames={"#id": "id"},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            logger.warning("record re-added before the deprovisioning marker was written", extra=dict(keys))
        logger.info("deprovisioning build started", extra={"deployment_id": deployment.id, "build_id": build_id})
        return "deprovisioning"


def _image(stream: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    image = stream.get(name)
    if image is None:
        return None
    if not isinstance(image, dict):
        raise UnprocessableRecordError(f"dynamodb.{name} must be a map of attribute values")
    return {key: _DESERIALIZER.deserialize(value) for key, value in image.items()}


def process_record(raw: dict[str, Any], provisioner: Provisioner) -> str:
    """Handle one DynamoDB stream record (the raw Lambda event record); returns what was done."""
    event_name = raw.get("eventName")
    stream = raw.get("dynamodb")
    if not isinstance(stream, dict) or not isinstance(stream.get("Keys"), dict) or not stream.get("SequenceNumber"):
        raise UnprocessableRecordError("stream record has no dynamodb.Keys or dynamodb.SequenceNumber")
    keys: dict[str, Any] = stream["Keys"]
    new, old = _image(stream, "NewImage"), _image(stream, "OldImage")
    if event_name == "INSERT" and new is not None:
        return provisioner.on_insert(raw, keys, new)
    if event_name == "MODIFY" and new is not None and old is not None:
        return provisioner.on_modify(raw, keys, old, new)
    if event_name == "REMOVE" and old is not None:
        return provisioner.on_remove(raw, keys, old)
    raise UnprocessableRecordError(
        f"eventName {event_name!r} with images {sorted(k for k in ('NewImage', 'OldImage') if k in stream)} "
        "is not an INSERT/MODIFY/REMOVE of a NEW_AND_OLD_IMAGES stream"
    )


def new_processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def _sequence_number(record: object) -> str | None:
    """The record's ``dynamodb.SequenceNumber`` (what a batch item failure names), None when it has none."""
    stream = record.get("dynamodb") if isinstance(record, dict) else None
    number = stream.get("SequenceNumber") if isinstance(stream, dict) else None
    return number if isinstance(number, str) and number else None


def _excerpt(value: object, limit: int = 500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def process_batch(event: dict[str, Any], provisioner: Provisioner, context: Any = None) -> dict[str, Any]:
    """Process a stream batch; returns ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}``.

    A record that raises is reported by its sequence number (Lambda retries it, then the DLQ gets it). A record
    without one (not an object, no ``dynamodb`` object, no string ``SequenceNumber``: never a real stream
    record) cannot be named in ``batchItemFailures`` - a null, empty or unknown itemIdentifier makes Lambda treat
    the whole batch as failed (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html,
    "Success and failure conditions") - so it is logged at ERROR with an excerpt and skipped, and the rest of
    the batch goes on.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise UnprocessableRecordError(
            f'event must be a DynamoDB stream batch {{"Records": [...]}}, got {_excerpt(event, 200)}'
        )
    kept = []
    for position, record in enumerate(records):
        if _sequence_number(record) is None:
            logger.error(
                "stream record without dynamodb.SequenceNumber skipped (cannot be reported or retried alone)",
                extra={"position": position, "record": _excerpt(record)},
            )
        else:
            kept.append(record)

    if not kept:  # Powertools refuses an empty batch
        return {"batchItemFailures": []}

    def record_handler(record: DynamoDBRecord) -> str:
        outcome = process_record(record.raw_event, provisioner)
        logger.info("stream record processed", extra={"event_id": record.event_id, "outcome": outcome})
        return outcome

    return dict(
        process_partial_response(
            event={**event, "Records": kept}, record_handler=record_handler, processor=new_processor(), context=context
        )
    )


@dataclass(frozen=True)
class _Runtime:
    provisioner: Provisioner
    config: IdempotencyConfig


@cache
def _runtime() -> _Runtime:
    """Clients and the idempotency store, created once per container."""
    dynamodb = boto3.client("dynamodb", config=BOTO_CONFIG)
    codebuild = boto3.client("codebuild", config=BOTO_CONFIG)
    config = idempotency_config(int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", DEFAULT_IDEMPOTENCY_TTL_SECONDS)))
    persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=dynamodb)
    provisioner = Provisioner(
        table=os.environ["DEPLOYMENT_TABLE"],
        provisioning_project=os.environ["PROVISIONING_PROJECT"],
        deprovisioning_project=os.environ["DEPROVISIONING_PROJECT"],
        dynamodb=dynamodb,
        start_build=make_build_starter(codebuild, persistence, config),
        stop_build=make_build_stopper(codebuild),
    )
    return _Runtime(provisioner=provisioner, config=config)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = _runtime()
    runtime.config.register_lambda_context(context)
    return process_batch(event, runtime.provisioner, context)

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

Ordering (the state table in docs/tenant-deployments.md, "Ordering rules"; every row is a test in
tests/tenant/test_provisioner_orderings.py). Facts relied on:

* per item, stream records appear in the order of the modifications, each exactly once in the stream
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html), but Lambda delivers them at
  least once: a batch with a failed item is retried from the lowest failed sequence number, records after it
  included (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html);
* the images in a record are the item as it was then; by the time it is processed the table may hold a newer
  version, or nothing.

So a record acts only on the version of the item it describes: INSERT (and a MODIFY that is a new submission)
starts a build only when a consistent read shows that version still in the table (same operator attributes, no
``build_id`` yet) and no REMOVE of the item follows later in the same batch; every write is conditional on that
version. A build this record started that turns out to belong to a version that is gone is stopped, and the
record only succeeds once the build has ended, so a deprovisioning build of the item never overlaps it. Within
a batch, once a record of an item fails, the later records of that item are failed too (not processed out of
order); Lambda retries them after it.
"""

from __future__ import annotations

import json
import os
import time
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
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
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

START_BUILD_KEY_PREFIX = "deployment-provisioner#start-build"
# How long a record waits for a build it stopped to end (the function's timeout is one minute); longer, and the
# record fails and Lambda retries it (and, behind it, every later record of the same item).
STOP_WAIT_SECONDS = 40.0
STOP_POLL_SECONDS = 2.0
# Time kept back from the function's timeout for the rest of the batch and the response.
INVOCATION_MARGIN_SECONDS = 10.0

BuildStarter = Callable[..., dict[str, str]]
BuildLookup = Callable[[dict[str, Any]], "str | None"]
_SKIPPED_BY_RELEASES = "; releases skip this deployment until it is fixed"


class UnprocessableRecordError(Exception):
    """A stream record this function cannot handle; reported as a batch item failure (ends in the DLQ)."""


class BuildStillRunningError(Exception):
    """A build that was stopped has not ended yet; the record fails and is retried, nothing starts meanwhile."""


class DeferredRecordError(Exception):
    """An earlier record of the same item failed in this batch; this one waits for it (retried after it)."""


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
        key_prefix=START_BUILD_KEY_PREFIX,
    )
    def start_build_for_record(
        *, record: dict[str, Any], project: str, environment: list[dict[str, str]]
    ) -> dict[str, str]:
        response = codebuild.start_build(projectName=project, environmentVariablesOverride=environment)
        return {"build_id": str(response["build"]["id"])}

    return start_build_for_record


def make_build_lookup(persistence_store: BasePersistenceLayer, config: IdempotencyConfig) -> BuildLookup:
    """``started(record) -> build id | None``: the build an earlier attempt at this record version started.

    Reads the idempotency record that :func:`make_build_starter` keeps (without starting anything).
    """

    def started(record: dict[str, Any]) -> str | None:
        persistence_store.configure(config, key_prefix=START_BUILD_KEY_PREFIX)
        try:
            data = persistence_store.get_record(data=record)
        except IdempotencyItemNotFoundError:
            return None
        result = data.response_json_as_dict() if data is not None and data.status == "COMPLETED" else None
        build_id = result.get("build_id") if isinstance(result, dict) else None
        return build_id if isinstance(build_id, str) else None

    return started


def make_build_checker(codebuild: Any) -> Callable[[str], bool]:
    """``ended(build_id) -> bool``: True once the build has ended, or when it does not exist.

    Ended: ``buildComplete`` is true, or ``currentPhase`` is ``COMPLETED``
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html).
    """

    def ended(build_id: str) -> bool:
        builds = codebuild.batch_get_builds(ids=[build_id]).get("builds", [])
        return not builds or builds[0].get("buildComplete") is True or builds[0].get("currentPhase") == "COMPLETED"

    return ended


@dataclass
class InvocationDeadline:
    """When this invocation must stop waiting (``time.monotonic()`` seconds); set by the handler per invocation."""

    at: float = float("inf")

    def start(self, context: Any, margin: float = INVOCATION_MARGIN_SECONDS) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.at = time.monotonic() + remaining() / 1000 - margin if callable(remaining) else float("inf")


def make_build_waiter(
    ended: Callable[[str], bool],
    *,
    timeout: float = STOP_WAIT_SECONDS,
    interval: float = STOP_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    invocation: InvocationDeadline | None = None,
) -> Callable[[str], None]:
    """``wait(build_id)``: return once ``ended(build_id)``; raise BuildStillRunningError after ``timeout`` s, or
    sooner when the invocation's time runs out (several waits in one batch never time the function out)."""

    def wait(build_id: str) -> None:
        deadline = min(monotonic() + timeout, invocation.at if invocation else float("inf"))
        while not ended(build_id):
            if monotonic() >= deadline:
                raise BuildStillRunningError(
                    f"build {build_id} was stopped but has not ended yet; the record is retried until it has"
                )
            sleep(interval)

    return wait


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
class Condition:
    """A ConditionExpression with its own attribute names and values."""

    expression: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def is_version(current: Mapping[str, Any] | None, image: Mapping[str, Any]) -> bool:
    """True when ``current`` (the item now) is the version ``image`` shows, not yet taken up by the system:
    the same operator attributes, no ``build_id``, not a deprovisioning marker."""
    return (
        current is not None
        and current.get("build_id") is None
        and current.get("status") != "DEPROVISIONING"
        and all(current.get(name) == image.get(name) for name in records.OPERATOR_ATTRIBUTES)
    )


def same_attributes(image: Mapping[str, Any], attributes: tuple[str, ...]) -> Condition:
    """The item exists and each of ``attributes`` is what ``image`` holds (absent where the image has none)."""
    parts = ["attribute_exists(#id)"]
    names = {"#id": "id"}
    values: dict[str, Any] = {}
    for index, name in enumerate(attributes):
        if name == "id":
            continue
        names[f"#v{index}"] = name
        if image.get(name) is None:
            parts.append(f"attribute_not_exists(#v{index})")
        else:
            parts.append(f"#v{index} = :v{index}")
            values[f":v{index}"] = image[name]
    return Condition(" AND ".join(parts), names, values)


def version_condition(image: Mapping[str, Any], attributes: tuple[str, ...] = records.OPERATOR_ATTRIBUTES) -> Condition:
    """The write-side twin of :func:`is_version` (compared on ``attributes`` only)."""
    same = same_attributes(image, attributes)
    return Condition(
        same.expression
        + " AND attribute_not_exists(#build_id) AND (attribute_not_exists(#status) OR #status <> :deprovisioning)",
        {**same.names, "#build_id": "build_id", "#status": "status"},
        {**same.values, ":deprovisioning": "DEPROVISIONING"},
    )


@dataclass(frozen=True)
class Provisioner:
    table: str
    provisioning_project: str
    deprovisioning_project: str
    dynamodb: Any
    start_build: BuildStarter
    stop_build: Callable[[str], bool]
    build_started: BuildLookup
    build_ended: Callable[[str], bool]
    wait_for_build: Callable[[str], None]
    clock: Callable[[], str] = field(default=utc_now)

    # -- reads and writes -----------------------------------------------------------------------------
    def _current(self, keys: Mapping[str, Any]) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=dict(keys), ConsistentRead=True).get("Item")
        return None if item is None else {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}

    def _update(
        self,
        keys: Mapping[str, Any],
        sets: Mapping[str, Any],
        condition: Condition,
        removes: tuple[str, ...] = (),
    ) -> bool:
        """Conditional UpdateItem; False when the condition does not hold (the item changed or is gone)."""
        names: dict[str, str] = dict(condition.names)
        values: dict[str, Any] = {key: _SERIALIZER.serialize(value) for key, value in condition.values.items()}
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
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=dict(keys),
                UpdateExpression=expression,
                ConditionExpression=condition.expression,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _stop_and_wait(self, build_id: str) -> None:
        """Stop a provisioning build and return only once it has ended (raises BuildStillRunningError)."""
        stopped = self.stop_build(build_id)
        logger.info("provisioning build stop requested", extra={"build_id": build_id, "stopped": stopped})
        self.wait_for_build(build_id)

    def _stop_orphan(self, raw: dict[str, Any], current: Mapping[str, Any] | None) -> str:
        """This record's version is gone: stop the build an earlier attempt at it started, if any."""
        started = self.build_started(raw)
        if started is None:
            return "nothing started"
        if current is not None and current.get("build_id") == started:
            return f"its build {started} is the item's"  # a redelivery after the status write: nothing to stop
        self._stop_and_wait(started)
        return f"build {started} it had started was stopped"

    # -- events ---------------------------------------------------------------------------------------
    def on_insert(
        self, raw: dict[str, Any], keys: Mapping[str, Any], new: Mapping[str, Any], *, removed_later: bool = False
    ) -> str:
        if new.get("status") == "DEPROVISIONING":
            return "ignored: deprovisioning marker written by this function"
        if removed_later:
            return f"superseded: removed later in this batch; {self._stop_orphan(raw, None)}"
        current = self._current(keys)
        if not is_version(current, new):
            return f"superseded: the table holds a newer version or none; {self._stop_orphan(raw, current)}"
        try:
            deployment = records.validate(new)
        except records.InvalidRecordError as exc:
            reason = f"invalid record: {exc}"
            # Conditional on this very version: a correction written meanwhile is not failed for good.
            if not self._update(keys, {"status": "FAILED", "status_reason": reason}, version_condition(new)):
                return "superseded: changed before it could be failed"
            logger.warning("invalid deployment record; no build started", extra={"reason": reason})
            return "invalid"
        build_id = self.start_build(
            record=raw, project=self.provisioning_project, environment=deployment.build_environment()
        )["build_id"]
        # tier/wave may change meanwhile (they do not change what is built); the identity may not.
        written = self._update(
            keys,
            {"status": "PROVISIONING", "build_id": build_id},
            version_condition(new, records.IDENTITY_ATTRIBUTES),
            removes=("status_reason",),
        )
        if not written:
            current = self._current(keys)
            if current is None or current.get("build_id") != build_id:
                self._stop_and_wait(build_id)
                logger.warning("record changed or removed as its build started; build stopped", extra=dict(keys))
                return f"superseded: changed or removed as build {build_id} started; stopped"
        logger.info(
            "provisioning build started",
            extra={"deployment_id": deployment.id, "build_id": build_id, "status_written": written},
        )
        return "provisioning"

    def on_modify(
        self,
        raw: dict[str, Any],
        keys: Mapping[str, Any],
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        *,
        removed_later: bool = False,
    ) -> str:
        changed = records.changed_attributes(old, new)
        if "updated_at" in changed:
            return "ignored: written by the system"
        if changed <= set(records.SYSTEM_ATTRIBUTES):
            return "ignored: system attributes only"
        if old.get("build_id") is None and old.get("status") != "DEPROVISIONING":
            # Never provisioned (invalid, or not processed yet): the changed record is a new submission.
            return self.on_insert(raw, keys, new, removed_later=removed_later)
        identity_changes = sorted(changed & set(records.IDENTITY_ATTRIBUTES))
        if identity_changes:
            return self._refuse_identity_change(keys, old, new, identity_changes)
        problems = []
        for name, check in (("tier", records.check_tier), ("wave", records.check_wave)):
            try:
                check(new.get(name))
            except records.RecordError as exc:
                problems.append(str(exc))
        exists = Condition("attribute_exists(#id)", {"#id": "id"})
        if problems:
            reason = "; ".join(problems) + _SKIPPED_BY_RELEASES
            self._update(keys, {"status_reason": reason}, exists)
            return "invalid tier/wave"
        if str(new.get("status_reason", "")).endswith(_SKIPPED_BY_RELEASES):
            # The tier/wave problem noted earlier is fixed: clear the note (status is unchanged).
            self._update(keys, {}, exists, removes=("status_reason",))
            return "tier/wave fixed"
        return "ignored: tier/wave only matter to releases"

    def _refuse_identity_change(
        self, keys: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any], fields: list[str]
    ) -> str:
        described = ", ".join(f"{name} {old.get(name)!r} -> {new.get(name)!r}" for name in fields)
        sets: dict[str, Any] = {"status": "FAILED"}
        condition = Condition("attribute_exists(#id)", {"#id": "id"})
        try:
            records.validate(old)
            revertible = True
        except records.InvalidRecordError:
            revertible = False
        if revertible:
            # Put the deployed identity back so that a later REMOVE deprovisions what really exists.
            sets.update({name: old[name] for name in records.IDENTITY_ATTRIBUTES})
            condition = same_attributes(new, records.IDENTITY_ATTRIBUTES)
            reason = (
                f"identity is immutable: {described} refused and reverted; the deployment was not changed "
                "(to move it, remove the record and add a new one)"
            )
        else:
            reason = f"identity is immutable: {described} refused; the deployment was not changed"
        sets["status_reason"] = reason
        self._update(keys, sets, condition)
        logger.warning("identity change refused", extra={"reason": reason})
        return "identity refused"

    def on_remove(self, raw: dict[str, Any], keys: Mapping[str, Any], old: Mapping[str, Any]) -> str:
        if old.get("status") == "DEPROVISIONING":
            return "ignored: deprovisioning marker removed after a successful deprovisioning build"
        try:
            deployment = records.validate(old)
        except records.InvalidRecordError:
            return "ignored: the removed record was never valid, so nothing was provisioned"
        current = self._current(keys)
        if current is not None and current.get("build_id") is not None:
            # The id was added again and the system has taken that record up (or this is a redelivery and the
            # item is this REMOVE's own marker): the deployment belongs to the newer record now.
            return "stale: a newer record of this id holds the deployment; nothing done"
        earlier = self.build_started(raw)
        if earlier is not None and current is None and self.build_ended(earlier):
            # A redelivery: this REMOVE's deprovisioning build ran and its marker is gone (it succeeded).
            return f"redelivered: deprovisioning build {earlier} already ran; nothing done"
        if old.get("status") == "PROVISIONING" and old.get("build_id"):
            # Removed while its provisioning build still runs: stop it, and deprovision only once it has ended.
            self._stop_and_wait(str(old["build_id"]))
        build_id = self.start_build(
            record=raw, project=self.deprovisioning_project, environment=deployment.build_environment()
        )["build_id"]
        # A marker item shows the deprovisioning in `deployments list` and blocks re-adding the id until the
        # build has removed the stacks; the status handler deletes it when the build succeeds. A record re-added
        # before this REMOVE was processed (not taken up yet: no build_id) is replaced by the marker, so that the
        # re-added record's own INSERT, which follows in the stream, finds the marker and starts nothing.
        reason = f"deprovisioning build {build_id} started"
        if current is not None:
            readded = ", ".join(f"{name} {current.get(name)!r}" for name in records.IDENTITY_ATTRIBUTES)
            reason += f"; the record re-added meanwhile ({readded}) was replaced: add it again once this has finished"
        marker = {
            **deployment.to_item(),
            "status": "DEPROVISIONING",
            "status_reason": reason,
            "build_id": build_id,
            "updated_at": self.clock(),
        }
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={name: _SERIALIZER.serialize(value) for name, value in marker.items()},
                ConditionExpression="attribute_not_exists(#id) OR attribute_not_exists(#build_id)",
                ExpressionAttributeNames={"#id": "id", "#build_id": "build_id"},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            logger.warning("record re-added and taken up before the marker was written", extra=dict(keys))
        logger.info("deprovisioning build started", extra={"deployment_id": deployment.id, "build_id": build_id})
        return "deprovisioning"


def _image(stream: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    image = stream.get(name)
    if image is None:
        return None
    if not isinstance(image, dict):
        raise UnprocessableRecordError(f"dynamodb.{name} must be a map of attribute values")
    return {key: _DESERIALIZER.deserialize(value) for key, value in image.items()}


def process_record(raw: dict[str, Any], provisioner: Provisioner, *, removed_later: bool = False) -> str:
    """Handle one DynamoDB stream record (the raw Lambda event record); returns what was done.

    ``removed_later``: a REMOVE of the same item follows this record in its batch.
    """
    event_name = raw.get("eventName")
    stream = raw.get("dynamodb")
    if not isinstance(stream, dict) or not isinstance(stream.get("Keys"), dict) or not stream.get("SequenceNumber"):
        raise UnprocessableRecordError("stream record has no dynamodb.Keys or dynamodb.SequenceNumber")
    keys: dict[str, Any] = stream["Keys"]
    new, old = _image(stream, "NewImage"), _image(stream, "OldImage")
    if event_name == "INSERT" and new is not None:
        return provisioner.on_insert(raw, keys, new, removed_later=removed_later)
    if event_name == "MODIFY" and new is not None and old is not None:
        return provisioner.on_modify(raw, keys, old, new, removed_later=removed_later)
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


def _item_key(record: dict[str, Any]) -> str | None:
    """The record's table key as a comparable string (None when it has no key map)."""
    keys = record["dynamodb"].get("Keys") if isinstance(record.get("dynamodb"), dict) else None
    return json.dumps(keys, sort_keys=True, default=str) if isinstance(keys, dict) else None


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

    # Per item, in batch order: which records a REMOVE of the same item follows, and which items failed so far.
    removed_later: set[str] = set()
    seen_remove: set[str] = set()
    for record in reversed(kept):
        key = _item_key(record)
        if key is None:
            continue
        if key in seen_remove:
            removed_later.add(record["dynamodb"]["SequenceNumber"])
        if record.get("eventName") == "REMOVE":
            seen_remove.add(key)
    failed_items: set[str] = set()

    def record_handler(record: DynamoDBRecord) -> str:
        raw = record.raw_event
        key = _item_key(raw)
        if key is not None and key in failed_items:
            raise DeferredRecordError("an earlier record of this item failed in this batch; retried after it")
        try:
            outcome = process_record(raw, provisioner, removed_later=raw["dynamodb"]["SequenceNumber"] in removed_later)
        except Exception:
            if key is not None:
                failed_items.add(key)
            raise
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
    deadline: InvocationDeadline


@cache
def _runtime() -> _Runtime:
    """Clients and the idempotency store, created once per container."""
    dynamodb = boto3.client("dynamodb", config=BOTO_CONFIG)
    codebuild = boto3.client("codebuild", config=BOTO_CONFIG)
    config = idempotency_config(int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", DEFAULT_IDEMPOTENCY_TTL_SECONDS)))
    persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=dynamodb)
    ended = make_build_checker(codebuild)
    deadline = InvocationDeadline()
    provisioner = Provisioner(
        table=os.environ["DEPLOYMENT_TABLE"],
        provisioning_project=os.environ["PROVISIONING_PROJECT"],
        deprovisioning_project=os.environ["DEPROVISIONING_PROJECT"],
        dynamodb=dynamodb,
        start_build=make_build_starter(codebuild, persistence, config),
        stop_build=make_build_stopper(codebuild),
        build_started=make_build_lookup(persistence, config),
        build_ended=ended,
        wait_for_build=make_build_waiter(ended, invocation=deadline),
    )
    return _Runtime(provisioner=provisioner, config=config, deadline=deadline)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = _runtime()
    runtime.config.register_lambda_context(context)
    runtime.deadline.start(context)
    return process_batch(event, runtime.provisioner, context)

"""CodeBuild build state changes (EventBridge) -> deployment record status.

Environment: ``DEPLOYMENT_TABLE``.

Event: ``detail-type`` "CodeBuild Build State Change" with ``detail.build-status`` (IN_PROGRESS,
SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT), ``detail.project-name``, ``detail.build-id`` (the build ARN) and
``detail.additional-information.environment.environment-variables`` (which carry ``DEPLOYMENT_ID``).

The record says which build it waits for (``build_id``) and what kind it is (``status`` PROVISIONING or
DEPROVISIONING), so the function needs no project names. Every write is conditional on both, so the
event of an older (stale) build, or a repeated event, never overwrites a newer state:

* provisioning SUCCEEDED -> ``ACTIVE``; FAILED/FAULT/STOPPED/TIMED_OUT -> ``FAILED`` with a reason;
* deprovisioning SUCCEEDED -> the ``DEPROVISIONING`` marker item is deleted; FAILED/FAULT/STOPPED/TIMED_OUT ->
  ``FAILED`` with a reason (removing the record again retries the deprovisioning);
* IN_PROGRESS -> nothing (the record already says PROVISIONING or DEPROVISIONING).

Builds without a ``DEPLOYMENT_ID`` variable (or with one that is not a record id) are not deployment builds and
are ignored. An event without the fields above raises :class:`InvalidEventError` (EventBridge retries it, then
sends it to the rule target's dead-letter queue).

Logs: one structured JSON line per event (Powertools ``Logger``, service ``deployment-status``, with the
Lambda context keys): ``build state change applied`` with ``deployment_id``, ``build_id``, ``build_status``
and ``outcome``, or ``build carries no DEPLOYMENT_ID; ignored`` with ``build_id``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import ClientError

FAILED_BUILD_STATES = ("FAILED", "FAULT", "STOPPED", "TIMED_OUT")
# Record ids (ARCHITECTURE.md section 2: ^[a-z][a-z0-9-]{0,30}$); a build whose DEPLOYMENT_ID is anything else was
# not started by the provisioner, and would otherwise reach GetItem (a key over 2,048 bytes is a ValidationException).
_DEPLOYMENT_ID = re.compile(r"[a-z][a-z0-9-]{0,30}")
logger = Logger(service="deployment-status")
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


class InvalidEventError(ValueError):
    """An event without the fields this function needs (EventBridge retries, then its DLQ)."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_id_from(value: str) -> str:
    """A build ARN (``arn:...:build/<project>:<uuid>``) -> StartBuild's id ``<project>:<uuid>``."""
    return value.split(":build/", 1)[1] if ":build/" in value else value


@dataclass(frozen=True)
class BuildStateChange:
    project: str
    build_id: str
    status: str
    deployment_id: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> BuildStateChange | None:
        """The change described by the event; None for a build that carries no DEPLOYMENT_ID (or one that cannot
        be a deployment id, so never names an item of the table)."""
        if not isinstance(event, Mapping):
            raise InvalidEventError(f"event must be an object, got {type(event).__name__}")
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise InvalidEventError("event has no detail object; expected a CodeBuild Build State Change event")
        fields: dict[str, str] = {}
        for name in ("project-name", "build-id", "build-status"):
            value = detail.get(name)
            if not isinstance(value, str) or not value:
                raise InvalidEventError(f"detail.{name} must be a non-empty string, got {value!r}")
            fields[name] = value
        information = detail.get("additional-information")
        environment = information.get("environment") if isinstance(information, dict) else None
        variables = environment.get("environment-variables") if isinstance(environment, dict) else None
        deployment_id = next(
            (
                v.get("value")
                for v in (variables if isinstance(variables, list) else [])
                if isinstance(v, dict) and v.get("name") == "DEPLOYMENT_ID"
            ),
            None,
        )
        if not isinstance(deployment_id, str) or not _DEPLOYMENT_ID.fullmatch(deployment_id):
            return None
        return cls(
            project=fields["project-name"],
            build_id=build_id_from(fields["build-id"]),
            status=fields["build-status"],
            deployment_id=deployment_id,
        )


@dataclass(frozen=True)
class StatusUpdater:
    table: str
    dynamodb: Any
    clock: Callable[[], str] = field(default=utc_now)

    def apply(self, change: BuildStateChange) -> str:
        """Apply one build state change; returns what happened (``ignored``, ``stale``, or the new state)."""
        if change.status != "SUCCEEDED" and change.status not in FAILED_BUILD_STATES:
            return "ignored"
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"id": {"S": change.deployment_id}}, ConsistentRead=True
        ).get("Item")
        if item is None or item.get("build_id", {}).get("S") != change.build_id:
            return "stale"
        current = item.get("status", {}).get("S")
        if current == "PROVISIONING":
            if change.status == "SUCCEEDED":
                return self._set(change, current, "ACTIVE", None)
            reason = f"provisioning build {change.build_id} ended {change.status}; see its CodeBuild logs"
            return self._set(change, current, "FAILED", reason)
        if current == "DEPROVISIONING":
            if change.status == "SUCCEEDED":
                return self._delete_marker(change)
            reason = f"deprovisioning build {change.build_id} ended {change.status}; "
            reason += "remove the record again to retry"
            return self._set(change, current, "FAILED", reason)
        return "ignored"  # already settled (a repeated event, or the record was refused meanwhile)

    def _set(self, change: BuildStateChange, current: str, status: str, reason: str | None) -> str:
        expression = "SET #status = :status, #updated_at = :now"
        names = {
            "#status": "status",
            "#updated_at": "updated_at",
            "#build_id": "build_id",
            "#status_reason": "status_reason",
        }
        values: dict[str, Any] = {
            ":status": {"S": status},
            ":now": {"S": self.clock()},
            ":build": {"S": change.build_id},
            ":current": {"S": current},
        }
        if reason is None:
            expression += " REMOVE #status_reason"
        else:
            expression += ", #status_reason = :reason"
            values[":reason"] = {"S": reason}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"id": {"S": change.deployment_id}},
                UpdateExpression=expression,
                ConditionExpression="#build_id = :build AND #status = :current",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return "stale"
            raise
        return status

    def _delete_marker(self, change: BuildStateChange) -> str:
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"id": {"S": change.deployment_id}},
                ConditionExpression="#build_id = :build AND #status = :deprovisioning",
                ExpressionAttributeNames={"#build_id": "build_id", "#status": "status"},
                ExpressionAttributeValues={
                    ":build": {"S": change.build_id},
                    ":deprovisioning": {"S": "DEPROVISIONING"},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return "stale"
            raise
        return "DELETED"


@cache
def _updater() -> StatusUpdater:
    return StatusUpdater(table=os.environ["DEPLOYMENT_TABLE"], dynamodb=boto3.client("dynamodb", config=BOTO_CONFIG))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    change = BuildStateChange.from_event(event)
    if change is None:
        logger.info("build carries no DEPLOYMENT_ID; ignored", extra={"build_id": event["detail"].get("build-id")})
        return {"outcome": "ignored"}
    outcome = _updater().apply(change)
    logger.info(
        "build state change applied",
        extra={
            "deployment_id": change.deployment_id,
            "build_id": change.build_id,
            "build_status": change.status,
            "outcome": outcome,
        },
    )
    return {"deployment_id": change.deployment_id, "build_id": change.build_id, "outcome": outcome}

"""CodeBuild build state changes (EventBridge) -> deployment record status.

Environment: ``DEPLOYMENT_TABLE``, ``PROVISIONING_PROJECT``, ``DEPROVISIONING_PROJECT``.

Event: ``detail-type`` "CodeBuild Build State Change" with ``detail.build-status`` (IN_PROGRESS,
SUCCEEDED, FAILED, STOPPED, TIMED_OUT), ``detail.project-name``, ``detail.build-id`` (the build ARN) and
``detail.additional-information.environment.environment-variables`` (which carry ``DEPLOYMENT_ID``).

Every write is conditional on the record's ``build_id`` being this build, so the event of an older
(stale) build never overwrites the state of a newer one:

* provisioning SUCCEEDED -> ``ACTIVE``; FAILED/STOPPED/TIMED_OUT -> ``FAILED`` with a reason;
* deprovisioning SUCCEEDED -> the ``DEPROVISIONING`` marker item is deleted; FAILED/STOPPED/TIMED_OUT ->
  ``FAILED`` with a reason (removing the record again retries the deprovisioning);
* IN_PROGRESS -> nothing (the record already says PROVISIONING or DEPROVISIONING).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

FAILED_BUILD_STATES = ("FAILED", "STOPPED", "TIMED_OUT")
logger = logging.getLogger("deployment-status")
logger.setLevel(logging.INFO)
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
    def from_event(cls, event: Mapping[str, Any]) -> BuildStateChange:
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise InvalidEventError(
                "event has no detail object; expected a CodeBuild Build State Change event"
            )
        project, build, status = (
            detail.get("project-name"),
            detail.get("build-id"),
            detail.get("build-status"),
        )
        for name, value in (("project-name", project), ("build-id", build), ("build-status", status)):
            if not isinstance(value, str) or not value:
                raise InvalidEventError(f"detail.{name} must be a non-empty string, got {value!r}")
        variables = (detail.get("additional-information") or {}).get("environment", {}).get(
            "environment-variables"
        ) or []
        deployment_id = next(
            (v.get("value") for v in variables if isinstance(v, dict) and v.get("name") == "DEPLOYMENT_ID"),
            None,
        )
        if not isinstance(deployment_id, str) or not deployment_id:
            raise InvalidEventError(f"build {build} has no DEPLOYMENT_ID environment variable")
        assert isinstance(project, str) and isinstance(build, str) and isinstance(status, str)
        return cls(project=project, build_id=build_id_from(build), status=status, deployment_id=deployment_id)


@dataclass(frozen=True)
class StatusUpdater:
    table: str
    provisioning_project: str
    deprovisioning_project: str
    dynamodb: Any
    clock: Callable[[], str] = field(default=utc_now)

    def apply(self, change: BuildStateChange) -> str:
        """Apply one build state change; returns what happened (``ignored``, ``stale``, or the new state)."""
        if change.project == self.provisioning_project:
            if change.status == "SUCCEEDED":
                return self._set(change, "ACTIVE", None)
            if change.status in FAILED_BUILD_STATES:
                reason = f"provisioning build {change.build_id} ended {change.status}; see its CodeBuild logs"
                return self._set(change, "FAILED", reason)
            return "ignored"
        if change.project == self.deprovisioning_project:
            if change.status == "SUCCEEDED":
                return self._delete_marker(change)
            if change.status in FAILED_BUILD_STATES:
                reason = (
                    f"deprovisioning build {change.build_id} ended {change.status}; "
                    "remove the record again to retry"
                )
                return self._set(change, "FAILED", reason)
            return "ignored"
        return "ignored"

    def _set(self, change: BuildStateChange, status: str, reason: str | None) -> str:
        expression = "SET #status = :status, #updated_at = :now"
        names = {"#status": "status", "#updated_at": "updated_at", "#build_id": "build_id"}
        values: dict[str, Any] = {
            ":status": {"S": status},
            ":now": {"S": self.clock()},
            ":build": {"S": change.build_id},
        }
        if reason is None:
            expression += " REMOVE #status_reason"
        else:
            expression += ", #status_reason = :reason"
            values[":reason"] = {"S": reason}
        names["#status_reason"] = "status_reason"
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"id": {"S": change.deployment_id}},
                UpdateExpression=expression,
                ConditionExpression="#build_id = :build",
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
    return StatusUpdater(
        table=os.environ["DEPLOYMENT_TABLE"],
        provisioning_project=os.environ["PROVISIONING_PROJECT"],
        deprovisioning_project=os.environ["DEPROVISIONING_PROJECT"],
        dynamodb=boto3.client("dynamodb", config=BOTO_CONFIG),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    change = BuildStateChange.from_event(event)
    outcome = _updater().apply(change)
    logger.info(
        "deployment %s: build %s %s -> %s", change.deployment_id, change.build_id, change.status, outcome
    )
    return {"deployment_id": change.deployment_id, "build_id": change.build_id, "outcome": outcome}

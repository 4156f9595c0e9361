"""Release orchestrator steps, called by the ReleaseOrchestrator state machine.

Environment: ``DEPLOYMENT_TABLE``. The event's ``action`` selects the step:

* ``{"action": "plan", "concurrency": N, "failure_budget": F}`` -> ``{"waves": [0, 1, ...], "sizes": [...],
  "total", "concurrency", "failure_budget", "skipped": [{"id", "reason"}], "skipped_count"}`` from every
  ACTIVE deployment (paginated scan); refused, before anything is released, when a wave is too large for
  the state machine's state;
* ``{"action": "wave", "wave": W}`` -> ``{"wave", "deployments": [{"id", "pipeline_name"}]}``: the ACTIVE
  deployments of wave W now (a fresh scan, so a deployment that became ACTIVE since the plan is included);
* ``{"action": "start", "pipeline_name": P}`` -> ``{"pipeline_name", "execution_id"}``;
* ``{"action": "status", "pipeline_name": P, "execution_id": E}`` -> ``{"pipeline_name", "execution_id",
  "status", "done"}``, following superseded executions to the newer execution that replaced them;
* ``{"action": "evaluate", "results": [{"status"}], "failed_so_far": k, "failure_budget": F}`` ->
  ``{"failed", "budget_exceeded"}``.

The rules themselves (waves, concurrency, budget) live in ``planner.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
import planner
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})
TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Stopped", "Cancelled"})
SUPERSEDED = "Superseded"
# A chain of supersessions longer than this within one poll is followed on the next poll.
MAX_SUPERSEDED_HOPS = 10
_DESERIALIZER = TypeDeserializer()


class InvalidRequestError(ValueError):
    """The state machine sent an event this function cannot act on (named in the message)."""


def _required_string(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{name} must be a non-empty string, got {planner.show_value(value)}")
    return value


def active_deployments(dynamodb: Any, table: str, page_size: int | None = None) -> list[dict[str, Any]]:
    """Every ACTIVE deployment record (id, type, wave), across all scan pages."""
    paginator = dynamodb.get_paginator("scan")
    pagination = {"PageSize": page_size} if page_size else {}
    items: list[dict[str, Any]] = []
    for page in paginator.paginate(
        TableName=table,
        ConsistentRead=True,
        FilterExpression="#status = :active",
        ProjectionExpression="#id, #type, #wave",
        ExpressionAttributeNames={"#status": "status", "#id": "id", "#type": "type", "#wave": "wave"},
        ExpressionAttributeValues={":active": {"S": "ACTIVE"}},
        PaginationConfig=pagination,
    ):
        items.extend({k: _DESERIALIZER.deserialize(v) for k, v in item.items()} for item in page["Items"])
    return items


def plan_release(dynamodb: Any, table: str, concurrency: object, failure_budget: object) -> dict[str, Any]:
    return planner.release_summary(planner.plan(active_deployments(dynamodb, table), concurrency, failure_budget))


def load_wave(dynamodb: Any, table: str, wave: object) -> dict[str, Any]:
    return planner.wave_deployments(active_deployments(dynamodb, table), wave)


def start_pipeline(codepipeline: Any, pipeline_name: str) -> dict[str, str]:
    response = codepipeline.start_pipeline_execution(name=pipeline_name)
    return {"pipeline_name": pipeline_name, "execution_id": str(response["pipelineExecutionId"])}


def _newer_execution(codepipeline: Any, pipeline_name: str, execution_id: str) -> dict[str, Any] | None:
    """The execution that started right after ``execution_id`` (listings are newest first)."""
    newer: dict[str, Any] | None = None
    for page in codepipeline.get_paginator("list_pipeline_executions").paginate(pipelineName=pipeline_name):
        for summary in page["pipelineExecutionSummaries"]:
            if summary["pipelineExecutionId"] == execution_id:
                return newer
            newer = summary
    return None


def pipeline_status(codepipeline: Any, pipeline_name: str, execution_id: str) -> dict[str, Any]:
    response = codepipeline.get_pipeline_execution(pipelineName=pipeline_name, pipelineExecutionId=execution_id)
    status = str(response["pipelineExecution"]["status"])
    hops = 0
    while status == SUPERSEDED and hops < MAX_SUPERSEDED_HOPS:
        newer = _newer_execution(codepipeline, pipeline_name, execution_id)
        if newer is None:
            break
        execution_id, status = str(newer["pipelineExecutionId"]), str(newer["status"])
        hops += 1
    # A superseded execution with no successor in the listing has nothing left to follow: it counts as ended.
    done = status in TERMINAL_STATUSES or (status == SUPERSEDED and hops < MAX_SUPERSEDED_HOPS)
    return {"pipeline_name": pipeline_name, "execution_id": execution_id, "status": status, "done": done}


def dispatch(event: Mapping[str, Any], dynamodb: Any, codepipeline: Any, table: str) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise InvalidRequestError(f'event must be an object like {{"action": "plan", ...}}, got {type(event).__name__}')
    action = event.get("action")
    if action == "plan":
        return plan_release(dynamodb, table, event.get("concurrency"), event.get("failure_budget"))
    if action == "wave":
        return load_wave(dynamodb, table, event.get("wave"))
    if action == "start":
        return start_pipeline(codepipeline, _required_string(event, "pipeline_name"))
    if action == "status":
        return pipeline_status(
            codepipeline, _required_string(event, "pipeline_name"), _required_string(event, "execution_id")
        )
    if action == "evaluate":
        return planner.evaluate(event.get("results"), event.get("failed_so_far"), event.get("failure_budget"))
    raise InvalidRequestError(
        f"action must be one of plan, wave, start, status, evaluate, got {planner.show_value(action)}"
    )


@cache
def _clients() -> tuple[Any, Any]:
    return boto3.client("dynamodb", config=BOTO_CONFIG), boto3.client("codepipeline", config=BOTO_CONFIG)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    dynamodb, codepipeline = _clients()
    return dispatch(event, dynamodb, codepipeline, os.environ["DEPLOYMENT_TABLE"])

"""Clients of the local emulator and what the deploy report reads from it (dev virtualenv)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ACCOUNT = "000000000000"
REGION = "us-east-1"
# Dummy credentials: the emulator accepts any; they can never reach a real account (the endpoint is loopback).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}  # nosec B105 - dummy, emulator only


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )


def live_stacks(endpoint: str) -> list[dict[str, Any]]:
    """Every stack that is not deleted, oldest first."""
    cloudformation = client("cloudformation", endpoint)
    stacks: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        stacks.extend(s for s in page["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE")
    return sorted(stacks, key=lambda s: str(s.get("CreationTime", "")))


def stack_resources(endpoint: str, stack_name: str) -> list[dict[str, Any]]:
    cloudformation = client("cloudformation", endpoint)
    resources: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        resources.extend(page["StackResourceSummaries"])
    return resources


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def ledger_entries(ledger: Path) -> Iterator[dict[str, str]]:
    if not ledger.exists():
        return
    for line in ledger.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


@dataclass
class StackReport:
    """One stack's resources split into those the emulator really created and the placeholders."""

    name: str
    status: str
    created: list[dict[str, Any]] = field(default_factory=list)
    placeholders: list[dict[str, Any]] = field(default_factory=list)


def report(endpoint: str, ledger: Path) -> list[StackReport]:
    stand_ins = {(e["stack"], e["logical_id"], e["physical_id"]) for e in ledger_entries(ledger)}
    reports = []
    for stack in live_stacks(endpoint):
        entry = StackReport(stack["StackName"], stack["StackStatus"])
        for resource in stack_resources(endpoint, stack["StackName"]):
            key = (stack["StackName"], resource["LogicalResourceId"], resource.get("PhysicalResourceId", ""))
            (entry.placeholders if key in stand_ins else entry.created).append(resource)
        reports.append(entry)
    return reports


def format_report(reports: list[StackReport]) -> str:
    width = max([len(r.name) for r in reports] + [5])
    lines = [f"{'stack':<{width}}  {'status':<16}  created  placeholders  placeholder types"]
    for r in reports:
        types = sorted({p["ResourceType"] for p in r.placeholders})
        lines.append(
            f"{r.name:<{width}}  {r.status:<16}  {len(r.created):>7}  {len(r.placeholders):>12}  {', '.join(types) or '-'}"
        )
    return "\n".join(lines)

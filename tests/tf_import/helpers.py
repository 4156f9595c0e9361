"""Shared helpers of the Terraform import tests (no aws_cdk import: these tests stay fast)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint.data.schemas

from tests.support.cfn_lint import cfn_lint_errors as cfn_lint_errors

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FULL_STATE = FIXTURES / "full_state.json"
_SCHEMAS = Path(cfnlint.data.schemas.__file__).resolve().parent


@cache
def resource_schema(cfn_type: str) -> dict[str, Any]:
    """The CloudFormation resource schema cfn-lint bundles for ``cfn_type`` (us-east-1)."""
    providers = json.loads((_SCHEMAS / "providers" / "us-east-1.json").read_text())
    return dict(json.loads((_SCHEMAS / "resources" / f"{providers[cfn_type]}.json").read_text()))


def primary_identifier(cfn_type: str) -> set[str]:
    return {pointer.removeprefix("/properties/") for pointer in resource_schema(cfn_type)["primaryIdentifier"]}


def full_state_document() -> dict[str, Any]:
    return dict(json.loads(FULL_STATE.read_text()))


def show_json(*resources: dict[str, Any], child_modules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A `terraform show -json` document with these root resources."""
    root: dict[str, Any] = {"resources": list(resources)}
    if child_modules:
        root["child_modules"] = child_modules
    return {"format_version": "1.0", "terraform_version": "1.11.4", "values": {"root_module": root}}


def resource_from_fixture(address: str) -> dict[str, Any]:
    """A copy of one resource of the full fixture, by address."""

    def walk(module: dict[str, Any]) -> dict[str, Any] | None:
        for item in module.get("resources", []):
            if item["address"] == address:
                return json.loads(json.dumps(item))
        for child in module.get("child_modules", []):
            found = walk(child)
            if found:
                return found
        return None

    found = walk(full_state_document()["values"]["root_module"])
    assert found is not None, address
    return found

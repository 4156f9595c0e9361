"""Helpers shared by the CDK tests: an app with the project's feature flags, cdk-nag, cfn-lint and
snapshot scrubbing. Import them as ``from tests.support.cdk import ...``."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from tests.support.cfn_lint import cfn_lint_errors as cfn_lint_errors

REPO_ROOT = Path(__file__).resolve().parents[2]
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


@cache
def project_context() -> dict[str, Any]:
    """The feature flags and sample context of ``cdk.json``, so tests synthesize what ``cdk synth`` does."""
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


def new_app(**context: Any) -> cdk.App:
    """An App with the project's ``cdk.json`` context plus ``context`` overrides (no nag plugin)."""
    return cdk.App(context={**project_context(), **context})


def nag_findings(scope: IConstruct) -> list[str]:
    """Unacknowledged AwsSolutions findings under ``scope`` as ``"<rule> <resource path>: <message>"``."""
    report = AwsSolutionsChecks().validate_scope(scope)
    findings = []
    for violation in report.violations:
        for resource in violation.violating_resources:
            findings.append(f"{violation.rule_name} {resource.construct_path}: {violation.description}")
    return sorted(findings)


def scrub(value: Any) -> Any:
    """Replace asset hashes (64 hex characters) so snapshots survive code changes in assets."""
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return _ASSET_HASH.sub("<asset-hash>", value)
    return value

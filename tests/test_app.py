"""The sample app (app.py) as `cdk synth` runs it: default synth mode and bad context."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cdk import REPO_ROOT
from tests.support.validation_report import violations


def run_app(tmp_path: Path, context: dict[str, object]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "CDK_CONTEXT_JSON": json.dumps({**json.loads((REPO_ROOT / "cdk.json").read_text())["context"], **context}),
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_default_synth_writes_every_observability_stack(tmp_path: Path) -> None:
    result = run_app(tmp_path, {})
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())
    nested = json.loads((tmp_path / "cdk.out" / "assembly-Observability" / "manifest.json").read_text())
    stacks = {
        artifact["displayName"]
        for artifact in nested["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert {
        "Observability/DevOpsGuru",
        "Observability/CloudWatchObservability",
        "Observability/ServerlessSample",
        "Observability/AnomalousLambda",
        "Observability/ContainerInsightsEcs",
    } <= stacks
    assert "assembly-Observability" in manifest["artifacts"]
    assert violations(tmp_path / "cdk.out") == []


def test_engine_context_chooses_the_observability_stacks(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"observability_engines": "cloudwatch"})
    assert result.returncode == 0, result.stderr
    nested = json.loads((tmp_path / "cdk.out" / "assembly-Observability" / "manifest.json").read_text())
    stacks = {
        artifact["displayName"]
        for artifact in nested["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert "Observability/CloudWatchObservability" in stacks
    assert "Observability/DevOpsGuru" not in stacks
    assert violations(tmp_path / "cdk.out") == []


@pytest.mark.parametrize(
    ("context", "line"),
    [
        (
            {"inject_latency_ms": "slow"},
            "error: context inject_latency_ms must be an integer from 0 to 25000, got 'slow'",
        ),
        (
            {"provisioned_concurrency": "500"},
            "error: context provisioned_concurrency must be an integer from 0 to 100, got 500",
        ),
        ({"leak_mb_per_minute": True}, "error: context leak_mb_per_minute must be an integer from 0 to 100, got True"),
        (
            {"organization_root_id": "root-1"},
            "error: context organization_root_id must be an organization root id like r-ab12 "
            "(r- then 4-32 lower-case letters or digits), got 'root-1'",
        ),
        (
            {"observability_engines": "cloudwatch,newrelic"},
            "error: context observability_engines: unknown observability engine 'newrelic'; known: devops-guru, "
            "cloudwatch, devops-agent",
        ),
        (
            {"observability_engines": ["cloudwatch", 3]},
            "error: context observability_engines must be a list of strings or a comma-separated string, "
            "got ['cloudwatch', 3]",
        ),
        (
            {"notification_emails": 5},
            "error: context notification_emails must be a list of strings or a comma-separated string, got 5",
        ),
    ],
)
def test_bad_context_fails_with_one_clear_line(tmp_path: Path, context: dict[str, object], line: str) -> None:
    result = run_app(tmp_path, context)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [line]

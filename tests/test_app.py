"""The sample app (app.py) as `cdk synth` runs it: default synth mode and bad context."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cdk import REPO_ROOT
from tests.support.validation_report import violations


def run_app(
    tmp_path: Path, context: dict[str, object], argv: tuple[str, ...] = ("app.py",)
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CDK_DEFAULT_")},
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "CDK_CONTEXT_JSON": json.dumps({**json.loads((REPO_ROOT / "cdk.json").read_text())["context"], **context}),
    }
    return subprocess.run(
        [sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
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
        "Observability/StaticSite",
        "Observability/EksObservability",
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


DEPLOYMENT = {
    "deployment_id": "acme",
    "deployment_type": "silo",
    "component_account": "222222222222",
    "component_region": "eu-west-1",
}
ACCOUNT = "must be a 12-digit AWS account id, got"
REGION = "must be an AWS region name like eu-west-1 or us-gov-west-1, got"
HOSTILE_CONTEXT = [
    # sample mode: no longer ignored
    ({"account": "abc"}, f"error: context account {ACCOUNT} 'abc'"),
    ({"account": [1]}, f"error: context account {ACCOUNT} [1]"),
    ({"account": "[1]"}, f"error: context account {ACCOUNT} '[1]'"),
    ({"account": 111111111111}, f"error: context account {ACCOUNT} 111111111111"),
    ({"region": "moon-1"}, f"error: context region {REGION} 'moon-1'"),
    ({"region": ["eu-west-1"]}, f"error: context region {REGION} ['eu-west-1']"),
    (
        {"notification_emails": "not-an-email"},
        "error: context notification_emails must be email addresses like ops@example.com, got 'not-an-email'",
    ),
    (
        {"notification_emails": "ops@example.com,a b@example.com"},
        "error: context notification_emails must be email addresses like ops@example.com, got 'a b@example.com'",
    ),
    ({"toolchain_branch": [1]}, "error: context toolchain_branch must be a non-empty printable string, got [1]"),
    (
        {"toolchain_repository": "a/b\n"},
        "error: context toolchain_repository must be a non-empty printable string, got 'a/b\\n'",
    ),
    (
        {"toolchain_connection_arn": "bogus"},
        "error: context: toolchain source: connection_arn must be a CodeConnections connection ARN "
        "(arn:<partition>:codeconnections:<region>:<account>:connection/<id>), got 'bogus'",
    ),
    (
        {"toolchain_repository": "noslash"},
        "error: context: toolchain source: repository must be 'owner/name', got 'noslash'",
    ),
    (
        {
            "toolchain_connection_arn": "arn:aws:codeconnections:us-east-1:111111111111:connection/x",
            "toolchain_codecommit_repository": "r",
        },
        "error: context: set toolchain_connection_arn ('arn:aws:codeconnections:us-east-1:111111111111:connection/x') "
        "or toolchain_codecommit_repository ('r'), not both",
    ),
    (
        {"organization_root_id": ["r-ab12"]},
        "error: context organization_root_id must be an organization root id like r-ab12 "
        "(r- then 4-32 lower-case letters or digits), got ['r-ab12']",
    ),
    # deployment mode: one line instead of CloudFormation's validation errors or a jsii traceback
    ({**DEPLOYMENT, "account": "abc"}, f"error: context account {ACCOUNT} 'abc'"),
    ({**DEPLOYMENT, "account": [1]}, f"error: context account {ACCOUNT} [1]"),
    ({**DEPLOYMENT, "account": "[1]"}, f"error: context account {ACCOUNT} '[1]'"),
    ({**DEPLOYMENT, "region": "eu-west"}, f"error: context region {REGION} 'eu-west'"),
    ({**DEPLOYMENT, "toolchain_account": "1234"}, f"error: context toolchain_account {ACCOUNT} '1234'"),
    ({**DEPLOYMENT, "toolchain_region": True}, f"error: context toolchain_region {REGION} True"),
]


@pytest.mark.parametrize(("context", "line"), HOSTILE_CONTEXT, ids=[line for _, line in HOSTILE_CONTEXT])
def test_hostile_context_fails_with_one_error_line_and_writes_no_assembly(
    tmp_path: Path, context: dict[str, object], line: str
) -> None:
    result = run_app(tmp_path, context)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [line]
    out = tmp_path / "cdk.out"
    assert not out.exists() or list(out.iterdir()) == []  # cdk.App() makes the folder; nothing is written into it


def test_a_valid_toolchain_environment_is_used_by_the_deployment_mode(tmp_path: Path) -> None:
    result = run_app(tmp_path, {**DEPLOYMENT, "account": "333333333333", "region": "us-west-2"})

    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())
    assert manifest["artifacts"]["silo-acme-pipeline"]["environment"] == "aws://333333333333/us-west-2"


def test_the_region_shape_admits_every_region_botocore_knows() -> None:
    from botocore.loaders import create_loader

    from devops_blueprints.context import check_region

    partitions = create_loader().load_data("endpoints")["partitions"]
    regions = sorted(region for partition in partitions for region in partition["regions"])
    assert len(regions) > 30
    assert [region for region in regions if check_region(region, "region") != region] == []


# Runs app.py with Node.try_get_context wrapped, and prints the keys the app asked for (the Python side; CDK's
# own feature flags are read inside the jsii runtime and never pass through here).
_RECORD_KEYS = """
import json, runpy, sys
import constructs
read = set()
original = constructs.Node.try_get_context
def recording(self, key):
    read.add(key)
    return original(self, key)
constructs.Node.try_get_context = recording
sys.argv = ["app.py"]
try:
    runpy.run_path("app.py", run_name="__main__")
finally:
    # One write of one line: jsii's node process shares stderr and may print between the parts of a print().
    sys.stderr.write("context keys read: " + json.dumps(sorted(read)) + "\\n")
    sys.stderr.flush()
"""


def documented_context_keys() -> list[str]:
    text = (REPO_ROOT / "docs" / "development.md").read_text()
    section = text.split("### Context keys", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def test_documented_context_keys_are_the_keys_the_app_reads(tmp_path: Path) -> None:
    read: set[str] = set()
    for mode, context in (("sample", {}), ("deployment", DEPLOYMENT)):
        result = run_app(tmp_path / mode, context, argv=("-c", _RECORD_KEYS))
        assert result.returncode == 0, result.stderr
        marked = [line for line in result.stderr.splitlines() if line.startswith("context keys read: ")]
        assert len(marked) == 1, result.stderr
        read.update(json.loads(marked[0].removeprefix("context keys read: ")))
    documented = documented_context_keys()

    assert len(documented) == len(set(documented))  # no key twice
    assert set(documented) == read
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    assert {key for key in cdk_json if not key.startswith("@aws-cdk")} <= read

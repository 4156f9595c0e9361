"""The deployment synth mode of app.py, run as the provisioning build runs it (a separate process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cdk import REPO_ROOT, project_context

POOL2 = {
    "deployment_id": "pool2",
    "deployment_type": "pool",
    "component_account": "222222222222",
    "component_region": "eu-west-1",
}
TOOLCHAIN = {"account": "111111111111", "region": "us-east-1"}


def synth(context: dict[str, Any], outdir: Path) -> subprocess.CompletedProcess[str]:
    """``python app.py`` with the context the CDK CLI would pass (cdk.json + ``-c`` values)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_DEFAULT_")}
    env["CDK_CONTEXT_JSON"] = json.dumps({**project_context(), **context})
    env["CDK_OUTDIR"] = str(outdir)
    return subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = synth({**TOOLCHAIN, **POOL2}, outdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return outdir


def _stacks(outdir: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_only_the_deployments_pipeline_stack_is_synthesized(assembly: Path) -> None:
    stacks = _stacks(assembly)
    # CDK Pipelines adds its shared cross-region support stack (replication bucket) for the component region.
    app_stacks = {name for name in stacks if not name.startswith("cross-region-stack-")}
    assert app_stacks == {"pool-pool2-pipeline"}
    assert set(stacks) - app_stacks <= {"cross-region-stack-111111111111_eu-west-1"}
    assert stacks["pool-pool2-pipeline"]["environment"] == "aws://111111111111/us-east-1"
    assert not list(assembly.glob("assembly-Observability*"))


def test_pipeline_has_no_source_trigger_and_deploys_to_the_records_environment(assembly: Path) -> None:
    template = json.loads((assembly / "pool-pool2-pipeline.template.json").read_text())
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    properties = pipeline["Properties"]
    assert properties["Name"] == "pool-pool2-pipeline"
    assert "Triggers" not in properties
    source = properties["Stages"][0]["Actions"][0]
    assert source["Configuration"]["DetectChanges"] is False
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    component = next(stage for stage in properties["Stages"] if stage["Name"] == "Component")
    deploys = [action for action in component["Actions"] if action["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys  # the stage's other action is the SecurityScan before them (tests/tenant_cdk/test_security_scan.py)
    for action in deploys:
        assert action["Region"] == "eu-west-1"
        assert ":iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1" in json.dumps(
            action["RoleArn"]
        )
    nested = json.loads((assembly / "assembly-pool-pool2-pipeline-Component" / "manifest.json").read_text())
    environments = {
        artifact["environment"]
        for artifact in nested["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert environments == {"aws://222222222222/eu-west-1"}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {**POOL2, "deployment_type": "hybrid"},
            "error: context deployment_type must be 'silo' or 'pool', got 'hybrid'",
        ),
        (
            {**POOL2, "component_account": "2222"},
            "error: context component_account must be a string of 12 digits, got '2222'",
        ),
        (
            {**POOL2, "component_region": "mars-east-1"},
            "error: context component_region must be a real AWS region such as 'eu-west-1', got 'mars-east-1'",
        ),
        (
            {**POOL2, "deployment_id": "pool2;rm -rf /"},
            "error: context deployment_id must be a string matching ^[a-z][a-z0-9-]{0,30}$, got 'pool2;rm -rf /'",
        ),
        (
            {"deployment_id": "pool2", "deployment_type": "pool"},
            "error: deployment context is partial: component_account, component_region missing (given "
            "deployment_id='pool2', deployment_type='pool'); set all of deployment_id, deployment_type, "
            "component_account, component_region or none",
        ),
    ],
    ids=["unknown-type", "malformed-account", "unknown-region", "shell-metacharacters-in-id", "partial"],
)
def test_bad_deployment_context_fails_with_one_line_naming_key_and_value(
    context: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    result = synth({**TOOLCHAIN, **context}, tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "manifest.json").exists()


def test_missing_toolchain_environment_fails_with_one_line(tmp_path: Path) -> None:
    result = synth({**POOL2, "toolchain_account": None, "toolchain_region": None}, tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: deployment synth mode needs the toolchain account: set context account")


def test_without_credentials_the_sample_toolchain_environment_of_cdk_json_is_used(tmp_path: Path) -> None:
    """The issue's exact command (`cdk synth -c deployment_id=pool2 ...`) with no AWS credentials at all."""
    result = synth(POOL2, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    stacks = _stacks(tmp_path)
    expected = f"aws://{project_context()['toolchain_account']}/{project_context()['toolchain_region']}"
    assert stacks["pool-pool2-pipeline"]["environment"] == expected
    assert "SampleToolchainEnvironment" in result.stderr + json.dumps(
        json.loads((tmp_path / "manifest.json").read_text())
    )

"""The SecurityScan step of every pipeline (issue 14, part 3): bandit from its own hashed lock, the same
command as `make lint`, a JUnit report group, run before anything is deployed or released; the step's own
commands, taken from the synthesized buildspec, fail on a planted injection sample and pass on the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from devops_blueprints.stacks.tenants._security_scan import REPORT_FILE, SCAN_COMMAND
from devops_blueprints.stacks.tenants.deployment_pipeline import DeploymentContext, DeploymentPipelineStack
from devops_blueprints.stages.toolchain import ToolchainStage
from tests.support.cdk import REPO_ROOT, new_app
from tests.tenant_cdk.conftest import CONNECTION_ARN, POOL2, TOOLCHAIN_ENV

SILO = DeploymentContext(
    deployment_id="acme", deployment_type="silo", component_account="333333333333", component_region="us-east-1"
)


def _context() -> dict[str, str]:
    return {"toolchain_connection_arn": CONNECTION_ARN, "toolchain_repository": "acme/saas"}


@pytest.fixture(scope="module")
def pipelines() -> dict[str, Template]:
    toolchain = ToolchainStage(new_app(**_context()), "Toolchain").toolchain
    found = {"toolchain": Template.from_stack(toolchain)}
    for deployment in (POOL2, SILO):
        stack = DeploymentPipelineStack(new_app(**_context()), deployment=deployment, env=TOOLCHAIN_ENV)
        found[deployment.pipeline_name] = Template.from_stack(stack)
    return found


def _scan_spec(template: Template) -> tuple[str, dict[str, Any]]:
    """The logical id and buildspec of the pipeline's SecurityScan project."""
    specs = [
        (logical_id, json.loads(project["Properties"]["Source"]["BuildSpec"]))
        for logical_id, project in template.find_resources("AWS::CodeBuild::Project").items()
        if SCAN_COMMAND in project["Properties"]["Source"].get("BuildSpec", "")
    ]
    assert len(specs) == 1
    return specs[0]


@pytest.mark.parametrize("name", ["toolchain", "pool-pool2-pipeline", "silo-acme-pipeline"])
def test_every_pipeline_scans_before_it_deploys(pipelines: dict[str, Template], name: str) -> None:
    template = pipelines[name]
    project_id, spec = _scan_spec(template)
    assert spec["phases"]["install"]["commands"] == [
        "python -m pip install --quiet --require-hashes -r requirements-scan.txt"
    ]
    assert spec["phases"]["build"]["commands"][-1] == SCAN_COMMAND
    assert spec["reports"]["bandit"] == {"files": [REPORT_FILE], "file-format": "JUNITXML"}
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    stages = pipeline["Properties"]["Stages"]

    def scans(stage: dict[str, Any]) -> list[dict[str, Any]]:
        return [a for a in stage["Actions"] if a["Configuration"].get("ProjectName", {}).get("Ref") == project_id]

    index = next((i for i, stage in enumerate(stages) if scans(stage)), None)
    assert index is not None, "no pipeline action runs the SecurityScan project"
    stage = stages[index]
    scan = scans(stage)
    later = [a for a in stage["Actions"] if a["RunOrder"] > scan[0]["RunOrder"]]
    deploy_or_release = [a for a in later if a["ActionTypeId"]["Category"] in {"Deploy", "Build"}]
    assert deploy_or_release, f"{name}: nothing runs after the scan in stage {stage['Name']}"
    assert index >= 1 and all(s["Name"] not in {"Component", "Release"} for s in stages[:index])


def _run_step(spec: dict[str, Any], folder: Path) -> subprocess.CompletedProcess[str]:
    """The step's build commands, run as CodeBuild runs them (sh, stop at the first failure)."""
    script = "set -e\n" + "\n".join(spec["phases"]["build"]["commands"]) + "\n"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["sh", "-c", script], cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=300
    )


PLANTED = """
import os
import subprocess
import tarfile


def handler(event, context):
    subprocess.call("convert " + event["path"], shell=True)
    os.system("rm -rf " + event["dir"])
    with tarfile.open(event["archive"]) as archive:
        archive.extractall("/tmp/out")
    return eval(event["expression"])
"""


def test_the_step_fails_on_a_planted_injection_sample(pipelines: dict[str, Template], tmp_path: Path) -> None:
    _, spec = _scan_spec(pipelines["toolchain"])
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "lambda_src").mkdir()
    (tmp_path / "lambda_src" / "index.py").write_text(PLANTED)
    result = _run_step(spec, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    for test_id in ("B602", "B605", "B202", "B307"):  # shell injection, os.system, tar traversal, eval
        assert test_id in result.stdout, test_id
    report = (tmp_path / REPORT_FILE).read_text()
    assert report.startswith("<?xml") and "<testsuite" in report and "B602" in report


def test_the_step_passes_on_this_project(pipelines: dict[str, Template], tmp_path: Path) -> None:
    _, spec = _scan_spec(pipelines["toolchain"])
    copy = tmp_path / "project"
    shutil.copytree(
        REPO_ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".venv-ministack",
            ".local-deploy",
            ".tools",
            "cdk.out",
            "node_modules",
            ".git",
            "*.pyc",
            ".*_cache",
        ),
    )
    result = _run_step(spec, copy)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_make_lint_runs_the_same_command() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert f"\t{SCAN_COMMAND}\n" in lint + "\n"

"""The SecurityScan step of every pipeline (issue 14, part 3): bandit and semgrep from their hashed locks, the same
commands as `make lint`, a JUnit report group each, run before anything is deployed or released; the step's own
commands, taken from the synthesized buildspec, fail on a planted injection sample and pass on the project.

The step's commands run here with the tools `make setup` installs from the same two locks: bandit in the dev venv,
semgrep in .venv-scan (its pins do not fit the dev lock)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from aws_cdk.assertions import Template

from devops_blueprints.stacks.tenants._security_scan import (
    INSTALL_COMMAND,
    REPORT_FILE,
    SCAN_COMMAND,
    SEMGREP_COMMAND,
    SEMGREP_REPORT_FILE,
)
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
    assert spec["phases"]["install"]["commands"] == [INSTALL_COMMAND]
    commands = spec["phases"]["build"]["commands"]
    assert commands[-1] == SCAN_COMMAND
    assert f"{SEMGREP_COMMAND} --junit-xml-output={SEMGREP_REPORT_FILE}" in commands
    assert spec["reports"] == {
        "bandit": {"files": [REPORT_FILE], "file-format": "JUNITXML"},
        "semgrep": {"files": [SEMGREP_REPORT_FILE], "file-format": "JUNITXML"},
    }
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


SCAN_VENV_BIN = REPO_ROOT / ".venv-scan" / "bin"


def _run_step(
    spec: dict[str, Any], folder: Path, *, commands: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The step's build commands (or ``commands``), run as CodeBuild runs them (sh, stop at the first failure)."""
    assert (SCAN_VENV_BIN / "semgrep").exists(), "semgrep is not installed: run `make setup` (it builds .venv-scan)"
    script = "set -e\n" + "\n".join(commands or spec["phases"]["build"]["commands"]) + "\n"
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"], str(SCAN_VENV_BIN)])
    env = {**os.environ, "PATH": path, "SEMGREP_SEND_METRICS": "off"}
    return subprocess.run(
        ["sh", "-c", script], cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=300
    )


PLANTED = """
import os
import sqlite3
import subprocess
import tarfile


def handler(event, context):
    subprocess.call("convert " + event["path"], shell=True)
    os.system("rm -rf " + event["dir"])
    with tarfile.open(event["archive"]) as archive:
        archive.extractall("/tmp/out")
    with open(os.path.join("/tmp/uploads", event["name"])) as upload:
        upload.read()
    sqlite3.connect(":memory:").execute("SELECT * FROM t WHERE id = '%s'" % event["id"])
    return eval(event["expression"])
"""
#: The semgrep rule each planted line breaks, by its line in PLANTED.
SEMGREP_FINDINGS = {
    "subprocess-shell-with-non-literal-command": 9,
    "os-shell-with-non-literal-command": 10,
    "tar-extraction-without-filter": 12,
    "path-from-event-or-request": 13,
    "sql-built-from-strings": 15,
    "eval-or-exec-of-non-literal": 16,
}
#: The same operations written safely: semgrep finds nothing (its rules are not a plain grep for the calls).
SAFE = """
import os
import sqlite3
import subprocess
import tarfile


def handler(event, context):
    subprocess.run(["convert", event["path"]], check=True)
    subprocess.run("ls -l", shell=True, check=True)
    os.system("true")
    with tarfile.open(event["archive"]) as archive:
        archive.extractall("/tmp/out", filter="data")
    with open(os.path.join("/tmp/uploads", os.path.basename(event["name"]))) as upload:
        upload.read()
    sqlite3.connect(":memory:").execute("SELECT * FROM t WHERE id = ?", (event["id"],))
    return eval("1 + 1")
"""


def _report(path: Path) -> ElementTree.Element:
    """A JUnit report the scanner just wrote into this test's own folder (trusted input)."""
    return ElementTree.parse(path).getroot()  # noqa: S314 - written by the scanner under test, not outside input


def _planted(tmp_path: Path, source: str) -> Path:
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(REPO_ROOT / ".semgrep.yml", tmp_path / ".semgrep.yml")
    (tmp_path / "lambda_src").mkdir()
    (tmp_path / "lambda_src" / "index.py").write_text(source)
    return tmp_path


def test_the_step_fails_on_a_planted_injection_sample(pipelines: dict[str, Template], tmp_path: Path) -> None:
    _, spec = _scan_spec(pipelines["toolchain"])
    folder = _planted(tmp_path, PLANTED)
    result = _run_step(spec, folder)
    assert result.returncode == 1, result.stdout + result.stderr
    # Both reports were written, semgrep's verdict failed the build: one failed test case per finding.
    bandit = _report(folder / REPORT_FILE)
    # bandit: one test case per finding, its test id in the error text ("Test ID: B602 Severity: HIGH ...")
    failed = {re.match(r"Test ID: (B\d+)", error.text or "")[1] for error in bandit.iter("error")}  # type: ignore[index]
    assert {"B602", "B605", "B202", "B307", "B608"} <= failed, failed  # shell, os.system, tar, eval, SQL
    semgrep = _report(folder / SEMGREP_REPORT_FILE)
    found = {(case.get("name"), int(case.get("line", 0))) for case in semgrep.iter("testcase")}
    assert found == set(SEMGREP_FINDINGS.items())
    assert all(case.find("failure") is not None for case in semgrep.iter("testcase"))


def test_bandit_alone_fails_the_step_too(pipelines: dict[str, Template], tmp_path: Path) -> None:
    """A finding only bandit makes (semgrep's rules pass it) still fails the build: its screen run decides."""
    _, spec = _scan_spec(pipelines["toolchain"])
    folder = _planted(tmp_path, "import pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n")
    result = _run_step(spec, folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "B301" in result.stdout  # pickle
    assert not list(_report(folder / SEMGREP_REPORT_FILE).iter("testcase"))


def test_semgrep_finds_nothing_in_the_safe_forms(pipelines: dict[str, Template], tmp_path: Path) -> None:
    folder = _planted(tmp_path, SAFE)
    result = _run_step({}, folder, commands=[SEMGREP_COMMAND])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_step_passes_on_this_project(pipelines: dict[str, Template], tmp_path: Path) -> None:
    _, spec = _scan_spec(pipelines["toolchain"])
    copy = tmp_path / "project"
    shutil.copytree(
        REPO_ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".venv-scan",
            ".venv-bench",
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


def test_make_lint_runs_the_same_commands() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0] + "\n"
    assert f"\t{SCAN_COMMAND}\n" in lint
    assert f"\t$(SCAN_VENV)/bin/{SEMGREP_COMMAND}\n" in lint
    # and .venv-scan is built from the locks the step installs
    assert "-r requirements-scan.txt -r requirements-semgrep.txt" in makefile and INSTALL_COMMAND.endswith(
        "-r requirements-scan.txt -r requirements-semgrep.txt"
    )

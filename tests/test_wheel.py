"""The built wheel works outside the repository: a fresh virtualenv installs it and an external app
synthesizes every sample stage with every asset it references present in the cloud assembly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.cdk import REPO_ROOT

EXTERNAL_APP = """
import aws_cdk as cdk
from devops_blueprints.stages import EmbeddingStage, GovernanceStage, ObservabilityStage, ToolchainStage
from devops_blueprints import constructs, stacks, stages

app = cdk.App()
ObservabilityStage(app, "Observability")
ToolchainStage(app, "Toolchain")
EmbeddingStage(app, "Embedding")
GovernanceStage(app, "Governance")
app.synth()
print("public constructs:", ",".join(sorted(n for n in dir(constructs) if n[0].isupper())))
"""
STAGES = ("Observability", "Toolchain", "Embedding", "Governance")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO_ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (wheel_file,) = out.glob("devops_blueprints-*.whl")
    return wheel_file


def test_wheel_carries_lambda_src_and_batch_job(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "devops_blueprints/_assets/lambda_src/serverless_sample/index.py" in names
    assert "devops_blueprints/_assets/lambda_src/anomalous_function/index.py" in names
    assert "devops_blueprints/_assets/batch_job/batch_job/__init__.py" in names
    assert not any("__pycache__" in name for name in names)


@pytest.mark.slow
def test_installed_wheel_synthesizes_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # the synth lock (hash-checked: what a user's `pip install -r requirements.txt` gets), then the wheel alone
    for arguments in (["--require-hashes", "-r", str(REPO_ROOT / "requirements.txt")], ["--no-deps", str(wheel)]):
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *arguments],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert install.returncode == 0, install.stderr[-3000:]

    app_dir = tmp_path / "external-app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(EXTERNAL_APP)
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["CDK_OUTDIR"] = str(app_dir / "cdk.out")
    result = subprocess.run(
        [str(python), "app.py"], cwd=app_dir, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DevOpsGuruNotifications" in result.stdout
    assert "CloudWatchEngine" in result.stdout

    # DevOpsGuru, CloudWatchObservability, the three samples (whose CloudWatch alarms are inside them), the
    # RUM static site and the EKS sample (its kubectl layer comes from the synth lock too).
    templates = list((app_dir / "cdk.out" / "assembly-Observability").glob("*.template.json"))
    assert len(templates) == 7
    assert any("AWS::CloudWatch::CompositeAlarm" in template.read_text() for template in templates)
    referenced = {"files": 0, "dockerImages": 0}
    for stage in STAGES:
        assembly = app_dir / "cdk.out" / f"assembly-{stage}"
        assert list(assembly.glob("*.template.json")), f"stage {stage} synthesized no stack"
        for assets_file in assembly.glob("*.assets.json"):
            manifest = json.loads(assets_file.read_text())
            for kind in referenced:
                for asset in manifest.get(kind, {}).values():
                    source = asset["source"].get("path") or asset["source"].get("directory")
                    if source.endswith(".template.json"):
                        continue
                    referenced[kind] += 1
                    path = assembly / source
                    assert path.exists(), f"asset {source} referenced by {assets_file.name} is missing"
                    if path.is_dir():
                        assert any(path.iterdir()), f"asset {source} is empty"
    assert referenced["files"] >= 2, "the sample functions' code assets must be in the assembly"
    assert referenced["dockerImages"] >= 1, "the Batch job image (batch_job/) must be in the assembly"
    # The library really came from the wheel, not from this checkout.
    origin = subprocess.run(
        [str(python), "-c", "import devops_blueprints, sys; print(devops_blueprints.__file__)"],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(env_dir) in origin and str(REPO_ROOT) not in origin

"""jsii runs on the project's Node 22 LTS (from .tools/), so synth prints no end-of-life banner."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = "import aws_cdk as cdk\napp = cdk.App()\ncdk.Stack(app, 'S')\napp.synth()\nprint('synthesized')"


def test_jsii_uses_a_supported_node_without_banner(tmp_path: object) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JSII_SILENCE")}
    env["CDK_OUTDIR"] = str(tmp_path)
    node = subprocess.run(["node", "--version"], env=env, capture_output=True, text=True, check=True).stdout
    assert node.startswith("v22."), f"node on PATH is {node.strip()}, expected the project's Node 22 LTS"
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "synthesized" in result.stdout
    assert "end-of-life" not in result.stderr and "not supported" not in result.stderr, result.stderr

"""Synth time of the whole sample app against an empty app (one stack holding only a no-op
``AWS::CloudFormation::WaitConditionHandle``: CloudFormation rejects a stack with no resources), same way:
``python app.py`` in a subprocess with the cdk.json context, median of three runs each."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EMPTY_APP = (
    "import aws_cdk as cdk\n"
    "app = cdk.App()\n"
    "cdk.CfnWaitConditionHandle(cdk.Stack(app, 'Empty'), 'Nothing')\n"
    "app.synth()\n"
)
REPEATS = 3


def synth_seconds(args: list[str], context: dict[str, object], repeats: int = REPEATS) -> float:
    """Median wall-clock seconds of ``python <args>`` synthesizing into a fresh temporary assembly."""
    base_context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    samples = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as outdir:
            env = {**os.environ, "CDK_OUTDIR": outdir, "CDK_CONTEXT_JSON": json.dumps({**base_context, **context})}
            started = time.perf_counter()
            subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def empty_app_seconds() -> float:
    """Median synth time of ``EMPTY_APP``: the baseline every synth benchmark divides by."""
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "empty_app.py"
        empty.write_text(EMPTY_APP)
        return synth_seconds([str(empty)], {})


def run() -> dict[str, float]:
    empty_s = empty_app_seconds()
    whole_s = synth_seconds(["app.py"], {})
    figures = {"empty_app_s": round(empty_s, 2), "whole_app_s": round(whole_s, 2), "ratio": round(whole_s / empty_s, 2)}
    print(
        f"  synth: empty app {figures['empty_app_s']} s, whole sample app {figures['whole_app_s']} s "
        f"({figures['ratio']}x the empty app; median of {REPEATS})"
    )
    return figures

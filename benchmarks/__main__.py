"""Run every benchmark module listed in ``MODULES``: each exposes ``run() -> dict`` that measures,
prints its figures and returns them. ``python -m benchmarks [NAME ...]`` runs only those named."""

from __future__ import annotations

import importlib
import os
import sys
import time

# Before each module, wait (at most SETTLE_SECONDS) for the CPUs to be quiet: the previous module's child
# processes (the CDK CLI, jsii's node, moto) may still be winding down, and every figure is a ratio
# measured in one module on a 2-CPU machine.
SETTLE_LOAD = 1.0
SETTLE_SECONDS = 60.0

MODULES: tuple[str, ...] = (
    "app_synth",
    "observability_engine",
    "guardrails",
    "tf_import",
    "release",
    "submitter",
    "deployment_synth",
    "embeddings",
    "replay",
    "eks_synth",
)


def main(argv: list[str]) -> int:
    names = argv or list(MODULES)
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        print(f"benchmarks: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    for index, name in enumerate(names, 1):
        waited = _settle()
        print(f"[{index}/{len(names)}] benchmarks.{name} (waited {waited:.0f} s for load < {SETTLE_LOAD})", flush=True)
        importlib.import_module(f"benchmarks.{name}").run()
    print(f"benchmarks: {len(names)} module(s) finished in {time.perf_counter() - started:.1f} s")
    return 0


def _settle() -> float:
    """Sleep until the 1-minute load average is below SETTLE_LOAD, or SETTLE_SECONDS; returns seconds waited."""
    started = time.monotonic()
    while os.getloadavg()[0] >= SETTLE_LOAD and time.monotonic() - started < SETTLE_SECONDS:
        time.sleep(2)
    return time.monotonic() - started


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Run every benchmark module listed in ``MODULES``: each exposes ``run() -> dict`` that measures,
prints its figures and returns them. ``python -m benchmarks [NAME ...]`` runs only those named."""

from __future__ import annotations

import importlib
import sys
import time

MODULES: tuple[str, ...] = (
    "app_synth",
    "guardrails",
    "tf_import",
    "release",
    "submitter",
    "deployment_synth",
    "embeddings",
)


def main(argv: list[str]) -> int:
    names = argv or list(MODULES)
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        print(f"benchmarks: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] benchmarks.{name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").run()
    print(f"benchmarks: {len(names)} module(s) finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

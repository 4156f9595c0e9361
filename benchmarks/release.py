"""Release orchestration: 100 deployments updated in waves against one at a time.

The wave planner and the release rules (``lambda_src/release_orchestrator/planner.py``, the code the
orchestrator Lambda runs) drive an event-driven simulation of pipelines that each take a fixed time,
on a simulated clock (deterministic: no sleeping, no threads). The state machine notices an ended
pipeline at its next status poll, so every run is rounded up to the poll interval.

Figures: simulated time for the waved release (canary wave of 1, then waves of 19 and 80, concurrency 10)
against the one-at-a-time baseline on the same fleet, as a speedup ratio (goal >= 8x); the same with
pipeline durations varying between 10 and 20 minutes; a run whose failures stay within the budget
(completes) and one whose failures exceed it (stops before the next wave).
"""

from __future__ import annotations

import random
import time
from types import ModuleType
from typing import Any

from devops_blueprints.assets import load_lambda_module

DEPLOYMENTS = 100
CONCURRENCY = 10
FAILURE_BUDGET = 3
PIPELINE_SECONDS = 15 * 60.0
POLL_SECONDS = 30.0
GOAL = 8.0


def _planner() -> ModuleType:
    return load_lambda_module("release_orchestrator", "planner")


def fleet(count: int = DEPLOYMENTS) -> list[dict[str, Any]]:
    """One canary (wave 0), 19 early deployments (wave 1), the rest in wave 2."""
    items: list[dict[str, Any]] = [{"id": "canary", "type": "silo", "wave": 0}]
    for index in range(count - 1):
        wave = 1 if index < 19 else 2
        items.append({"id": f"tenant-{index:04d}", "type": "pool" if index % 3 else "silo", "wave": wave})
    return items


def _fixed(_: dict[str, str]) -> tuple[float, str]:
    return PIPELINE_SECONDS, "Succeeded"


def run() -> dict[str, Any]:
    planner = _planner()
    deployments = fleet()

    started = time.perf_counter()
    waved_plan = planner.plan(deployments, CONCURRENCY, FAILURE_BUDGET)
    baseline_plan = planner.plan(deployments, 1, FAILURE_BUDGET)

    baseline = planner.simulate(baseline_plan, _fixed, poll_interval=POLL_SECONDS)
    waved = planner.simulate(waved_plan, _fixed, poll_interval=POLL_SECONDS)
    speedup = baseline.elapsed / waved.elapsed

    rng = random.Random(20261121)
    durations = {d["id"]: rng.uniform(600.0, 1200.0) for d in deployments}

    def varied(deployment: dict[str, str]) -> tuple[float, str]:
        return durations[deployment["id"]], "Succeeded"

    varied_baseline = planner.simulate(baseline_plan, varied, poll_interval=POLL_SECONDS)
    varied_waved = planner.simulate(waved_plan, varied, poll_interval=POLL_SECONDS)
    varied_speedup = varied_baseline.elapsed / varied_waved.elapsed

    within = {"tenant-0030", "tenant-0050", "tenant-0070"}  # 3 failures in the last wave, budget 3

    def within_budget(deployment: dict[str, str]) -> tuple[float, str]:
        return PIPELINE_SECONDS, "Failed" if deployment["id"] in within else "Succeeded"

    tolerated = planner.simulate(waved_plan, within_budget, poll_interval=POLL_SECONDS)

    over = {"tenant-0001", "tenant-0004", "tenant-0009", "tenant-0015"}  # 4 failures in wave 1, budget 3

    def over_budget(deployment: dict[str, str]) -> tuple[float, str]:
        return PIPELINE_SECONDS, "Failed" if deployment["id"] in over else "Succeeded"

    stopped = planner.simulate(waved_plan, over_budget, poll_interval=POLL_SECONDS)

    big = [{"id": f"t{i:05d}", "type": "pool", "wave": i % 5} for i in range(10_000)]
    plan_started = time.perf_counter()
    planner.plan(big, CONCURRENCY, FAILURE_BUDGET)
    plan_10k_ms = (time.perf_counter() - plan_started) * 1000

    results = {
        "deployments": DEPLOYMENTS,
        "waves": [len(w["deployments"]) for w in waved_plan["waves"]],
        "concurrency": CONCURRENCY,
        "failure_budget": FAILURE_BUDGET,
        "pipeline_minutes": PIPELINE_SECONDS / 60,
        "baseline_hours": round(baseline.elapsed / 3600, 2),
        "waved_hours": round(waved.elapsed / 3600, 2),
        "speedup": round(speedup, 2),
        "goal": GOAL,
        "goal_met": speedup >= GOAL and not waved.stopped and waved.succeeded == DEPLOYMENTS,
        "varied_speedup": round(varied_speedup, 2),
        "within_budget": {"failed": tolerated.failed, "stopped": tolerated.stopped, "started": tolerated.started},
        "over_budget": {
            "failed": stopped.failed,
            "stopped": stopped.stopped,
            "waves_released": stopped.waves_released,
            "started": stopped.started,
            "not_started": stopped.not_started,
        },
        "plan_10k_deployments_ms": round(plan_10k_ms, 1),
    }
    print(
        f"  release: {DEPLOYMENTS} deployments, waves {results['waves']}, concurrency {CONCURRENCY}, "
        f"pipeline {PIPELINE_SECONDS / 60:.0f} min, poll {POLL_SECONDS:.0f} s (simulated clock)"
    )
    print(
        f"  one at a time: {results['baseline_hours']} h; in waves: {results['waved_hours']} h; "
        f"speedup {results['speedup']}x (goal >= {GOAL}x: {'met' if results['goal_met'] else 'NOT met'})"
    )
    print(f"  durations 10-20 min (seeded): speedup {results['varied_speedup']}x")
    print(
        f"  3 failures, budget {FAILURE_BUDGET}: failed {tolerated.failed}, stopped {tolerated.stopped}, "
        f"{tolerated.started}/{DEPLOYMENTS} updated"
    )
    print(
        f"  4 failures in wave 1, budget {FAILURE_BUDGET}: stopped {stopped.stopped} after "
        f"{stopped.waves_released} wave(s), {stopped.started} updated, {stopped.not_started} not started"
    )
    print(f"  planning 10,000 deployments: {plan_10k_ms:.1f} ms")
    print(f"  release benchmark done in {time.perf_counter() - started:.2f} s")
    return results


if __name__ == "__main__":
    run()

"""Release waves, concurrency and the failure budget: plain Python shared by the Lambda and the benchmark.

A release updates every ACTIVE deployment's pipeline:

* deployments are grouped by ``wave`` (0 is the canary; a deployment without a wave goes in
  ``DEFAULT_WAVE``, right after the canary) and waves run in ascending order, one at a time;
* within a wave up to ``concurrency`` pipelines run at once (a new one starts as soon as one ends);
* after each wave the failures are added up; when the total exceeds ``failure_budget`` the release stops
  and later waves are not started.

``simulate`` runs exactly these rules on a simulated clock (event-driven, no sleeping), which is what the
release benchmark uses; the Step Functions state machine runs them against real pipelines.

Size: Step Functions keeps each state, and a distributed Map's array of results, under 256 KiB. So the
state machine carries only the wave numbers (``summary``) and loads one wave's deployments at a time
(``wave_deployments``); ``check_wave_fits`` refuses a wave whose deployments and worst-case results could
not fit, before anything is released, naming the wave and how many fit.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CANARY_WAVE = 0
DEFAULT_WAVE = 1
SUCCEEDED = "Succeeded"

#: Step Functions' limit on a state (input or output) and on a distributed Map's result array, in bytes.
STATE_LIMIT_BYTES = 256 * 1024
#: What the state at the end of a wave may hold besides that wave's deployments and results: the summary
#: (wave numbers, counts, a few skipped records), the loop counters and JSON punctuation.
STATE_RESERVE_BYTES = 12 * 1024
#: Longest values a wave result can carry: an execution status (``Superseded``) and a Step Functions
#: error name caught from a failed start/status call (e.g. ``Lambda.TooManyRequestsException``).
LONGEST_STATUS = "Superseded"
LONGEST_ERROR_NAME = 64
#: Skipped records listed in the summary (all of them are counted).
SKIPPED_LISTED = 20


class PlanError(ValueError):
    """Invalid release parameters (named in the message)."""


def pipeline_name(deployment_type: str, deployment_id: str) -> str:
    return f"{deployment_type}-{deployment_id}-pipeline"


def show_value(value: object) -> str:
    """``value`` for a message: at most 80 characters, never raising (repr() of a 5,000-digit int does)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _whole_number(name: str, value: object, minimum: int) -> int:
    number: int | Decimal | None = None
    if isinstance(value, Decimal):
        number = value if value.is_finite() and value == value.to_integral_value() else None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or number < minimum:
        raise PlanError(f"{name} must be a whole number >= {minimum}, got {show_value(value)}")
    return int(number)


def _wave_of(item: Mapping[str, Any]) -> int:
    wave = item.get("wave")
    if wave is None:
        return DEFAULT_WAVE
    return _whole_number("wave", wave, 0)


def plan(items: Iterable[Mapping[str, Any]], concurrency: object, failure_budget: object) -> dict[str, Any]:
    """Group deployments (plain items with ``id``, ``type``, optional ``wave``) into ordered waves.

    Returns ``{"waves": [{"wave", "deployments": [{"id", "type", "pipeline_name"}]}], "total", "concurrency",
    "failure_budget", "skipped": [{"id", "reason"}]}``; items whose wave is not a whole number >= 0 are
    skipped with the reason rather than guessed into a wave.
    """
    limit = _whole_number("concurrency", concurrency, 1)
    budget = _whole_number("failure_budget", failure_budget, 0)
    ordered, skipped = group_waves(items)
    return {
        "waves": ordered,
        "total": sum(len(w["deployments"]) for w in ordered),
        "concurrency": limit,
        "failure_budget": budget,
        "skipped": skipped,
    }


def group_waves(items: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(waves in ascending order, each ``{"wave", "deployments"}`` sorted by id; skipped items by id)."""
    waves: dict[int, list[dict[str, str]]] = {}
    skipped: list[dict[str, str]] = []
    for item in items:
        deployment_id, deployment_type = item.get("id"), item.get("type")
        if not isinstance(deployment_id, str) or not isinstance(deployment_type, str):
            skipped.append({"id": str(deployment_id), "reason": "id and type must be strings"})
            continue
        try:
            wave = _wave_of(item)
        except PlanError as exc:
            skipped.append({"id": deployment_id, "reason": str(exc)})
            continue
        waves.setdefault(wave, []).append(
            {
                "id": deployment_id,
                "type": deployment_type,
                "pipeline_name": pipeline_name(deployment_type, deployment_id),
            }
        )
    ordered = [
        {"wave": wave, "deployments": sorted(deployments, key=lambda d: d["id"])}
        for wave, deployments in sorted(waves.items())
    ]
    return ordered, sorted(skipped, key=lambda s: s["id"])


def summary(release_plan: Mapping[str, Any]) -> dict[str, Any]:
    """What the state machine carries between waves: wave numbers in order and their sizes, not deployments.

    ``{"waves": [0, 1, ...], "sizes": [n0, n1, ...], "total", "concurrency", "failure_budget",
    "skipped": [first SKIPPED_LISTED], "skipped_count"}``.
    """
    skipped = list(release_plan["skipped"])
    return {
        "waves": [w["wave"] for w in release_plan["waves"]],
        "sizes": [len(w["deployments"]) for w in release_plan["waves"]],
        "total": release_plan["total"],
        "concurrency": release_plan["concurrency"],
        "failure_budget": release_plan["failure_budget"],
        "skipped": skipped[:SKIPPED_LISTED],
        "skipped_count": len(skipped),
    }


def _json_bytes(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def wave_state_bytes(deployments: Sequence[Mapping[str, str]]) -> int:
    """Upper bound of the bytes one wave adds to the state: its deployments plus a result for each.

    A result is ``{"id", "status"}`` or, when starting/following the pipeline failed, ``{"id", "status":
    "Failed", "error"}``; the bound assumes every deployment ends with the larger of the two, with the longest
    status and error name.
    """
    entries = [{"id": d["id"], "pipeline_name": d["pipeline_name"]} for d in deployments]
    results = [max(result_shapes(d["id"]), key=_json_bytes) for d in deployments]
    return _json_bytes({"current": {"wave": 0, "deployments": entries}}) + _json_bytes({"results": results})


def result_shapes(deployment_id: str) -> list[dict[str, str]]:
    """The largest result of each kind one deployment can leave in the wave's result array."""
    return [
        {"id": deployment_id, "status": LONGEST_STATUS},
        {"id": deployment_id, "status": "Failed", "error": "E" * LONGEST_ERROR_NAME},
    ]


def check_wave_fits(wave: int, deployments: Sequence[Mapping[str, str]]) -> None:
    """Raise PlanError when ``wave`` is too large for the state machine's state (nothing is started)."""
    budget = STATE_LIMIT_BYTES - STATE_RESERVE_BYTES
    needed = wave_state_bytes(deployments)
    if needed > budget:
        per_deployment = needed / max(len(deployments), 1)
        fits = int(budget // per_deployment)
        raise PlanError(
            f"wave {wave} has {len(deployments)} deployments, more than one wave of a release can carry in Step "
            f"Functions' 256 KiB state (about {fits} with these ids): give some of them another wave number"
        )


def release_summary(release_plan: Mapping[str, Any]) -> dict[str, Any]:
    """``summary(release_plan)`` once every wave is known to fit; raises PlanError (naming the wave) if not."""
    for entry in release_plan["waves"]:
        check_wave_fits(entry["wave"], entry["deployments"])
    result = summary(release_plan)
    # Wave numbers and sizes are the only part of the summary that grows with the fleet.
    if _json_bytes(result) > STATE_RESERVE_BYTES * 2 // 3:
        raise PlanError(
            f"the release has {len(result['waves'])} distinct waves, too many to carry in Step Functions' state: "
            "use fewer wave numbers"
        )
    return result


def wave_deployments(items: Iterable[Mapping[str, Any]], wave: object) -> dict[str, Any]:
    """``{"wave", "deployments": [{"id", "pipeline_name"}]}``: the deployments among ``items`` in ``wave``
    (empty when none is)."""
    number = _whole_number("wave", wave, 0)
    for entry in group_waves(items)[0]:
        if entry["wave"] == number:
            deployments = [{"id": d["id"], "pipeline_name": d["pipeline_name"]} for d in entry["deployments"]]
            check_wave_fits(number, deployments)
            return {"wave": number, "deployments": deployments}
    return {"wave": number, "deployments": []}


def evaluate(results: object, failed_so_far: object, failure_budget: object) -> dict[str, Any]:
    """Add a wave's failures (any result whose ``status`` is not "Succeeded") to the running total."""
    if not isinstance(results, Sequence) or isinstance(results, str | bytes):
        raise PlanError(f"results must be a list of {{'status': ...}} objects, got {show_value(results)}")
    failed = _whole_number("failed_so_far", failed_so_far, 0)
    budget = _whole_number("failure_budget", failure_budget, 0)
    for result in results:
        if not isinstance(result, Mapping) or result.get("status") != SUCCEEDED:
            failed += 1
    return {"failed": failed, "budget_exceeded": failed > budget}


@dataclass(frozen=True)
class SimulatedRelease:
    elapsed: float
    started: int
    succeeded: int
    failed: int
    waves_released: int
    stopped: bool
    not_started: int


def simulate(
    release_plan: Mapping[str, Any],
    run_pipeline: Callable[[Mapping[str, str]], tuple[float, str]],
    *,
    poll_interval: float = 0.0,
) -> SimulatedRelease:
    """Run ``release_plan`` on a simulated clock.

    ``run_pipeline(deployment) -> (duration, status)`` says how long that deployment's pipeline runs and how
    it ends. With ``poll_interval`` > 0 an end is noticed only at the next status poll (as in the state
    machine).
    """
    concurrency = int(release_plan["concurrency"])
    budget = int(release_plan["failure_budget"])
    clock = 0.0
    failed = started = succeeded = waves_released = 0
    stopped = False
    waves = list(release_plan["waves"])
    for wave in waves:
        in_flight: list[tuple[float, int, str]] = []  # (observed end, order, status)
        pending = list(wave["deployments"])
        results: list[dict[str, str]] = []
        now = clock
        order = 0
        while pending or in_flight:
            while pending and len(in_flight) < concurrency:
                deployment = pending.pop(0)
                duration, status = run_pipeline(deployment)
                if poll_interval > 0:
                    duration = math.ceil(duration / poll_interval) * poll_interval
                heapq.heappush(in_flight, (now + duration, order, status))
                order += 1
                started += 1
            now, _, status = heapq.heappop(in_flight)
            results.append({"status": status})
        clock = now
        waves_released += 1
        succeeded += sum(1 for r in results if r["status"] == SUCCEEDED)
        verdict = evaluate(results, failed, budget)
        failed = verdict["failed"]
        if verdict["budget_exceeded"]:
            stopped = True
            break
    total = sum(len(w["deployments"]) for w in waves)
    return SimulatedRelease(
        elapsed=clock,
        started=started,
        succeeded=succeeded,
        failed=failed,
        waves_released=waves_released,
        stopped=stopped,
        not_started=total - started,
    )

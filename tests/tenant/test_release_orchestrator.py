"""Release orchestrator Lambda (moto: table scan, CodePipeline) and its plain-Python planner."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tenant.conftest import TABLE, load_lambda

orchestrator = load_lambda("release_orchestrator")
planner = orchestrator.planner


def item(deployment_id: str, status: str = "ACTIVE", wave: int | None = None, kind: str = "silo") -> dict[str, Any]:
    value = {
        "id": {"S": deployment_id},
        "type": {"S": kind},
        "account": {"S": "111111111111"},
        "region": {"S": "eu-west-1"},
        "status": {"S": status},
    }
    if wave is not None:
        value["wave"] = {"N": str(wave)}
    return value


@pytest.fixture
def table(deployment_table: Any) -> Any:
    return deployment_table


def create_pipeline(codepipeline: Any, name: str) -> None:
    trust = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", '
        '"Principal": {"Service": "codepipeline.amazonaws.com"}}]}'
    )
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=trust)
    codepipeline.create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role["Role"]["Arn"],
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Source",
                            "actionTypeId": {
                                "category": "Source",
                                "owner": "AWS",
                                "provider": "S3",
                                "version": "1",
                            },
                            "configuration": {"S3Bucket": "src", "S3ObjectKey": "src.zip"},
                            "outputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
                {
                    "name": "Deploy",
                    "actions": [
                        {
                            "name": "Build",
                            "actionTypeId": {
                                "category": "Build",
                                "owner": "AWS",
                                "provider": "CodeBuild",
                                "version": "1",
                            },
                            "configuration": {"ProjectName": "deploy"},
                            "inputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
            ],
        }
    )


def set_execution_status(pipeline: str, execution_id: str, status: str) -> None:
    """CodePipeline's side of the story (moto runs no actions): mark an execution's outcome."""
    from moto.codepipeline.models import codepipeline_backends

    backend = codepipeline_backends["123456789012"]["us-east-1"]
    backend.pipelines[pipeline].executions[execution_id].status = status


# -- plan --------------------------------------------------------------------------------------------------


def test_plan_groups_active_deployments_by_wave_across_scan_pages(table: Any) -> None:
    records = [
        item("canary", wave=0),
        item("beta", wave=2, kind="pool"),
        item("alpha", wave=2),
        item("nowave"),
        item("early", wave=1),
        item("late", wave=7),
        item("building", status="PROVISIONING", wave=0),
        item("broken", status="FAILED", wave=0),
        item("leaving", status="DEPROVISIONING", wave=0),
    ]
    for record in records:
        table.put_item(TableName=TABLE, Item=record)

    found = orchestrator.active_deployments(table, TABLE, page_size=2)
    result = orchestrator.dispatch({"action": "plan", "concurrency": 10, "failure_budget": 2}, table, None, TABLE)

    assert sorted(d["id"] for d in found) == ["alpha", "beta", "canary", "early", "late", "nowave"]
    # The state machine carries only wave numbers and sizes between waves...
    assert result == {
        "waves": [0, 1, 2, 7],
        "sizes": [1, 2, 2, 1],
        "total": 6,
        "concurrency": 10,
        "failure_budget": 2,
        "skipped": [],
        "skipped_count": 0,
    }
    # ...and loads each wave's deployments when the wave starts.
    waves = {
        wave: orchestrator.dispatch({"action": "wave", "wave": wave}, table, None, TABLE) for wave in result["waves"]
    }
    assert waves == {
        0: {"wave": 0, "deployments": [{"id": "canary", "pipeline_name": "silo-canary-pipeline"}]},
        1: {
            "wave": 1,
            "deployments": [
                {"id": "early", "pipeline_name": "silo-early-pipeline"},
                {"id": "nowave", "pipeline_name": "silo-nowave-pipeline"},
            ],
        },
        2: {
            "wave": 2,
            "deployments": [
                {"id": "alpha", "pipeline_name": "silo-alpha-pipeline"},
                {"id": "beta", "pipeline_name": "pool-beta-pipeline"},
            ],
        },
        7: {"wave": 7, "deployments": [{"id": "late", "pipeline_name": "silo-late-pipeline"}]},
    }


def test_a_wave_is_loaded_as_it_is_now(table: Any) -> None:
    table.put_item(TableName=TABLE, Item=item("first", wave=3))
    planned = orchestrator.dispatch({"action": "plan", "concurrency": 2, "failure_budget": 0}, table, None, TABLE)
    table.put_item(TableName=TABLE, Item=item("second", wave=3))
    table.put_item(TableName=TABLE, Item=item("first", status="DEPROVISIONING", wave=3))

    assert planned["sizes"] == [1]
    assert orchestrator.dispatch({"action": "wave", "wave": 3}, table, None, TABLE) == {
        "wave": 3,
        "deployments": [{"id": "second", "pipeline_name": "silo-second-pipeline"}],
    }
    assert orchestrator.dispatch({"action": "wave", "wave": 4}, table, None, TABLE) == {"wave": 4, "deployments": []}


def test_plan_of_an_empty_table_has_no_waves(table: Any) -> None:
    result = orchestrator.dispatch({"action": "plan", "concurrency": 1, "failure_budget": 0}, table, None, TABLE)
    assert result["waves"] == [] and result["total"] == 0


def test_plan_skips_a_deployment_whose_wave_is_not_a_whole_number() -> None:
    result = planner.plan(
        [
            {"id": "a", "type": "silo", "wave": Decimal("1.5")},
            {"id": "b", "type": "pool", "wave": Decimal(0)},
        ],
        5,
        0,
    )
    assert [w["wave"] for w in result["waves"]] == [0]
    assert result["skipped"] == [{"id": "a", "reason": "wave must be a whole number >= 0, got Decimal('1.5')"}]


def test_the_summary_lists_a_few_skipped_records_and_counts_them_all() -> None:
    items = [{"id": f"bad{i:03d}", "type": "silo", "wave": -1} for i in range(100)]
    summary = planner.release_summary(planner.plan([*items, {"id": "ok", "type": "pool"}], 3, 1))
    assert summary["skipped_count"] == 100 and len(summary["skipped"]) == planner.SKIPPED_LISTED
    assert summary["waves"] == [1] and summary["sizes"] == [1]


# -- size: Step Functions keeps every state under 256 KiB ------------------------------------------------------


def longest_ids(count: int) -> list[dict[str, Any]]:
    """Deployments with the longest ids the deployment table accepts (31 characters)."""
    return [{"id": f"t{i:030d}", "type": "pool", "wave": 1} for i in range(count)]


def wave_capacity() -> int:
    """The largest wave of longest-id deployments that check_wave_fits accepts."""
    low, high = 1, 20_000
    while low < high:
        middle = (low + high + 1) // 2
        try:
            planner.release_summary(planner.plan(longest_ids(middle), 10, 0))
            low = middle
        except planner.PlanError:
            high = middle - 1
    return low


def end_of_wave_state(summary: dict[str, Any], deployments: list[dict[str, str]]) -> dict[str, Any]:
    """The state machine's state at EvaluateWave (the largest it gets), as the definition builds it: the
    plan summary and loop counters, the loaded wave, and the wave's results, each the larger of a result's
    two shapes with the longest status and error name."""
    return {
        "plan": summary,
        "index": len(summary["waves"]) - 1,
        "failed": 1_000_000,
        "wave_count": len(summary["waves"]),
        "current": {"wave": summary["waves"][-1], "deployments": deployments},
        "results": [
            {"id": d["id"], "status": "Failed", "error": "E" * planner.LONGEST_ERROR_NAME} for d in deployments
        ],
    }


def test_the_largest_accepted_wave_fits_step_functions_state_and_one_more_is_refused(table: Any) -> None:
    capacity = wave_capacity()
    release = planner.plan(longest_ids(capacity), 10, 0)
    summary = planner.release_summary(release)
    wave = planner.wave_deployments(longest_ids(capacity), 1)
    state = json.dumps(end_of_wave_state(summary, wave["deployments"]), separators=(",", ":"))

    assert 1000 <= capacity < 1500  # about 1,100 deployments of 31-character ids in one wave
    assert len(state.encode()) <= planner.STATE_LIMIT_BYTES
    with pytest.raises(planner.PlanError, match=f"wave 1 has {capacity + 1} deployments, more than one wave"):
        planner.release_summary(planner.plan(longest_ids(capacity + 1), 10, 0))


def test_a_fleet_larger_than_one_wave_can_carry_is_released_in_several_waves() -> None:
    capacity = wave_capacity()
    fleet_items = [{**d, "wave": i % 4} for i, d in enumerate(longest_ids(3 * capacity))]
    summary = planner.release_summary(planner.plan(fleet_items, 10, 0))
    assert summary["total"] == 3 * capacity and summary["waves"] == [0, 1, 2, 3]


def test_an_oversized_wave_is_refused_by_the_plan_step_before_anything_starts(table: Any) -> None:
    for record in longest_ids(wave_capacity() + 1):
        table.put_item(TableName=TABLE, Item=item(record["id"], wave=5))
    with pytest.raises(planner.PlanError, match=r"wave 5 has \d+ deployments.*give some of them another wave number"):
        orchestrator.dispatch({"action": "plan", "concurrency": 10, "failure_budget": 0}, table, None, TABLE)
    with pytest.raises(planner.PlanError, match="wave 5 has"):
        orchestrator.dispatch({"action": "wave", "wave": 5}, table, None, TABLE)


def test_too_many_distinct_waves_are_refused() -> None:
    items = [{"id": f"d{i}", "type": "silo", "wave": 10**9 + i} for i in range(2000)]
    with pytest.raises(planner.PlanError, match="2000 distinct waves, too many"):
        planner.release_summary(planner.plan(items, 1, 0))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"action": "plan", "concurrency": 0, "failure_budget": 1},
            "concurrency must be a whole number >= 1, got 0",
        ),
        (
            {"action": "plan", "concurrency": "10", "failure_budget": 1},
            "concurrency must be a whole number >= 1",
        ),
        (
            {"action": "plan", "concurrency": 2, "failure_budget": -1},
            "failure_budget must be a whole number >= 0",
        ),
        ({"action": "plan", "concurrency": 2}, "failure_budget must be a whole number >= 0, got None"),
        ({"action": "deploy"}, "action must be one of plan, wave, start, status, evaluate, got 'deploy'"),
        ({"action": "wave", "wave": "1"}, "wave must be a whole number >= 0, got '1'"),
        ({"action": "wave"}, "wave must be a whole number >= 0, got None"),
        ({"action": "start"}, "pipeline_name must be a non-empty string, got None"),
        ({"action": "status", "pipeline_name": "p"}, "execution_id must be a non-empty string, got None"),
        (
            {"action": "evaluate", "results": "x", "failed_so_far": 0, "failure_budget": 0},
            "results must be a list",
        ),
    ],
)
def test_bad_requests_fail_with_one_clear_message(table: Any, event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        orchestrator.dispatch(event, table, None, TABLE)


HOSTILE_REQUESTS = [
    ("plan", 'event must be an object like {"action": "plan", ...}, got str'),
    ([{"action": "plan"}], 'event must be an object like {"action": "plan", ...}, got list'),
    (None, 'event must be an object like {"action": "plan", ...}, got NoneType'),
    ({"action": "x" * 10_000}, "action must be one of plan, wave, start, status, evaluate, got 'xxxxxxxx"),
    ({"action": "wave", "wave": 10**5000}, None),  # a valid (huge) wave: no deployments in it
    ({"action": "wave", "wave": -(10**5000)}, "wave must be a whole number >= 0, got a number of about 5000 digits"),
    ({"action": "wave", "wave": Decimal("NaN")}, "wave must be a whole number >= 0, got Decimal('NaN')"),
    ({"action": "wave", "wave": Decimal("-Infinity")}, "wave must be a whole number >= 0, got Decimal('-Infinity')"),
    ({"action": "wave", "wave": 1.5}, "wave must be a whole number >= 0, got 1.5"),
    ({"action": "start", "pipeline_name": ["p"] * 10_000}, "pipeline_name must be a non-empty string, got ['p', "),
    (
        {"action": "evaluate", "results": {"status": "Failed"}, "failed_so_far": 0, "failure_budget": 0},
        "results must be a list",
    ),
]


@pytest.mark.parametrize(("event", "message"), HOSTILE_REQUESTS, ids=[str(i) for i in range(len(HOSTILE_REQUESTS))])
def test_hostile_requests_fail_with_one_short_message(table: Any, event: Any, message: str | None) -> None:
    if message is None:
        assert orchestrator.dispatch(event, table, None, TABLE)["deployments"] == []
        return
    with pytest.raises(ValueError) as raised:
        orchestrator.dispatch(event, table, None, TABLE)
    assert str(raised.value).startswith(message)
    assert len(str(raised.value)) < 200


def test_malformed_results_count_as_failures(table: Any) -> None:
    results = [{"status": "Succeeded"}, 5, {"status": ["Succeeded"]}, {}, None]
    event = {"action": "evaluate", "results": results, "failed_so_far": 1, "failure_budget": 4}

    assert orchestrator.dispatch(event, table, None, TABLE) == {"failed": 5, "budget_exceeded": True}


# -- start / status ----------------------------------------------------------------------------------------


def test_start_then_status_reports_the_execution(aws: str) -> None:
    codepipeline = boto3.client("codepipeline")
    create_pipeline(codepipeline, "silo-acme-pipeline")

    started = orchestrator.dispatch(
        {"action": "start", "pipeline_name": "silo-acme-pipeline"}, None, codepipeline, TABLE
    )
    set_execution_status("silo-acme-pipeline", started["execution_id"], "InProgress")
    running = orchestrator.dispatch({"action": "status", **started}, None, codepipeline, TABLE)
    set_execution_status("silo-acme-pipeline", started["execution_id"], "Failed")
    ended = orchestrator.dispatch({"action": "status", **started}, None, codepipeline, TABLE)

    assert started["pipeline_name"] == "silo-acme-pipeline" and started["execution_id"]
    assert running == {**started, "status": "InProgress", "done": False}
    assert ended == {**started, "status": "Failed", "done": True}


def test_status_follows_superseded_executions_to_the_newest(aws: str) -> None:
    codepipeline = boto3.client("codepipeline")
    create_pipeline(codepipeline, "pool-p1-pipeline")
    first = orchestrator.start_pipeline(codepipeline, "pool-p1-pipeline")
    second = orchestrator.start_pipeline(codepipeline, "pool-p1-pipeline")
    third = orchestrator.start_pipeline(codepipeline, "pool-p1-pipeline")
    set_execution_status("pool-p1-pipeline", first["execution_id"], "Superseded")
    set_execution_status("pool-p1-pipeline", second["execution_id"], "Superseded")
    set_execution_status("pool-p1-pipeline", third["execution_id"], "InProgress")

    followed = orchestrator.dispatch({"action": "status", **first}, None, codepipeline, TABLE)
    assert followed == {**third, "status": "InProgress", "done": False}

    set_execution_status("pool-p1-pipeline", third["execution_id"], "Succeeded")
    assert orchestrator.pipeline_status(codepipeline, "pool-p1-pipeline", followed["execution_id"]) == {
        **third,
        "status": "Succeeded",
        "done": True,
    }


def test_handler_uses_the_table_from_the_environment(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT_TABLE", TABLE)
    table.put_item(TableName=TABLE, Item=item("solo", wave=0))
    orchestrator._clients.cache_clear()
    try:
        result = orchestrator.handler({"action": "plan", "concurrency": 3, "failure_budget": 1}, None)
    finally:
        orchestrator._clients.cache_clear()
    assert result["waves"] == [0] and result["sizes"] == [1]


# -- evaluate and the simulated release ---------------------------------------------------------------------


def test_evaluate_counts_every_non_success_against_the_budget() -> None:
    results = [{"status": "Succeeded"}, {"status": "Failed"}, {"status": "Stopped"}, {"status": "Superseded"}]
    assert orchestrator.dispatch(
        {"action": "evaluate", "results": results, "failed_so_far": 1, "failure_budget": 4}, None, None, TABLE
    ) == {"failed": 4, "budget_exceeded": False}
    assert planner.evaluate(results, 2, 4) == {"failed": 5, "budget_exceeded": True}
    assert planner.evaluate([], 0, 0) == {"failed": 0, "budget_exceeded": False}


def fleet(count: int) -> list[dict[str, Any]]:
    return [{"id": "canary", "type": "silo", "wave": 0}] + [
        {"id": f"t{i:03d}", "type": "pool", "wave": 1 if i < 19 else 2} for i in range(count - 1)
    ]


def test_simulated_release_respects_waves_and_concurrency() -> None:
    release = planner.plan(fleet(100), 10, 0)

    result = planner.simulate(release, lambda d: (600.0, "Succeeded"))

    # canary alone, then ceil(19/10) + ceil(80/10) rounds of 10 in parallel
    assert result.elapsed == 600.0 * (1 + 2 + 8)
    assert (result.started, result.succeeded, result.failed, result.stopped) == (100, 100, 0, False)


def test_simulated_release_stops_when_the_failure_budget_is_exceeded() -> None:
    release = planner.plan(fleet(100), 10, 2)
    failing = {"t001", "t002", "t003"}

    result = planner.simulate(release, lambda d: (600.0, "Failed" if d["id"] in failing else "Succeeded"))

    assert result.stopped and result.failed == 3
    assert result.waves_released == 2 and result.started == 20 and result.not_started == 80


def test_simulated_canary_failure_stops_everything_with_a_zero_budget() -> None:
    release = planner.plan(fleet(100), 10, 0)
    result = planner.simulate(release, lambda d: (600.0, "Failed" if d["id"] == "canary" else "Succeeded"))
    assert (result.stopped, result.started, result.waves_released) == (True, 1, 1)


@given(
    waves=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=60),
    concurrency=st.integers(min_value=1, max_value=12),
)
def test_simulated_release_time_is_the_sum_of_rounds_per_wave(waves: list[int], concurrency: int) -> None:
    items: list[dict[str, Any]] = [{"id": f"d{i:03d}", "type": "silo", "wave": w} for i, w in enumerate(waves)]
    release = planner.plan(items, concurrency, 0)

    result = planner.simulate(release, lambda d: (60.0, "Succeeded"))

    per_wave = {wave: waves.count(wave) for wave in set(waves)}
    assert [w["wave"] for w in release["waves"]] == sorted(per_wave)
    assert sorted(d["id"] for w in release["waves"] for d in w["deployments"]) == sorted(i["id"] for i in items)
    assert result.elapsed == 60.0 * sum(-(-count // concurrency) for count in per_wave.values())
    assert result.started == len(items) and not result.stopped

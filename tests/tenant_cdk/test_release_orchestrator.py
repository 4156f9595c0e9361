"""ReleaseOrchestrator: plan -> waves in order -> pipelines within a wave (bounded) -> failure budget."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable
from devops_blueprints.constructs.tenants.release_orchestrator import ReleaseOrchestrator
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    stack = cdk.Stack(new_app(), "Release")
    table = DeploymentTable(stack, "Deployments")
    ReleaseOrchestrator(
        stack, "Orchestrator", table=table, concurrency=7, failure_budget=2, poll_interval=cdk.Duration.seconds(45)
    )
    return stack


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def definition(template: Template) -> dict[str, Any]:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return dict(json.loads("".join(part if isinstance(part, str) else "TOKEN" for part in parts)))


def _invoke_payload(state: dict[str, Any]) -> dict[str, Any]:
    return dict(state["Parameters"])


def test_release_plans_then_loops_over_waves_in_order(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "Plan"
    assert _invoke_payload(states["Plan"]) == {"action": "plan", "concurrency": 7, "failure_budget": 2}
    assert states["StartRelease"]["Parameters"]["wave_count.$"] == "States.ArrayLength($.plan.waves)"
    more = states["MoreWaves"]
    assert more["Choices"][0]["NumericLessThanPath"] == "$.wave_count"
    assert more["Choices"][0]["Next"] == "LoadWave"
    assert more["Default"] == "Released"
    # Only wave numbers travel in the state: each wave's deployments are loaded when the wave starts.
    assert _invoke_payload(states["LoadWave"]) == {
        "action": "wave",
        "wave.$": "States.ArrayGetItem($.plan.waves, $.index)",
    }
    assert states["LoadWave"]["ResultPath"] == "$.current"
    assert states["LoadWave"]["Next"] == "RolloutWave"
    assert states["RolloutWave"]["Next"] == "EvaluateWave"
    assert states["NextWave"]["Parameters"]["index.$"] == "States.MathAdd($.index, 1)"
    assert states["NextWave"]["Next"] == "MoreWaves"


def test_a_wave_runs_its_pipelines_in_child_executions_at_most_concurrency_at_a_time(
    definition: dict[str, Any],
) -> None:
    wave = definition["States"]["RolloutWave"]
    assert wave["Type"] == "Map"
    assert wave["MaxConcurrency"] == 7
    assert wave["ItemsPath"] == "$.current.deployments"
    assert wave["ItemSelector"] == {
        "id.$": "$$.Map.Item.Value.id",
        "pipeline_name.$": "$$.Map.Item.Value.pipeline_name",
    }
    assert wave["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    inner = wave["ItemProcessor"]["States"]
    assert wave["ItemProcessor"]["StartAt"] == "StartPipeline"
    assert _invoke_payload(inner["StartPipeline"]) == {"action": "start", "pipeline_name.$": "$.pipeline_name"}
    assert inner["StartPipeline"]["Next"] == "WaitForPipeline"
    assert inner["WaitForPipeline"] == {"Type": "Wait", "Seconds": 45, "Next": "PipelineStatus"}
    # Each poll replaces $.execution with the status result, whose execution_id is the execution that
    # superseded the started one (if any): the next poll follows it.
    assert _invoke_payload(inner["PipelineStatus"]) == {
        "action": "status",
        "pipeline_name.$": "$.execution.pipeline_name",
        "execution_id.$": "$.execution.execution_id",
    }
    assert inner["StartPipeline"]["ResultPath"] == inner["PipelineStatus"]["ResultPath"] == "$.execution"
    done = inner["PipelineDone"]
    assert done["Choices"][0] == {"Variable": "$.execution.done", "BooleanEquals": True, "Next": "DeploymentResult"}
    assert done["Default"] == "WaitForPipeline"
    # A deployment whose start/status calls fail counts as failed instead of failing the wave.
    for name in ("StartPipeline", "PipelineStatus"):
        assert inner[name]["Catch"][0]["Next"] == "DeploymentError"
    # A wave's results are as small as they can be: the state's 256 KiB bound is computed from these shapes
    # (lambda_src/release_orchestrator/planner.py, result_shapes).
    assert inner["DeploymentResult"]["Parameters"] == {"id.$": "$.id", "status.$": "$.execution.status"}
    assert inner["DeploymentError"]["Parameters"] == {"id.$": "$.id", "status": "Failed", "error.$": "$.error.Error"}


def test_failure_budget_is_evaluated_after_each_wave_and_stops_the_release(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert _invoke_payload(states["EvaluateWave"]) == {
        "action": "evaluate",
        "results.$": "$.results",
        "failed_so_far.$": "$.failed",
        "failure_budget": 2,
    }
    budget = states["WithinFailureBudget"]
    assert budget["Choices"][0] == {
        "Variable": "$.evaluation.budget_exceeded",
        "BooleanEquals": True,
        "Next": "FailureBudgetExceeded",
    }
    assert budget["Default"] == "NextWave"
    assert states["FailureBudgetExceeded"]["Type"] == "Fail"
    assert states["NextWave"]["Parameters"]["failed.$"] == "$.evaluation.failed"


def test_state_machine_logs_everything_and_traces(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
        },
    )


def test_handler_may_only_touch_deployment_pipelines(template: Template) -> None:
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(action).startswith("codepipeline:") for action in statement["Action"])
    ]
    assert len(statements) == 1
    assert sorted(statements[0]["Action"]) == [
        "codepipeline:GetPipelineExecution",
        "codepipeline:GetPipelineState",
        "codepipeline:ListPipelineExecutions",
        "codepipeline:StartPipelineExecution",
    ]
    resources = sorted(json.dumps(resource) for resource in statements[0]["Resource"])
    assert len(resources) == 2
    assert resources[0].endswith(':pool-*-pipeline"]]}')
    assert resources[1].endswith(':silo-*-pipeline"]]}')


def test_nag_and_cfn_lint_are_clean(stack: cdk.Stack, template: Template) -> None:
    assert nag_findings(stack) == []
    assert cfn_lint_errors(template.to_json()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, r"concurrency must be an integer from 1 to 1000, got 0"),
        ({"concurrency": 1001}, r"concurrency must be an integer from 1 to 1000, got 1001"),
        ({"failure_budget": -1}, r"failure_budget must be an integer >= 0, got -1"),
        ({"poll_interval": cdk.Duration.seconds(5)}, r"poll_interval must be between 10 seconds and 1 hour, got 5 s"),
    ],
)
def test_bad_props_fail_with_one_clear_error(kwargs: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(new_app(), "Bad")
    table = DeploymentTable(stack, "Deployments")
    with pytest.raises(ValueError, match=message):
        ReleaseOrchestrator(stack, "Orchestrator", table=table, **kwargs)

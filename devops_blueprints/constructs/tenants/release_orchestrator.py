"""Release orchestration: update every ACTIVE deployment's pipeline wave by wave (ARCHITECTURE.md section 2).

plan -> for each wave, in order: run the wave's pipelines (up to ``concurrency`` at a time, each one
started and polled until its execution - or the execution that superseded it - ends) -> evaluate the
failure budget -> fail the release as soon as the budget is exceeded.

Waves are a counted loop rather than a Map over waves: the failure count has to carry from one wave to
the next, which Map iterations cannot do (each iteration sees only its own item), and a loop is
sequential by construction. Inside a wave a distributed Map runs one child execution per deployment, so
the parent's 25,000-event history limit holds for thousands of deployments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from devops_blueprints.constructs.key_policies import logs_key
from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable
from devops_blueprints.constructs.tenants.tenant_function import TenantFunction, arn_prefix, stack_ref

__all__ = ["MAX_CONCURRENCY", "ReleaseOrchestrator"]

#: Upper bound of ``concurrency`` (pipelines updated at once within a wave).
MAX_CONCURRENCY = 1000


class ReleaseOrchestrator(Construct):
    """A Step Functions state machine that releases to every ACTIVE deployment in waves.

    :param table: the deployment table (read to plan the waves).
    :param concurrency: pipelines updated at the same time within a wave (1..1000). Default: 10.
    :param failure_budget: failed deployments tolerated over the whole release (>= 0); one more fails
        the release before the next wave starts. Default: 0.
    :param poll_interval: between status checks of a running pipeline execution (10 s..1 h).
        Default: 30 seconds.
    :param encryption_key: encrypts the logs. Default: a new key with rotation on.
    :param timeout: of one release. Default: 24 hours.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: DeploymentTable,
        concurrency: int = 10,
        failure_budget: int = 0,
        poll_interval: cdk.Duration | None = None,
        encryption_key: kms.IKey | None = None,
        timeout: cdk.Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {concurrency!r}")
        if isinstance(failure_budget, bool) or failure_budget < 0:
            raise ValueError(f"failure_budget must be an integer >= 0, got {failure_budget!r}")
        interval = poll_interval or cdk.Duration.seconds(30)
        if not cdk.Token.is_unresolved(interval.to_seconds()) and not 10 <= interval.to_seconds() <= 3600:
            raise ValueError(f"poll_interval must be between 10 seconds and 1 hour, got {interval.to_seconds()} s")
        self.concurrency = concurrency
        self.failure_budget = failure_budget
        stack = cdk.Stack.of(self)

        if encryption_key is None:
            encryption_key = logs_key(self, "Encrypts the release orchestrator's logs")
        self.encryption_key = encryption_key

        self.handler = TenantFunction(
            self,
            "Handler",
            handler="release_orchestrator",
            service="release-orchestrator",
            key=encryption_key,
            environment={"DEPLOYMENT_TABLE": table.table_name},
            timeout=cdk.Duration.minutes(5),
            description="Plans release waves, starts and follows deployment pipelines, counts failures",
        )
        fn = self.handler.function
        table.grant_read_data(fn)
        pipeline_arns = [
            stack.format_arn(service="codepipeline", resource=f"{kind}-*-pipeline") for kind in ("silo", "pool")
        ]
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="FollowDeploymentPipelines",
                actions=[
                    "codepipeline:StartPipelineExecution",
                    "codepipeline:GetPipelineExecution",
                    "codepipeline:ListPipelineExecutions",
                    "codepipeline:GetPipelineState",
                ],
                resources=pipeline_arns,
            )
        )
        for arn_kind in ("silo", "pool"):
            cdk.Validations.of(self.handler.role).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codepipeline:<AWS::Region>:"
                    f"<AWS::AccountId>:{arn_kind}-*-pipeline]",
                    reason="Deployment pipelines (<type>-<id>-pipeline) are created per record at run time",
                )
            )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=encryption_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(fn, interval)),
            timeout=timeout or cdk.Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment="Release to every ACTIVE tenant deployment, wave by wave, within a failure budget",
        )
        cdk.Validations.of(self.state_machine).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray and CloudWatch Logs delivery actions support no resource-level permissions",
            )
        )
        cdk.Validations.of(self.state_machine).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{stack_ref(fn)}.Arn>:*]",
                reason="Invoking the orchestrator function's versions and aliases (CDK LambdaInvoke default)",
            )
        )
        # The distributed map starts and follows child executions of this very state machine.
        name = '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + stack_ref(self.state_machine) + '"}]}]}'
        for suffix in ("/*:*", ":*"):
            cdk.Validations.of(self.state_machine).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{arn_prefix(self, 'states')}:execution:{name}{suffix}]",
                    reason="Distributed map: child executions of this state machine only",
                )
            )

    def _invoke(
        self, construct_id: str, fn: object, payload: dict[str, object], result_path: str
    ) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=fn,  # type: ignore[arg-type]
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=True,
        )

    def _definition(self, fn: object, interval: cdk.Duration) -> sfn.IChainable:
        plan = self._invoke(
            "Plan",
            fn,
            {"action": "plan", "concurrency": self.concurrency, "failure_budget": self.failure_budget},
            "$.plan",
        )
        init = sfn.Pass(
            self,
            "StartRelease",
            parameters={
                "plan.$": "$.plan",
                "index": 0,
                "failed": 0,
                "wave_count.$": "States.ArrayLength($.plan.waves)",
            },
        )
        more_waves = sfn.Choice(self, "MoreWaves")
        # Only wave numbers travel in the state; each wave's deployments are loaded when it starts, so the
        # 256 KiB state limit applies to one wave rather than to the whole fleet (see planner.py).
        select = self._invoke(
            "LoadWave",
            fn,
            {
                "action": "wave",
                "wave": sfn.JsonPath.array_get_item(
                    sfn.JsonPath.list_at("$.plan.waves"), sfn.JsonPath.number_at("$.index")
                ),
            },
            "$.current",
        )

        # One deployment: start its pipeline, then poll until that execution (or its successor) ends.
        start = self._invoke(
            "StartPipeline", fn, {"action": "start", "pipeline_name.$": "$.pipeline_name"}, "$.execution"
        )
        wait = sfn.Wait(self, "WaitForPipeline", time=sfn.WaitTime.duration(interval))
        status = self._invoke(
            "PipelineStatus",
            fn,
            {
                "action": "status",
                "pipeline_name.$": "$.execution.pipeline_name",
                "execution_id.$": "$.execution.execution_id",
            },
            "$.execution",
        )
        done = sfn.Choice(self, "PipelineDone")
        finished = sfn.Pass(
            self,
            "DeploymentResult",
            parameters={"id.$": "$.id", "status.$": "$.execution.status"},
        )
        errored = sfn.Pass(
            self,
            "DeploymentError",
            parameters={"id.$": "$.id", "status": "Failed", "error.$": "$.error.Error"},
        )
        for task in (start, status):
            task.add_catch(errored, result_path="$.error")
        deployment = (
            start.next(wait)
            .next(status)
            .next(done.when(sfn.Condition.boolean_equals("$.execution.done", True), finished).otherwise(wait))
        )
        wave = sfn.DistributedMap(
            self,
            "RolloutWave",
            items_path="$.current.deployments",
            item_selector={"id.$": "$$.Map.Item.Value.id", "pipeline_name.$": "$$.Map.Item.Value.pipeline_name"},
            max_concurrency=self.concurrency,
            result_path="$.results",
            comment="Update the wave's deployment pipelines, up to `concurrency` at a time",
        )
        wave.item_processor(deployment)

        evaluate = self._invoke(
            "EvaluateWave",
            fn,
            {
                "action": "evaluate",
                "results.$": "$.results",
                "failed_so_far.$": "$.failed",
                "failure_budget": self.failure_budget,
            },
            "$.evaluation",
        )
        budget = sfn.Choice(self, "WithinFailureBudget")
        exceeded = sfn.Fail(
            self,
            "FailureBudgetExceeded",
            error="FailureBudgetExceeded",
            cause=f"More than {self.failure_budget} deployment(s) failed; later waves were not released",
        )
        advance = sfn.Pass(
            self,
            "NextWave",
            parameters={
                "plan.$": "$.plan",
                "wave_count.$": "$.wave_count",
                "index.$": "States.MathAdd($.index, 1)",
                "failed.$": "$.evaluation.failed",
            },
        )
        released = sfn.Succeed(self, "Released")
        loop = (
            select.next(wave)
            .next(evaluate)
            .next(
                budget.when(sfn.Condition.boolean_equals("$.evaluation.budget_exceeded", True), exceeded).otherwise(
                    advance.next(more_waves)
                )
            )
        )
        more_waves.when(sfn.Condition.number_less_than_json_path("$.index", "$.wave_count"), loop).otherwise(released)
        return plan.next(init).next(more_waves)

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start a release (the toolchain pipeline's last step)."""
        return self.state_machine.grant_start_execution(grantee)

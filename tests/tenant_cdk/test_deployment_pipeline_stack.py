"""DeploymentPipelineStack / ComponentStage: one deployment's pipeline, trigger off, cross-account deploy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codecommit as codecommit
from aws_cdk.assertions import Template
from constructs import Construct
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from devops_blueprints.stacks.tenants import deployment_pipeline
from devops_blueprints.stacks.tenants.deployment_pipeline import (
    ComponentStage,
    DeploymentContext,
    DeploymentPipelineStack,
    toolchain_source,
)
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app, scrub
from tests.tenant_cdk.conftest import CONNECTION_ARN, POOL2, TOOLCHAIN_ENV


@pytest.fixture(scope="module")
def app() -> cdk.App:
    return new_app(toolchain_connection_arn=CONNECTION_ARN, toolchain_repository="acme/saas")


@pytest.fixture(scope="module")
def stack(app: cdk.App) -> DeploymentPipelineStack:
    return DeploymentPipelineStack(app, deployment=POOL2, env=TOOLCHAIN_ENV)


@pytest.fixture(scope="module")
def template(stack: DeploymentPipelineStack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def component_template(stack: DeploymentPipelineStack) -> Template:
    stage = stack.component_stage
    assert isinstance(stage, ComponentStage)
    return Template.from_stack(stage.component_stack)


def _stages(template: Template) -> list[dict[str, Any]]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["Name"] == "pool-pool2-pipeline"
    return list(pipeline["Properties"]["Stages"])


def test_stack_and_pipeline_are_named_type_id_pipeline(stack: DeploymentPipelineStack) -> None:
    assert stack.stack_name == "pool-pool2-pipeline"
    assert stack.node.id == "pool-pool2-pipeline"


def test_source_trigger_is_off(template: Template) -> None:
    source = _stages(template)[0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["DetectChanges"] is False
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    assert "Triggers" not in pipeline["Properties"]
    template.resource_count_is("AWS::Events::Rule", 0)


def test_component_is_deployed_to_the_records_account_and_region(template: Template) -> None:
    component = next(stage for stage in _stages(template) if stage["Name"] == "Component")
    deploys = [action for action in component["Actions"] if action["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys  # the stage's other action is the SecurityScan before them (tests/tenant_cdk/test_security_scan.py)
    for action in deploys:
        assert action["Region"] == "eu-west-1"
        assert action["Configuration"]["StackName"] == "pool-pool2-component"
        role = json.dumps(action["RoleArn"])
        assert ":iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1" in role


def test_cross_account_keys_are_on(template: Template) -> None:
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    stores = pipeline["Properties"]["ArtifactStores"]
    assert {store["Region"] for store in stores} == {"us-east-1", "eu-west-1"}
    assert all(store["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS" for store in stores)


def test_synth_step_gets_the_deployment_only_as_environment_variables(template: Template) -> None:
    synth = next(
        project
        for project in template.find_resources("AWS::CodeBuild::Project").values()
        if "cdk synth" in project["Properties"]["Source"]["BuildSpec"]
    )
    variables = {v["Name"]: v["Value"] for v in synth["Properties"]["Environment"]["EnvironmentVariables"]}
    assert variables == {
        "DEPLOYMENT_ID": "pool2",
        "DEPLOYMENT_TYPE": "pool",
        "COMPONENT_ACCOUNT": "222222222222",
        "COMPONENT_REGION": "eu-west-1",
    }
    spec = json.loads(synth["Properties"]["Source"]["BuildSpec"])
    command = spec["phases"]["build"]["commands"][-1]
    assert command.startswith(
        'cdk synth "${DEPLOYMENT_TYPE}-${DEPLOYMENT_ID}-pipeline" -c deployment_id="$DEPLOYMENT_ID"'
    )
    assert "pool2" not in command


def test_component_is_a_serverless_api_inside_the_devops_guru_boundary(component_template: Template) -> None:
    component_template.resource_count_is("AWS::ApiGatewayV2::Api", 1)
    component_template.has_resource_properties("AWS::ApiGatewayV2::Route", {"AuthorizationType": "AWS_IAM"})
    component_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "DEPLOYMENT_ID": "pool2",
                    "DEPLOYMENT_TYPE": "pool",
                    "TABLE_NAME": {"Ref": "TableCD117FA1"},
                }
            }
        },
    )
    tags = component_template.find_resources("AWS::DynamoDB::Table")["TableCD117FA1"]["Properties"]["Tags"]
    assert {"Key": "devops-guru-applications", "Value": "pool-pool2"} in tags
    function = next(iter(component_template.find_resources("AWS::Lambda::Function").values()))
    assert {"Key": "devops-guru-applications", "Value": "pool-pool2"} in function["Properties"]["Tags"]


def test_nag_findings_are_empty_for_pipeline_component_and_support_stacks(
    app: cdk.App, stack: DeploymentPipelineStack
) -> None:
    assert nag_findings(app) == []


def test_cfn_lint_is_clean(template: Template, component_template: Template) -> None:
    assert cfn_lint_errors(template.to_json()) == []
    assert cfn_lint_errors(component_template.to_json(), regions=("eu-west-1",)) == []


def test_snapshot(template: Template, snapshot: SnapshotAssertion) -> None:
    assert scrub(template.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


def test_component_stage_is_pluggable_and_code_commit_trigger_is_off() -> None:
    app = new_app()
    repo_stack = cdk.Stack(app, "Repo", env=TOOLCHAIN_ENV)
    cdk.CfnWaitConditionHandle(repo_stack, "NonEmpty")
    repo = codecommit.Repository.from_repository_name(repo_stack, "Repo", "saas")
    built: list[DeploymentContext] = []

    class OwnStage(cdk.Stage):
        def __init__(self, scope: Construct, construct_id: str, *, env: cdk.Environment) -> None:
            super().__init__(scope, construct_id, env=env)
            own = cdk.Stack(self, "Own", stack_name="silo-acme-own")
            cdk.CfnWaitConditionHandle(own, "Marker")

    def factory(scope: Construct, construct_id: str, deployment: DeploymentContext, env: cdk.Environment) -> cdk.Stage:
        built.append(deployment)
        return OwnStage(scope, construct_id, env=env)

    silo = DeploymentContext("acme", "silo", "333333333333", "us-east-1")
    stack = DeploymentPipelineStack(
        app,
        deployment=silo,
        env=TOOLCHAIN_ENV,
        source=toolchain_source(code_commit_repository=repo, trigger=False),
        component_stage=factory,
    )
    template = Template.from_stack(stack)
    assert built == [silo]
    stages = _stages_named(template, "silo-acme-pipeline")
    source = stages[0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeCommit"
    assert source["Configuration"]["PollForSourceChanges"] is False
    template.resource_count_is("AWS::Events::Rule", 0)
    component = next(stage for stage in stages if stage["Name"] == "Component")
    assert {
        action["Configuration"]["StackName"]
        for action in component["Actions"]
        if action["ActionTypeId"]["Category"] == "Deploy"
    } == {"silo-acme-own"}


def _stages_named(template: Template, name: str) -> list[dict[str, Any]]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["Name"] == name
    return list(pipeline["Properties"]["Stages"])


#: The IAM service prefix that creates each CloudFormation resource type of the sample component.
_SERVICE_OF_TYPE = {
    "AWS::IAM::Role": "iam",
    "AWS::IAM::Policy": "iam",
    "AWS::Lambda::Function": "lambda",
    "AWS::Lambda::Permission": "lambda",
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::Logs::LogGroup": "logs",
    "AWS::KMS::Key": "kms",
    "AWS::ApiGatewayV2::Api": "apigateway",
    "AWS::ApiGatewayV2::Stage": "apigateway",
    "AWS::ApiGatewayV2::Route": "apigateway",
    "AWS::ApiGatewayV2::Integration": "apigateway",
    "AWS::CloudWatch::Alarm": "cloudwatch",
    "AWS::AppConfig::Application": "appconfig",
    "AWS::AppConfig::Environment": "appconfig",
    "AWS::AppConfig::ConfigurationProfile": "appconfig",
    "AWS::AppConfig::HostedConfigurationVersion": "appconfig",
    "AWS::AppConfig::DeploymentStrategy": "appconfig",
}


def test_component_execution_policy_covers_every_resource_type_of_the_component(
    component_template: Template,
) -> None:
    policy_path = Path(deployment_pipeline.__file__).with_name("component_execution_policy.json")
    policy = json.loads(policy_path.read_text())
    services = {
        action.split(":")[0]
        for statement in policy["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    types = {resource["Type"] for resource in component_template.to_json()["Resources"].values()}
    unknown = types - set(_SERVICE_OF_TYPE)
    assert unknown == set(), f"add these types to the execution policy and this map: {sorted(unknown)}"
    assert {_SERVICE_OF_TYPE[t] for t in types} <= services
    # Managed policies hold at most 6,144 characters without whitespace.
    assert len(json.dumps(policy, separators=(",", ":"))) <= 6144
    # Only the component's own names, never all roles/functions/tables.
    for statement in policy["Statement"]:
        if statement["Sid"].startswith("Component") and statement["Sid"] != "ComponentHttpApis":
            for arn in statement["Resource"]:
                assert "-*-component-*" in arn, arn


def test_invalid_deployment_is_refused_before_anything_is_named() -> None:
    bad = DeploymentContext("Acme_Corp", "silo", "333333333333", "us-east-1")
    with pytest.raises(
        ValueError,
        match=r"^DeploymentPipelineStack: deployment deployment_id must be a string matching "
        r"\^\[a-z\]\[a-z0-9-\]\{0,30\}\$, got 'Acme_Corp'$",
    ):
        DeploymentPipelineStack(new_app(), deployment=bad, env=TOOLCHAIN_ENV)

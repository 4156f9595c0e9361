"""DeploymentProvisioner: stream -> Lambda -> CodeBuild, build states -> status Lambda, DLQ, least privilege."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Capture, Match, Template

from devops_blueprints.assets import load_lambda_module
from devops_blueprints.constructs.powertools import powertools_layer_arn
from devops_blueprints.constructs.tenants.deployment_provisioner import DeploymentProvisioner
from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app

# The rule routes exactly the build ends the status function acts on.
status_function = load_lambda_module("deployment_status")


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    stack = cdk.Stack(new_app(), "Provisioning")
    table = DeploymentTable(stack, "Deployments")
    DeploymentProvisioner(stack, "Provisioner", table=table, batch_size=25, retry_attempts=4)
    return stack


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def _policy_statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = [ref["Ref"] for ref in policy["Properties"]["Roles"]]
        if any(role.startswith(role_prefix) for role in roles):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _assumable(statements: list[dict[str, Any]]) -> list[str]:
    resources: list[str] = []
    for statement in statements:
        if statement["Action"] == "sts:AssumeRole":
            values = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            resources.extend(json.dumps(value) for value in values)
    return resources


def test_provisioner_function_has_the_interface_environment_powertools_and_tracing(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "TracingConfig": {"Mode": "Active"},
            "Layers": [{"Fn::Sub": powertools_layer_arn(lambda_.Runtime.PYTHON_3_12, lambda_.Architecture.X86_64)}],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "DEPLOYMENT_TABLE": {"Ref": Match.string_like_regexp("^Deployments[0-9A-F]{8}$")},
                        "PROVISIONING_PROJECT": {"Ref": Match.string_like_regexp("^ProvisionerProvisioningProject")},
                        "DEPROVISIONING_PROJECT": {
                            "Ref": Match.string_like_regexp("^ProvisionerDeprovisioningProject")
                        },
                        "IDEMPOTENCY_TABLE": {"Ref": Match.string_like_regexp("^ProvisionerIdempotencyTable")},
                    }
                )
            },
        },
    )


def test_stream_mapping_bisects_retries_reports_item_failures_and_dead_letters(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^Deployments[0-9A-F]{8}$"), "StreamArn"]},
            "BatchSize": 25,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 4,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "StartingPosition": "TRIM_HORIZON",
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [Match.string_like_regexp("^ProvisionerDeadLetterQueue"), "Arn"]}
                }
            },
        },
    )


def test_dead_letter_queue_is_kms_encrypted_and_ssl_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^ProvisionerKey"), "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_idempotency_table_expires_records(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_builds_pass_record_values_only_as_quoted_environment_variables(template: Template) -> None:
    specs = {}
    for logical_id, project in template.find_resources("AWS::CodeBuild::Project").items():
        specs[logical_id] = json.loads(project["Properties"]["Source"]["BuildSpec"])
        assert project["Properties"]["EncryptionKey"]["Fn::GetAtt"][0].startswith("ProvisionerKey")
    provisioning = next(spec for lid, spec in specs.items() if lid.startswith("ProvisionerProvisioningProject"))
    deprovisioning = next(spec for lid, spec in specs.items() if lid.startswith("ProvisionerDeprovisioningProject"))
    deploy = provisioning["phases"]["build"]["commands"][-1]
    assert deploy.startswith(
        'cdk deploy "${DEPLOYMENT_TYPE}-${DEPLOYMENT_ID}-pipeline" -c deployment_id="$DEPLOYMENT_ID"'
    )
    assert '-c component_account="$COMPONENT_ACCOUNT" -c component_region="$COMPONENT_REGION"' in deploy
    assert "--require-approval never" in deploy
    destroy_component, destroy_pipeline = deprovisioning["phases"]["build"]["commands"][-2:]
    assert destroy_component.startswith('cdk destroy "${DEPLOYMENT_TYPE}-${DEPLOYMENT_ID}-pipeline/**"')
    assert destroy_pipeline.startswith('cdk destroy "${DEPLOYMENT_TYPE}-${DEPLOYMENT_ID}-pipeline" ')
    # Every $VAR use is inside double quotes: no word splitting or globbing of record values.
    for command in (deploy, destroy_component, destroy_pipeline):
        for token in command.split():
            if "$" in token:
                assert '"' in token, token


def test_projects_read_the_source_bundle_from_s3(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "Source": Match.object_like(
                {
                    "Type": "S3",
                    "Location": {
                        "Fn::Join": [
                            "",
                            [{"Ref": Match.string_like_regexp("^ProvisionerSourceBucket")}, "/toolchain/source.zip"],
                        ]
                    },
                }
            ),
            "LogsConfig": {"CloudWatchLogs": {"GroupName": Match.any_value(), "Status": "ENABLED"}},
        },
    )


def test_only_deprovisioning_may_assume_component_deploy_roles(template: Template) -> None:
    provisioning = _assumable(_policy_statements(template, "ProvisionerProvisioningProjectRole"))
    deprovisioning = _assumable(_policy_statements(template, "ProvisionerDeprovisioningProjectRole"))
    assert not any("iam::*:role" in arn for arn in provisioning)
    assert any(":iam::*:role/cdk-hnb659fds-deploy-role-*" in arn for arn in deprovisioning)
    # The toolchain's own bootstrap roles, by name.
    for kind in ("deploy", "file-publishing", "lookup"):
        assert any(f"cdk-hnb659fds-{kind}-role-" in arn for arn in provisioning), kind


def test_provisioner_may_start_builds_of_its_two_projects_only(template: Template) -> None:
    statements = _policy_statements(template, "ProvisionerRole")
    start = [s for s in statements if s["Action"] == "codebuild:StartBuild"]
    assert len(start) == 1
    targets = sorted(r["Fn::GetAtt"][0] for r in start[0]["Resource"])
    assert len(targets) == 2
    assert targets[0].startswith("ProvisionerDeprovisioningProject")
    assert targets[1].startswith("ProvisionerProvisioningProject")


def test_provisioner_may_stop_provisioning_builds_only(template: Template) -> None:
    statements = _policy_statements(template, "ProvisionerRole")
    (stop,) = [s for s in statements if s["Action"] == "codebuild:StopBuild"]
    resource = stop["Resource"]
    assert isinstance(resource, dict) and resource["Fn::GetAtt"][0].startswith("ProvisionerProvisioningProject")


def test_provisioner_may_read_builds_of_its_two_projects_only(template: Template) -> None:
    statements = _policy_statements(template, "ProvisionerRole")
    (read,) = [s for s in statements if s["Action"] == "codebuild:BatchGetBuilds"]
    targets = sorted(r["Fn::GetAtt"][0] for r in read["Resource"])
    assert len(targets) == 2
    assert targets[0].startswith("ProvisionerDeprovisioningProject")
    assert targets[1].startswith("ProvisionerProvisioningProject")


def test_build_state_changes_of_both_projects_reach_the_status_function(template: Template) -> None:
    target = Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.codebuild"],
                "detail-type": ["CodeBuild Build State Change"],
                "detail": {
                    "project-name": [
                        {"Ref": Match.string_like_regexp("^ProvisionerProvisioningProject")},
                        {"Ref": Match.string_like_regexp("^ProvisionerDeprovisioningProject")},
                    ],
                    "build-status": ["SUCCEEDED", *status_function.FAILED_BUILD_STATES],
                },
            },
            "Targets": [target],
        },
    )
    assert target.as_object()["Arn"]["Fn::GetAtt"][0].startswith("ProvisionerStatusUpdater")
    assert "DeadLetterConfig" in target.as_object()


def test_nag_and_cfn_lint_are_clean(stack: cdk.Stack, template: Template) -> None:
    assert nag_findings(stack) == []
    assert cfn_lint_errors(template.to_json()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, r"batch_size must be between 1 and 1000, got 0"),
        ({"retry_attempts": -1}, r"retry_attempts must be between 0 and 10000, got -1"),
        (
            {"bootstrap_qualifier": "bad-qual!"},
            r"bootstrap_qualifier must be up to 10 letters or digits, got 'bad-qual!'",
        ),
        ({"source_key": "/abs.zip"}, r"source_key must be a non-empty key without a leading '/', got '/abs.zip'"),
    ],
)
def test_bad_props_fail_with_one_clear_error(kwargs: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(new_app(), "Bad")
    table = DeploymentTable(stack, "Deployments")
    with pytest.raises(ValueError, match=message):
        DeploymentProvisioner(stack, "Provisioner", table=table, **kwargs)

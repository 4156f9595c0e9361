"""DeploymentTable: GIVEN a stack WHEN the table is created (or brought) THEN the record store is safe."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable
from tests.support.cdk import new_app


@pytest.fixture(scope="module")
def template() -> Template:
    stack = cdk.Stack(new_app(), "Tables")
    DeploymentTable(stack, "Deployments")
    return Template.from_stack(stack)


def test_table_is_keyed_by_id_with_a_new_and_old_images_stream(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
        },
    )


def test_table_and_key_are_retained_and_the_key_rotates(template: Template) -> None:
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain", "Properties": {"EnableKeyRotation": True}})


def test_given_key_and_removal_policy_are_used() -> None:
    stack = cdk.Stack(new_app(), "Given")
    key = kms.Key(stack, "MyKey")
    table = DeploymentTable(
        stack, "Deployments", encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY, deletion_protection=False
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})
    template.has_resource_properties("AWS::DynamoDB::Table", {"DeletionProtectionEnabled": False})
    assert table.encryption_key is key


def test_existing_table_with_stream_is_used_as_is() -> None:
    stack = cdk.Stack(new_app(), "Existing")
    existing = dynamodb.Table.from_table_attributes(
        stack,
        "Imported",
        table_name="deployments",
        table_stream_arn="arn:aws:dynamodb:us-east-1:111111111111:table/deployments/stream/2024-01-01T00:00:00.000",
    )
    table = DeploymentTable(stack, "Deployments", table=existing)
    assert table.table is existing
    assert table.table_stream_arn.endswith("/stream/2024-01-01T00:00:00.000")
    cdk.CfnWaitConditionHandle(stack, "NonEmpty")  # an empty template fails CDK's own validation
    Template.from_stack(stack).resource_count_is("AWS::DynamoDB::Table", 0)


def test_existing_table_without_stream_is_refused() -> None:
    stack = cdk.Stack(new_app(), "NoStream")
    existing = dynamodb.Table.from_table_name(stack, "Imported", "deployments")
    with pytest.raises(ValueError, match=r"table must expose its stream ARN"):
        DeploymentTable(stack, "Deployments", table=existing)


def test_existing_table_and_new_table_properties_are_refused() -> None:
    stack = cdk.Stack(new_app(), "Both")
    existing = dynamodb.Table.from_table_attributes(
        stack, "Imported", table_name="deployments", table_stream_arn="arn:aws:dynamodb:us-east-1:1:table/d/stream/x"
    )
    with pytest.raises(ValueError, match=r"encryption_key only applies to a new table"):
        DeploymentTable(stack, "Deployments", table=existing, encryption_key=kms.Key(stack, "K"))

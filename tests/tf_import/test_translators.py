"""Each supported type: CloudFormation type, import identifier == the schema's primaryIdentifier,
every required property present, valid for cfn-lint; sensitive attributes never copied."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devops_blueprints.tf_import import (
    BY_TF_TYPE,
    TRANSLATORS,
    MissingAttributeError,
    TfImportError,
    load_show_json,
    load_state_file,
    translate,
)
from devops_blueprints.tf_import.logical_ids import assign_logical_ids
from devops_blueprints.tf_import.template import Translation
from tests.tf_import.helpers import (
    FULL_STATE,
    cfn_lint_errors,
    primary_identifier,
    resource_from_fixture,
    resource_schema,
    show_json,
)

REQUIRED_TYPES = {
    "aws_lambda_function": "AWS::Lambda::Function",
    "aws_dynamodb_table": "AWS::DynamoDB::Table",
    "aws_sqs_queue": "AWS::SQS::Queue",
    "aws_sns_topic": "AWS::SNS::Topic",
    "aws_kinesis_stream": "AWS::Kinesis::Stream",
    "aws_ecs_service": "AWS::ECS::Service",
    "aws_db_instance": "AWS::RDS::DBInstance",
    "aws_rds_cluster": "AWS::RDS::DBCluster",
    "aws_cloudwatch_event_rule": "AWS::Events::Rule",
    "aws_lb": "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "aws_sfn_state_machine": "AWS::StepFunctions::StateMachine",
    "aws_elasticache_replication_group": "AWS::ElastiCache::ReplicationGroup",
    "aws_api_gateway_rest_api": "AWS::ApiGateway::RestApi",
    "aws_api_gateway_stage": "AWS::ApiGateway::Stage",
    "aws_s3_bucket": "AWS::S3::Bucket",
}


@pytest.fixture(scope="module")
def full() -> Translation:
    return translate(load_state_file(FULL_STATE))


def _by_type(translation: Translation) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in translation.resources_to_import:
        found.setdefault(item["ResourceType"], []).append(item)
    return found


def test_every_required_type_is_supported_with_its_cloudformation_type() -> None:
    assert {t: BY_TF_TYPE[t].cfn_type for t in REQUIRED_TYPES} == REQUIRED_TYPES


def test_the_fixture_covers_every_supported_type(full: Translation) -> None:
    assert set(_by_type(full)) == {t.cfn_type for t in TRANSLATORS}


@pytest.mark.parametrize("translator", TRANSLATORS, ids=lambda t: t.cfn_type)
def test_identifier_keys_equal_the_schemas_primary_identifier(full: Translation, translator: Any) -> None:
    expected = primary_identifier(translator.cfn_type)
    items = _by_type(full)[translator.cfn_type]
    assert items
    for item in items:
        assert set(item["ResourceIdentifier"]) == expected
        assert all(isinstance(v, str) and v for v in item["ResourceIdentifier"].values())


@pytest.mark.parametrize("translator", TRANSLATORS, ids=lambda t: t.cfn_type)
def test_every_required_property_of_the_schema_is_present(full: Translation, translator: Any) -> None:
    required = set(resource_schema(translator.cfn_type).get("required", []))
    read_only = {
        p.removeprefix("/properties/") for p in resource_schema(translator.cfn_type).get("readOnlyProperties", [])
    }
    for item in _by_type(full)[translator.cfn_type]:
        properties = full.template["Resources"][item["LogicalResourceId"]]["Properties"]
        assert required <= set(properties), item["LogicalResourceId"]
        assert not read_only & set(properties)  # read-only properties cannot be in a template
        # identifier properties that can be set are set to the identifier's value
        for key, value in item["ResourceIdentifier"].items():
            if key not in read_only:
                assert properties[key] == value


def test_the_generated_template_passes_cfn_lint(full: Translation) -> None:
    assert cfn_lint_errors(full.template) == []


def test_every_resource_is_retained(full: Translation) -> None:
    for resource in full.template["Resources"].values():
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"


def test_resources_file_is_in_resources_to_import_shape(full: Translation) -> None:
    assert len(full.resources_to_import) == len(full.template["Resources"]) == 27
    for item in full.resources_to_import:
        assert set(item) == {"ResourceType", "LogicalResourceId", "ResourceIdentifier"}
        assert full.template["Resources"][item["LogicalResourceId"]]["Type"] == item["ResourceType"]


def _identifier(full: Translation, address: str) -> tuple[dict[str, str], dict[str, Any]]:
    """(ResourceIdentifier, Properties) of the resource at ``address`` in the full fixture."""
    lid = assign_logical_ids(load_state_file(FULL_STATE))[address]
    item = next(i for i in full.resources_to_import if i["LogicalResourceId"] == lid)
    return item["ResourceIdentifier"], full.template["Resources"][lid]["Properties"]


def test_identifier_values_come_from_the_right_attributes(full: Translation) -> None:
    acct = "123456789012"
    assert _identifier(full, "aws_sqs_queue.jobs[0]")[0] == {
        "QueueUrl": f"https://sqs.us-east-1.amazonaws.com/{acct}/jobs-0"
    }
    assert _identifier(full, 'aws_sns_topic.alerts["critical"]')[0] == {
        "TopicArn": f"arn:aws:sns:us-east-1:{acct}:alerts-critical"
    }
    assert _identifier(full, 'module.app.module.service["api"].aws_ecs_service.this')[0] == {
        "ServiceArn": f"arn:aws:ecs:us-east-1:{acct}:service/app/api",
        "Cluster": f"arn:aws:ecs:us-east-1:{acct}:cluster/app",
    }
    assert _identifier(full, "module.app.aws_api_gateway_stage.prod")[0] == {
        "RestApiId": "a1b2c3d4e5",
        "StageName": "prod",
    }
    assert _identifier(full, "module.db.aws_rds_cluster.main")[0] == {"DBClusterIdentifier": "orders-aurora"}
    assert _identifier(full, "module.db.aws_elasticache_replication_group.cache")[0] == {
        "ReplicationGroupId": "orders-cache"
    }
    assert _identifier(full, "aws_s3_bucket.artifacts")[0] == {"BucketName": f"artifacts-{acct}"}


def test_event_rules_on_the_default_and_a_custom_bus(full: Translation) -> None:
    # The schema identifies a rule by Arn; the ARN's resource part carries the bus for a custom bus.
    default_id, default_props = _identifier(full, "aws_cloudwatch_event_rule.nightly")
    custom_id, custom_props = _identifier(full, "aws_cloudwatch_event_rule.order_created")
    assert default_id == {"Arn": "arn:aws:events:us-east-1:123456789012:rule/nightly"}
    assert custom_id == {"Arn": "arn:aws:events:us-east-1:123456789012:rule/orders-bus/order-created"}
    assert "EventBusName" not in default_props
    assert custom_props["EventBusName"] == "orders-bus"
    assert custom_props["EventPattern"] == {"detail-type": ["OrderCreated"], "source": ["orders"]}
    assert default_props["ScheduleExpression"] == "cron(0 2 * * ? *)"


def test_rule_arn_inconsistent_with_its_bus_is_refused() -> None:
    rule = resource_from_fixture("aws_cloudwatch_event_rule.order_created")
    rule["values"]["arn"] = "arn:aws:events:us-east-1:123456789012:rule/order-created"  # default-bus ARN
    with pytest.raises(TfImportError, match=r"aws_cloudwatch_event_rule.order_created: .* custom bus 'orders-bus'"):
        translate(load_show_json(json.dumps(show_json(rule)), "s.json"))


def test_application_and_network_load_balancers(full: Translation) -> None:
    _, alb = _identifier(full, "module.app.aws_lb.public")
    _, nlb = _identifier(full, "module.app.aws_lb.internal")
    assert alb["Type"] == "application" and alb["Scheme"] == "internet-facing"
    assert alb["SecurityGroups"] == ["sg-0a1b2c3d4e5f60718"]
    assert nlb["Type"] == "network" and nlb["Scheme"] == "internal"
    assert "SecurityGroups" not in nlb


def test_lambda_code_from_s3_image_and_local_file(full: Translation) -> None:
    assert _identifier(full, "aws_lambda_function.api")[1]["Code"] == {
        "S3Bucket": "artifacts-123456789012",
        "S3Key": "lambda/orders-api.zip",
    }
    image = _identifier(full, "aws_lambda_function.image")[1]
    assert image["Code"] == {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.0"}
    assert image["PackageType"] == "Image" and "Runtime" not in image
    assert "build/orders.zip" in _identifier(full, "aws_lambda_function.local_pkg")[1]["Code"]["ZipFile"]


def test_lambda_local_package_with_a_runtime_without_zipfile_support_is_refused() -> None:
    function = resource_from_fixture("aws_lambda_function.local_pkg")
    function["values"]["runtime"] = "java21"
    with pytest.raises(TfImportError, match=r"aws_lambda_function.local_pkg: code comes from the local file"):
        translate(load_show_json(json.dumps(show_json(function)), "s.json"))


def test_dynamodb_tables_keys_indexes_and_billing(full: Translation) -> None:
    _, orders = _identifier(full, "aws_dynamodb_table.orders")
    assert orders["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert orders["BillingMode"] == "PAY_PER_REQUEST" and "ProvisionedThroughput" not in orders
    assert orders["GlobalSecondaryIndexes"][0]["IndexName"] == "by-status"
    assert orders["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    _, sessions = _identifier(full, "aws_dynamodb_table.sessions")
    assert sessions["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 2}


def test_sensitive_values_are_never_copied(full: Translation) -> None:
    text = json.dumps(full.template) + json.dumps(full.resources_to_import)
    assert "s3cr3t-do-not-copy" not in text
    assert "also-secret" not in text


@pytest.mark.parametrize(
    ("address", "attribute"),
    [
        ("aws_lambda_function.api", "role"),
        ("aws_dynamodb_table.orders", "hash_key"),
        ("module.app.aws_sfn_state_machine.checkout", "role_arn"),
        ("module.db.aws_elasticache_replication_group.cache", "description"),
        ("module.app.aws_api_gateway_stage.prod", "rest_api_id"),
        ("aws_s3_bucket.artifacts", "bucket"),
        ("module.db.aws_db_instance.reporting", "identifier"),
    ],
)
def test_missing_required_attribute_names_address_and_attribute(address: str, attribute: str) -> None:
    resource = resource_from_fixture(address)
    resource["values"].pop(attribute)
    resource["values"].pop("id", None)  # some types fall back to id
    with pytest.raises(MissingAttributeError) as caught:
        translate(load_show_json(json.dumps(show_json(resource)), "s.json"))
    message = str(caught.value)
    assert message.startswith(f"{address}: attribute {attribute!r} is missing or empty")
    assert "\n" not in message


def test_event_rule_without_pattern_or_schedule_is_refused() -> None:
    rule = resource_from_fixture("aws_cloudwatch_event_rule.nightly")
    rule["values"]["schedule_expression"] = ""
    with pytest.raises(TfImportError, match="neither 'event_pattern' nor 'schedule_expression'"):
        translate(load_show_json(json.dumps(show_json(rule)), "s.json"))

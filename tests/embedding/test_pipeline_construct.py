"""ImageEmbeddingPipeline / EmbeddingStack / EmbeddingStage: template assertions, cdk-nag, cfn-lint, snapshot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from devops_blueprints.constructs import ImageEmbeddingPipeline
from devops_blueprints.constructs.embeddings.embedding_validation import instance_architecture
from devops_blueprints.stacks import EmbeddingStack
from devops_blueprints.stages import EmbeddingStage
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app, scrub

RETRY_STRATEGY = {
    "Attempts": 3,
    "EvaluateOnExit": [
        {"Action": "RETRY", "OnStatusReason": "Host EC2*"},
        {"Action": "RETRY", "OnStatusReason": "Your Spot Task was interrupted*"},
        {"Action": "RETRY", "OnReason": "CannotPullContainerError:*"},
        {"Action": "RETRY", "OnStatusReason": "Task failed to start*"},
        {"Action": "EXIT", "OnReason": "*"},
    ],
}
REGISTRY_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"


@pytest.fixture(scope="module")
def stage() -> EmbeddingStage:
    """The sample stage exactly as app.py composes it: every default."""
    return EmbeddingStage(new_app(), "Embedding")


@pytest.fixture(scope="module")
def stack(stage: EmbeddingStage) -> EmbeddingStack:
    return stage.embedding


@pytest.fixture(scope="module")
def template(stack: EmbeddingStack) -> Template:
    return Template.from_stack(stack)


def resources(template: Template, cfn_type: str) -> dict[str, Any]:
    return dict(template.find_resources(cfn_type))


def only(template: Template, cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
    return next(iter(found.items()))


def policy_of(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """The statements of the policies attached to one role."""
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))


def pipeline_stack(compute_type: str = "fargate", **props: Any) -> tuple[cdk.Stack, ImageEmbeddingPipeline]:
    """A bare stack holding one pipeline (registry image: no asset hashing)."""
    stack = cdk.Stack(new_app(), "Test")
    props.setdefault("container_image", ecs.ContainerImage.from_registry(REGISTRY_IMAGE))
    return stack, ImageEmbeddingPipeline(stack, "Pipeline", compute_type=compute_type, **props)


# ------------------------------------------------------------------------------------------ storage


def test_the_bucket_is_kms_encrypted_versioned_private_logged_and_ssl_only(template: Template, stack: Any) -> None:
    pipeline = stack.pipeline
    bucket_id = logical_id(stack, pipeline.bucket)
    key_id = logical_id(stack, pipeline.encryption_key)
    logs_id = logical_id(stack, pipeline.access_logs_bucket)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                        },
                    }
                ]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": logs_id}, "LogFilePrefix": "images-bucket/"},
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_the_results_table_is_keyed_by_image_id_on_demand_with_pitr_and_kms(template: Template, stack: Any) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "ImageId", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "ImageId", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": {"Fn::GetAtt": [logical_id(stack, stack.pipeline.encryption_key), "Arn"]},
            },
        },
    )


def test_data_is_retained_by_default_and_stateless_resources_are_not(template: Template) -> None:
    for cfn_type in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
        for name, resource in resources(template, cfn_type).items():
            assert resource.get("DeletionPolicy") == "Retain", name
            assert resource.get("UpdateReplacePolicy") == "Retain", name
    for cfn_type in ("AWS::Lambda::Function", "AWS::Batch::JobQueue", "AWS::EC2::VPC", "AWS::CloudWatch::Dashboard"):
        for name, resource in resources(template, cfn_type).items():
            assert "DeletionPolicy" not in resource, name


def test_removal_policy_destroy_applies_to_every_data_resource() -> None:
    stack, _ = pipeline_stack(removal_policy=cdk.RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    for cfn_type in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
        found = resources(template, cfn_type)
        assert found
        assert {resource.get("DeletionPolicy") for resource in found.values()} == {"Delete"}, cfn_type


# ------------------------------------------------------------------------------------------ network


def test_the_vpc_has_s3_and_dynamodb_gateway_endpoints_and_flow_logs(template: Template) -> None:
    endpoints = resources(template, "AWS::EC2::VPCEndpoint").values()
    services = sorted(json.dumps(e["Properties"]["ServiceName"]) for e in endpoints)
    assert [e["Properties"]["VpcEndpointType"] for e in endpoints] == ["Gateway", "Gateway"]
    assert any(".dynamodb" in s for s in services)
    assert any(".s3" in s for s in services)
    template.has_resource_properties("AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "REJECT"})
    template.resource_count_is("AWS::EC2::NatGateway", 1)


# ------------------------------------------------------------------------------------------ compute


def test_fargate_is_the_default_compute_in_private_subnets(template: Template, stack: Any) -> None:
    _, compute = only(template, "AWS::Batch::ComputeEnvironment")
    assert compute["Properties"]["ComputeResources"]["Type"] == "FARGATE"
    assert compute["Properties"]["ComputeResources"]["MaxvCpus"] == 256
    subnets = compute["Properties"]["ComputeResources"]["Subnets"]
    assert all("PrivateSubnet" in subnet["Ref"] for subnet in subnets)
    template.has_resource_properties(
        "AWS::Batch::JobQueue",
        {
            "ComputeEnvironmentOrder": [
                {"ComputeEnvironment": Match.any_value(), "Order": 1},
            ],
            "Priority": 1,
        },
    )


def test_the_job_definition_runs_the_batch_job_asset_with_its_environment_and_retries(
    template: Template, stack: Any
) -> None:
    pipeline = stack.pipeline
    _, definition = only(template, "AWS::Batch::JobDefinition")
    props = definition["Properties"]
    assert props["PlatformCapabilities"] == ["FARGATE"]
    assert props["RetryStrategy"] == RETRY_STRATEGY
    container = props["ContainerProperties"]
    assert container["Command"] == ["python", "-m", "batch_job", "run"]
    assert "cdk-hnb659fds-container-assets" in json.dumps(container["Image"])  # the batch_job/ image asset
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert environment == {
        "IMAGES_BUCKET": {"Ref": logical_id(stack, pipeline.bucket)},
        "RESULTS_TABLE": {"Ref": logical_id(stack, pipeline.table)},
        "CHUNK_SIZE": "1000",
    }
    assert container["JobRoleArn"] == {"Fn::GetAtt": [logical_id(stack, pipeline.job_role), "Arn"]}
    assert container["NetworkConfiguration"] == {"AssignPublicIp": "DISABLED"}
    assert {r["Type"]: r["Value"] for r in container["ResourceRequirements"]} == {"VCPU": "4", "MEMORY": "8192"}


def test_the_job_role_reads_images_and_manifests_writes_failures_and_items_only(template: Template, stack: Any) -> None:
    pipeline = stack.pipeline
    bucket_arn = {"Fn::GetAtt": [logical_id(stack, pipeline.bucket), "Arn"]}

    def objects(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [bucket_arn, f"/{prefix}*"]]}

    statements = policy_of(template, logical_id(stack, pipeline.job_role))
    by_sid = {statement.get("Sid"): statement for statement in statements}
    assert by_sid["ReadImagesAndManifests"]["Action"] == "s3:GetObject"
    assert by_sid["ReadImagesAndManifests"]["Resource"] == [objects("images/"), objects("manifests/")]
    assert by_sid["WriteFailures"]["Action"] == "s3:PutObject"
    assert by_sid["WriteFailures"]["Resource"] == objects("failures/")
    assert by_sid["WriteEmbeddings"]["Action"] == [
        "dynamodb:BatchWriteItem",
        "dynamodb:DescribeTable",
        "dynamodb:PutItem",
    ]
    assert by_sid["WriteEmbeddings"]["Resource"] == {"Fn::GetAtt": [logical_id(stack, pipeline.table), "Arn"]}
    actions = json.dumps([statement["Action"] for statement in statements])
    assert "*" not in actions
    assert "dynamodb:DeleteItem" not in actions and "s3:DeleteObject" not in actions


def test_a_model_in_the_bucket_is_what_the_job_loads_and_the_only_extra_object_it_may_read() -> None:
    stack, pipeline = pipeline_stack(model_key="models/resnet18-int8.onnx")
    template = Template.from_stack(stack)
    bucket = logical_id(stack, pipeline.bucket)

    _, definition = only(template, "AWS::Batch::JobDefinition")
    environment = {e["Name"]: e["Value"] for e in definition["Properties"]["ContainerProperties"]["Environment"]}
    assert environment["EMBEDDING_MODEL"] == {
        "Fn::Join": ["", ["s3://", {"Ref": bucket}, "/models/resnet18-int8.onnx"]]
    }
    by_sid = {s.get("Sid"): s for s in policy_of(template, logical_id(stack, pipeline.job_role))}
    assert by_sid["ReadModel"] == {
        "Sid": "ReadModel",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/models/resnet18-int8.onnx"]]},
    }
    assert nag_findings(stack) == []


def test_the_submitter_is_traced_python_with_its_environment_and_narrow_grants(template: Template, stack: Any) -> None:
    pipeline = stack.pipeline
    queue_arn = {"Fn::GetAtt": [logical_id(stack, pipeline.job_queue), "JobQueueArn"]}
    definition_arn = {"Ref": logical_id(stack, pipeline.job_definition)}
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Handler": "index.handler",
            "TracingConfig": {"Mode": "Active"},
            "Timeout": 900,
            "Environment": {
                "Variables": {
                    "IMAGES_BUCKET": {"Ref": logical_id(stack, pipeline.bucket)},
                    "JOB_QUEUE": queue_arn,
                    "JOB_DEFINITION": definition_arn,
                    "IMAGES_PREFIX": "images/",
                    "METRICS_NAMESPACE": "DevOpsBlueprints/Embedding",
                }
            },
        },
    )
    statements = policy_of(template, logical_id(stack, pipeline.submitter_role))
    by_sid = {statement.get("Sid"): statement for statement in statements}
    assert by_sid["SubmitEmbeddingJobs"]["Action"] == "batch:SubmitJob"
    assert by_sid["SubmitEmbeddingJobs"]["Resource"] == [queue_arn, definition_arn]
    assert by_sid["ListImages"]["Action"] == "s3:ListBucket"
    assert by_sid["ListImages"]["Condition"] == {"StringLike": {"s3:prefix": ["images/*"]}}
    assert by_sid["WriteManifests"]["Action"] == "s3:PutObject"
    assert "/manifests/*" in json.dumps(by_sid["WriteManifests"]["Resource"])
    assert "s3:GetObject" not in json.dumps(statements)
    log_group_arn = {"Fn::GetAtt": [logical_id(stack, pipeline.submitter_log_group), "Arn"]}
    assert {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow", "Resource": log_group_arn} in (
        statements
    )


def test_the_dashboard_shows_jobs_images_and_failures(template: Template) -> None:
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in ("ChildJobsSubmitted", "ChildJobsSucceeded", "ChildJobsFailed", "ImagesSubmitted"):
        assert needle in body
    assert "sum(embedded) as ImagesEmbedded, sum(failed) as ImagesFailed" in body
    patterns = sorted(f["Properties"]["FilterPattern"] for f in resources(template, "AWS::Logs::MetricFilter").values())
    assert patterns == [
        '{ ($.detail.status = "FAILED") && ($.detail.arrayProperties.size NOT EXISTS) }',
        '{ ($.detail.status = "SUCCEEDED") && ($.detail.arrayProperties.size NOT EXISTS) }',
    ]
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.batch"],
                "detail-type": ["Batch Job State Change"],
                "detail": {"jobQueue": [Match.any_value()], "status": ["SUCCEEDED", "FAILED"]},
            }
        },
    )
    template.resource_count_is("AWS::Logs::ResourcePolicy", 1)


def test_the_sample_stack_has_no_nag_findings_and_no_cfn_lint_errors(stack: EmbeddingStack) -> None:
    assert nag_findings(stack) == []
    assert cfn_lint_errors(dict(Template.from_stack(stack).to_json())) == []


def test_the_sample_stack_matches_its_snapshot(stack: EmbeddingStack, snapshot: SnapshotAssertion) -> None:
    assert scrub(Template.from_stack(stack).to_json()) == snapshot.use_extension(JSONSnapshotExtension)


# ----------------------------------------------------------------------------------- compute options


@pytest.mark.parametrize(
    ("compute_type", "props", "resources_type", "extra"),
    [
        ("fargate-spot", {}, "FARGATE_SPOT", {}),
        ("ec2", {}, "EC2", {"AllocationStrategy": "BEST_FIT_PROGRESSIVE", "InstanceTypes": ["optimal"]}),
        ("spot", {"spot_bid_percentage": 70}, "SPOT", {"AllocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED"}),
        (
            "ec2",
            {"gpu_count": 1},
            "EC2",
            {
                "InstanceTypes": ["g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "g5.2xlarge"],
                "Ec2Configuration": [{"ImageType": "ECS_AL2023_NVIDIA"}],
            },
        ),
        (
            "spot",
            {"gpu_count": 4, "instance_types": [ec2.InstanceType("g6.12xlarge")]},
            "SPOT",
            {"InstanceTypes": ["g6.12xlarge"], "Ec2Configuration": [{"ImageType": "ECS_AL2023_NVIDIA"}]},
        ),
    ],
)
def test_each_compute_option_synthesizes(
    compute_type: str, props: dict[str, Any], resources_type: str, extra: dict[str, Any]
) -> None:
    stack, pipeline = pipeline_stack(compute_type, **props)
    template = Template.from_stack(stack)

    _, compute = only(template, "AWS::Batch::ComputeEnvironment")
    assert compute["Properties"]["ComputeResources"]["Type"] == resources_type
    for key, value in extra.items():
        assert compute["Properties"]["ComputeResources"][key] == value, key
    _, definition = only(template, "AWS::Batch::JobDefinition")
    fargate = compute_type.startswith("fargate")
    assert definition["Properties"]["PlatformCapabilities"] == ["FARGATE" if fargate else "EC2"]
    assert definition["Properties"]["RetryStrategy"] == RETRY_STRATEGY
    requirements = {
        r["Type"]: r["Value"] for r in definition["Properties"]["ContainerProperties"]["ResourceRequirements"]
    }
    assert requirements.get("GPU") == (str(props["gpu_count"]) if "gpu_count" in props else None)
    if props.get("spot_bid_percentage"):
        assert compute["Properties"]["ComputeResources"]["BidPercentage"] == props["spot_bid_percentage"]
    assert pipeline.compute_type == compute_type


def test_a_gpu_spot_pipeline_has_no_nag_findings_and_no_cfn_lint_errors() -> None:
    stack, _ = pipeline_stack("spot", gpu_count=1)
    assert nag_findings(stack) == []
    assert cfn_lint_errors(dict(Template.from_stack(stack).to_json())) == []


def docker_files(app: cdk.App) -> list[str]:
    """The Dockerfiles of the image assets the app's asset manifests declare (built at deploy time)."""
    assembly = app.synth()
    files: list[str] = []
    for manifest in Path(assembly.directory).rglob("*.assets.json"):
        images = json.loads(manifest.read_text()).get("dockerImages", {})
        files.extend(image["source"].get("dockerFile", "Dockerfile") for image in images.values())
    return sorted(files)


def test_gpu_jobs_build_the_gpu_dockerfile_and_cpu_jobs_the_default(stage: EmbeddingStage) -> None:
    gpu_app = new_app()
    ImageEmbeddingPipeline(cdk.Stack(gpu_app, "Gpu"), "Pipeline", compute_type="spot", gpu_count=1)
    cpu_app = stage.node.scope
    assert isinstance(cpu_app, cdk.App)

    assert docker_files(gpu_app) == ["Dockerfile.gpu"]
    assert docker_files(cpu_app) == ["Dockerfile"]


def image_platforms(app: cdk.App) -> list[str]:
    """The ``platform`` of every image asset the app declares (what ``docker build --platform`` gets)."""
    assembly = app.synth()
    return [
        image["source"].get("platform", "(builder's own)")
        for manifest in Path(assembly.directory).rglob("*.assets.json")
        for image in json.loads(manifest.read_text()).get("dockerImages", {}).values()
    ]


@pytest.mark.parametrize(
    ("props", "platform"),
    [
        ({}, "linux/amd64"),  # Fargate runs X86_64
        ({"compute_type": "ec2"}, "linux/amd64"),  # Batch's "optimal" families are x86_64
        ({"compute_type": "spot", "gpu_count": 1}, "linux/amd64"),
        ({"compute_type": "ec2", "instance_types": [ec2.InstanceType("m7i.2xlarge")]}, "linux/amd64"),
        (
            {
                "compute_type": "spot",
                "instance_types": [ec2.InstanceType("c7g.2xlarge"), ec2.InstanceType("m6gd.xlarge")],
            },
            "linux/arm64",
        ),
    ],
)
def test_the_job_image_is_built_for_the_hosts_that_run_it(props: dict[str, Any], platform: str) -> None:
    app = new_app()
    ImageEmbeddingPipeline(cdk.Stack(app, "Platform"), "Pipeline", **props)
    assert image_platforms(app) == [platform]


@pytest.mark.parametrize(
    "name",
    [
        "c7g.large",
        "m6gd.xlarge",
        "c6gn.16xlarge",
        "r8g.medium",
        "t4g.nano",
        "x2gd.large",
        "im4gn.large",
        "is4gen.large",
        "g5g.xlarge",
        "hpc7g.4xlarge",
        "a1.large",
        "m5.large",
        "c7a.large",
        "g4dn.xlarge",
        "g5.2xlarge",
        "p4d.24xlarge",
        "inf2.xlarge",
        "m7i-flex.large",
        "c6in.large",
        "r7iz.large",
    ],
)
def test_instance_architecture_agrees_with_aws_cdk(name: str) -> None:
    expected = {"ARM_64": "arm64", "X86_64": "x86_64"}[ec2.InstanceType(name).architecture.name]
    assert instance_architecture(name) == expected
    assert instance_architecture(name.split(".")[0]) == expected  # a bare family, as Batch also accepts


# ---------------------------------------------------------------------------------- existing resources


def test_existing_bucket_table_and_vpc_are_used_not_created() -> None:
    stack = cdk.Stack(new_app(), "Existing", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    bucket = s3.Bucket.from_bucket_attributes(stack, "Bucket", bucket_name="team-images", encryption_key=key)
    table = dynamodb.Table.from_table_name(stack, "Table", "team-vectors")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    )
    pipeline = ImageEmbeddingPipeline(
        stack,
        "Pipeline",
        bucket=bucket,
        table=table,
        vpc=vpc,
        images_prefix="",
        container_image=ecs.ContainerImage.from_registry(REGISTRY_IMAGE),
    )
    template = Template.from_stack(stack)

    for cfn_type in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::EC2::VPC", "AWS::KMS::Key"):
        template.resource_count_is(cfn_type, 0)
    assert pipeline.encryption_key is None and pipeline.flow_log is None
    job_policy = json.dumps(policy_of(template, logical_id(stack, pipeline.job_role)))
    assert ":s3:::team-images/*" in job_policy  # images_prefix "" = the whole bucket
    assert "table/team-vectors" in job_policy
    assert "key/1234abcd-12ab-34cd-56ef-1234567890ab" in job_policy  # the bucket's key, for reading images
    submitter_policy = policy_of(template, logical_id(stack, pipeline.submitter_role))
    (listing,) = [s for s in submitter_policy if s.get("Sid") == "ListImages"]
    assert "Condition" not in listing
    _, compute = only(template, "AWS::Batch::ComputeEnvironment")
    assert compute["Properties"]["ComputeResources"]["Subnets"] == [
        "subnet-0aaaaaaaaaaaaaaaa",
        "subnet-0bbbbbbbbbbbbbbbb",
    ]
    assert nag_findings(stack) == []


def test_s3_managed_encryption_creates_no_key() -> None:
    stack, pipeline = pipeline_stack(encryption="s3-managed")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 0)
    assert pipeline.encryption_key is None
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "LoggingConfiguration": Match.any_value(),
        },
    )


def test_grants_and_metrics_for_users() -> None:
    stack, pipeline = pipeline_stack()
    reader = cdk.aws_iam.Role(stack, "Reader", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    pipeline.grant_submit(reader)
    pipeline.grant_read_results(reader)
    metric = pipeline.metric_child_jobs_failed()
    template = Template.from_stack(stack)
    policy = json.dumps(policy_of(template, logical_id(stack, reader)))
    assert "lambda:InvokeFunction" in policy and "dynamodb:GetItem" in policy
    assert (metric.namespace, metric.metric_name) == ("DevOpsBlueprints/Embedding", "ChildJobsFailed")
    assert "JobQueue" in (metric.dimensions or {})
    with pytest.raises(AttributeError):
        pipeline.bucket = _bucket(stack)  # type: ignore[misc]  # attributes are read-only


def test_unresolved_tokens_are_not_validated_at_synth() -> None:
    stack = cdk.Stack(new_app(), "Tokens")
    max_vcpus = cdk.CfnParameter(stack, "MaxVcpus", type="Number", default=64)
    retries = cdk.CfnParameter(stack, "Retries", type="Number", default=2)

    ImageEmbeddingPipeline(
        stack,
        "Pipeline",
        max_vcpus=max_vcpus.value_as_number,
        retry_attempts=retries.value_as_number,
        container_image=ecs.ContainerImage.from_registry(REGISTRY_IMAGE),
    )

    _, compute = only(Template.from_stack(stack), "AWS::Batch::ComputeEnvironment")
    assert compute["Properties"]["ComputeResources"]["MaxvCpus"] == {"Ref": "MaxVcpus"}


# ------------------------------------------------------------------------------------------ bad props


def _bucket(stack: cdk.Stack, name: str = "existing-bucket") -> s3.IBucket:
    return s3.Bucket.from_bucket_name(stack, name, name)


def _table(stack: cdk.Stack) -> dynamodb.ITable:
    return dynamodb.Table.from_table_name(stack, "ExistingTable", "existing-table")


def _vpc(stack: cdk.Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack, "ExistingVpc", vpc_id="vpc-1", availability_zones=["us-east-1a"], private_subnet_ids=["subnet-1"]
    )


Props = Callable[[cdk.Stack], dict[str, Any]]


def given(**props: Any) -> Props:
    return lambda _stack: props


@pytest.mark.parametrize(
    ("make_props", "message"),
    [
        (given(compute_type="gpu-ish"), r'compute_type must be one of fargate, fargate-spot, ec2, spot, got "gpu-ish"'),
        (given(max_vcpus=0), r"max_vcpus must be a whole number from 1 to 10000, got 0$"),
        (given(max_vcpus=10_001), r"max_vcpus must be a whole number from 1 to 10000, got 10001$"),
        (given(gpu_count=1), r'gpu_count needs compute_type "ec2" or "spot" \(Fargate has no GPUs\), got "fargate"'),
        (given(max_vcpus=2.5), r"max_vcpus must be a whole number from 1 to 10000, got 2.5$"),
        (given(max_vcpus="256"), r"max_vcpus must be a whole number from 1 to 10000, got '256'$"),
        (given(retry_attempts=True), r"retry_attempts must be a whole number from 1 to 10, got True$"),
        (given(gpu_count=9, compute_type="ec2"), r"gpu_count must be a whole number from 0 to 8, got 9$"),
        (
            given(instance_types=[ec2.InstanceType("m5.large")]),
            r'instance_types needs compute_type "ec2" or "spot", got "fargate"',
        ),
        (
            given(compute_type="ec2", instance_types=[ec2.InstanceType("m5.large"), ec2.InstanceType("c7g.large")]),
            r"instance_types mixes x86_64 \(m5.large\) and arm64 \(c7g.large\): the job's one image is built for one",
        ),
        (
            given(compute_type="spot", gpu_count=1, instance_types=[ec2.InstanceType("g5g.xlarge")]),
            r"gpu_count needs x86_64 instance types \(onnxruntime-gpu publishes no Arm build\), got g5g.xlarge$",
        ),
        (given(spot_bid_percentage=50, compute_type="ec2"), r'spot_bid_percentage needs compute_type "spot"'),
        (
            given(spot_bid_percentage=0, compute_type="spot"),
            r"spot_bid_percentage must be a whole number from 1 to 100, got 0$",
        ),
        (given(job_vcpus="4"), r"job_vcpus must be a number, got '4'$"),
        (given(job_vcpus=3), r"job_vcpus must be one of 0.25, 0.5, 1, 2, 4, 8, 16 on Fargate, got 3"),
        (given(job_vcpus=0.5, compute_type="ec2"), r"job_vcpus must be a whole number >= 1 on EC2, got 0.5"),
        (given(job_vcpus=16, max_vcpus=8), r"job_vcpus \(16\) must not exceed max_vcpus \(8\)"),
        (given(job_memory_mib=256), r"job_memory_mib must be a whole number from 512 to 122880, got 256$"),
        (given(retry_attempts=11), r"retry_attempts must be a whole number from 1 to 10, got 11$"),
        (given(job_timeout=cdk.Duration.seconds(30)), r"job_timeout must be at least 60 seconds, got 30 seconds"),
        (given(images_prefix="images"), r'images_prefix must be "" \(whole bucket\) or end with "/", got "images"'),
        (given(images_prefix="manifests/x/"), r'images_prefix must not be under "manifests/"'),
        (given(command=[]), r"command must be a non-empty list of non-empty strings, got \[\]"),
        (
            given(model_key="models/m.onnx", embedding_model="/opt/model/other.onnx"),
            r"give either embedding_model \(a path in the image\) or model_key \(an object in the bucket\), not both",
        ),
        (given(model_key="models/m.pt"), r'model_key must be an object key ending in ".onnx" \(no leading "/"\), got '),
        (given(model_key="/models/m.onnx"), r"model_key must be an object key ending in \".onnx\""),
        (given(model_key="failures/m.onnx"), r'model_key must not be under "failures/" \(the pipeline writes there\)'),
        (given(encryption="aes"), r'encryption must be one of kms, s3-managed, got "aes"'),
        (given(max_azs=0), r"max_azs must be a whole number from 1 to 6, got 0$"),
        (given(nat_gateways=7), r"nat_gateways must be a whole number from 0 to 6, got 7$"),
        (
            lambda stack: {"bucket": _bucket(stack), "access_logs_bucket": _bucket(stack, "logs")},
            r"give either bucket \(existing\) or access_logs_bucket",
        ),
        (
            lambda stack: {"vpc": _vpc(stack), "max_azs": 2},
            r"max_azs applies to a VPC this construct creates; give either vpc or max_azs, not both",
        ),
        (lambda stack: {"vpc": _vpc(stack), "nat_gateways": 0}, r"give either vpc or nat_gateways, not both"),
        (
            lambda stack: {"bucket": _bucket(stack), "table": _table(stack), "encryption": "kms"},
            r"encryption applies to a bucket or table this construct creates",
        ),
        (
            lambda stack: {"encryption": "s3-managed", "encryption_key": kms.Key(stack, "K")},
            r'give either encryption="s3-managed" or encryption_key, not both',
        ),
    ],
)
def test_bad_props_fail_with_one_clear_error(make_props: Props, message: str) -> None:
    stack = cdk.Stack(new_app(), "Bad")

    with pytest.raises(ValueError, match=message) as raised:
        ImageEmbeddingPipeline(stack, "Pipeline", **make_props(stack))

    assert str(raised.value).startswith("ImageEmbeddingPipeline: ")
    assert "\n" not in str(raised.value)
    assert not stack.node.find_child("Pipeline").node.children  # failed before creating anything

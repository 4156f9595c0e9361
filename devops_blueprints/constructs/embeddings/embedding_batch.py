"""Where and how the jobs of :class:`~devops_blueprints.constructs.embeddings.embedding.ImageEmbeddingPipeline` run: the
VPC (with its flow logs), the AWS Batch compute environment, the job queue, the job's container and its job
definition (with the retry strategies).

The functions create their resources as children of the pipeline (``scope``) with the pipeline's construct
ids (``Vpc``, ``FlowLogGroup``, ``ComputeEnvironment``, ``JobQueue``, ``Container``, ``JobDefinition``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from devops_blueprints.assets import batch_job_dir
from devops_blueprints.constructs.embeddings.embedding_validation import instance_architecture

DEFAULT_COMMAND = ("python", "-m", "batch_job", "run")
#: GPU instance types by GPUs per job (NVIDIA T4 / A10G).
GPU_INSTANCE_TYPES = {
    1: ("g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "g5.2xlarge"),
    4: ("g4dn.12xlarge", "g5.12xlarge"),
    8: ("g4dn.metal", "g5.48xlarge"),
}


def create_network(
    scope: Construct,
    *,
    vpc: ec2.IVpc | None,
    max_azs: int | None,
    nat_gateways: int | None,
    log_retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
) -> tuple[ec2.IVpc, ec2.FlowLog | None]:
    """The given VPC (no flow log), or a new one with gateway endpoints and flow logs, under ``scope``."""
    if vpc is not None:
        return vpc, None
    new_vpc = ec2.Vpc(
        scope,
        "Vpc",
        max_azs=max_azs if max_azs is not None else 2,
        nat_gateways=nat_gateways if nat_gateways is not None else 1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
        ],
        gateway_endpoints={
            "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
            "DynamoDB": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
        },
    )
    flow_log_group = logs.LogGroup(scope, "FlowLogGroup", retention=log_retention, removal_policy=removal_policy)
    flow_log = new_vpc.add_flow_log(
        "FlowLog",
        destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
        traffic_type=ec2.FlowLogTrafficType.REJECT,
    )
    return new_vpc, flow_log


def create_compute(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    subnets: ec2.SubnetSelection,
    compute_type: str,
    max_vcpus: float,
    gpu_count: int,
    instance_types: Sequence[ec2.InstanceType] | None,
    spot_bid_percentage: float | None,
) -> tuple[batch.IComputeEnvironment, batch.JobQueue]:
    """The compute environment ``compute_type`` asks for and a job queue on it, under ``scope``."""
    compute_environment: batch.IComputeEnvironment
    if compute_type in ("fargate", "fargate-spot"):
        compute_environment = batch.FargateComputeEnvironment(
            scope,
            "ComputeEnvironment",
            vpc=vpc,
            vpc_subnets=subnets,
            maxv_cpus=max_vcpus,
            spot=compute_type == "fargate-spot",
        )
    else:
        spot = compute_type == "spot"
        types = list(instance_types or ())
        if gpu_count and not types:
            size = min(n for n in GPU_INSTANCE_TYPES if n >= gpu_count)
            types = [ec2.InstanceType(name) for name in GPU_INSTANCE_TYPES[size]]
        compute_environment = batch.ManagedEc2EcsComputeEnvironment(
            scope,
            "ComputeEnvironment",
            vpc=vpc,
            vpc_subnets=subnets,
            maxv_cpus=max_vcpus,
            minv_cpus=0,
            spot=spot,
            spot_bid_percentage=spot_bid_percentage,
            allocation_strategy=batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
            if spot
            else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
            instance_types=types or None,
            use_optimal_instance_classes=not types,
            images=[batch.EcsMachineImage(image_type=batch.EcsMachineImageType.ECS_AL2023_NVIDIA)]
            if gpu_count
            else None,
        )
    job_queue = batch.JobQueue(
        scope,
        "JobQueue",
        priority=1,
        compute_environments=[batch.OrderedComputeEnvironment(compute_environment=compute_environment, order=1)],
    )
    return compute_environment, job_queue


def image_platform(compute_type: str, instance_types: Sequence[ec2.InstanceType] | None) -> ecr_assets.Platform:
    """The job image's platform: linux/arm64 for Graviton instance types, else linux/amd64 (Fargate jobs run
    on X86_64, see ``fargate_cpu_architecture``; GPU instance types are x86_64, validated)."""
    graviton = bool(instance_types) and {instance_architecture(t) for t in instance_types or ()} == {"arm64"}
    if graviton and not compute_type.startswith("fargate"):
        return ecr_assets.Platform.LINUX_ARM64
    return ecr_assets.Platform.LINUX_AMD64


def create_job_definition(
    scope: Construct,
    *,
    bucket: s3.IBucket,
    table: dynamodb.ITable,
    job_role: iam.IRole,
    log_group: logs.ILogGroup,
    compute_type: str,
    gpu_count: int,
    instance_types: Sequence[ec2.InstanceType] | None,
    job_vcpus: float,
    job_memory_mib: float,
    retry_attempts: float,
    job_timeout: cdk.Duration | None,
    container_image: ecs.ContainerImage | None,
    command: Sequence[str],
    embedding_model: str | None,
) -> tuple[batch.IEcsContainerDefinition, batch.EcsJobDefinition]:
    """The job's container (Fargate or EC2, as ``compute_type`` says) and its job definition, under ``scope``."""
    environment = {
        "IMAGES_BUCKET": bucket.bucket_name,
        "RESULTS_TABLE": table.table_name,
        "CHUNK_SIZE": "1000",
    }
    if embedding_model:
        environment["EMBEDDING_MODEL"] = embedding_model
    image = container_image or ecs.ContainerImage.from_asset(
        str(batch_job_dir()),
        file="Dockerfile.gpu" if gpu_count else "Dockerfile",
        # Built for the hosts that run it, whatever machine deploys (an Apple silicon laptop or a Graviton CI
        # runner would otherwise build an arm64 image that x86_64 Fargate and GPU hosts cannot start).
        platform=image_platform(compute_type, instance_types),
    )
    container_props: dict[str, Any] = {
        "image": image,
        "cpu": job_vcpus,
        "memory": cdk.Size.mebibytes(job_memory_mib),
        "command": list(command),
        "environment": environment,
        "job_role": job_role,
        "logging": ecs.LogDriver.aws_logs(stream_prefix="embedding", log_group=log_group),
    }
    container: batch.IEcsContainerDefinition
    if compute_type in ("fargate", "fargate-spot"):
        container = batch.EcsFargateContainerDefinition(
            scope,
            "Container",
            assign_public_ip=False,
            fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
            fargate_operating_system_family=ecs.OperatingSystemFamily.LINUX,
            **container_props,
        )
    else:
        container = batch.EcsEc2ContainerDefinition(scope, "Container", gpu=gpu_count or None, **container_props)
    job_definition = batch.EcsJobDefinition(
        scope,
        "JobDefinition",
        container=container,
        retry_attempts=retry_attempts,
        retry_strategies=retry_strategies(),
        timeout=job_timeout or cdk.Duration.hours(1),
        propagate_tags=True,
    )
    return container, job_definition


def retry_strategies() -> list[batch.RetryStrategy]:
    """Retry what the infrastructure did to a child; exit on anything else (the job's own errors).

    First match wins: EC2 host gone (includes Spot reclaim, ``Host EC2*``), Fargate Spot interruption, image
    pull failures and tasks that failed to start are retried; every other reason (``*``) exits.
    """
    return [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(
            batch.Action.RETRY, batch.Reason.custom(on_status_reason="Your Spot Task was interrupted*")
        ),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom(on_status_reason="Task failed to start*")),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*")),
    ]

"""Sample workload: an ECS service with Container Insights whose task leaks memory at a set rate."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from devops_blueprints.constructs.key_policies import logs_key
from devops_blueprints.constructs.networking import flow_logged_vpc

MAX_LEAK_MB_PER_MINUTE = 100
#: The container's program: allocate (and touch) ``argv[1]`` MiB every minute and never free it, so the
#: task's memory use climbs until ECS replaces it — the pattern Container Insights and DevOps Guru flag.
LEAK_PROGRAM = """
import sys, time
rate = int(sys.argv[1])
hoard = []
while True:
    hoard.append(bytearray(rate * 1024 * 1024))
    print(f"holding {len(hoard) * rate} MiB", flush=True)
    time.sleep(60)
"""
DEFAULT_IMAGE = "public.ecr.aws/docker/library/python:3.13-slim"


class ContainerInsightsEcsStack(cdk.Stack):
    """A VPC (flow logs on), an ECS cluster with Container Insights (enhanced) and a Fargate service in
    private subnets whose container leaks ``leak_mb_per_minute`` MiB each minute.

    :param leak_mb_per_minute: MiB leaked per minute, 0..100 (0 = healthy). Default: 5.
    :param image: the container image (any image with ``python3``). Default: Python from ECR Public.
    :param desired_count: tasks. Default: 1.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        leak_mb_per_minute: int = 5,
        image: str = DEFAULT_IMAGE,
        desired_count: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not 0 <= leak_mb_per_minute <= MAX_LEAK_MB_PER_MINUTE:
            raise ValueError(f"leak_mb_per_minute must be from 0 to {MAX_LEAK_MB_PER_MINUTE}, got {leak_mb_per_minute}")
        if not 0 <= desired_count <= 10:
            raise ValueError(f"desired_count must be from 0 to 10, got {desired_count}")
        self.key = logs_key(self, removal_policy=cdk.RemovalPolicy.DESTROY)
        self.vpc = flow_logged_vpc(self, key=self.key, removal_policy=cdk.RemovalPolicy.DESTROY, private_cidr_mask=22)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENHANCED)
        self.task_definition = ecs.FargateTaskDefinition(self, "Task", cpu=256, memory_limit_mib=512)
        self.log_group = logs.LogGroup(
            self,
            "TaskLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.task_definition.add_container(
            "Leaky",
            image=ecs.ContainerImage.from_registry(image),
            command=["python3", "-c", LEAK_PROGRAM, str(leak_mb_per_minute)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix="leaky", log_group=self.log_group),
            memory_limit_mib=512,
        )
        self.security_group = ec2.SecurityGroup(
            self, "ServiceSecurityGroup", vpc=self.vpc, description="Leaky sample service: egress only"
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=desired_count,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
        )

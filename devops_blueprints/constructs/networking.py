"""A two-AZ VPC with one NAT gateway and every flow logged to an encrypted log group (the samples' network)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def flow_logged_vpc(
    scope: Construct,
    *,
    key: kms.IKey,
    removal_policy: cdk.RemovalPolicy,
    private_cidr_mask: int,
    construct_id: str = "Vpc",
) -> ec2.Vpc:
    """``construct_id``: public /24 and private-with-egress subnets in two AZs behind one NAT gateway, all traffic
    flow-logged to ``FlowLogs`` (a log group in ``scope``, a month's retention, encrypted with ``key``)."""
    flow_logs = logs.LogGroup(
        scope,
        "FlowLogs",
        retention=logs.RetentionDays.ONE_MONTH,
        encryption_key=key,
        removal_policy=removal_policy,
    )
    return ec2.Vpc(
        scope,
        construct_id,
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=private_cidr_mask
            ),
        ],
        flow_logs={
            "All": ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                traffic_type=ec2.FlowLogTrafficType.ALL,
            )
        },
    )

"""Every sample stack deployed into the emulator: complete, with its outputs, its custom resources run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import LocalCloud
from tests.support.local_deploy import deploy, emulator

pytestmark = pytest.mark.deploy


def _templates(local_cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    return deploy.assembly_stacks(local_cloud.state_dir / "cdk.out")


def test_every_stack_of_the_assembly_reached_create_complete(local_cloud: LocalCloud) -> None:
    # GIVEN the stacks of the synthesized assembly (every stage) WHEN deployed THEN each one is CREATE_COMPLETE
    expected = set(_templates(local_cloud))
    assert len(expected) >= 8
    statuses = {s["StackName"]: s["StackStatus"] for s in emulator.live_stacks(local_cloud.endpoint)}
    assert {name: statuses.get(name) for name in expected} == dict.fromkeys(expected, "CREATE_COMPLETE")
    assert statuses["CDKToolkit"] == "CREATE_COMPLETE"


def test_every_resource_of_every_template_was_provisioned(local_cloud: LocalCloud) -> None:
    for stack_name, template in _templates(local_cloud).items():
        resources = {r["LogicalResourceId"]: r for r in emulator.stack_resources(local_cloud.endpoint, stack_name)}
        declared = {lid for lid, r in template["Resources"].items() if "Condition" not in r}
        assert declared <= set(resources), (stack_name, sorted(declared - set(resources)))
        assert {lid: resources[lid]["ResourceStatus"] for lid in declared} == dict.fromkeys(
            declared, "CREATE_COMPLETE"
        ), stack_name


def test_every_declared_output_exists_with_a_value(local_cloud: LocalCloud) -> None:
    for stack_name, template in _templates(local_cloud).items():
        declared = set(template.get("Outputs", {}))
        got = local_cloud.outputs.get(stack_name, {})
        assert set(got) == declared, stack_name
        assert all(value for value in got.values()), (stack_name, got)


def test_the_restrict_default_security_group_custom_resource_ran(local_cloud: LocalCloud) -> None:
    # GIVEN the VPCs' Custom::VpcRestrictDefaultSG (CDK's Node.js handler, run by the emulator as a process)
    # THEN each VPC's default security group has no rules left: what the handler revokes, and what cdk-nag's
    # EC2 rule and the consumers rely on.
    ec2 = local_cloud.client("ec2")
    custom = []
    for stack_name, template in _templates(local_cloud).items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "Custom::VpcRestrictDefaultSG":
                custom.append((stack_name, logical_id))
    assert custom, "the sample app has VPCs with the restrict-default-security-group custom resource"
    for stack_name, logical_id in custom:
        resources = {r["LogicalResourceId"]: r for r in emulator.stack_resources(local_cloud.endpoint, stack_name)}
        assert resources[logical_id]["ResourceStatus"] == "CREATE_COMPLETE"
        vpc_ids = [r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::EC2::VPC"]
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": vpc_ids}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"]
        assert len(groups) == len(vpc_ids) >= 1
        for group in groups:
            assert (group["IpPermissions"], group["IpPermissionsEgress"]) == ([], []), (stack_name, group["GroupId"])

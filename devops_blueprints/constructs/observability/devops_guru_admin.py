"""Multi-account DevOps Guru: register a member account as the organization's delegated administrator."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from devops_blueprints.constructs.observability.boundary import warn_devops_guru_end_of_support
from devops_blueprints.constructs.observability.devops_guru_coverage import acknowledge_custom_resource_provider

_ACCOUNT_ID = re.compile(r"^\d{12}$")
SERVICE_PRINCIPAL = "devops-guru.amazonaws.com"


class DevOpsGuruDelegatedAdmin(Construct):
    """Deploy in the organization's management account: trusts DevOps Guru with the organization
    (``EnableAWSServiceAccess``) and registers ``admin_account_id`` as its delegated administrator
    (``RegisterDelegatedAdministrator``); deleting the stack deregisters it. Service access stays
    enabled on delete, since other delegated set-ups may rely on it.

    :param admin_account_id: the member account (12 digits) that will administer DevOps Guru for the
        organization (view insights across accounts, manage coverage).
    :param organizations_region: the region of the Organizations API endpoint. Default: ``us-east-1``
        (the commercial partition's endpoint).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        admin_account_id: str,
        organizations_region: str = "us-east-1",
    ) -> None:
        super().__init__(scope, construct_id)
        if not cdk.Token.is_unresolved(admin_account_id) and not _ACCOUNT_ID.match(admin_account_id):
            raise ValueError(f"admin_account_id must be a 12-digit AWS account id, got {admin_account_id!r}")
        stack = cdk.Stack.of(self)
        if (
            not cdk.Token.is_unresolved(stack.account)
            and not cdk.Token.is_unresolved(admin_account_id)
            and stack.account == admin_account_id
        ):
            raise ValueError(
                f"admin_account_id {admin_account_id} is the account this stack deploys to; the management "
                "account cannot be its own delegated administrator"
            )
        self.admin_account_id = admin_account_id
        warn_devops_guru_end_of_support(self)

        self.service_access = cr.AwsCustomResource(
            self,
            "ServiceAccess",
            on_create=cr.AwsSdkCall(
                service="Organizations",
                action="EnableAWSServiceAccess",
                parameters={"ServicePrincipal": SERVICE_PRINCIPAL},
                region=organizations_region,
                physical_resource_id=cr.PhysicalResourceId.of(f"service-access-{SERVICE_PRINCIPAL}"),
            ),
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["organizations:EnableAWSServiceAccess"],
                        resources=["*"],
                    )
                ]
            ),
        )
        register = cr.AwsSdkCall(
            service="Organizations",
            action="RegisterDelegatedAdministrator",
            parameters={"AccountId": admin_account_id, "ServicePrincipal": SERVICE_PRINCIPAL},
            region=organizations_region,
            physical_resource_id=cr.PhysicalResourceId.of(f"devops-guru-delegated-admin-{admin_account_id}"),
            ignore_error_codes_matching="AccountAlreadyRegisteredException",
        )
        account_arn = f"arn:{cdk.Aws.PARTITION}:organizations::{cdk.Aws.ACCOUNT_ID}:account/o-*/{admin_account_id}"
        self.resource = cr.AwsCustomResource(
            self,
            "Resource",
            on_create=register,
            on_update=register,
            on_delete=cr.AwsSdkCall(
                service="Organizations",
                action="DeregisterDelegatedAdministrator",
                parameters={"AccountId": admin_account_id, "ServicePrincipal": SERVICE_PRINCIPAL},
                region=organizations_region,
                ignore_error_codes_matching="AccountNotRegisteredException",
            ),
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=[
                            "organizations:RegisterDelegatedAdministrator",
                            "organizations:DeregisterDelegatedAdministrator",
                        ],
                        resources=[account_arn],
                    ),
                    iam.PolicyStatement(
                        # Registering a delegated administrator reads the organization and creates the
                        # DevOps Guru service-linked role where missing.
                        actions=["organizations:DescribeOrganization"],
                        resources=["*"],
                    ),
                ]
            ),
        )
        self.resource.node.add_dependency(self.service_access)
        for custom_resource, reason in (
            (self.service_access, "organizations:EnableAWSServiceAccess supports no resource-level permissions"),
            (self.resource, "organizations:DescribeOrganization supports no resource-level permissions"),
        ):
            cdk.Validations.of(custom_resource).acknowledge(
                cdk.Acknowledgment(id="AwsSolutions-IAM5[Resource::*]", reason=reason)
            )
        cdk.Validations.of(self.resource).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::<AWS::AccountId>:account/o-*/"
                f"{admin_account_id}]",
                reason="The organization id is not known at synth; the account is named exactly",
            )
        )
        acknowledge_custom_resource_provider(stack)

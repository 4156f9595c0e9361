"""Shared builders of the tenant CDK tests (each test module builds its stacks once)."""

from __future__ import annotations

import aws_cdk as cdk

from devops_blueprints.stacks.tenants.deployment_pipeline import DeploymentContext

TOOLCHAIN_ENV = cdk.Environment(account="111111111111", region="us-east-1")
POOL2 = DeploymentContext(
    deployment_id="pool2", deployment_type="pool", component_account="222222222222", component_region="eu-west-1"
)
CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:111111111111:connection/11111111-2222-4333-8444-555555555555"

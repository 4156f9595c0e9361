"""Hygiene for the pipelines CDK Pipelines generates: exact cdk-nag acknowledgments for its generated
resources and cfn-lint-friendly role ARNs. Internal helpers of the tenant-deployment stacks."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines

from devops_blueprints.constructs.tenants.tenant_function import arn_prefix, rendered_account, stack_ref

__all__ = ["acknowledge_pipeline_findings", "prefer_sub_in_action_role_arns"]


def _as_sub(value: object) -> str | None:
    """An ``Fn::Join`` with an empty delimiter as the equivalent ``Fn::Sub`` string (None if not possible)."""
    if not isinstance(value, dict) or list(value) != ["Fn::Join"] or value["Fn::Join"][0] != "":
        return None
    text = []
    for part in value["Fn::Join"][1]:
        if isinstance(part, str):
            text.append(part.replace("${", "${!"))
        elif isinstance(part, dict) and list(part) == ["Ref"]:
            text.append("${" + part["Ref"] + "}")
        elif isinstance(part, dict) and list(part) == ["Fn::GetAtt"]:
            text.append("${" + ".".join(part["Fn::GetAtt"]) + "}")
        else:
            return None
    return "".join(text)


def prefer_sub_in_action_role_arns(pipeline: pipelines.CodePipeline) -> None:
    """Render the CloudFormation actions' ``Configuration.RoleArn`` (the target account's CDK execution
    role, built by CDK Pipelines with ``Fn::Join``) as the equivalent ``Fn::Sub``, the form cfn-lint's E3703
    validates as a role ARN. Same value, no behaviour change."""
    cfn = pipeline.pipeline.node.default_child
    if not isinstance(cfn, codepipeline.CfnPipeline):
        raise TypeError(f"{pipeline.node.path} has no CfnPipeline")
    stages = cdk.Stack.of(pipeline).resolve(cfn.stages)
    for i, stage in enumerate(stages or []):
        for j, action in enumerate(stage.get("actions", [])):
            sub = _as_sub((action.get("configuration") or {}).get("RoleArn"))
            if sub is not None:
                cfn.add_property_override(f"Stages.{i}.Actions.{j}.Configuration.RoleArn", {"Fn::Sub": sub})


#: Wildcard actions CDK Pipelines grants on its own artifact bucket and key.
_ARTIFACT_ACTIONS = (
    "s3:Abort*",
    "s3:DeleteObject*",
    "s3:GetBucket*",
    "s3:GetObject*",
    "s3:List*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


def acknowledge_pipeline_findings(
    pipeline: pipelines.CodePipeline, *, extra_steps: Sequence[pipelines.CodeBuildStep] = ()
) -> None:
    """Acknowledge the cdk-nag findings inherent to what CDK Pipelines generates - exact finding ids, on
    the ``pipelines.CodePipeline`` construct only (its generated roles, projects and bucket), never on the
    stages it deploys. Call after ``build_pipeline()``."""
    stack = cdk.Stack.of(pipeline)
    account = rendered_account(stack)
    logs_arn = arn_prefix(stack, "logs")
    codebuild_arn = arn_prefix(stack, "codebuild")
    part = arn_prefix(stack, "s3").split(":")[1]
    inner = pipeline.pipeline
    generated = "CDK Pipelines-generated"
    findings: dict[str, str] = {
        f"AwsSolutions-IAM5[Action::{action}]": f"{generated} grant on the pipeline's own artifact bucket/key"
        for action in _ARTIFACT_ACTIONS
    }
    bucket_ref = stack_ref(inner.artifact_bucket)
    findings[f"AwsSolutions-IAM5[Resource::<{bucket_ref}.Arn>/*]"] = (
        f"{generated} grant on objects of the pipeline's own artifact bucket"
    )
    findings["AwsSolutions-IAM5[Resource::*]"] = (
        f"{generated}: actions without resource-level permissions (cloudformation:DescribeStacks, sts, kms)"
    )
    findings[f"AwsSolutions-IAM5[Resource::arn:*:iam::{account}:role/*]"] = (
        f"{generated} self-mutation: assumes the toolchain account's CDK bootstrap roles (tag-restricted)"
    )
    findings[f"AwsSolutions-IAM5[Resource::{logs_arn}:log-group:/aws/codebuild/*]"] = (
        f"{generated} asset role: log groups of the asset publishing projects"
    )
    findings[f"AwsSolutions-IAM5[Resource::{codebuild_arn}:report-group/*]"] = (
        f"{generated} asset role: report groups of the asset publishing projects"
    )
    projects = [pipeline.synth_project, *(step.project for step in extra_steps)]
    if pipeline.self_mutation_enabled:
        projects.append(pipeline.self_mutation_project)
    for project in projects:
        ref = stack_ref(project)
        findings[f"AwsSolutions-IAM5[Resource::{logs_arn}:log-group:/aws/codebuild/<{ref}>:*]"] = (
            f"{generated}: log streams of the project's own log group"
        )
        findings[f"AwsSolutions-IAM5[Resource::{codebuild_arn}:report-group/<{ref}>-*]"] = (
            f"{generated}: the project's own report groups"
        )
    for support in inner.cross_region_support.values():
        replication = support.replication_bucket
        name = stack.resolve(replication.bucket_name)
        if isinstance(name, str):
            findings[f"AwsSolutions-IAM5[Resource::arn:{part}:s3:::{name}/*]"] = (
                f"{generated} grant on objects of the cross-region replication bucket"
            )
        cdk.Validations.of(replication).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-S1", reason=f"{generated} replication bucket of transient artifacts")
        )
    findings["AwsSolutions-S1"] = f"{generated} artifact bucket of transient artifacts; access via its roles only"
    for finding, reason in findings.items():
        cdk.Validations.of(pipeline).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))

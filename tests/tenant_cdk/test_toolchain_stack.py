"""ToolchainStack / ToolchainStage: the whole toolchain, its self-mutating pipeline and its last steps."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codecommit as codecommit
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from devops_blueprints.stacks.tenants.toolchain import ToolchainStack
from devops_blueprints.stages.toolchain import ToolchainStage
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app, scrub
from tests.tenant_cdk.conftest import CONNECTION_ARN


@pytest.fixture(scope="module")
def stage() -> ToolchainStage:
    return ToolchainStage(
        new_app(toolchain_connection_arn=CONNECTION_ARN, toolchain_repository="acme/saas"), "Toolchain"
    )


@pytest.fixture(scope="module")
def stack(stage: ToolchainStage) -> ToolchainStack:
    return stage.toolchain


@pytest.fixture(scope="module")
def template(stack: ToolchainStack) -> Template:
    return Template.from_stack(stack)


def _pipeline(template: Template) -> dict[str, Any]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return dict(pipeline["Properties"])


def test_stage_with_defaults_holds_one_toolchain_stack(stage: ToolchainStage, stack: ToolchainStack) -> None:
    assert stack.stack_name == "Toolchain-Deployments"
    assert [child.node.id for child in stage.node.children if isinstance(child, cdk.Stack)] == ["Deployments"]


def test_toolchain_has_table_provisioner_and_orchestrator(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 2)  # deployments + idempotency
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}}
    )


def test_pipeline_sources_from_the_connection_and_mutates_itself(template: Template) -> None:
    stages = _pipeline(template)["Stages"]
    assert [stage["Name"] for stage in stages] == ["Source", "Build", "UpdatePipeline", "Release"]
    source = stages[0]["Actions"][0]["Configuration"]
    assert source["ConnectionArn"] == CONNECTION_ARN
    assert source["FullRepositoryId"] == "acme/saas"
    assert source["BranchName"] == "main"
    assert source.get("DetectChanges", True) is not False


def test_last_steps_publish_the_source_then_start_the_orchestrator(template: Template) -> None:
    release = _pipeline(template)["Stages"][-1]["Actions"]
    order = sorted((action["RunOrder"], action["Name"]) for action in release)
    # The security scan first (tests/tenant_cdk/test_security_scan.py), then publish, then start.
    assert [name for _, name in order] == ["SecurityScan", "PublishSource", "StartRelease"]
    assert order[0][0] < order[1][0] < order[2][0]
    projects = template.find_resources("AWS::CodeBuild::Project")
    start_spec = next(
        json.loads(p["Properties"]["Source"]["BuildSpec"])
        for p in projects.values()
        if "stepfunctions start-execution" in p["Properties"]["Source"]["BuildSpec"]
    )
    command = start_spec["phases"]["build"]["commands"][0]
    assert command.startswith('aws stepfunctions start-execution --state-machine-arn "$STATE_MACHINE_ARN"')


def test_start_release_role_may_start_this_state_machine_only(template: Template) -> None:
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "states:StartExecution" in json.dumps(statement["Action"])
    ]
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine")))
    # One grant to the pipeline step (the distributed map's own policy starts child executions of itself).
    step = [s for s in statements if s["Resource"] == {"Ref": machine}]
    assert len(step) >= 1
    for statement in statements:
        assert machine in json.dumps(statement["Resource"]), statement


def test_source_bundle_bucket_is_encrypted_versioned_and_ssl_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like({"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})
                ]
            },
        },
    )


def test_nag_findings_are_empty(stack: ToolchainStack) -> None:
    assert nag_findings(stack) == []


def test_cfn_lint_is_clean(template: Template) -> None:
    assert cfn_lint_errors(template.to_json()) == []


def test_snapshot(template: Template, snapshot: SnapshotAssertion) -> None:
    assert scrub(template.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


def test_code_commit_source_instead_of_a_connection() -> None:
    app = new_app()
    stack = cdk.Stack(app, "Repo")
    cdk.CfnWaitConditionHandle(stack, "NonEmpty")  # an empty template fails CDK's own validation
    repo = codecommit.Repository.from_repository_name(stack, "Repo", "saas-toolchain")
    toolchain = ToolchainStack(app, "Toolchain", code_commit_repository=repo, branch="release")
    source = _pipeline(Template.from_stack(toolchain))["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeCommit"
    assert source["Configuration"]["RepositoryName"] == "saas-toolchain"
    assert source["Configuration"]["BranchName"] == "release"


def test_connection_and_code_commit_together_are_refused() -> None:
    app = new_app()
    repo_stack = cdk.Stack(app, "Repo")
    repo = codecommit.Repository.from_repository_name(repo_stack, "Repo", "saas-toolchain")
    with pytest.raises(ValueError, match=r"give exactly one of connection_arn .* or code_commit_repository"):
        ToolchainStack(app, "Toolchain", connection_arn=CONNECTION_ARN, code_commit_repository=repo)


def test_malformed_connection_arn_is_refused() -> None:
    with pytest.raises(ValueError, match=r"connection_arn must be a CodeConnections connection ARN .* got 'github'"):
        ToolchainStack(new_app(), "Toolchain", connection_arn="github", repository="acme/saas")


def test_repository_without_owner_is_refused() -> None:
    with pytest.raises(ValueError, match=r"repository must be 'owner/name', got 'saas'"):
        ToolchainStack(new_app(), "Toolchain", connection_arn=CONNECTION_ARN, repository="saas")

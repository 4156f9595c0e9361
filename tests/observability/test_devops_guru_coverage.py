"""DevOpsGuruAppBoundary and DevOpsGuruStackCoverage: one collection per account/region, validated keys."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from devops_blueprints.constructs import DevOpsGuruAppBoundary, DevOpsGuruStackCoverage
from devops_blueprints.constructs.observability.devops_guru_coverage import CoverageConflictError
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app

EU = cdk.Environment(account="111111111111", region="eu-west-1")
US = cdk.Environment(account="111111111111", region="us-east-1")


def test_boundary_creates_a_tag_collection_with_the_key() -> None:
    stack = cdk.Stack(new_app(), "Guru")
    DevOpsGuruAppBoundary(stack, "Boundary", tag_key="devops-guru-payments", tag_values=["checkout", "ledger"])
    Template.from_stack(stack).has_resource_properties(
        "AWS::DevOpsGuru::ResourceCollection",
        {
            "ResourceCollectionFilter": {
                "Tags": [{"AppBoundaryKey": "devops-guru-payments", "TagValues": ["checkout", "ledger"]}]
            }
        },
    )


def test_include_tags_every_resource_of_a_stage() -> None:
    app = new_app()
    guru = cdk.Stack(app, "Guru")
    boundary = DevOpsGuruAppBoundary(guru, "Boundary")
    stage = cdk.Stage(app, "Workload")
    workload = cdk.Stack(stage, "Queue")
    cdk.aws_sqs.Queue(workload, "Q", enforce_ssl=True)
    boundary.include(stage, "orders")
    Template.from_stack(workload).has_resource_properties(
        "AWS::SQS::Queue", {"Tags": [{"Key": "devops-guru-applications", "Value": "orders"}]}
    )


def test_prefix_is_case_insensitive() -> None:
    stack = cdk.Stack(new_app(), "Guru")
    boundary = DevOpsGuruAppBoundary(stack, "Boundary", tag_key="DevOps-Guru-Apps")
    assert boundary.tag_key == "DevOps-Guru-Apps"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tag_key": "app"}, r'tag_key must start with "devops-guru-", got "app"'),
        ({"tag_key": "devops-guru-" + "k" * 120}, r"tag_key must be at most 128 characters, got 132"),
        ({"tag_values": []}, r"tag_values must not be empty"),
        ({"tag_values": [f"app{i}" for i in range(1001)]}, r"tag_values allows at most 1000 values, got 1001"),
        ({"tag_values": ["x" * 257]}, r"tag_values entries must be at most 256 characters, got 257"),
        ({"tag_values": ["*", "orders"]}, r'tag_values "\*" covers every value and must be the only entry'),
        ({"tag_values": "orders"}, r"tag_values must be a list of strings"),
    ],
)
def test_bad_boundary_props_fail_with_one_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DevOpsGuruAppBoundary(cdk.Stack(new_app(), "Guru"), "Boundary", **kwargs)  # type: ignore[arg-type]


def test_exactly_1000_values_of_256_characters_are_accepted() -> None:
    values = [f"{i:04d}" + "v" * 252 for i in range(1000)]
    stack = cdk.Stack(new_app(), "Guru")
    DevOpsGuruAppBoundary(stack, "Boundary", tag_values=values)
    (collection,) = Template.from_stack(stack).find_resources("AWS::DevOpsGuru::ResourceCollection").values()
    assert collection["Properties"]["ResourceCollectionFilter"]["Tags"][0]["TagValues"] == values


def test_stack_coverage_adds_and_removes_only_its_own_stack_name() -> None:
    app = new_app()
    stack = cdk.Stack(app, "Orders", stack_name="orders-service")
    DevOpsGuruStackCoverage(stack, "Coverage")
    template = Template.from_stack(stack)
    (resource,) = template.find_resources("Custom::AWS").values()
    create = json.loads(_joined(resource["Properties"]["Create"]))
    delete = json.loads(_joined(resource["Properties"]["Delete"]))
    for call, action in ((create, "ADD"), (delete, "REMOVE")):
        assert call["service"] == "DevOpsGuru"
        assert call["action"] == "UpdateResourceCollection"
        assert call["parameters"] == {
            "Action": action,
            "ResourceCollection": {"CloudFormation": {"StackNames": ["orders-service"]}},
        }
    template.resource_count_is("AWS::DevOpsGuru::ResourceCollection", 0)
    assert nag_findings(stack) == []
    assert cfn_lint_errors(template.to_json()) == []


def _joined(value: object) -> str:
    if isinstance(value, str):
        return value
    assert isinstance(value, dict) and "Fn::Join" in value
    return "".join(part if isinstance(part, str) else "X" for part in value["Fn::Join"][1])


def test_several_stacks_compose_their_coverage() -> None:
    app = new_app()
    stacks = [cdk.Stack(app, name, env=EU, stack_name=f"service-{name}") for name in ("a", "b", "c")]
    for stack in stacks:
        DevOpsGuruStackCoverage(stack, "Coverage")
    for stack in stacks:
        (resource,) = Template.from_stack(stack).find_resources("Custom::AWS").values()
        create = json.loads(_joined(resource["Properties"]["Create"]))
        assert create["parameters"]["ResourceCollection"]["CloudFormation"]["StackNames"] == [stack.stack_name]


def test_stack_and_tag_coverage_in_one_account_region_is_a_synth_error() -> None:
    app = new_app()
    DevOpsGuruAppBoundary(cdk.Stack(app, "Guru", env=EU), "Boundary")
    with pytest.raises(CoverageConflictError, match=r"coverage conflict in 111111111111/eu-west-1: .*stacks coverage"):
        DevOpsGuruStackCoverage(cdk.Stack(app, "Orders", env=EU), "Coverage")


def test_tag_after_stack_coverage_is_a_synth_error_too() -> None:
    app = new_app()
    DevOpsGuruStackCoverage(cdk.Stack(app, "Orders"), "Coverage")
    with pytest.raises(CoverageConflictError, match="already uses stacks coverage"):
        DevOpsGuruAppBoundary(cdk.Stack(app, "Guru"), "Boundary")


def test_two_tag_collections_in_one_account_region_are_rejected() -> None:
    app = new_app()
    DevOpsGuruAppBoundary(cdk.Stack(app, "Guru", env=EU), "Boundary")
    with pytest.raises(CoverageConflictError, match="second tag collection"):
        DevOpsGuruAppBoundary(cdk.Stack(app, "Other", env=EU), "Boundary", tag_key="devops-guru-other")


def test_different_regions_may_use_different_kinds() -> None:
    app = new_app()
    guru = cdk.Stack(app, "Guru", env=EU)
    orders = cdk.Stack(app, "Orders", env=US)
    DevOpsGuruAppBoundary(guru, "Boundary")
    DevOpsGuruStackCoverage(orders, "Coverage")
    Template.from_stack(guru).resource_count_is("AWS::DevOpsGuru::ResourceCollection", 1)
    Template.from_stack(orders).resource_count_is("Custom::AWS", 1)


def test_separate_apps_do_not_share_the_registry() -> None:
    guru = cdk.Stack(new_app(), "Guru", env=EU)
    orders = cdk.Stack(new_app(), "Orders", env=EU)
    DevOpsGuruAppBoundary(guru, "Boundary")
    DevOpsGuruStackCoverage(orders, "Coverage")
    Template.from_stack(guru).resource_count_is("AWS::DevOpsGuru::ResourceCollection", 1)
    Template.from_stack(orders).resource_count_is("Custom::AWS", 1)

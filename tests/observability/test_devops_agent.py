"""DevOpsAgentSpace: the Agent Space, its two roles, the monitor association, applications, regions."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY
from devops_blueprints.constructs.observability.devops_agent import (
    DEVOPS_AGENT_REGIONS,
    DevOpsAgentRegionError,
    DevOpsAgentSpace,
)
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app

ACCOUNT = "111111111111"


def _stack(region: str | None = "us-east-1") -> cdk.Stack:
    env = cdk.Environment(account=ACCOUNT, region=region) if region else None
    return cdk.Stack(new_app(), "Agent", env=env)


@pytest.fixture(scope="module")
def space_stack() -> tuple[cdk.Stack, DevOpsAgentSpace]:
    stack = _stack()
    space = DevOpsAgentSpace(stack, "Agent", name="Orders and payments", description="Investigates the samples")
    space.associate_application("orders")
    space.associate_application("payments")
    return stack, space


@pytest.fixture(scope="module")
def template(space_stack: tuple[cdk.Stack, DevOpsAgentSpace]) -> Template:
    return Template.from_stack(space_stack[0])


def _trust(template: Template, role_id: str) -> dict[str, object]:
    role = template.find_resources("AWS::IAM::Role")[role_id]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return dict(statement)


def test_space_uses_the_operator_role_and_waits_for_both_roles(template: Template) -> None:
    (space_id,) = template.find_resources("AWS::DevOpsAgent::AgentSpace")
    space = template.find_resources("AWS::DevOpsAgent::AgentSpace")[space_id]
    assert space["Properties"]["Name"] == "Orders and payments"
    assert space["Properties"]["Description"] == "Investigates the samples"
    operator_arn = space["Properties"]["OperatorApp"]["Iam"]["OperatorAppRoleArn"]
    operator_id = operator_arn["Fn::GetAtt"][0]
    roles = set(template.find_resources("AWS::IAM::Role"))
    assert operator_id in roles
    assert roles <= set(space["DependsOn"])
    assert "KmsKeyArn" not in space["Properties"]


@pytest.mark.parametrize(
    ("managed_policy", "actions"),
    [
        ("AIDevOpsAgentAccessPolicy", "sts:AssumeRole"),
        ("AIDevOpsOperatorAppAccessPolicy", ["sts:AssumeRole", "sts:TagSession"]),
    ],
)
def test_roles_trust_only_this_accounts_agent_spaces(template: Template, managed_policy: str, actions: object) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    (role_id,) = [rid for rid, role in roles.items() if managed_policy in str(role["Properties"]["ManagedPolicyArns"])]
    trust = _trust(template, role_id)
    assert trust["Principal"] == {"Service": "aidevops.amazonaws.com"}
    assert trust["Action"] == actions
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:aidevops:us-east-1:{ACCOUNT}:agentspace/*"},
    }
    assert len(roles[role_id]["Properties"]["ManagedPolicyArns"]) == 1


def test_agent_role_may_only_create_the_resource_explorer_service_linked_role(template: Template) -> None:
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "iam:CreateServiceLinkedRole"
    assert statement["Resource"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/resource-explorer-2.amazonaws.com/"
        "AWSServiceRoleForResourceExplorer"
    )


def test_one_monitor_association_carries_one_tag_pair_per_application(template: Template) -> None:
    template.resource_count_is("AWS::DevOpsAgent::Association", 1)
    (space_id,) = template.find_resources("AWS::DevOpsAgent::AgentSpace")
    (agent_role_id,) = [
        rid
        for rid, role in template.find_resources("AWS::IAM::Role").items()
        if "AIDevOpsAgentAccessPolicy" in str(role["Properties"]["ManagedPolicyArns"])
    ]
    template.has_resource_properties(
        "AWS::DevOpsAgent::Association",
        {
            "AgentSpaceId": {"Fn::GetAtt": [space_id, "AgentSpaceId"]},
            "ServiceId": "aws",
            "Configuration": {
                "Aws": {
                    "AccountId": ACCOUNT,
                    "AccountType": "monitor",
                    "AssumableRoleArn": {"Fn::GetAtt": [agent_role_id, "Arn"]},
                    "Tags": [
                        {"Key": DEFAULT_TAG_KEY, "Value": "orders"},
                        {"Key": DEFAULT_TAG_KEY, "Value": "payments"},
                    ],
                }
            },
        },
    )


def test_applications_are_listed(space_stack: tuple[cdk.Stack, DevOpsAgentSpace]) -> None:
    assert space_stack[1].applications == ["orders", "payments"]


def test_without_applications_the_association_covers_the_whole_account() -> None:
    stack = _stack()
    DevOpsAgentSpace(stack, "Agent", name="everything")
    (association,) = Template.from_stack(stack).find_resources("AWS::DevOpsAgent::Association").values()
    assert "Tags" not in association["Properties"]["Configuration"]["Aws"]


def test_cdk_nag_and_cfn_lint_are_clean(space_stack: tuple[cdk.Stack, DevOpsAgentSpace], template: Template) -> None:
    assert nag_findings(space_stack[0]) == []
    assert cfn_lint_errors(dict(template.to_json())) == []


@pytest.mark.parametrize("region", sorted(DEVOPS_AGENT_REGIONS))
def test_every_supported_region_synthesizes(region: str) -> None:
    stack = _stack(region)
    DevOpsAgentSpace(stack, "Agent", name="x")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::DevOpsAgent::AgentSpace", 1)
    assert "AgentRegionRule" not in str(template.to_json().get("Rules", {}))
    assert cfn_lint_errors(dict(template.to_json()), regions=(region,)) == []


@pytest.mark.parametrize("region", ["eu-north-1", "us-east-2", "sa-east-1", "cn-north-1"])
def test_a_region_without_devops_agent_is_refused_with_one_error(region: str) -> None:
    with pytest.raises(DevOpsAgentRegionError, match=rf"^AWS DevOps Agent is not available in {region}: .*us-east-1"):
        DevOpsAgentSpace(_stack(region), "Agent", name="x")


def test_the_region_error_is_a_value_error() -> None:
    assert issubclass(DevOpsAgentRegionError, ValueError)


def test_an_unknown_region_gets_a_warning_and_a_rule_that_refuses_other_regions() -> None:
    stack = _stack(region=None)
    DevOpsAgentSpace(stack, "Agent", name="x")
    Annotations.from_stack(stack).has_warning(
        "/Agent/Agent", Match.string_like_regexp("region is not known at synth.*template rule")
    )
    rules = Template.from_stack(stack).to_json()["Rules"]
    (rule,) = [body for rule_id, body in rules.items() if rule_id.startswith("AgentRegionRule")]
    (assertion,) = rule["Assertions"]
    regions, region_ref = assertion["Assert"]["Fn::Contains"]
    assert set(regions) == DEVOPS_AGENT_REGIONS
    assert region_ref == {"Ref": "AWS::Region"}
    assert "not available in this region" in assertion["AssertDescription"]
    assert cfn_lint_errors(dict(Template.from_stack(stack).to_json())) == []


def test_existing_roles_and_key_are_used_as_given() -> None:
    stack = _stack()
    agent = iam.Role.from_role_arn(stack, "AgentRole", f"arn:aws:iam::{ACCOUNT}:role/agent")
    operator = iam.Role.from_role_arn(stack, "OperatorRole", f"arn:aws:iam::{ACCOUNT}:role/operator")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    space = DevOpsAgentSpace(
        stack, "Agent", name="x", agent_role=agent, operator_role=operator, encryption_key=key, locale="ja-JP"
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Role", 0)
    template.has_resource_properties(
        "AWS::DevOpsAgent::AgentSpace",
        {
            "KmsKeyArn": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
            "Locale": "ja-JP",
            "OperatorApp": {"Iam": {"OperatorAppRoleArn": f"arn:aws:iam::{ACCOUNT}:role/operator"}},
        },
    )
    template.has_resource_properties(
        "AWS::DevOpsAgent::Association",
        {"Configuration": {"Aws": Match.object_like({"AssumableRoleArn": f"arn:aws:iam::{ACCOUNT}:role/agent"})}},
    )
    assert space.encryption_key is key


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, r"^name must be a non-empty string, got ''$"),
        ({"name": "   "}, r"^name must be a non-empty string"),
        ({"name": "x" * 256}, r"^name must be at most 255 characters, got 256$"),
        ({"name": "line\nbreak"}, r"^name must not contain control or format characters"),
        ({"name": "x", "description": ""}, r"^description must be a non-empty string"),
        ({"name": "x", "description": "d" * 1001}, r"^description must be at most 1000 characters, got 1001$"),
        ({"name": "x", "locale": "english"}, r"^locale must be a language tag .*got 'english'$"),
        ({"name": "x", "tag_key": "app"}, r'^tag_key must start with "devops-guru-", got "app"$'),
    ],
)
def test_bad_props_fail_with_one_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DevOpsAgentSpace(_stack(), "Agent", **kwargs)  # type: ignore[arg-type]


def test_the_longest_name_and_description_are_accepted() -> None:
    stack = _stack()
    DevOpsAgentSpace(stack, "Agent", name="n" * 255, description="d" * 1000)
    assert cfn_lint_errors(dict(Template.from_stack(stack).to_json())) == []


@pytest.mark.parametrize(
    ("app_name", "message"),
    [
        ("", r"^app_name must be a non-empty string, got ''$"),
        ("*", r'^app_name must name one application, got "\*"$'),
        ("a" * 257, r"^app_name 'a+' is not a valid tag value: .*at most 256"),
        ("orders;drop", r"^app_name 'orders;drop' is not a valid tag value"),
        ("multi\nline", r"^app_name 'multi\\nline' has characters an association tag value cannot hold$"),
    ],
)
def test_bad_application_names_fail_with_one_clear_error(app_name: str, message: str) -> None:
    space = DevOpsAgentSpace(_stack(), "Agent", name="x")
    with pytest.raises(ValueError, match=message):
        space.associate_application(app_name)
    assert space.applications == []


def test_an_application_is_associated_once() -> None:
    space = DevOpsAgentSpace(_stack(), "Agent", name="x")
    space.associate_application("orders")
    with pytest.raises(ValueError, match=r"^application 'orders' is already associated with Agent/Agent$"):
        space.associate_application("orders")
    assert space.applications == ["orders"]

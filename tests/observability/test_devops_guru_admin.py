"""DevOpsGuruDelegatedAdmin: registers the member account for the organization, scoped IAM."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from devops_blueprints.constructs import DevOpsGuruDelegatedAdmin
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app


def test_registers_and_deregisters_the_admin_account() -> None:
    stack = cdk.Stack(new_app(), "Management", env=cdk.Environment(account="999999999999", region="us-east-1"))
    DevOpsGuruDelegatedAdmin(stack, "Admin", admin_account_id="222222222222")
    template = Template.from_stack(stack)
    resources = template.find_resources("Custom::AWS")
    calls = {}
    for resource in resources.values():
        props = resource["Properties"]
        create = json.loads(props["Create"]) if isinstance(props["Create"], str) else None
        if create is None:
            create = json.loads("".join(p if isinstance(p, str) else "X" for p in props["Create"]["Fn::Join"][1]))
        calls[create["action"]] = (create, props)
    assert calls["EnableAWSServiceAccess"][0]["parameters"] == {"ServicePrincipal": "devops-guru.amazonaws.com"}
    register, props = calls["RegisterDelegatedAdministrator"]
    assert register["parameters"] == {"AccountId": "222222222222", "ServicePrincipal": "devops-guru.amazonaws.com"}
    assert register["region"] == "us-east-1"
    delete_text = props["Delete"] if isinstance(props["Delete"], str) else json.dumps(props["Delete"])
    assert "DeregisterDelegatedAdministrator" in delete_text
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "account/o-*/222222222222" in policies
    assert nag_findings(stack) == []
    assert cfn_lint_errors(template.to_json()) == []


@pytest.mark.parametrize("account", ["12345", "22222222222a", ""])
def test_bad_account_id(account: str) -> None:
    with pytest.raises(ValueError, match=f"admin_account_id must be a 12-digit AWS account id, got '{account}'"):
        DevOpsGuruDelegatedAdmin(cdk.Stack(new_app(), "M"), "Admin", admin_account_id=account)


def test_management_account_cannot_delegate_to_itself() -> None:
    stack = cdk.Stack(new_app(), "M", env=cdk.Environment(account="999999999999", region="us-east-1"))
    with pytest.raises(ValueError, match="cannot be its own delegated administrator"):
        DevOpsGuruDelegatedAdmin(stack, "Admin", admin_account_id="999999999999")

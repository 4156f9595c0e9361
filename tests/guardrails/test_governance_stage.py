"""GovernanceStage with defaults: cfn-lint clean, cdk-nag clean, and a snapshot of its template."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from devops_blueprints.stages import GovernanceStage
from tests.support.cdk import cfn_lint_errors, nag_findings, new_app, scrub


@pytest.fixture(scope="module")
def stage() -> GovernanceStage:
    return GovernanceStage(new_app(), "Governance")


@pytest.fixture(scope="module")
def template(stage: GovernanceStage) -> dict[str, Any]:
    return dict(Template.from_stack(stage.guardrails).to_json())


def test_stack_name_and_resources(stage: GovernanceStage, template: dict[str, Any]) -> None:
    assert stage.guardrails.stack_name == "Governance-Guardrails"
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::Organizations::OrganizationalUnit") == 7
    assert types.count("AWS::Organizations::Policy") == 12


def test_cfn_lint_clean(template: dict[str, Any]) -> None:
    assert cfn_lint_errors(template) == []


def test_cdk_nag_clean(stage: GovernanceStage) -> None:
    assert nag_findings(stage) == []


def test_template_snapshot(template: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    assert scrub(template) == snapshot.use_extension(JSONSnapshotExtension)


def test_root_id_from_context() -> None:
    stage = GovernanceStage(new_app(organization_root_id="r-q1w2"), "Governance")
    assert stage.guardrails.guardrails.root_id == "r-q1w2"
    explicit = GovernanceStage(new_app(organization_root_id="r-q1w2"), "Governance", root_id="r-zz99")
    assert explicit.guardrails.guardrails.root_id == "r-zz99"


def test_bad_root_id_context_names_key_and_value() -> None:
    with pytest.raises(
        ValueError, match=r"^context organization_root_id must be an organization root id .*got 'root'$"
    ):
        GovernanceStage(new_app(organization_root_id="root"), "Governance")

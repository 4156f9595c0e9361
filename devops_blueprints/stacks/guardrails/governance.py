"""GovernanceStack: the organization's OU tree and catalog SCPs (management account, us-east-1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.guardrails.guardrails import PLACEHOLDER_ROOT_ID, OrganizationGuardrails
from devops_blueprints.guardrails import catalog
from devops_blueprints.guardrails.linter import Limits


class GovernanceStack(cdk.Stack):
    """Deploy in the organization's management account: SCPs never restrict that account, and only it
    (or a delegated administrator for Organizations policies) can create OUs and attach SCPs.

    :param root_id: organization root id. Default: the placeholder ``r-xxxx`` (warning).
    :param organizational_units: Default: the seven OUs of the catalog.
    :param policies: catalog policy names. Default: all twelve.
    :param parameters: per-policy parameter overrides. Default: catalog defaults.
    :param attachments: per-policy targets replacing the catalog's recommendation. Default: none.
    :param limits: SCP quotas. Default: ``Limits()``.
    Other keyword arguments go to ``cdk.Stack``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        root_id: str = PLACEHOLDER_ROOT_ID,
        organizational_units: Sequence[str] = catalog.OU_NAMES,
        policies: Sequence[str] | None = None,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        attachments: Mapping[str, Sequence[str]] | None = None,
        limits: Limits | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "Organization guardrails: OUs and service control policies (devops-blueprints)"
        )
        super().__init__(scope, construct_id, **kwargs)
        self.guardrails = OrganizationGuardrails(
            self,
            "Guardrails",
            root_id=root_id,
            organizational_units=organizational_units,
            policies=policies,
            parameters=parameters,
            attachments=attachments,
            limits=limits,
        )
        for name, unit in self.guardrails.organizational_units.items():
            cdk.CfnOutput(self, f"{unit.node.id}OuId", value=unit.attr_id, description=f"Id of the {name} OU")

"""GovernanceStage: the guardrails stack, for the organization's management account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.guardrails import PLACEHOLDER_ROOT_ID
from devops_blueprints.guardrails import catalog
from devops_blueprints.guardrails.linter import Limits
from devops_blueprints.stacks.governance import GovernanceStack


class GovernanceStage(cdk.Stage):
    """Stack ``Guardrails`` (:class:`GovernanceStack`): OUs and catalog SCPs.

    ``GovernanceStage(app, "Governance")`` works with defaults (placeholder root id, every catalog
    policy where the article recommends); pass ``root_id`` and ``env`` (the management account,
    region us-east-1) to deploy. Parameters are those of :class:`GovernanceStack`; other keyword
    arguments go to ``cdk.Stage``.
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
        super().__init__(scope, construct_id, **kwargs)
        self.guardrails = GovernanceStack(
            self,
            "Guardrails",
            root_id=root_id,
            organizational_units=organizational_units,
            policies=policies,
            parameters=parameters,
            attachments=attachments,
            limits=limits,
        )

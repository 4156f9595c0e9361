"""GovernanceStage: the guardrails stack, for the organization's management account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.guardrails.guardrails import PLACEHOLDER_ROOT_ID, ROOT_ID_PATTERN
from devops_blueprints.context import ContextError
from devops_blueprints.guardrails import catalog
from devops_blueprints.guardrails.linter import Limits
from devops_blueprints.stacks.guardrails.governance import GovernanceStack

#: Context key read for the organization root id when ``root_id`` is not passed.
CONTEXT_KEY = "organization_root_id"


def root_id_from_context(scope: Construct) -> str | None:
    """The ``organization_root_id`` context value (None when absent); ContextError when it is not a root id."""
    context = scope.node.try_get_context(CONTEXT_KEY)
    if context is not None and (not isinstance(context, str) or not ROOT_ID_PATTERN.match(context)):
        raise ContextError(
            f"context {CONTEXT_KEY} must be an organization root id like r-ab12 "
            f"(r- then 4-32 lower-case letters or digits), got {context!r}"
        )
    return context


class GovernanceStage(cdk.Stage):
    """Stack ``Guardrails`` (:class:`GovernanceStack`): OUs and catalog SCPs.

    ``GovernanceStage(app, "Governance")`` works with defaults (every catalog policy where the
    article recommends). ``root_id`` defaults to the ``organization_root_id`` context value, else the
    placeholder ``r-xxxx``; deploy with the real root id in the management account (region
    us-east-1). Other parameters are those of :class:`GovernanceStack`; remaining keyword arguments
    go to ``cdk.Stage``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        root_id: str | None = None,
        organizational_units: Sequence[str] = catalog.OU_NAMES,
        policies: Sequence[str] | None = None,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        attachments: Mapping[str, Sequence[str]] | None = None,
        limits: Limits | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if root_id is None:
            root_id = root_id_from_context(self) or PLACEHOLDER_ROOT_ID
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

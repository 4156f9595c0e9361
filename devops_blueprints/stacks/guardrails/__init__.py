"""Guardrail stacks: :class:`GovernanceStack` (management account)."""

from __future__ import annotations

from devops_blueprints.stacks.guardrails.governance import GovernanceStack as GovernanceStack

"""Guardrail constructs: service control policies linted at synth and the organizational unit tree."""

from __future__ import annotations

from devops_blueprints.constructs.guardrails.guardrails import OrganizationGuardrails as OrganizationGuardrails
from devops_blueprints.constructs.guardrails.guardrails import ServiceControlPolicy as ServiceControlPolicy

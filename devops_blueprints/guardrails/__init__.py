"""Service control policies: model, catalog, linter and offline simulator (plain Python, no CDK).

>>> from devops_blueprints.guardrails import catalog, Simulator, Request, full_aws_access
>>> regions = catalog.get("approved-regions").policy()
>>> request = Request("ec2:RunInstances", region="ap-south-1")
>>> Simulator([[full_aws_access(), regions]]).evaluate(request).decision
'DENIED'
"""

from __future__ import annotations

from devops_blueprints.guardrails import catalog
from devops_blueprints.guardrails.cloudtrail import FileProblem
from devops_blueprints.guardrails.linter import (
    Finding,
    Limits,
    check_attachments,
    lint_document,
    lint_file,
    lint_text,
)
from devops_blueprints.guardrails.model import (
    Policy,
    PolicyError,
    PolicyParseError,
    full_aws_access,
    load_policy,
    minify,
    parse_policy,
    policy_from_document,
    policy_size,
)
from devops_blueprints.guardrails.replay import EventDecision, Replay
from devops_blueprints.guardrails.replay_report import Summary, summarize
from devops_blueprints.guardrails.simulator import (
    ALLOWED,
    DENIED,
    Decision,
    Level,
    Relevance,
    Request,
    Simulator,
    reference_evaluate,
    simulate,
)

__all__ = [
    "ALLOWED",
    "DENIED",
    "Decision",
    "EventDecision",
    "FileProblem",
    "Finding",
    "Level",
    "Limits",
    "Policy",
    "PolicyError",
    "PolicyParseError",
    "Relevance",
    "Replay",
    "Request",
    "Simulator",
    "Summary",
    "catalog",
    "check_attachments",
    "full_aws_access",
    "lint_document",
    "lint_file",
    "lint_text",
    "load_policy",
    "minify",
    "parse_policy",
    "policy_from_document",
    "policy_size",
    "reference_evaluate",
    "simulate",
    "summarize",
]

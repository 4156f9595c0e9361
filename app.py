#!/usr/bin/env python3
"""Sample app: reads context and composes the stages (see ARCHITECTURE.md, "Synth modes").

* no deployment context: every sample stage;
* ``-c deployment_id=ID -c deployment_type=silo|pool -c component_account=ACCT -c component_region=R``:
  only that deployment's pipeline stack (what the provisioning build runs; kept fast by importing
  only what it needs).

Context of the observability samples: ``observability_engines`` (comma-separated: devops-guru, cloudwatch;
default both), ``inject_latency_ms``, ``provisioned_concurrency``, ``leak_mb_per_minute``,
``notification_emails`` (comma-separated).
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from devops_blueprints.context import ContextError, int_context, str_list_context


def compose_sample_stages(app: cdk.App) -> None:
    """Every sample stage with its defaults (imports here keep the deployment mode lean)."""
    from devops_blueprints.stages import EmbeddingStage, GovernanceStage, ObservabilityStage, ToolchainStage
    from devops_blueprints.stages.observability import DEFAULT_ENGINES, validate_engines

    engine_names = str_list_context(app, "observability_engines") or DEFAULT_ENGINES
    try:
        engines = validate_engines(engine_names)
    except ValueError as exc:
        raise ContextError(f"context observability_engines: {exc}") from None
    ObservabilityStage(
        app,
        "Observability",
        engines=engines,
        injected_latency_ms=int_context(app, "inject_latency_ms", default=0, minimum=0, maximum=25_000),
        provisioned_concurrency=int_context(app, "provisioned_concurrency", default=0, minimum=0, maximum=100),
        leak_mb_per_minute=int_context(app, "leak_mb_per_minute", default=5, minimum=0, maximum=100),
        notification_emails=str_list_context(app, "notification_emails"),
    )
    ToolchainStage(app, "Toolchain")
    EmbeddingStage(app, "Embedding")
    GovernanceStage(app, "Governance")


def main() -> None:
    app = cdk.App()
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    # Deployment synth mode (the four deployment_* / component_* keys): only that deployment's pipeline stack.
    from devops_blueprints.stacks.tenants.deployment_pipeline import add_deployment_pipeline

    try:
        if add_deployment_pipeline(app) is None:
            compose_sample_stages(app)
    except ContextError as exc:
        sys.exit(f"error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Sample app: reads context and composes the stages (see ARCHITECTURE.md, "Synth modes").

* no deployment context: every sample stage;
* ``-c deployment_id=ID -c deployment_type=silo|pool -c component_account=ACCT -c component_region=R``:
  only that deployment's pipeline stack (what the provisioning build runs; kept fast by importing
  only what it needs).

Every context key the app reads is in docs/development.md ("Context keys"); tests/test_app.py checks
that the table and the keys read here agree.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from devops_blueprints.context import (
    ContextError,
    email_list_context,
    environment_context,
    int_context,
    str_list_context,
)


def compose_sample_stages(app: cdk.App) -> None:
    """Every sample stage with its defaults (imports here keep the deployment mode lean), environment-agnostic.

    ``account``/``region`` context name the toolchain environment of the deployment synth mode; :func:`main`
    checks them in this mode too, so a bad value fails instead of being ignored.
    """
    from devops_blueprints.stages import EmbeddingStage, GovernanceStage, ObservabilityStage, ToolchainStage
    from devops_blueprints.stages.governance import root_id_from_context
    from devops_blueprints.stages.observability import DEFAULT_ENGINES, validate_engines

    root_id_from_context(app)  # checked before any stage exists: a bad value leaves no partial cloud assembly
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
        notification_emails=email_list_context(app, "notification_emails"),
    )
    ToolchainStage(app, "Toolchain")
    EmbeddingStage(app, "Embedding")
    GovernanceStage(app, "Governance")


def main() -> None:
    app = cdk.App()
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    # Deployment synth mode (the four deployment_* / component_* keys): only that deployment's pipeline stack.
    from devops_blueprints.stacks.tenants.deployment_pipeline import add_deployment_pipeline, check_source_context

    try:
        # Values of both modes are checked before anything is constructed (stages create their folders in the
        # cloud assembly when they are built): an error leaves nothing behind.
        environment_context(app)
        check_source_context(app)
        if add_deployment_pipeline(app) is None:
            compose_sample_stages(app)
    except ContextError as exc:
        sys.exit(f"error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()

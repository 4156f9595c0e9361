#!/usr/bin/env python3
"""Sample app: reads context and composes the stages (see ARCHITECTURE.md, "Synth modes").

* no deployment context: every sample stage;
* ``-c deployment_id=ID -c deployment_type=silo|pool -c component_account=ACCT -c component_region=R``:
  only that deployment's pipeline stack (what the provisioning build runs; kept fast by importing
  only what it needs).
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks


def compose_sample_stages(app: cdk.App) -> None:
    """Every sample stage with its defaults (imports here keep the deployment mode lean)."""
    from devops_blueprints.stages import ObservabilityStage

    ObservabilityStage(app, "Observability")


def main() -> None:
    app = cdk.App()
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    compose_sample_stages(app)
    app.synth()


if __name__ == "__main__":
    main()

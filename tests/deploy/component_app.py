"""A CDK app with one pooled tenant component (``pool-demo-component``), as a deployment pipeline deploys it.

The deploy tests deploy it next to the sample stages to call the component's HTTP API in the emulator
(``cdk deploy --app "python -m tests.deploy.component_app"``).
"""

from __future__ import annotations

import aws_cdk as cdk

from devops_blueprints.stacks.tenants.deployment_pipeline import ComponentStage, DeploymentContext
from tests.support.local_deploy import emulator

POOL_ID = "demo"
STACK_NAME = f"pool-{POOL_ID}-component"


def main() -> None:
    app = cdk.App()
    deployment = DeploymentContext(POOL_ID, "pool", emulator.ACCOUNT, emulator.REGION)
    ComponentStage(app, "Component", deployment=deployment, env=deployment.component_env)
    app.synth()


if __name__ == "__main__":
    main()

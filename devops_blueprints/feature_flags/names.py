"""The AppConfig names of one deployment's flags, shared by the construct, the component and the CLI.

One application per deployment (named after the deployment's stack prefix), one feature-flag profile and one
environment per deployment: see docs/tenant-deployments.md, "Feature flags", for why.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The feature-flag configuration profile's name in every application.
PROFILE_NAME = "feature-flags"


@dataclass(frozen=True)
class FlagNames:
    """``application``, ``environment``, ``profile`` and ``strategy`` names of deployment ``deployment_id``."""

    deployment_id: str

    @property
    def application(self) -> str:
        return f"tenant-{self.deployment_id}-flags"

    @property
    def environment(self) -> str:
        return self.deployment_id

    @property
    def profile(self) -> str:
        return PROFILE_NAME

    @property
    def strategy(self) -> str:
        return strategy_name(self.application)


def strategy_name(application: str) -> str:
    """The deployment strategy ``TenantFeatureFlags`` names after its application."""
    return f"{application}-rollout"

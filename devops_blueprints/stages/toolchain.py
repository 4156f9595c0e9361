"""ToolchainStage: the tenant-deployment toolchain (ARCHITECTURE.md section 2) as one deployable stage."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.stacks.tenants.toolchain import ToolchainStack

__all__ = ["ToolchainStage"]


class ToolchainStage(cdk.Stage):
    """The toolchain account's stage: one ``ToolchainStack`` (id ``Deployments``, stack name
    ``<stage>-Deployments``). ``ToolchainStage(app, "Toolchain")`` works with defaults (source from
    context, see ``ToolchainStack``).

    :param env: the toolchain account/region. Default: environment-agnostic (or the app's ``account``/
        ``region`` context when the caller passes it).
    :param toolchain: keyword arguments of :class:`ToolchainStack` (source, table, concurrency,
        failure_budget, poll_interval, bootstrap_qualifier). Default: its defaults.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str = "Toolchain",
        *,
        env: cdk.Environment | None = None,
        **toolchain: Any,
    ) -> None:
        super().__init__(scope, construct_id, env=env)
        self.toolchain = ToolchainStack(
            self,
            "Deployments",
            description="Tenant deployments toolchain: deployment table, provisioner, release orchestrator",
            **toolchain,
        )

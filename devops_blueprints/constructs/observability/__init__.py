"""Observability constructs: DevOps Guru coverage (tag boundaries, per-stack coverage), notifications,
delegated administration, and Lambda functions with Lambda Insights and X-Ray."""

from __future__ import annotations

from devops_blueprints.constructs.observability.devops_guru_admin import (
    DevOpsGuruDelegatedAdmin as DevOpsGuruDelegatedAdmin,
)
from devops_blueprints.constructs.observability.devops_guru_coverage import (
    DevOpsGuruAppBoundary as DevOpsGuruAppBoundary,
)
from devops_blueprints.constructs.observability.devops_guru_coverage import (
    DevOpsGuruStackCoverage as DevOpsGuruStackCoverage,
)
from devops_blueprints.constructs.observability.devops_guru_notifications import (
    DevOpsGuruNotifications as DevOpsGuruNotifications,
)
from devops_blueprints.constructs.observability.observed_function import ObservedFunction as ObservedFunction

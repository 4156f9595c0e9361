"""One application boundary, pluggable engines.

Applications are declared once, ``boundary.include(scope, app_name)`` on a stack, a stage or any construct,
and every engine of the boundary covers them:

* ``devops-guru``: :class:`DevOpsGuruAppBoundary` (tag-based resource collection). Amazon DevOps Guru ends
  on :data:`DEVOPS_GURU_END_OF_SUPPORT` ("Amazon DevOps Guru end of support", linked from every page of the
  DevOps Guru API reference, https://docs.aws.amazon.com/devops-guru/latest/APIReference/Welcome.html);
* ``cloudwatch``: :class:`CloudWatchEngine` (alarms, composite alarm, log anomaly detection, dashboard);
* any object with ``cover(scope, app_name)`` (the AWS DevOps Agent space, for one).

The boundary tags every resource of the application with its key (what DevOps Guru analyses) and hands the
scope to each engine. A scope belongs to one boundary and one application: including it twice is a synth
error, not a silent overwrite of the tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import aws_cdk as cdk
from constructs import Construct, IConstruct

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY, tag_application, validate_tag_key

#: The date Amazon DevOps Guru support ends.
DEVOPS_GURU_END_OF_SUPPORT = "2027-09-30"
#: Engine names (the sample app's ``observability_engines`` context values).
ENGINE_NAMES: tuple[str, ...] = ("devops-guru", "cloudwatch", "devops-agent")

_REGISTRY_ID = "ApplicationBoundaryRegistry"


@runtime_checkable
class BoundaryEngine(Protocol):
    """What an engine offers a boundary."""

    def cover(self, scope: IConstruct, app_name: str) -> None: ...


class BoundaryConflictError(ValueError):
    """A scope claimed by two boundaries, or by two applications."""


class _Registry(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.claims: dict[str, tuple[str, str]] = {}

    @staticmethod
    def of(scope: IConstruct) -> _Registry:
        root = scope.node.root
        existing = root.node.try_find_child(_REGISTRY_ID)
        if isinstance(existing, _Registry):
            return existing
        return _Registry(root, _REGISTRY_ID)  # type: ignore[arg-type]

    def claim(self, boundary: Construct, scope: IConstruct, app_name: str) -> None:
        path = scope.node.path
        for claimed, (owner, owner_app) in self.claims.items():
            nested = path == claimed or path.startswith(claimed + "/") or claimed.startswith(path + "/")
            if not nested:
                continue
            if owner != boundary.node.path:
                raise BoundaryConflictError(
                    f"{path or '<app>'} is inside boundary {owner} (application {owner_app!r}, scope "
                    f"{claimed or '<app>'}); boundary {boundary.node.path} cannot claim it too"
                )
            if owner_app != app_name:
                raise BoundaryConflictError(
                    f"{path or '<app>'} cannot be application {app_name!r}: {claimed or '<app>'} is already "
                    f"application {owner_app!r} of boundary {owner}"
                )
        self.claims[path] = (boundary.node.path, app_name)


def warn_devops_guru_end_of_support(construct: IConstruct) -> None:
    """The synth-time warning every DevOps Guru construct carries."""
    cdk.Annotations.of(construct).add_warning_v2(
        "devops-blueprints:devopsGuruEndOfSupport",
        f"Amazon DevOps Guru support ends on {DEVOPS_GURU_END_OF_SUPPORT}; its console and resources go "
        "with it. Cover the same applications with the CloudWatch engine (engines=['cloudwatch'] on "
        "ApplicationBoundary / ObservabilityStage); see docs/observability.md, 'Migrating from DevOps Guru'.",
    )


class ApplicationBoundary(Construct):
    """Declares applications once and lets every engine cover them.

    :param engines: the engines (objects with ``cover(scope, app_name)``), at least one.
    :param tag_key: the boundary key every resource of an application is tagged with. Default:
        ``devops-guru-applications`` (what DevOps Guru engines read; it must match theirs).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        engines: Sequence[BoundaryEngine],
        tag_key: str = DEFAULT_TAG_KEY,
    ) -> None:
        super().__init__(scope, construct_id)
        validate_tag_key(tag_key)
        engines = list(engines)
        if not engines:
            raise ValueError("an ApplicationBoundary needs at least one engine")
        for engine in engines:
            if not isinstance(engine, BoundaryEngine):
                raise TypeError(f"engine {engine!r} has no cover(scope, app_name) method")
            engine_key = getattr(engine, "tag_key", tag_key)
            if engine_key != tag_key:
                raise ValueError(
                    f"engine {getattr(engine, 'node', engine)} reads tag key {engine_key!r} but the boundary "
                    f"tags with {tag_key!r}; give both the same key"
                )
        self.engines: tuple[BoundaryEngine, ...] = tuple(engines)
        self.tag_key = tag_key
        self.applications: dict[str, list[IConstruct]] = {}

    def include(self, scope: IConstruct, app_name: str) -> None:
        """Put ``scope`` (a stack, a stage or any construct) inside the boundary as application ``app_name``."""
        tag_application(scope, app_name, tag_key=self.tag_key)  # validates app_name as a tag value
        _Registry.of(self).claim(self, scope, app_name)
        self.applications.setdefault(app_name, []).append(scope)
        for engine in self.engines:
            engine.cover(scope, app_name)

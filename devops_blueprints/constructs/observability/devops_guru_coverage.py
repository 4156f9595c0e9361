"""What DevOps Guru analyses: tag-based application boundaries or per-stack coverage.

An account/region has ONE resource collection: either a list of CloudFormation stack names or ONE tag
key. This module keeps an app-wide registry of the coverage each construct declares, so mixing the two
kinds (or declaring two tag collections) in one account/region fails at synth with one clear error
instead of failing at deploy time, when the second collection overwrites the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import aws_cdk as cdk
from aws_cdk import aws_devopsguru as devopsguru
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from devops_blueprints.constructs.app_boundary import (
    DEFAULT_TAG_KEY,
    tag_application,
    validate_tag_key,
    validate_tag_values,
)
from devops_blueprints.constructs.observability.boundary import warn_devops_guru_end_of_support

_REGISTRY_ID = "DevOpsGuruCoverageRegistry"

CoverageKind = Literal["tags", "stacks"]


class CoverageConflictError(ValueError):
    """Two kinds of DevOps Guru coverage (or two tag collections) in the same account/region."""


def _env_label(stack: cdk.Stack) -> str:
    account = "<any account>" if cdk.Token.is_unresolved(stack.account) else stack.account
    region = "<any region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    return f"{account}/{region}"


class _CoverageRegistry(Construct):
    """Hidden child of the app root: which coverage each account/region already declares."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.claims: dict[str, tuple[CoverageKind, str, str]] = {}

    @staticmethod
    def of(scope: IConstruct) -> _CoverageRegistry:
        root = scope.node.root
        existing = root.node.try_find_child(_REGISTRY_ID)
        if isinstance(existing, _CoverageRegistry):
            return existing
        return _CoverageRegistry(root, _REGISTRY_ID)  # type: ignore[arg-type]

    def claim(self, scope: Construct, kind: CoverageKind, detail: str) -> None:
        env = _env_label(cdk.Stack.of(scope))
        previous = self.claims.get(env)
        if previous is not None:
            prev_kind, prev_detail, prev_path = previous
            if prev_kind != kind:
                raise CoverageConflictError(
                    f"DevOps Guru coverage conflict in {env}: {scope.node.path} adds {kind} coverage ({detail}) "
                    f"but {prev_path} already uses {prev_kind} coverage ({prev_detail}); an account/region "
                    "has one resource collection, either stack names or one tag key"
                )
            if kind == "tags":
                raise CoverageConflictError(
                    f"DevOps Guru coverage conflict in {env}: {scope.node.path} declares a second tag "
                    f"collection ({detail}) beside {prev_path} ({prev_detail}); an account/region has one tag "
                    "key: tag more stacks with DevOpsGuruAppBoundary.include() instead"
                )
            return
        self.claims[env] = (kind, detail, scope.node.path)


class DevOpsGuruAppBoundary(Construct):
    """Account-level tag coverage: DevOps Guru analyses every resource tagged with ``tag_key``.

    Creates the account/region's ``AWS::DevOpsGuru::ResourceCollection`` of type tags. Put stacks or
    whole stages inside the boundary with :meth:`include` (or :meth:`tag` where the boundary is defined
    in another app); each application is one value of the key.

    :param tag_key: the boundary key; must start with ``devops-guru-`` (case-insensitive prefix).
        Default: ``devops-guru-applications``.
    :param tag_values: the applications (values of the key) DevOps Guru analyses, 1..1000 values of at
        most 256 characters, or ``["*"]`` for every value. Default: ``["*"]``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tag_key: str = DEFAULT_TAG_KEY,
        tag_values: Sequence[str] = ("*",),
    ) -> None:
        super().__init__(scope, construct_id)
        validate_tag_key(tag_key)
        values = validate_tag_values(tag_values)
        _CoverageRegistry.of(self).claim(self, "tags", f"tag key {tag_key}")
        warn_devops_guru_end_of_support(self)
        self.tag_key = tag_key
        self.tag_values: tuple[str, ...] = tuple(values)
        self.resource_collection = devopsguru.CfnResourceCollection(
            self,
            "Resource",
            resource_collection_filter=devopsguru.CfnResourceCollection.ResourceCollectionFilterProperty(
                tags=[
                    devopsguru.CfnResourceCollection.TagCollectionProperty(app_boundary_key=tag_key, tag_values=values)
                ]
            ),
        )

    def include(self, scope: IConstruct, app_name: str) -> None:
        """Put ``scope`` (a stack, a stage or any construct) inside the boundary as application ``app_name``."""
        self.cover(scope, app_name)
        self.tag(scope, app_name, tag_key=self.tag_key)

    def cover(self, scope: IConstruct, app_name: str) -> None:
        """The engine side of :meth:`include` (an ``ApplicationBoundary`` tags; this checks coverage)."""
        if "*" not in self.tag_values and not cdk.Token.is_unresolved(app_name) and app_name not in self.tag_values:
            cdk.Annotations.of(self).add_warning_v2(
                "devops-blueprints:appNotCovered",
                f"application {app_name!r} is tagged but not in tag_values {list(self.tag_values)}; "
                "DevOps Guru will not analyse it",
            )

    @staticmethod
    def tag(scope: IConstruct, app_name: str, *, tag_key: str = DEFAULT_TAG_KEY) -> None:
        """Tag every taggable resource under ``scope`` with ``tag_key=app_name`` (no collection created)."""
        tag_application(scope, app_name, tag_key=tag_key)


class DevOpsGuruStackCoverage(Construct):
    """Per-stack coverage that composes: adds this stack's name to the account's collection on create and
    removes it on delete (``devops-guru:UpdateResourceCollection``), so any number of stacks can opt in.

    A per-stack ``AWS::DevOpsGuru::ResourceCollection`` would instead replace the collection of every
    other stack. Using this and :class:`DevOpsGuruAppBoundary` in one account/region is a synth error.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        _CoverageRegistry.of(self).claim(self, "stacks", f"stack {stack.stack_name}")
        warn_devops_guru_end_of_support(self)
        self.stack_name = stack.stack_name

        def call(action: str) -> cr.AwsSdkCall:
            return cr.AwsSdkCall(
                service="DevOpsGuru",
                action="UpdateResourceCollection",
                parameters={
                    "Action": action,
                    "ResourceCollection": {"CloudFormation": {"StackNames": [stack.stack_name]}},
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"devops-guru-coverage-{stack.stack_name}"),
            )

        self.resource = cr.AwsCustomResource(
            self,
            "Resource",
            on_create=call("ADD"),
            on_update=call("ADD"),
            on_delete=call("REMOVE"),
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["devops-guru:UpdateResourceCollection"],
                        # DevOps Guru has no resource-level permissions for this action.
                        resources=["*"],
                    )
                ]
            ),
        )
        cdk.Validations.of(self.resource).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="devops-guru:UpdateResourceCollection supports no resource-level permissions",
            )
        )
        acknowledge_custom_resource_provider(stack)


def acknowledge_custom_resource_provider(stack: cdk.Stack) -> None:
    """Acknowledge the findings of the stack's AwsCustomResource singleton provider, narrowly.

    The provider (a Lambda function and its role) is created by aws-cdk-lib, one per stack, with a
    fixed id; its managed logging policy and runtime are not ours to choose.
    """
    provider = stack.node.try_find_child("AWS679f53fac002430cb0da5b7982bd2287")
    if provider is None:
        return
    cdk.Validations.of(provider).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            reason="The aws-cdk-lib AwsCustomResource provider only writes its own logs with this managed policy",
        ),
        cdk.Acknowledgment(
            id="AwsSolutions-L1",
            reason="The AwsCustomResource provider runtime is chosen and kept current by aws-cdk-lib",
        ),
    )

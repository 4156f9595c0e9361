"""The application boundary: the tag that puts resources of any capability inside a named application.

Observability covers the applications of a boundary (DevOps Guru analyses the resources tagged with its key;
``DevOpsGuruAppBoundary`` in ``constructs/observability`` creates that collection); other capabilities only
tag their resources with :func:`tag_application` (tenant component stages, for one). This module is shared by
the capabilities and sits below them: it imports none of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import Construct, IConstruct

from devops_blueprints.constructs._props import string_list

TAG_KEY_PREFIX = "devops-guru-"
DEFAULT_TAG_KEY = "devops-guru-applications"
MAX_TAG_VALUES = 1000
MAX_TAG_VALUE_LENGTH = 256
MAX_TAG_KEY_LENGTH = 128
_TAG_VALUE_PATTERN = re.compile(r"^[\w\s.:/=+\-@*]*$")


def validate_tag_key(tag_key: str) -> None:
    """``tag_key`` must start with ``devops-guru-`` (any case) and fit a tag key."""
    if cdk.Token.is_unresolved(tag_key):
        return
    if not tag_key.lower().startswith(TAG_KEY_PREFIX):
        raise ValueError(f'tag_key must start with "{TAG_KEY_PREFIX}", got "{tag_key}"')
    if len(tag_key) > MAX_TAG_KEY_LENGTH:
        raise ValueError(f"tag_key must be at most {MAX_TAG_KEY_LENGTH} characters, got {len(tag_key)}")


def validate_tag_values(tag_values: Sequence[str]) -> list[str]:
    """1..1000 values of at most 256 characters; ``*`` (every value) only on its own."""
    values = string_list(
        "tag_values",
        tag_values,
        noun="values",
        max_items=MAX_TAG_VALUES,
        if_empty='use ["*"] to cover every value of the key',
        check=_check_tag_value,
    )
    if "*" in values and len(values) > 1:
        raise ValueError(f'tag_values "*" covers every value and must be the only entry, got {values}')
    if len(set(values)) != len(values):
        raise ValueError(f"tag_values must not repeat a value, got {values}")
    return values


def _check_tag_value(value: str) -> None:
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise ValueError(
            f"tag_values entries must be at most {MAX_TAG_VALUE_LENGTH} characters, got {len(value)} for {value[:40]!r}..."
        )
    if not _TAG_VALUE_PATTERN.match(value):
        raise ValueError(f"tag_values entry {value!r} has characters a tag value cannot hold")


@jsii.implements(cdk.IAspect)
class _RawResourceTagger:
    """Tags the raw ``CfnResource`` roles and functions that aws-cdk-lib's custom resource providers
    create, and the SSM parameter ``aws_eks_v2.Cluster`` uses as its "kubectl ready" barrier (``Tags.of`` only
    reaches resources with a tag manager), so nothing in the boundary is missed."""

    _TYPES = frozenset({"AWS::IAM::Role", "AWS::Lambda::Function"})
    #: Types whose ``Tags`` are a JSON object (key -> value) instead of a list of Key/Value pairs.
    _MAP_TYPES = frozenset({"AWS::SSM::Parameter"})

    def __init__(self, tag_key: str, app_name: str) -> None:
        self._tag = {"Key": tag_key, "Value": app_name}

    def visit(self, node: IConstruct) -> None:
        # The type first: TagManager.is_taggable fails (jsii cannot serialize its answer) for some resources.
        if not isinstance(node, cdk.CfnResource) or node.cfn_resource_type not in self._TYPES | self._MAP_TYPES:
            return
        if cdk.TagManager.is_taggable(node):
            return
        if node.cfn_resource_type in self._TYPES:
            node.add_property_override("Tags", [self._tag])
        elif node.cfn_resource_type in self._MAP_TYPES:
            node.add_property_override(f"Tags.{self._tag['Key']}", self._tag["Value"])


def tag_application(scope: IConstruct, app_name: str, *, tag_key: str = DEFAULT_TAG_KEY) -> None:
    """Tag every taggable resource under ``scope`` with ``tag_key=app_name`` (no collection created)."""
    validate_tag_key(tag_key)
    validate_tag_values([app_name])
    if app_name == "*":
        raise ValueError('app_name must name one application, got "*"')
    cdk.Tags.of(scope).add(tag_key, app_name)
    cdk.Aspects.of(scope).add(_RawResourceTagger(tag_key, app_name))


class AppRegistry(Construct):
    """A hidden child of the app root that records claims (``key -> value``) across the whole app, so a
    construct can refuse what another construct anywhere in the app already declared (one per account/region,
    one boundary per scope). :meth:`of` returns the app's registry of that subclass, creating it once."""

    REGISTRY_ID = "AppRegistry"

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.claims: dict[str, Any] = {}

    @classmethod
    def of(cls, scope: IConstruct) -> Any:
        root = scope.node.root
        existing = root.node.try_find_child(cls.REGISTRY_ID)
        if isinstance(existing, cls):
            return existing
        return cls(root, cls.REGISTRY_ID)  # type: ignore[arg-type]


def env_label(stack: cdk.Stack) -> str:
    """``account/region`` of ``stack``, with placeholders for environment-agnostic stacks."""
    account = "<any account>" if cdk.Token.is_unresolved(stack.account) else stack.account
    region = "<any region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    return f"{account}/{region}"

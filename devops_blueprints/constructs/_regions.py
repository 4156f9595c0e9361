"""Services that exist in some regions only: a template rule for stacks whose region is known at deploy time."""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from constructs import Construct


def region_rule(scope: Construct, construct_id: str, regions: Iterable[str], description: str) -> cdk.CfnRule | None:
    """In an environment-agnostic stack (region unresolved at synth), a ``CfnRule`` that refuses a deployment to a
    region outside ``regions`` before anything is created, with ``description`` as its message; None where the
    region is known (the caller checks it at synth)."""
    if not cdk.Token.is_unresolved(cdk.Stack.of(scope).region):
        return None
    return cdk.CfnRule(
        scope,
        construct_id,
        assertions=[
            cdk.CfnRuleAssertion(
                assert_=cdk.Fn.condition_contains(sorted(regions), cdk.Aws.REGION),
                assert_description=description,
            )
        ],
    )

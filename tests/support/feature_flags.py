"""Sample feature flags shared by the flag model's tests and ``TenantFeatureFlags``' tests: one flag with every
attribute type (number with bounds and required, string with an enum, boolean, array of patterned strings) and
values, and one off by default with a single constrained attribute."""

from __future__ import annotations

from devops_blueprints.feature_flags import (
    ArrayAttribute,
    BooleanAttribute,
    FeatureFlag,
    NumberAttribute,
    StringAttribute,
)

SAMPLE_FLAGS = (
    FeatureFlag(
        key="item-history",
        description="Keep earlier values of an item",
        enabled=True,
        attributes={
            "depth": NumberAttribute(minimum=1, maximum=10, required=True),
            "mode": StringAttribute(enum=("full", "diff")),
            "audit": BooleanAttribute(),
            "regions": ArrayAttribute(elements=StringAttribute(pattern="^[a-z]{2}-[a-z]+-[0-9]$")),
        },
        values={"depth": 3, "mode": "diff", "regions": ["eu-west-1"]},
    ),
    FeatureFlag(key="maintenance", attributes={"message": StringAttribute(pattern="^.{1,120}$")}),
)

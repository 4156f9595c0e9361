"""The catalog against the source article: every catalog policy denies at least what the article's policy
denies (for principals the catalog does not exempt) and is recommended where the article attaches it,
except for the divergences that docs/guardrails-article-fidelity.md names with a reason.

GIVEN the article's twelve policies as published (tests/guardrails/data/article/, copied from the
article; README there), with its two published defects fixed as the catalog fixes them,
WHEN every action of every article policy is simulated against the article's policy and the catalog's
(seeded requests: resources from the article's own patterns and the IAM database's ARN formats,
principals, regions and every condition key either policy uses),
THEN each request the article denies and the catalog allows is a documented divergence, and each
documented divergence happens (a stale row fails too).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devops_blueprints.guardrails import Request, Simulator, catalog, full_aws_access, policy_from_document
from devops_blueprints.guardrails.iamdb import database
from devops_blueprints.guardrails.model import Policy
from devops_blueprints.guardrails.wildcards import compile_any, glob_match

ARTICLE = Path(__file__).parent / "data" / "article"
PAGE = Path(__file__).parents[2] / "docs" / "guardrails-article-fidelity.md"
ACCOUNT = "111122223333"


@dataclass(frozen=True)
class ArticlePolicy:
    file: str
    catalog_name: str
    attach_to: tuple[str, ...]  # the article's recommendation (README of the test data)
    parameters: Mapping[str, Any]  # catalog parameters that stand for the article's placeholder names
    fixes: tuple[tuple[str, str], ...] = ()  # the published defects, fixed as the catalog fixes them


CLOUDWATCH_FIX = (
    ("arn:aws:cloudwatch:::alarm:Admin-*", "arn:aws:cloudwatch:*:*:alarm:Admin-*"),
    ("arn:aws:cloudwatch:::dashboard/Admin-*", "arn:aws:cloudwatch::*:dashboard/Admin-*"),
)
PRINCIPAL_ACCOUNT_FIX = (('"aws:PrincipalAccount"', '"aws:PrincipalArn"'),)

# The README's "where the article attaches it": the first target named. cloudwatch-monitors: "organization
# root, or the infrastructure, security and workloads OUs"; approved-regions: "Sandbox OU, or any
# accounts/OUs whose regulations require region restrictions"; secrets-manager: "wherever secrets are used
# (e.g. Workloads OU)".
POLICIES = (
    ArticlePolicy("cloudwatch-monitors.json", "protect-admin-cloudwatch", ("Root",), {}, CLOUDWATCH_FIX),
    ArticlePolicy("cloudwatch-logs.json", "protect-log-retention", ("Root",), {}),
    ArticlePolicy("config.json", "protect-aws-config", ("Root",), {}),
    ArticlePolicy("leave-organization.json", "deny-leave-organization", ("Root",), {}),
    ArticlePolicy("deny-all.json", "deny-all-suspended", ("Suspended",), {}),
    ArticlePolicy("iam-role-exception.json", "sandbox-iam-admin-only", ("Sandbox",), {}),
    ArticlePolicy("approved-regions.json", "approved-regions", ("Sandbox",), {}),
    ArticlePolicy("passrole.json", "deny-passrole-untagged", ("Root",), {}),
    ArticlePolicy("secrets-manager.json", "protect-admin-secrets", ("Workloads",), {"name_prefix": "secret-id"}),
    ArticlePolicy("guardduty.json", "protect-guardduty", ("Root",), {}),
    ArticlePolicy("budget-actions.json", "protect-budget-actions", ("Root",), {}, PRINCIPAL_ACCOUNT_FIX),
    ArticlePolicy("cost-anomaly.json", "protect-cost-anomaly-detection", ("Root",), {}, PRINCIPAL_ACCOUNT_FIX),
)

# -- request generation ----------------------------------------------------------------------------

PRINCIPALS = (
    f"arn:aws:iam::{ACCOUNT}:role/Developer",
    f"arn:aws:iam::{ACCOUNT}:user/alice",
    f"arn:aws:iam::{ACCOUNT}:root",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/build-42",
)
REGIONS = ("eu-west-1", "ap-south-1", "us-east-1")
OTHER_VALUE = "other-value"
_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _document(policy: ArticlePolicy) -> dict[str, Any]:
    text = (ARTICLE / policy.file).read_text(encoding="utf-8")
    for old, new in policy.fixes:
        assert old in text, (policy.file, old)
        text = text.replace(old, new)
    return dict(json.loads(text))


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _instantiate(pattern: str, filler: str = "x1") -> str:
    """A concrete value the IAM wildcard ``pattern`` matches (``*`` -> a sample, ``?`` -> one char)."""
    if pattern.startswith("arn:") and pattern.count(":") >= 5:
        parts = pattern.split(":", 5)
        if parts[3] == "*":
            parts[3] = "eu-west-1"
        if parts[4] == "*":
            parts[4] = ACCOUNT
        pattern = ":".join(parts)
    return _VARIABLE.sub(filler, pattern).replace("*", filler).replace("?", "q")


def _template_resources(action: str) -> list[str]:
    service = action.split(":")[0].lower()
    found = []
    for template in database().arn_templates.get(service, ())[:6]:
        arn = template.arn.replace("${Partition}", "aws").replace("${Region}", "eu-west-1")
        found.append(_VARIABLE.sub("x1", arn.replace("${Account}", ACCOUNT)))
    return found


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = document["Statement"]
    return [raw] if isinstance(raw, Mapping) else list(raw)


def _conditions(documents: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str, list[str]]]:
    for document in documents:
        for statement in _statements(document):
            for operator, block in statement.get("Condition", {}).items():
                for key, values in block.items():
                    yield operator, key, [str(v) for v in _strings(values)]


def _principals(documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ours, plus one principal per principal pattern either policy names (its exempt principals)."""
    found = list(PRINCIPALS)
    for _operator, key, values in _conditions(documents):
        if key.lower() in ("aws:principalarn", "aws:principalaccount"):
            found.extend(_instantiate(v, "admin-x1") for v in values if v.startswith("arn:"))
    return list(dict.fromkeys(found))


def _contexts(documents: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Every combination of: each other condition key absent, at a value a policy names, or at another value."""
    options: dict[str, list[str | None]] = {}
    for _operator, key, values in _conditions(documents):
        lowered = key.lower()
        if lowered in ("aws:principalarn", "aws:principalaccount", "aws:requestedregion"):
            continue
        choices = options.setdefault(key, [None, OTHER_VALUE])
        choices.extend(_instantiate(v) for v in values if _instantiate(v) not in choices)
    contexts: list[dict[str, str]] = [{}]
    for key, choices in options.items():
        contexts = [{**c, key: v} if v is not None else c for c in contexts for v in choices]
    return contexts


def _actions(documents: Sequence[Mapping[str, Any]], rng: random.Random) -> list[str]:
    """Every action the article's policy names; for a NotAction policy, every IAM action either policy's
    NotAction covers plus a seeded sample of the others (all of which the article denies)."""
    article = documents[0]
    listed: list[str] = []
    not_actions: list[str] = []
    for document in documents:
        for statement in _statements(document):
            if "NotAction" in statement:
                not_actions.extend(_strings(statement["NotAction"]))
            elif document is article:
                listed.extend(_strings(statement["Action"]))
    names = sorted(database().action_names.values())
    if not_actions:
        covered = compile_any(not_actions, ignore_case=True)
        listed.extend(name for name in names if covered(name))
        listed.extend(rng.sample([name for name in names if not covered(name)], 400))
    concrete: list[str] = []
    for action in listed:
        if action == "*":
            concrete.extend(rng.sample(names, 200))
        elif "*" in action or "?" in action:
            concrete.extend(name for name in names if glob_match(action.lower(), name.lower()))
        else:
            concrete.append(action)
    return list(dict.fromkeys(concrete))


def _resources(action: str, article: Mapping[str, Any]) -> list[str]:
    found = ["*", *_template_resources(action)]
    for statement in _statements(article):
        for pattern in _strings(statement.get("Resource", [])):
            if pattern != "*":
                found.append(_instantiate(pattern))
    return list(dict.fromkeys(found))


# -- the comparison ----------------------------------------------------------------------------------


def _exempt(entry: catalog.CatalogPolicy, parameters: Mapping[str, Any], principal: str) -> str | None:
    """The catalog parameter that exempts ``principal`` (role ARNs compared as aws:PrincipalArn is)."""
    request = Request("sts:GetCallerIdentity", principal_arn=principal)
    arn = request.context_values["aws:principalarn"][0]
    for name, value in entry.parameters(parameters).items():
        if name.endswith("_role_arns") and any(glob_match(pattern, arn) for pattern in value):
            return name
    return None


def divergences() -> dict[tuple[str, str], int]:
    """(catalog policy, what differs) -> requests the article denies and the catalog allows. What differs
    is an action, ``principal PARAMETER`` (exempted by that catalog parameter) or ``attachment TARGET``."""
    rng = random.Random(12)
    found: dict[tuple[str, str], int] = {}
    for policy in POLICIES:
        entry = catalog.get(policy.catalog_name)
        article_document = _document(policy)
        catalog_document = entry.render(**policy.parameters)
        documents = (article_document, catalog_document)
        article = Simulator([[full_aws_access(), policy_from_document(article_document, policy.file)]])
        shipped: Policy = policy_from_document(catalog_document, policy.catalog_name)
        ours = Simulator([[full_aws_access(), shipped]])
        principals, contexts = _principals(documents), _contexts(documents)
        for action in _actions(documents, rng):
            for resource in _resources(action, article_document):
                for principal in principals:
                    for region in REGIONS:
                        for context in contexts:
                            request = Request(action, resource, principal, region, context)
                            if article.evaluate(request).allowed or not ours.evaluate(request).allowed:
                                continue
                            exempt = _exempt(entry, policy.parameters, principal)
                            key = (policy.catalog_name, f"principal {exempt}" if exempt else action)
                            found[key] = found.get(key, 0) + 1
        for target in sorted(set(policy.attach_to) ^ set(entry.attach_to)):
            found[(policy.catalog_name, f"attachment {target}")] = 1
    return found


_ROW = re.compile(r"^\|\s*`(?P<policy>[a-z0-9-]+)`\s*\|(?P<items>[^|]+)\|(?P<what>[^|]+)\|(?P<why>[^|]+)\|\s*$")


def documented() -> dict[str, list[str]]:
    """The divergence table of the fidelity page: catalog policy -> the backticked items of column 2."""
    rows: dict[str, list[str]] = {}
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            assert match["what"].strip() and match["why"].strip(), line
            items = re.findall(r"`([^`]+)`", match["items"])
            assert items, line
            rows.setdefault(match["policy"], []).extend(items)
    return rows


def _covers(item: str, key: str) -> bool:
    if item.startswith(("principal ", "attachment ")) or key.startswith(("principal ", "attachment ")):
        return item == key
    return glob_match(item.lower(), key.lower())


@pytest.fixture(scope="module")
def found() -> dict[tuple[str, str], int]:
    return divergences()


def test_every_article_policy_is_compared() -> None:
    assert sorted(p.file for p in POLICIES) == sorted(p.name for p in ARTICLE.glob("*.json"))
    assert sorted(p.catalog_name for p in POLICIES) == sorted(catalog.CATALOG)
    for policy in POLICIES:
        assert policy.file in (ARTICLE / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("policy", POLICIES, ids=[p.catalog_name for p in POLICIES])
def test_catalog_policy_denies_what_the_article_denies(
    policy: ArticlePolicy, found: dict[tuple[str, str], int]
) -> None:
    allowed = documented().get(policy.catalog_name, [])
    undocumented = sorted(
        key for (name, key) in found if name == policy.catalog_name and not any(_covers(i, key) for i in allowed)
    )
    assert undocumented == [], (
        f"{policy.catalog_name} allows what the article's {policy.file} denies, and "
        f"{PAGE.name} does not name it: {undocumented}"
    )
    stale = [
        item for item in allowed if not any(_covers(item, key) for (name, key) in found if name == policy.catalog_name)
    ]
    assert stale == [], f"{PAGE.name} names divergences of {policy.catalog_name} that do not happen: {stale}"


def test_the_page_names_only_catalog_policies() -> None:
    assert set(documented()) <= set(catalog.CATALOG)

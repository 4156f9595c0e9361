"""Replay CloudTrail activity through the SCP simulator: which recorded calls would proposed policies deny?

>>> from devops_blueprints.guardrails import Simulator, catalog
>>> from devops_blueprints.guardrails.replay import Replay
>>> replay = Replay(Simulator(catalog.path("Workloads")))
>>> event = {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "ap-south-1",
...          "eventTime": "2026-11-02T10:00:00Z",
...          "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/Alice",
...                           "accountId": "111122223333"}}
>>> decision = replay.decide(event)
>>> decision.outcome, decision.matched
('DENIED', (('approved-regions', 'DenyOutsideApprovedRegions'),))

:meth:`Replay.decisions` reads log files (:mod:`~devops_blueprints.guardrails.cloudtrail`) one at a time
and yields one :class:`EventDecision` per record, so memory stays flat however many events there are;
files that cannot be read are in :attr:`Replay.problems` (and passed to ``on_problem``) and reading goes on.

Outcomes: ``ALLOWED`` / ``DENIED`` (the simulator's decision), ``ALREADY_DENIED`` (AWS refused the call for
authorization: kept apart, not evaluated), ``UNAFFECTED`` (SCPs do not apply: management account,
service-linked role, AWS service), ``UNMAPPED`` (the event cannot be turned into a request; ``reason``
says why). How events map to requests: :mod:`~devops_blueprints.guardrails.events`.

Speed: CloudTrail activity is repetitive (the same principals call the same actions in the same regions), and
a decision depends only on the action, the resource when some statement for the action names resources, and
the values of the condition keys the statements for the action read (:meth:`Simulator.relevance`): an event
that differs from another only in a key no statement reads gets the same decision. So decisions are
memoized on exactly those (action, resources, the read keys' values) in an LRU cache of at most
:data:`DECISION_CACHE_SIZE` entries, and so are the ``eventSource``/``eventName`` -> action mapping
(:data:`ACTION_CACHE_SIZE`) and the ``userIdentity`` -> principal normalisation (:data:`PRINCIPAL_CACHE_SIZE`);
memory stays bounded by those sizes however many events there are. ``Replay(..., cache_size=0)`` evaluates
every event on its own with every key it supplies, nothing memoized: the reference the tests compare the
memoized decisions with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from devops_blueprints.guardrails import events as ev
from devops_blueprints.guardrails.cloudtrail import (
    MAX_FILE_BYTES,
    BadRecord,
    Event,
    FileProblem,
    Identity,
    LogFile,
    LogSource,
    default_s3_client,
    event_from_dict,
    log_files,
    read_source,
)
from devops_blueprints.guardrails.simulator import ALLOWED, DENIED, Request, Simulator

ALREADY_DENIED = "ALREADY_DENIED"
UNAFFECTED = "UNAFFECTED"
UNMAPPED = "UNMAPPED"
OUTCOMES = (ALLOWED, DENIED, ALREADY_DENIED, UNAFFECTED, UNMAPPED)
# LRU bounds. An entry of the decision cache is its key (action, the resource ARNs, the read keys' values) and
# the decision: a few hundred bytes, so the default bounds the cache to some ten MiB.
DECISION_CACHE_SIZE = 32_768
PRINCIPAL_CACHE_SIZE = 16_384
ACTION_CACHE_SIZE = 4_096
# eventType values that are not API calls a principal is authorized for
# (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html)
_NOT_API_CALLS = frozenset({"AwsConsoleSignIn", "AwsCloudTrailInsight", "AwsConsoleAction", "AwsVpceEvent"})
# Keys read straight from the principal and the region: the common case, handled without a lookup per key
_PRINCIPAL_ARN, _PRINCIPAL_ACCOUNT, _REGION = "aws:principalarn", "aws:principalaccount", "aws:requestedregion"
_SIMPLE_KEYS = frozenset({_PRINCIPAL_ARN, _PRINCIPAL_ACCOUNT, _REGION})
_UNKNOWN = object()  # a key the request has but the event does not tell
_TAG_KEYS = "aws:tagkeys"

Verdict = tuple[str, tuple[tuple[str, str], ...], str]  # outcome, matched, reason


def access_denied(code: Any) -> bool:
    """``errorCode`` values with which AWS refuses an unauthorized call (``AccessDenied``,
    ``AccessDeniedException``, EC2's ``Client.UnauthorizedOperation``)."""
    return isinstance(code, str) and ("AccessDenied" in code or code.endswith("UnauthorizedOperation"))


class EventDecision(msgspec.Struct, frozen=True, gc=False):
    """The replay's verdict on one CloudTrail record."""

    outcome: str  # one of OUTCOMES
    reason: str  # why UNMAPPED/UNAFFECTED/ALREADY_DENIED; the simulator's reason for DENIED
    action: str | None
    principal: str | None  # aws:PrincipalArn, or "account ID" when only the account is known
    region: str | None
    time: str | None
    source: str  # the log file
    matched: tuple[tuple[str, str], ...] = ()  # (policy, Sid) of the denying statements

    @property
    def denied(self) -> bool:
        return self.outcome == DENIED


@dataclass(frozen=True, eq=False)
class _Plan:
    """What deciding ``action`` needs from an event (from :meth:`Simulator.relevance`)."""

    action: str
    group: int  # actions of one group have the same statements, so share decisions (the cache key's head)
    resource: bool
    keys: tuple[str, ...]  # lower-case, sorted: the order of the values in the cache key
    unavailable: str | None  # a key the statements read that CloudTrail does not record
    simple: bool  # every key is the principal's ARN or account or the region
    arn: bool
    account: bool
    region: bool


class CacheInfo(NamedTuple):
    """The decision cache's counters (``functools.lru_cache``'s)."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


def _key_unavailable(key: str) -> bool:
    return key not in ev.SUPPLIED_KEYS and not key.startswith(ev._REQUEST_TAG)


def _tag_value(key: str, tags: dict[str, str]) -> tuple[str, ...] | None:
    """``aws:TagKeys`` or ``aws:RequestTag/KEY`` (KEY matched case-insensitively, as condition keys are)."""
    if key == _TAG_KEYS:
        return tuple(sorted(tags)) or None
    name = key[len(ev._REQUEST_TAG) :]
    for tag, value in tags.items():
        if tag.lower() == name:
            return (value,)
    return None


class Replay:
    """Replays CloudTrail records against one :class:`Simulator` (the path root -> OUs -> account the
    accounts in the logs are in).

    :param management_account: events of principals in this account are ``UNAFFECTED``.
    :param org_id: the value of ``aws:PrincipalOrgID`` for the principals in the logs (CloudTrail does not
        record it); without it an event whose statements read the key is ``UNMAPPED``.
    :param max_file_bytes: bound on one file's JSON (default 256 MiB); a larger file is a problem, skipped.
    :param s3_client: a boto3 S3 client for ``s3://`` locations (default: one from the environment).
    :param cache_size: most decisions memoized (LRU; default :data:`DECISION_CACHE_SIZE`); 0 memoizes
        nothing and evaluates every event with every key it supplies (the slow reference).
    """

    def __init__(
        self,
        simulator: Simulator,
        *,
        management_account: str | None = None,
        org_id: str | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        s3_client: Any = None,
        cache_size: int = DECISION_CACHE_SIZE,
    ) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be 0 (no memo) or a positive number of decisions, got {cache_size}")
        self.simulator = simulator
        self.management_account = management_account
        self.org_id = org_id
        self.max_file_bytes = max_file_bytes
        self.s3_client = s3_client
        self.actions = ev.ActionMap()
        self.problems: list[FileProblem] = []
        self.files_read = 0
        self.memoized = cache_size > 0
        self._route: Callable[[str | None, str | None], _Plan | ev.Unmapped] = functools.lru_cache(ACTION_CACHE_SIZE)(
            self._plan
        )
        self._principal: Callable[[Identity | None], ev.Principal | ev.Unmapped | str] = functools.lru_cache(
            PRINCIPAL_CACHE_SIZE
        )(ev.principal)
        self._verdict: Callable[[int, tuple[str, ...] | None, tuple[Any, ...]], Verdict] = functools.lru_cache(
            max(cache_size, 1)
        )(self._evaluate)
        # the statements that apply to an action -> (group number, a plan of that group); at most one entry per
        # distinct set of statements, so bounded by the IAM database's number of actions
        self._groups: dict[tuple[int, ...], int] = {}
        self._plans: list[_Plan] = []  # by group number: the group's first plan

    def cache_info(self) -> CacheInfo:
        """Hits and misses of the decision cache (all zero with ``cache_size=0``)."""
        if not self.memoized:
            return CacheInfo(0, 0, 0, 0)
        info = self._verdict.cache_info()  # type: ignore[attr-defined]
        return CacheInfo(info.hits, info.misses, info.maxsize or 0, info.currsize)

    # -- files -----------------------------------------------------------------------------------

    def decisions(
        self,
        locations: Sequence[str],
        *,
        on_file: Callable[[str, int], None] | None = None,
        on_problem: Callable[[FileProblem], None] | None = None,
    ) -> Iterator[EventDecision]:
        """One decision per record of every log file under ``locations`` (local files or folders,
        ``s3://bucket/prefix``), file by file; ``on_file(name, records)`` after each file."""
        for item in log_files(locations, s3_client=self.s3_client):
            if isinstance(item, FileProblem):
                self._problem(item, on_problem)
                continue
            log = self.read(item)
            if isinstance(log, FileProblem):
                self._problem(log, on_problem)
                continue
            self.files_read += 1
            decide = self.decide
            name = item.name
            for record in log.records:
                yield decide(record, name)
            if on_file is not None:
                on_file(name, len(log.records))

    def read(self, source: LogSource) -> LogFile | FileProblem:
        if source.bucket is not None and self.s3_client is None:
            self.s3_client = default_s3_client()
        return read_source(source, max_bytes=self.max_file_bytes, s3_client=self.s3_client)

    def _problem(self, problem: FileProblem, callback: Callable[[FileProblem], None] | None) -> None:
        self.problems.append(problem)
        if callback is not None:
            callback(problem)

    # -- one event -------------------------------------------------------------------------------

    def _plan(self, source: str | None, name: str | None) -> _Plan | ev.Unmapped:
        mapped = self.actions.lookup(source, name)
        if not isinstance(mapped, ev.MappedAction):
            return mapped
        relevance = self.simulator.relevance(mapped.action)
        keys = tuple(sorted(relevance.keys))
        unavailable = next((k for k in keys if _key_unavailable(k)), None)
        known = self._groups.get(relevance.statements)
        plan = _Plan(
            action=mapped.action,
            group=len(self._plans) if known is None else known,
            resource=relevance.resource,
            keys=keys,
            unavailable=unavailable,
            simple=relevance.keys <= _SIMPLE_KEYS,
            arn=_PRINCIPAL_ARN in relevance.keys,
            account=_PRINCIPAL_ACCOUNT in relevance.keys,
            region=_REGION in relevance.keys,
        )
        if known is None:
            self._groups[relevance.statements] = plan.group
            self._plans.append(plan)
        return plan

    def decide(self, record: Event | BadRecord | dict[str, Any], source: str = "") -> EventDecision:
        """The decision for one CloudTrail record: an :class:`Event` from the reader, or a parsed JSON
        object (``dict``) as the CloudTrail user guide shows them."""
        if record.__class__ is not Event:
            record = record if isinstance(record, BadRecord) else event_from_dict(record)
            if isinstance(record, BadRecord):
                return EventDecision(UNMAPPED, record.reason, None, None, None, None, source)
        if not isinstance(record, Event):  # pragma: no cover - event_from_dict returns Event or BadRecord
            raise TypeError(f"not a CloudTrail record: {type(record).__name__}")
        time = record.eventTime
        event_type = record.eventType
        if event_type in _NOT_API_CALLS:
            return EventDecision(UNMAPPED, f"not-an-api-call: {event_type}", None, None, None, time, source)
        plan = self._route(record.eventSource, record.eventName)
        if not isinstance(plan, _Plan):
            return EventDecision(UNMAPPED, plan.reason, None, None, None, time, source)
        action = plan.action
        region = record.awsRegion
        identity = self._principal(record.userIdentity)
        if not isinstance(identity, ev.Principal):
            if isinstance(identity, str):
                return EventDecision(UNAFFECTED, identity, action, None, region, time, source)
            return EventDecision(UNMAPPED, identity.reason, action, None, region, time, source)
        arn, account = identity.arn, identity.account
        shown = arn or (f"account {account}" if account else None)
        if account is not None and account == self.management_account:
            return EventDecision(UNAFFECTED, "management-account", action, shown, region, time, source)
        if region is None:
            return EventDecision(UNMAPPED, "missing-field: awsRegion", action, shown, None, time, source)
        if record.errorCode is not None and access_denied(record.errorCode):
            return EventDecision(ALREADY_DENIED, record.errorCode, action, shown, region, time, source)
        if plan.unavailable is not None:
            reason = f"condition-key-not-in-cloudtrail: {plan.unavailable} ({action})"
            return EventDecision(UNMAPPED, reason, action, shown, region, time, source)
        if (
            plan.simple
            and not plan.resource
            and self.memoized
            and (arn or not plan.arn)
            and (account or not plan.account)
        ):
            # the common case, inline: the principal and the region are all the statements read
            key = (arn if plan.arn else None, account if plan.account else None, region if plan.region else None)
            outcome, matched, reason = self._verdict(plan.group, None, key)
            return EventDecision(outcome, reason, action, shown, region, time, source, matched)
        verdict = self._decide(plan, record, arn, account, region)
        if isinstance(verdict, str):
            return EventDecision(UNMAPPED, verdict, action, shown, region, time, source)
        outcome, matched, reason = verdict
        return EventDecision(outcome, reason, action, shown, region, time, source, matched)

    def _decide(self, plan: _Plan, record: Event, arn: str | None, account: str | None, region: str) -> Verdict | str:
        """The verdict for a mapped request, or why it cannot be decided (a ``str``)."""
        if plan.simple:
            if (plan.arn and not arn) or (plan.account and not account):
                return self._unknown_key(_PRINCIPAL_ARN if plan.arn and not arn else _PRINCIPAL_ACCOUNT, plan, record)
            values: tuple[Any, ...] = (
                arn if plan.arn else None,
                account if plan.account else None,
                region if plan.region else None,
            )
        else:
            found = []
            tags: dict[str, str] | None = None  # the request's tags, parsed once for all the keys that read them
            for key in plan.keys:
                if key == _TAG_KEYS or key.startswith(ev._REQUEST_TAG):
                    tags = ev.request_tags(ev.parameters(record)) if tags is None else tags
                    value = _tag_value(key, tags)
                else:
                    value = self._value(key, record, arn, account, region)
                if value is _UNKNOWN:
                    return self._unknown_key(key, plan, record)
                found.append(value)
            values = tuple(found)
        resources: tuple[str, ...] | None = None
        if plan.resource or not self.memoized:
            resources = self._resources(record, plan.action, arn, account, region)
            if resources is None and plan.resource:
                return f"resource-unknown: {plan.action}"
        if not self.memoized:
            return self._reference(plan.action, resources, record, arn, account, region)
        return self._verdict(plan.group, resources, values)

    @staticmethod
    def _unknown_key(key: str, plan: _Plan, record: Event) -> str:
        kind = record.userIdentity.type if record.userIdentity is not None else None
        return f"condition-key-unknown: {key} ({plan.action}, userIdentity {kind})"

    @staticmethod
    def _resources(
        record: Event, action: str, arn: str | None, account: str | None, region: str
    ) -> tuple[str, ...] | None:
        owner = record.recipientAccountId
        found = ev.resources(record, action, ev.partition(arn), region, owner or account or "")
        return tuple(found) if found else None

    def _value(self, key: str, record: Event, arn: str | None, account: str | None, region: str) -> Any:
        """The key's values for this event (a tuple); None when the request has no such key; _UNKNOWN when
        it has one the event does not tell."""
        if key == _REGION:
            return (region,)
        if key == _PRINCIPAL_ARN:
            return (arn,) if arn else _UNKNOWN
        if key == _PRINCIPAL_ACCOUNT:
            return (account,) if account else _UNKNOWN
        if key == "aws:principalorgid":
            return (self.org_id,) if self.org_id else _UNKNOWN
        if key == "aws:sourceip":
            address = record.sourceIPAddress
            return (address,) if ev.is_ip(address) else None
        if key == "aws:sourcevpce":
            endpoint = record.vpcEndpointId
            return (endpoint,) if endpoint else None
        if key == "aws:multifactorauthpresent":
            identity = record.userIdentity
            context = identity.sessionContext if identity is not None else None
            attributes = context.attributes if context is not None else None
            mfa = attributes.mfaAuthenticated if attributes is not None else None
            return (str(mfa).lower(),) if mfa is not None else None
        return _tag_value(key, ev.request_tags(ev.parameters(record)))

    def _evaluate(self, group: int, resources: tuple[str, ...] | None, values: tuple[Any, ...]) -> Verdict:
        """The simulator's verdict on the request the memo key describes (a cache miss), for the group's
        first action: every action of the group is decided by the same statements."""
        plan = self._plans[group]
        keys = (_PRINCIPAL_ARN, _PRINCIPAL_ACCOUNT, _REGION) if plan.simple else plan.keys
        context = {key: value for key, value in zip(keys, values, strict=True) if value is not None}
        return self._verdict_of(plan.action, resources, context)

    def _verdict_of(self, action: str, resources: tuple[str, ...] | None, context: dict[str, Any]) -> Verdict:
        matched: list[tuple[str, str]] = []
        reason = ""
        for resource in resources or ("*",):
            decision = self.simulator.evaluate(Request(action, resource, context=context))
            if not decision.allowed:
                reason = reason or decision.reason
                matched.extend(m for m in decision.matched if m not in matched)
        return (DENIED if reason else ALLOWED), tuple(matched), reason

    def _reference(
        self,
        action: str,
        resources: tuple[str, ...] | None,
        record: Event,
        arn: str | None,
        account: str | None,
        region: str,
    ) -> Verdict:
        """Unmemoized: the request with every key the event supplies and every resource it names."""
        context: dict[str, Any] = {_REGION: region}
        if arn:
            context[_PRINCIPAL_ARN] = arn
        if account:
            context[_PRINCIPAL_ACCOUNT] = account
        for key in ("aws:principalorgid", "aws:sourceip", "aws:sourcevpce", "aws:multifactorauthpresent"):
            value = self._value(key, record, arn, account, region)
            if value is not None and value is not _UNKNOWN:
                context[key] = value
        tags = ev.request_tags(ev.parameters(record))
        if tags:
            context[_TAG_KEYS] = tuple(sorted(tags))
            for tag, value in tags.items():
                context.setdefault(f"{ev._REQUEST_TAG}{tag.lower()}", (value,))
        return self._verdict_of(action, resources, context)

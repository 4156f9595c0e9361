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

Speed: a decision depends only on the action, the resource when some statement for the action names
resources, and the context keys the statements read (:meth:`Simulator.relevance`), so decisions are
cached on exactly those, in a bounded cache, and the rest of an event is never looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from devops_blueprints.guardrails import events as ev
from devops_blueprints.guardrails.cloudtrail import (
    MAX_FILE_BYTES,
    BadRecord,
    Event,
    FileProblem,
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
_DECISION_CACHE_LIMIT = 200_000
# eventType values that are not API calls a principal is authorized for
# (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html)
_NOT_API_CALLS = frozenset({"AwsConsoleSignIn", "AwsCloudTrailInsight", "AwsConsoleAction", "AwsVpceEvent"})


def access_denied(code: Any) -> bool:
    """``errorCode`` values with which AWS refuses an unauthorized call (``AccessDenied``,
    ``AccessDeniedException``, EC2's ``Client.UnauthorizedOperation``)."""
    return isinstance(code, str) and ("AccessDenied" in code or code.endswith("UnauthorizedOperation"))


@dataclass(frozen=True, slots=True)
class EventDecision:
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


@dataclass(frozen=True)
class _Plan:
    resource: bool
    keys: tuple[str, ...]
    unavailable: str | None  # a key the statements read that CloudTrail does not record


def _key_unavailable(key: str) -> bool:
    return key not in ev.SUPPLIED_KEYS and not key.startswith(ev._REQUEST_TAG)


class Replay:
    """Replays CloudTrail records against one :class:`Simulator` (the path root -> OUs -> account the
    accounts in the logs are in).

    :param management_account: events of principals in this account are ``UNAFFECTED``.
    :param org_id: the value of ``aws:PrincipalOrgID`` for the principals in the logs (CloudTrail does not
        record it); without it an event whose statements read the key is ``UNMAPPED``.
    :param max_file_bytes: bound on one file's JSON (default 256 MiB); a larger file is a problem, skipped.
    :param s3_client: a boto3 S3 client for ``s3://`` locations (default: one from the environment).
    """

    def __init__(
        self,
        simulator: Simulator,
        *,
        management_account: str | None = None,
        org_id: str | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        s3_client: Any = None,
    ) -> None:
        self.simulator = simulator
        self.management_account = management_account
        self.org_id = org_id
        self.max_file_bytes = max_file_bytes
        self.s3_client = s3_client
        self.actions = ev.ActionMap()
        self.problems: list[FileProblem] = []
        self.files_read = 0
        self._plans: dict[str, _Plan] = {}
        self._cache: dict[tuple[Any, ...], tuple[str, tuple[tuple[str, str], ...], str]] = {}

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

    def _plan(self, action: str) -> _Plan:
        plan = self._plans.get(action)
        if plan is None:
            relevance = self.simulator.relevance(action)
            keys = tuple(sorted(relevance.keys))
            unavailable = next((k for k in keys if _key_unavailable(k)), None)
            plan = _Plan(relevance.resource, keys, unavailable)
            self._plans[action] = plan
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
        time = time if time.__class__ is str else None
        event_type = record.eventType
        if event_type in _NOT_API_CALLS:
            return EventDecision(UNMAPPED, f"not-an-api-call: {event_type}", None, None, None, time, source)
        mapped = self.actions.lookup(record.eventSource, record.eventName)
        if not isinstance(mapped, ev.MappedAction):
            return EventDecision(UNMAPPED, mapped.reason, None, None, None, time, source)
        action: str = mapped.action
        identity = ev.principal(record.userIdentity)
        region = record.awsRegion
        region = region if region.__class__ is str else None
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
            return EventDecision(ALREADY_DENIED, str(record.errorCode), action, shown, region, time, source)

        plan = self._plans.get(action) or self._plan(action)
        if plan.unavailable is not None:
            reason = f"condition-key-not-in-cloudtrail: {plan.unavailable} ({action})"
            return EventDecision(UNMAPPED, reason, action, shown, region, time, source)
        values: list[tuple[str, ...] | None] = []
        for key in plan.keys:
            value = self._value(key, record, arn, account, region)
            if value is False:
                kind = record.userIdentity.type if record.userIdentity is not None else None
                reason = f"condition-key-unknown: {key} ({action}, userIdentity {kind})"
                return EventDecision(UNMAPPED, reason, action, shown, region, time, source)
            values.append(value or None)  # type: ignore[arg-type]
        resources: tuple[str, ...] | None = None
        if plan.resource:
            part = ev.partition(arn)
            owner = record.recipientAccountId
            owner = owner if isinstance(owner, str) else (account or "")
            found = ev.resources(record, action, part, region, owner)
            if not found:
                return EventDecision(UNMAPPED, f"resource-unknown: {action}", action, shown, region, time, source)
            resources = tuple(found)
        cache_key = (action, resources, *values)
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = self._evaluate(action, resources, plan.keys, values)
            if len(self._cache) >= _DECISION_CACHE_LIMIT:
                self._cache.clear()
            self._cache[cache_key] = cached
        outcome, matched, reason = cached
        return EventDecision(outcome, reason, action, shown, region, time, source, matched)

    def _value(
        self, key: str, record: Event, arn: str | None, account: str | None, region: str
    ) -> tuple[str, ...] | bool | None:
        """The key's values for this event; None when the request has no such key; False when it has one
        the event does not tell."""
        if key == "aws:requestedregion":
            return (region,)
        if key == "aws:principalarn":
            return (arn,) if arn else False
        if key == "aws:principalaccount":
            return (account,) if account else False
        if key == "aws:principalorgid":
            return (self.org_id,) if self.org_id else False
        if key == "aws:sourceip":
            address = record.sourceIPAddress
            return (address,) if ev.is_ip(address) else None
        if key == "aws:sourcevpce":
            endpoint = record.vpcEndpointId
            return (endpoint,) if isinstance(endpoint, str) and endpoint else None
        if key == "aws:multifactorauthpresent":
            identity = record.userIdentity
            context = identity.sessionContext if identity is not None else None
            attributes = context.attributes if context is not None else None
            mfa = attributes.get("mfaAuthenticated") if isinstance(attributes, dict) else None
            return (str(mfa).lower(),) if mfa is not None else None
        tags = ev.request_tags(ev.parameters(record))
        if key == "aws:tagkeys":
            return tuple(sorted(tags)) or None
        name = key[len(ev._REQUEST_TAG) :]
        for tag, value in tags.items():
            if tag.lower() == name:
                return (value,)
        return None

    def _evaluate(
        self,
        action: str,
        resources: tuple[str, ...] | None,
        keys: tuple[str, ...],
        values: list[tuple[str, ...] | None],
    ) -> tuple[str, tuple[tuple[str, str], ...], str]:
        context = {key: value for key, value in zip(keys, values, strict=True) if value is not None}
        matched: list[tuple[str, str]] = []
        reason = ""
        for resource in resources or ("*",):
            decision = self.simulator.evaluate(Request(action, resource, context=context))
            if not decision.allowed:
                reason = reason or decision.reason
                matched.extend(m for m in decision.matched if m not in matched)
        return (DENIED if reason else ALLOWED), tuple(matched), reason

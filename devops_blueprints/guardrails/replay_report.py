"""The replay's summary (:func:`summarize`, in one process or several): would-be denials grouped by policy#Sid,
action and principal (count, first and last time), unmapped and unaffected events by reason, calls AWS already
denied, skipped files by reason; rendered as text, JSON or CSV.

With several worker processes each file is summarized in a worker and the parts are merged in the order of
the files, so the summary (and the order of the skipped-file lines) is the same as in one process.

Memory is bounded by the number of distinct groups, and that too is capped (:data:`GROUP_LIMIT` per
kind): past the cap, further new groups are counted together under ``(other groups)``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from devops_blueprints._text import printable
from devops_blueprints.guardrails.cloudtrail import FileProblem, LogSource, log_files
from devops_blueprints.guardrails.replay import (
    ALLOWED,
    ALREADY_DENIED,
    DENIED,
    OUTCOMES,
    UNAFFECTED,
    UNMAPPED,
    EventDecision,
    Replay,
)
from devops_blueprints.guardrails.simulator import Level, Simulator

GROUP_LIMIT = 100_000
OTHER = "(other groups)"


@dataclass
class Group:
    count: int = 0
    first: str | None = None
    last: str | None = None

    def add(self, time: str | None) -> None:
        self.count += 1
        if time is not None:  # ISO-8601 UTC strings order as text
            if self.first is None or time < self.first:
                self.first = time
            if self.last is None or time > self.last:
                self.last = time


@dataclass
class Summary:
    """Folds :class:`EventDecision`s into the report."""

    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    denied: dict[tuple[str, str, str, str], Group] = field(default_factory=dict)  # policy, sid, action, principal
    already_denied: dict[tuple[str, str, str], Group] = field(default_factory=dict)  # action, principal, errorCode
    unmapped: dict[str, Group] = field(default_factory=dict)
    unaffected: dict[str, Group] = field(default_factory=dict)
    problems: list[FileProblem] = field(default_factory=list)
    files_read: int = 0
    cache_hits: int = 0  # decisions answered by the decision cache (Replay.cache_info), not in to_dict
    cache_misses: int = 0

    def add(self, decision: EventDecision) -> None:
        self.events += 1
        outcome = decision.outcome
        self.outcomes[outcome] += 1
        if outcome == ALLOWED:
            return
        if outcome == DENIED:
            principal = decision.principal or "?"
            action = decision.action or "?"
            for policy, sid in decision.matched or (("(no allow)", decision.reason),):
                _group(self.denied, (policy, sid, action, principal)).add(decision.time)
        elif outcome == UNMAPPED:
            _group(self.unmapped, decision.reason).add(decision.time)
        elif outcome == UNAFFECTED:
            _group(self.unaffected, decision.reason).add(decision.time)
        elif outcome == ALREADY_DENIED:
            key = (decision.action or "?", decision.principal or "?", decision.reason)
            _group(self.already_denied, key).add(decision.time)

    def add_all(self, decisions: Iterable[EventDecision]) -> Summary:
        for decision in decisions:
            self.add(decision)
        return self

    def merge(self, other: Summary) -> Summary:
        """Add another summary's counts (a worker's, for one file) to this one."""
        self.events += other.events
        self.outcomes.update(other.outcomes)
        self.files_read += other.files_read
        self.problems.extend(other.problems)
        self.cache_hits += other.cache_hits
        self.cache_misses += other.cache_misses
        for mine, theirs in (
            (self.denied, other.denied),
            (self.already_denied, other.already_denied),
            (self.unmapped, other.unmapped),
            (self.unaffected, other.unaffected),
        ):
            for key, group in theirs.items():
                target: Group = _group(mine, key)
                target.count += group.count
                for time in (group.first, group.last):
                    if time is not None:
                        target.first = time if target.first is None or time < target.first else target.first
                        target.last = time if target.last is None or time > target.last else target.last
        return self

    @property
    def would_deny(self) -> int:
        return self.outcomes[DENIED]

    @property
    def cache_hit_rate(self) -> float:
        """Share of the evaluated events whose decision came from the cache (0.0 when none was evaluated)."""
        looked_up = self.cache_hits + self.cache_misses
        return self.cache_hits / looked_up if looked_up else 0.0

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        def rows(groups: dict[Any, Group], names: tuple[str, ...]) -> list[dict[str, Any]]:
            ordered = sorted(groups.items(), key=lambda item: (-item[1].count, str(item[0])))
            result = []
            for key, group in ordered[:top] if top else ordered:
                values = key if isinstance(key, tuple) else (key,)
                result.append({**dict(zip(names, values, strict=True)), **group.__dict__})
            return result

        return {
            "events": self.events,
            "files": self.files_read,
            "outcomes": {name: self.outcomes[name] for name in OUTCOMES},
            "denied": rows(self.denied, ("policy", "sid", "action", "principal")),
            "already_denied": rows(self.already_denied, ("action", "principal", "error_code")),
            "unmapped": rows(self.unmapped, ("reason",)),
            "unaffected": rows(self.unaffected, ("reason",)),
            "skipped_files": _problem_counts(self.problems),
        }


# -- several processes ---------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def default_jobs() -> int:
    """The CPUs this process may run on (the ``--jobs`` default)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return os.cpu_count() or 1


def _start_worker(levels: Sequence[Level], options: dict[str, Any]) -> None:
    _WORKER["replay"] = Replay(Simulator(levels), **options)


def _fold(replay: Replay, source: LogSource) -> Summary:
    """One file's summary (the cache counters: this file's share)."""
    part = Summary()
    log = replay.read(source)
    if isinstance(log, FileProblem):
        part.problems.append(log)
        return part
    part.files_read = 1
    before = replay.cache_info()
    decide, add, name = replay.decide, part.add, source.name
    for record in log.records:
        add(decide(record, name))
    after = replay.cache_info()
    part.cache_hits, part.cache_misses = after.hits - before.hits, after.misses - before.misses
    return part


def _summarize_file(source: LogSource) -> Summary:
    return _fold(_WORKER["replay"], source)


def summarize(
    levels: Sequence[Level],
    locations: Sequence[str],
    *,
    jobs: int = 1,
    on_file: Callable[[Summary], None] | None = None,
    on_problem: Callable[[FileProblem], None] | None = None,
    **options: Any,
) -> Summary:
    """The replay's :class:`Summary` of every log file under ``locations``, with ``jobs`` worker processes
    reading and deciding files in parallel (1: in this process; :func:`default_jobs` gives the CPU count).
    ``options`` are :class:`Replay`'s. Parts are merged in file order, so the result does not depend on
    ``jobs``; at most ``2 * jobs`` files are in flight, so memory stays bounded."""
    if jobs < 1:
        raise ValueError(f"jobs must be a positive number of processes, got {jobs}")
    summary = Summary()

    def merge(part: Summary) -> None:
        if on_problem is not None:
            for problem in part.problems:
                on_problem(problem)
        summary.merge(part)
        if on_file is not None and part.files_read:
            on_file(summary)

    items = log_files(locations, s3_client=options.get("s3_client"))
    if jobs > 1:  # no worker is worth starting for one file: look ahead for a second one
        ahead: list[LogSource | FileProblem] = []
        sources = 0
        for item in items:
            ahead.append(item)
            sources += isinstance(item, LogSource)
            if sources > 1:
                break
        else:
            jobs = 1
        items = itertools.chain(ahead, items)
    if jobs == 1:
        replay = Replay(Simulator(levels), **options)
        for item in items:
            merge(Summary(problems=[item]) if isinstance(item, FileProblem) else _fold(replay, item))
        return summary
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold boto3 threads
    worker_options = {k: v for k, v in options.items() if k != "s3_client"}
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start_worker, initargs=(levels, worker_options)
    ) as pool:
        pending: deque[Future[Summary] | Summary] = deque()  # in file order
        for item in items:
            pending.append(
                Summary(problems=[item]) if isinstance(item, FileProblem) else pool.submit(_summarize_file, item)
            )
            while len(pending) > 2 * jobs or (pending and not isinstance(pending[0], Future)):
                head = pending.popleft()
                merge(head.result() if isinstance(head, Future) else head)
        while pending:
            head = pending.popleft()
            merge(head.result() if isinstance(head, Future) else head)
    return summary


def _group(groups: dict[Any, Group], key: Any) -> Group:
    group = groups.get(key)
    if group is None:
        if len(groups) >= GROUP_LIMIT:
            key = tuple(OTHER for _ in key) if isinstance(key, tuple) else OTHER
            group = groups.get(key)
        if group is None:
            group = groups[key] = Group()
    return group


def _problem_counts(problems: list[FileProblem]) -> dict[str, int]:
    return dict(Counter(p.reason for p in problems))


def render_json(summary: Summary, top: int | None) -> str:
    return json.dumps(summary.to_dict(top), indent=2)


def render_csv(summary: Summary, top: int | None) -> str:
    """One row per group: kind (denied, already-denied, unmapped, unaffected), the group's fields, count, times."""
    data = summary.to_dict(top)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "policy", "sid", "action", "principal", "reason", "count", "first", "last"])
    for row in data["denied"]:
        writer.writerow(["denied", row["policy"], row["sid"], row["action"], row["principal"], "", *_tail(row)])
    for row in data["already_denied"]:
        writer.writerow(["already-denied", "", "", row["action"], row["principal"], row["error_code"], *_tail(row)])
    for kind in ("unmapped", "unaffected"):
        for row in data[kind]:
            writer.writerow([kind, "", "", "", "", row["reason"], *_tail(row)])
    return out.getvalue()


def _tail(row: dict[str, Any]) -> list[Any]:
    return [row["count"], row["first"] or "", row["last"] or ""]


def render_text(summary: Summary, top: int | None) -> str:
    data = summary.to_dict(top)
    lines: list[str] = []
    if data["denied"]:
        lines.append("Would be denied (policy#sid, action, principal: events, first .. last):")
        for row in data["denied"]:
            lines.append(
                f"  {row['policy']}#{row['sid']}  {row['action']}  {row['principal']}: "
                f"{row['count']:,}  {row['first'] or '?'} .. {row['last'] or '?'}"
            )
    if data["already_denied"]:
        lines.append("Already denied by AWS (action, principal, errorCode: events):")
        lines.extend(
            f"  {r['action']}  {r['principal']}  {r['error_code']}: {r['count']:,}" for r in data["already_denied"]
        )
    for kind, title in (("unmapped", "Not mapped to a request"), ("unaffected", "Not subject to SCPs")):
        if data[kind]:
            lines.append(f"{title} (reason: events):")
            lines.extend(f"  {r['reason']}: {r['count']:,}" for r in data[kind])
    outcomes = data["outcomes"]
    skipped = sum(data["skipped_files"].values())
    why = ", ".join(f"{count} {reason}" for reason, count in sorted(data["skipped_files"].items()))
    lines.append(
        f"{data['events']:,} events in {data['files']:,} file(s): {outcomes[DENIED]:,} would be denied, "
        f"{outcomes[ALLOWED]:,} allowed, {outcomes[ALREADY_DENIED]:,} already denied, "
        f"{outcomes[UNAFFECTED]:,} not subject to SCPs, {outcomes[UNMAPPED]:,} not mapped; "
        f"{skipped} file(s) skipped" + (f" ({why})" if why else "")
    )
    return "\n".join(printable(line) for line in lines)

"""The replay's summary: would-be denials grouped by policy#Sid, action and principal (count, first and
last time), unmapped and unaffected events by reason, calls AWS already denied, skipped files by reason;
rendered as text, JSON or CSV.

Memory is bounded by the number of distinct groups, and that too is capped (:data:`GROUP_LIMIT` per
kind): past the cap, further new groups are counted together under ``(other groups)``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from devops_blueprints._text import printable
from devops_blueprints.guardrails.cloudtrail import FileProblem
from devops_blueprints.guardrails.replay import (
    ALLOWED,
    ALREADY_DENIED,
    DENIED,
    OUTCOMES,
    UNAFFECTED,
    UNMAPPED,
    EventDecision,
)

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

    @property
    def would_deny(self) -> int:
        return self.outcomes[DENIED]

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

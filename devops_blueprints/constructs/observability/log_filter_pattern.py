"""A parser and evaluator of CloudWatch Logs filter-pattern syntax (plain Python, no CDK import).

The grammar is the one of "Filter pattern syntax for metric filters, subscription filters, filter log events,
and Live Tail", https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html, with its
sub-pages for terms in unstructured events, JSON events and space-delimited events:

* **JSON patterns** (``{ ... }``), fully: property selectors ``$.a.b``, array elements ``$.a[0]``;
  ``=`` / ``!=`` against a quoted or unquoted string with ``*`` wildcards anywhere, or a ``%regex%``;
  ``<``, ``>``, ``<=``, ``>=``, ``=``, ``!=`` against a number (integer, decimal, exponent, sign);
  ``IS TRUE``, ``IS FALSE``, ``IS NULL``, ``NOT EXISTS``; ``&&`` and ``||`` (``&&`` binds tighter) and
  parentheses. A comparison on a property that does not exist is false (``!=`` included): only
  ``NOT EXISTS`` matches a missing property. A number compares equal to a number of the same value
  (``123`` and ``123.0``); a wildcard or text is compared with the value's text.
* **Term patterns** for unstructured events: ``ERROR``, ``"quoted phrase"``, ``-excluded``, ``?any ?of``
  (each ``?`` term starts an alternative group of the terms up to the next one), ``%regex%``; case-sensitive
  substring matches. An empty pattern matches every event.
* **Space-delimited patterns** (``[ip, user, ..., status=4*, bytes>1000]``): fields named or ``...``
  (any number of fields), each with conditions joined by ``&&`` / ``||``. Event fields are split at
  whitespace, a ``"..."`` or ``[...]`` group being one field.

``parse_filter_pattern(text)`` returns a :class:`FilterPattern` (``.matches(event)``); a pattern that does not
parse raises :class:`FilterPatternError` with the 0-based ``position`` of the problem.

Caps, so hostile input cannot hang a synth or a test: a pattern is at most ``MAX_PATTERN_LENGTH`` characters
(the PutMetricFilter API's limit on ``filterPattern``, 1,024,
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html), nests
parentheses at most ``MAX_NESTING`` deep; an event longer than ``MAX_EVENT_BYTES`` (256 KiB, the largest
event CloudWatch Logs takes in PutLogEvents,
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html) or nested deeper
than Python's JSON decoder manages matches nothing. Wildcard matching is linear in the value's length (no
backtracking: the engine of :mod:`devops_blueprints._wildcards`, which the SCP simulator uses too, here with
``?`` literal); a ``%regex%`` runs on Python's ``re``, and the evaluator refuses a regex with a quantified
group that itself holds a quantifier (the shape that backtracks exponentially) instead of running it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from devops_blueprints._wildcards import compile_glob

#: ``filterPattern`` of PutMetricFilter / PutSubscriptionFilter: at most 1,024 characters.
MAX_PATTERN_LENGTH = 1024
#: Parentheses (JSON) and condition groups nested deeper than this are refused.
MAX_NESTING = 32
#: Largest event (UTF-8 bytes) the evaluator looks at; PutLogEvents' maximum event size is 256 KiB.
MAX_EVENT_BYTES = 256 * 1024
#: Fields of a space-delimited event looked at; an event with more matches no space-delimited pattern.
MAX_DELIMITED_FIELDS = 10_000

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Characters that end an unquoted selector name or value.
_NAME_STOP = set(" \t\r\n.[](){}=!<>&|\"'%,")
_VALUE_STOP = set(" \t\r\n(){}=!<>&|\"',]")
# A quantified group whose body holds a quantifier: (a+)+, (a*b?)*, (x{2,})... - exponential backtracking.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[*+?}](?:[^()\\]|\\.)*\)\s*[*+?{]")


class FilterPatternError(ValueError):
    """A pattern that does not parse, with the 0-based ``position`` in the pattern text."""

    def __init__(self, message: str, position: int, pattern: str = "") -> None:
        self.position = position
        self.pattern = pattern
        self.reason = message
        super().__init__(f"invalid filter pattern at position {position}: {message}")


# --------------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Wildcard:
    """A string with ``*`` wildcards (quoted or not); ``numeric`` when the text is a number literal."""

    text: str
    quoted: bool = False

    @property
    def number(self) -> float | None:
        if not self.quoted and _NUMBER.fullmatch(self.text):
            return float(self.text)
        return None

    def matches(self, value: str) -> bool:
        # ``*`` is the only wildcard of a filter-pattern value: a ``?`` inside one is literal.
        return compile_glob(self.text, question_mark=False)(value)


@dataclass(frozen=True)
class Regex:
    """A ``%regex%`` value."""

    source: str

    def matches(self, value: str) -> bool:
        if _NESTED_QUANTIFIER.search(self.source):
            raise FilterPatternError(
                f"the evaluator does not run a regex with a quantified group holding a quantifier: %{self.source}%", 0
            )
        return re.search(self.source, value) is not None


Value = Wildcard | Regex


# ------------------------------------------------------------------------------------------- JSON patterns

_MISSING = object()


@dataclass(frozen=True)
class Selector:
    """``$.a.b[0]``: keys (str) and array indexes (int) from the event's root."""

    text: str
    steps: tuple[str | int, ...]

    def resolve(self, document: Any) -> Any:
        current = document
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(current, list) or step >= len(current):
                    return _MISSING
                current = current[step]
            else:
                if not isinstance(current, dict) or step not in current:
                    return _MISSING
                current = current[step]
        return current


ComparisonOp = Literal["=", "!=", "<", ">", "<=", ">="]
Check = Literal["IS TRUE", "IS FALSE", "IS NULL", "NOT EXISTS"]


@dataclass(frozen=True)
class Comparison:
    selector: Selector
    op: ComparisonOp
    value: Value

    def evaluate(self, document: Any) -> bool:
        found = self.selector.resolve(document)
        if found is _MISSING or isinstance(found, (dict, list)):
            return False
        if self.op in ("=", "!="):
            return _equals(found, self.value) == (self.op == "=")
        number = self.value.number if isinstance(self.value, Wildcard) else None
        if number is None or isinstance(found, bool) or not isinstance(found, (int, float)):
            return False
        return _compare(float(found), self.op, number)


def _equals(found: Any, value: Value) -> bool:
    if isinstance(value, Regex):
        return value.matches(_text(found))
    number = value.number
    if number is not None and isinstance(found, (int, float)) and not isinstance(found, bool):
        return float(found) == number
    return value.matches(_text(found))


def _text(found: Any) -> str:
    if found is None:
        return "null"
    if isinstance(found, bool):
        return "true" if found else "false"
    if isinstance(found, float) and found.is_integer():
        return str(int(found)) if abs(found) < 1e16 else repr(found)
    return str(found)


def _compare(left: float, op: str, right: float) -> bool:
    return {
        "<": left < right,
        ">": left > right,
        "<=": left <= right,
        ">=": left >= right,
        "=": left == right,
        "!=": left != right,
    }[op]


@dataclass(frozen=True)
class Test:
    selector: Selector
    check: Check

    def evaluate(self, document: Any) -> bool:
        found = self.selector.resolve(document)
        if self.check == "NOT EXISTS":
            return found is _MISSING
        if self.check == "IS NULL":
            return found is None
        return found is (self.check == "IS TRUE")


@dataclass(frozen=True)
class BoolOp:
    op: Literal["&&", "||"]
    operands: tuple[JsonExpr, ...]

    def evaluate(self, document: Any) -> bool:
        if self.op == "&&":
            return all(operand.evaluate(document) for operand in self.operands)
        return any(operand.evaluate(document) for operand in self.operands)


JsonExpr = Comparison | Test | BoolOp


# ------------------------------------------------------------------------------- term and delimited patterns


@dataclass(frozen=True)
class Term:
    """One term of an unstructured-event pattern: ``kind`` is ``""`` (must appear), ``-`` (must not appear)
    or ``?`` (one of the ``?`` terms must appear)."""

    kind: Literal["", "-", "?"]
    value: Value


@dataclass(frozen=True)
class FieldCondition:
    op: ComparisonOp
    value: Value

    def evaluate(self, field_text: str) -> bool:
        if self.op in ("=", "!="):
            if isinstance(self.value, Regex):
                equal = self.value.matches(field_text)
            elif self.value.number is not None and _NUMBER.fullmatch(field_text):
                equal = float(field_text) == self.value.number
            else:
                equal = self.value.matches(field_text)
            return equal == (self.op == "=")
        number = self.value.number if isinstance(self.value, Wildcard) else None
        if number is None or not _NUMBER.fullmatch(field_text):
            return False
        return _compare(float(field_text), self.op, number)


@dataclass(frozen=True)
class DelimitedField:
    """A field of a space-delimited pattern: a name (or ``...``) and conditions in disjunctive form
    (``conditions`` is a tuple of alternatives, each a tuple of conditions that must all hold)."""

    name: str
    conditions: tuple[tuple[FieldCondition, ...], ...] = ()

    @property
    def is_ellipsis(self) -> bool:
        return self.name == "..."

    def evaluate(self, field_text: str) -> bool:
        if not self.conditions:
            return True
        return any(all(c.evaluate(field_text) for c in group) for group in self.conditions)


# ------------------------------------------------------------------------------------------------ the pattern


@dataclass(frozen=True)
class FilterPattern:
    """A parsed pattern. ``kind``: ``all`` (empty pattern), ``terms``, ``json`` or ``delimited``."""

    text: str
    kind: Literal["all", "terms", "json", "delimited"]
    json_expr: JsonExpr | None = None
    terms: tuple[Term, ...] = ()
    fields: tuple[DelimitedField, ...] = field(default=())

    def matches(self, event: str | Mapping[str, Any]) -> bool:
        """Whether CloudWatch Logs would select ``event`` (the event's message, or an already decoded JSON
        object) with this pattern."""
        if self.kind == "all":
            return True
        if isinstance(event, Mapping):
            if self.json_expr is not None:
                return self.json_expr.evaluate(event)
            event = json.dumps(event, separators=(",", ":"))
        if len(event.encode("utf-8", errors="replace")) > MAX_EVENT_BYTES:
            return False
        if self.json_expr is not None:
            try:
                document = json.loads(event)
            except (ValueError, RecursionError):
                return False
            return self.json_expr.evaluate(document)
        if self.kind == "terms":
            return _terms_match(self.terms, event)
        return _delimited_match(self.fields, event)


def _term_in(value: Value, event: str) -> bool:
    if isinstance(value, Regex):
        return value.matches(event)
    return value.text in event


def _group_matches(group: Sequence[Term], event: str) -> bool:
    return all(_term_in(t.value, event) != (t.kind == "-") for t in group)


def _terms_match(terms: Sequence[Term], event: str) -> bool:
    """Terms before the first ``?`` term must all appear (``-`` terms must not); from each ``?`` term on to the
    next one is an alternative group, and one group must match (``?ERROR ?WARN``: either word;
    ``?"ERROR" "Main" ?"WARN" "Dead"``: both of one pair, as aws-cdk-lib's ``FilterPattern.anyTermGroup``
    writes a choice of groups)."""
    leading: list[Term] = []
    groups: list[list[Term]] = []
    for term in terms:
        if term.kind == "?":
            groups.append([Term("", term.value)])
        elif groups:
            groups[-1].append(term)
        else:
            leading.append(term)
    if not _group_matches(leading, event):
        return False
    return not groups or any(_group_matches(group, event) for group in groups)


def split_delimited(event: str) -> list[str] | None:
    """The fields of a space-delimited event: whitespace separates, ``"..."`` and ``[...]`` are one field
    (without their quotes/brackets). None when the event has more than ``MAX_DELIMITED_FIELDS`` fields."""
    fields: list[str] = []
    i, n = 0, len(event)
    while i < n:
        if event[i].isspace():
            i += 1
            continue
        if len(fields) >= MAX_DELIMITED_FIELDS:
            return None
        closer = {'"': '"', "[": "]"}.get(event[i])
        if closer is not None:
            end = event.find(closer, i + 1)
            if end >= 0:
                fields.append(event[i + 1 : end])
                i = end + 1
                continue
        start = i
        while i < n and not event[i].isspace():
            i += 1
        fields.append(event[start:i])
    return fields


def _delimited_match(pattern_fields: Sequence[DelimitedField], event: str) -> bool:
    fields = split_delimited(event)
    if fields is None:
        return False
    # Segments of concrete fields between ellipses, matched like a glob: first anchored at the start unless
    # the pattern begins with "...", last anchored at the end unless it ends with "...", the others leftmost.
    segments: list[list[DelimitedField]] = [[]]
    for pattern_field in pattern_fields:
        if pattern_field.is_ellipsis:
            segments.append([])
        else:
            segments[-1].append(pattern_field)
    if len(segments) == 1:
        return len(fields) == len(segments[0]) and _segment_at(segments[0], fields, 0)
    first, *middle, last = segments
    if len(fields) < sum(len(s) for s in segments) or not _segment_at(first, fields, 0):
        return False
    position = len(first)
    end_limit = len(fields) - len(last)
    for segment in middle:
        while position + len(segment) <= end_limit and not _segment_at(segment, fields, position):
            position += 1
        if position + len(segment) > end_limit:
            return False
        position += len(segment)
    return _segment_at(last, fields, end_limit)


def _segment_at(segment: Sequence[DelimitedField], fields: Sequence[str], start: int) -> bool:
    return all(f.evaluate(fields[start + k]) for k, f in enumerate(segment))


# ---------------------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    # -- helpers
    def error(self, message: str, position: int | None = None) -> FilterPatternError:
        return FilterPatternError(message, self.pos if position is None else position, self.text)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def peek_word(self, word: str) -> bool:
        end = self.pos + len(word)
        return self.text[self.pos : end].upper() == word and (end == len(self.text) or not self.text[end].isalnum())

    def expect(self, token: str) -> None:
        self.skip_space()
        if not self.peek(token):
            found = self.text[self.pos : self.pos + 10] or "the end of the pattern"
            raise self.error(f"expected {token!r}, found {found!r}")
        self.pos += len(token)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"nesting deeper than {MAX_NESTING} levels")

    # -- values
    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.error("unterminated quoted string", start)

    def regex(self) -> Regex:
        start = self.pos
        end = self.text.find("%", self.pos + 1)
        if end < 0:
            raise self.error("unterminated %regex%", start)
        source = self.text[self.pos + 1 : end]
        if not source:
            raise self.error("empty %regex%", start)
        try:
            re.compile(source)
        except re.error as exc:
            raise self.error(f"invalid regular expression %{source}%: {exc}", start) from None
        self.pos = end + 1
        return Regex(source)

    def value(self, stop: set[str]) -> Value:
        self.skip_space()
        if self.pos >= len(self.text):
            raise self.error("expected a value, found the end of the pattern")
        char = self.text[self.pos]
        if char == '"':
            return Wildcard(self.quoted(), quoted=True)
        if char == "%":
            return self.regex()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            self.pos += 1
        if self.pos == start:
            raise self.error(f"expected a value, found {self.text[start]!r}")
        return Wildcard(self.text[start : self.pos])

    def number(self) -> Wildcard:
        self.skip_space()
        match = _NUMBER.match(self.text, self.pos)
        end = match.end() if match else self.pos
        if not match or (end < len(self.text) and self.text[end] not in _VALUE_STOP):
            raise self.error("a numeric comparison (<, >, <=, >=) needs a number")
        self.pos = end
        return Wildcard(match.group(0))

    def operator(self) -> ComparisonOp | None:
        for op in ("!=", "<=", ">=", "=", "<", ">"):
            if self.peek(op):
                self.pos += len(op)
                return op
        return None

    # -- JSON
    def selector(self) -> Selector:
        self.skip_space()
        start = self.pos
        if not self.peek("$"):
            raise self.error("expected a property selector starting with '$'")
        self.pos += 1
        steps: list[str | int] = []
        while self.pos < len(self.text):
            if self.peek("."):
                self.pos += 1
                name_start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] not in _NAME_STOP:
                    self.pos += 1
                if self.pos == name_start:
                    raise self.error("expected a property name after '.'")
                steps.append(self.text[name_start : self.pos])
            elif self.peek("["):
                self.pos += 1
                index_start = self.pos
                while self.pos < len(self.text) and self.text[self.pos].isdigit():
                    self.pos += 1
                if self.pos == index_start or not self.peek("]"):
                    raise self.error("an array index must be a non-negative integer in brackets", index_start)
                steps.append(int(self.text[index_start : self.pos]))
                self.pos += 1
            else:
                break
        if not steps:
            raise self.error("a selector names a property: $.name or $.name[0]", start)
        return Selector(self.text[start : self.pos], tuple(steps))

    def json_or(self) -> JsonExpr:
        operands = [self.json_and()]
        self.skip_space()
        while self.peek("||"):
            self.pos += 2
            operands.append(self.json_and())
            self.skip_space()
        return operands[0] if len(operands) == 1 else BoolOp("||", tuple(operands))

    def json_and(self) -> JsonExpr:
        operands = [self.json_primary()]
        self.skip_space()
        while self.peek("&&"):
            self.pos += 2
            operands.append(self.json_primary())
            self.skip_space()
        return operands[0] if len(operands) == 1 else BoolOp("&&", tuple(operands))

    def json_primary(self) -> JsonExpr:
        self.skip_space()
        if self.peek("("):
            self.enter()
            self.pos += 1
            expr = self.json_or()
            self.expect(")")
            self.depth -= 1
            return expr
        selector = self.selector()
        self.skip_space()
        if self.peek_word("IS"):
            self.pos += 2
            self.skip_space()
            for word in ("TRUE", "FALSE", "NULL"):
                if self.peek_word(word):
                    self.pos += len(word)
                    return Test(selector, f"IS {word}")  # type: ignore[arg-type]
            raise self.error("IS must be followed by TRUE, FALSE or NULL")
        if self.peek_word("NOT"):
            self.pos += 3
            self.skip_space()
            if not self.peek_word("EXISTS"):
                raise self.error("NOT must be followed by EXISTS")
            self.pos += 6
            return Test(selector, "NOT EXISTS")
        op_at = self.pos
        op = self.operator()
        if op is None:
            raise self.error("expected an operator (=, !=, <, >, <=, >=, IS, NOT EXISTS) after the selector")
        if op in ("=", "!="):
            return Comparison(selector, op, self.value(_VALUE_STOP))
        value = self.number()
        if value.number is None:
            raise self.error("a numeric comparison needs a number", op_at)
        return Comparison(selector, op, value)

    def json_pattern(self) -> FilterPattern:
        self.pos += 1  # "{"
        self.skip_space()
        if self.peek("}"):
            raise self.error("empty JSON pattern: put a condition between { and }")
        expr = self.json_or()
        self.expect("}")
        self.trailing()
        return FilterPattern(self.text, "json", json_expr=expr)

    # -- space-delimited
    def delimited_pattern(self) -> FilterPattern:
        self.pos += 1  # "["
        fields: list[DelimitedField] = []
        while True:
            self.skip_space()
            if self.peek("]") and not fields:
                raise self.error("empty space-delimited pattern: name at least one field")
            fields.append(self.delimited_field())
            self.skip_space()
            if self.peek(","):
                self.pos += 1
                continue
            self.expect("]")
            break
        self.trailing()
        return FilterPattern(self.text, "delimited", fields=tuple(fields))

    def delimited_field(self) -> DelimitedField:
        if self.peek("..."):
            self.pos += 3
            return DelimitedField("...")
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_-.:@"):
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            raise self.error("expected a field name or '...'")
        self.skip_space()
        if self.pos >= len(self.text) or self.peek(",") or self.peek("]"):
            return DelimitedField(name)
        groups: list[tuple[FieldCondition, ...]] = []
        current: list[FieldCondition] = []
        while True:
            current.append(self.field_condition(name))
            self.skip_space()
            if self.peek("&&"):
                self.pos += 2
            elif self.peek("||"):
                self.pos += 2
                groups.append(tuple(current))
                current = []
            else:
                break
            if len(groups) + len(current) > MAX_NESTING:
                raise self.error(f"more than {MAX_NESTING} conditions on one field")
            self.skip_space()
            if self.text.startswith(name, self.pos):
                self.pos += len(name)
            else:
                raise self.error(f"a condition joined with && or || must name the field {name!r} again")
        groups.append(tuple(current))
        return DelimitedField(name, tuple(groups))

    def field_condition(self, name: str) -> FieldCondition:
        self.skip_space()
        op = self.operator()
        if op is None:
            raise self.error(f"expected an operator (=, !=, <, >, <=, >=) after the field {name!r}")
        if op in ("=", "!="):
            return FieldCondition(op, self.value(_VALUE_STOP))
        return FieldCondition(op, self.number())

    # -- terms
    def term_pattern(self) -> FilterPattern:
        terms: list[Term] = []
        while True:
            self.skip_space()
            if self.pos >= len(self.text):
                break
            kind: Literal["", "-", "?"] = ""
            if self.text[self.pos] in "-?" and self.pos + 1 < len(self.text) and not self.text[self.pos + 1].isspace():
                kind = self.text[self.pos]  # type: ignore[assignment]
                self.pos += 1
            char = self.text[self.pos]
            if char in "{[":
                raise self.error(f"{char!r} starts a JSON or space-delimited pattern only at the beginning")
            if char == '"':
                value: Value = Wildcard(self.quoted(), quoted=True)
            elif char == "%":
                value = self.regex()
            else:
                start = self.pos
                while self.pos < len(self.text) and not self.text[self.pos].isspace():
                    if self.text[self.pos] == '"':
                        raise self.error("a quote inside an unquoted term: quote the whole term")
                    self.pos += 1
                value = Wildcard(self.text[start : self.pos])
            terms.append(Term(kind, value))
        return FilterPattern(self.text, "terms", terms=tuple(terms))

    def trailing(self) -> None:
        self.skip_space()
        if self.pos < len(self.text):
            raise self.error(f"unexpected text after the pattern: {self.text[self.pos : self.pos + 10]!r}")


def parse_filter_pattern(text: str) -> FilterPattern:
    """Parse a CloudWatch Logs filter pattern; :class:`FilterPatternError` (with ``position``) if it does
    not parse."""
    if not isinstance(text, str):
        raise FilterPatternError(f"a filter pattern is a string, got {type(text).__name__}", 0)
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(
            f"the pattern has {len(text)} characters; CloudWatch Logs takes at most {MAX_PATTERN_LENGTH}",
            MAX_PATTERN_LENGTH,
            text,
        )
    parser = _Parser(text)
    parser.skip_space()
    if parser.pos >= len(text):
        return FilterPattern(text, "all")
    if parser.peek("{"):
        return parser.json_pattern()
    if parser.peek("["):
        return parser.delimited_pattern()
    return parser.term_pattern()


def parse_selector(text: str) -> Selector:
    """A JSON property selector alone (a metric filter's ``metricValue`` such as ``$.event_details.duration``)."""
    parser = _Parser(text)
    selector = parser.selector()
    parser.trailing()
    return selector

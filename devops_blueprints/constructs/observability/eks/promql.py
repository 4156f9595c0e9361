"""A small PromQL syntax check (plain Python): ``check_promql(query)`` raises one ValueError with the position.

It follows the expression language of the Prometheus querying docs:

- https://prometheus.io/docs/prometheus/latest/querying/basics/ (literals, selectors, matchers, durations, offset/@,
  subqueries),
- https://prometheus.io/docs/prometheus/latest/querying/operators/ (binary operators and their precedence, ``bool``,
  ``on``/``ignoring``/``group_left``/``group_right``, aggregation operators and ``by``/``without``),
- https://prometheus.io/docs/prometheus/latest/querying/functions/ (function names and arities),

and the grammar they are generated from (promql/parser/generated_parser.y and lex.go in prometheus/prometheus).

What it checks: balanced ``()``, ``[]``, ``{}``; closed string literals with valid escapes; label matchers
(``=``, ``!=``, ``=~``, ``!~``) with a quoted value; range and subquery durations; known aggregation and function
names with their number of arguments, and which argument is a range vector; binary operators between operands,
their modifiers (``bool`` on comparisons, vector matching between vectors, no set operators on scalars), and
``offset`` / ``@`` after selectors and subqueries only, once each. Keywords such as ``by`` or ``and`` are metric
names where an operand is expected, as in Prometheus' grammar. What it does not check: other value types (e.g.
``histogram_quantile("a", x)`` passes), regular expression syntax inside ``=~``, and metric existence. It is a
tokenizer plus a recursive-descent parser: linear in the query's length, with a length cap and a nesting cap, so
no input makes it slow.

Checked against Prometheus' own parser: tests/observability/eks/data/promtool_verdicts.jsonl holds ~3000 queries
judged by promtool 2.42 (``promtool check rules``); check_promql agrees on every one. Syntax newer than 2.42
(UTF-8 quoted metric names, ``_`` in numbers, durations as numbers, the 3.x functions) follows the 3.x docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_LENGTH = 4096
"""Longest query accepted (characters); KEDA sends the query in a URL, and a query this long is a mistake."""

MAX_NESTING = 64
"""Deepest nesting of parentheses, calls and subqueries accepted."""

AGGREGATIONS: dict[str, int] = {
    # name -> number of arguments (the parameter, then the vector)
    "sum": 1,
    "min": 1,
    "max": 1,
    "avg": 1,
    "group": 1,
    "stddev": 1,
    "stdvar": 1,
    "count": 1,
    "count_values": 2,
    "bottomk": 2,
    "topk": 2,
    "quantile": 2,
    "limitk": 2,
    "limit_ratio": 2,
}

_ANY = -1
FUNCTIONS: dict[str, tuple[int, int]] = {
    # name -> (fewest, most) arguments; _ANY = variadic
    **{
        name: (1, 1)
        for name in [
            "abs",
            "absent",
            "absent_over_time",
            "acos",
            "acosh",
            "asin",
            "asinh",
            "atan",
            "atanh",
            "avg_over_time",
            "ceil",
            "changes",
            "cos",
            "cosh",
            "count_over_time",
            "deg",
            "delta",
            "deriv",
            "exp",
            "first_over_time",
            "floor",
            "histogram_avg",
            "histogram_count",
            "histogram_stddev",
            "histogram_stdvar",
            "histogram_sum",
            "idelta",
            "increase",
            "irate",
            "last_over_time",
            "ln",
            "log10",
            "log2",
            "mad_over_time",
            "max_over_time",
            "min_over_time",
            "present_over_time",
            "rad",
            "rate",
            "resets",
            "scalar",
            "sgn",
            "sin",
            "sinh",
            "sort",
            "sort_desc",
            "sqrt",
            "stddev_over_time",
            "stdvar_over_time",
            "sum_over_time",
            "tan",
            "tanh",
            "timestamp",
            "ts_of_first_over_time",
            "ts_of_last_over_time",
            "ts_of_max_over_time",
            "ts_of_min_over_time",
            "vector",
        ]
    },
    **{
        name: (0, 1)
        for name in ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"]
    },
    "pi": (0, 0),
    "time": (0, 0),
    "clamp": (3, 3),
    "clamp_max": (2, 2),
    "clamp_min": (2, 2),
    "histogram_fraction": (3, 3),
    "histogram_quantile": (2, 2),
    "double_exponential_smoothing": (3, 3),
    "holt_winters": (3, 3),
    "info": (1, 2),
    "label_join": (3, _ANY),
    "label_replace": (5, 5),
    "predict_linear": (2, 2),
    "quantile_over_time": (2, 2),
    "round": (1, 2),
    "sort_by_label": (1, _ANY),
    "sort_by_label_desc": (1, _ANY),
}

# Functions whose argument at this index is a range vector (functions docs: "range-vector" arguments).
_RANGE_ARGUMENT: dict[str, int] = {
    **{
        name: 0
        for name in [
            "absent_over_time",
            "avg_over_time",
            "changes",
            "count_over_time",
            "delta",
            "deriv",
            "first_over_time",
            "idelta",
            "increase",
            "irate",
            "last_over_time",
            "mad_over_time",
            "max_over_time",
            "min_over_time",
            "present_over_time",
            "rate",
            "resets",
            "stddev_over_time",
            "stdvar_over_time",
            "sum_over_time",
            "ts_of_first_over_time",
            "ts_of_last_over_time",
            "ts_of_max_over_time",
            "ts_of_min_over_time",
            "predict_linear",
            "double_exponential_smoothing",
            "holt_winters",
        ]
    },
    "quantile_over_time": 1,
}
_KIND_NAMES = {
    "selector": "an instant vector",
    "vector": "an instant vector",
    "scalar": "a scalar",
    "string": "a string",
}

# Binary operators by precedence, lowest first; "^" is right-associative (operators docs, "Binary operator
# precedence").
_PRECEDENCE: list[frozenset[str]] = [
    frozenset({"or"}),
    frozenset({"and", "unless"}),
    frozenset({"==", "!=", "<=", "<", ">=", ">"}),
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%", "atan2"}),
    frozenset({"^"}),
]
_COMPARISONS = _PRECEDENCE[2]
_SET_OPERATORS = frozenset({"and", "or", "unless"})
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"})
# Keywords that are never a metric name (the grammar's metric_identifier admits the others, e.g. a metric
# called "by" or "and"); checked against promtool's parser.
_NOT_METRIC_NAMES = frozenset({"on", "ignoring", "group_left", "group_right", "bool", "atan2"})

_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_NUMBER = re.compile(
    r"(?:0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|(?:[0-9](?:_?[0-9])*(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"(?![A-Za-z0-9_.])"
    r"|(?:[iI][nN][fF]|[nN][aA][nN])(?![A-Za-z0-9_:])"
)
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SPACE = re.compile(r"\s+|#[^\n]*")
_STRING_ESCAPES = frozenset("abfnrtv\\'\"")

_OPERATOR_TOKENS = ("==", "!=", "=~", "!~", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "^", "=", "@", ",", ":")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "duration", "string", "ident", "op", "(", ")", "[", "]", "{", "}", "end"
    text: str
    pos: int


class _Error(ValueError):
    pass


def check_promql(query: str) -> None:
    """Raise one ValueError naming the position (0-based character offset) and the reason unless ``query`` is
    syntactically valid PromQL (see the module docstring for what is and is not checked)."""
    if not isinstance(query, str):
        raise ValueError(f"PromQL query must be a string, got {type(query).__name__}")
    if len(query) > MAX_QUERY_LENGTH:
        raise ValueError(f"PromQL query is {len(query)} characters long; at most {MAX_QUERY_LENGTH} are allowed")
    if not query.strip():
        raise ValueError("PromQL query is empty")
    try:
        tokens = _tokenize(query)
        _Parser(tokens).parse()
    except _Error as error:
        raise ValueError(f"PromQL query {_shorten(query)!r}: {error}") from None


def _shorten(query: str) -> str:
    return query if len(query) <= 200 else query[:197] + "..."


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    stack: list[_Token] = []
    pos = 0
    length = len(query)
    while pos < length:
        space = _SPACE.match(query, pos)
        if space:
            pos = space.end()
            continue
        char = query[pos]
        if char in _BRACKETS:
            token = _Token(char, char, pos)
            stack.append(token)
            tokens.append(token)
            pos += 1
            continue
        if char in ")]}":
            if not stack:
                raise _Error(f"at position {pos}: unexpected {char!r} with no opening bracket")
            opening = stack.pop()
            if _BRACKETS[opening.kind] != char:
                raise _Error(
                    f"at position {pos}: {char!r} closes {opening.kind!r} opened at position {opening.pos}; "
                    f"expected {_BRACKETS[opening.kind]!r}"
                )
            tokens.append(_Token(char, char, pos))
            pos += 1
            continue
        if char in "\"'`":
            end = _string_end(query, pos)
            tokens.append(_Token("string", query[pos:end], pos))
            pos = end
            continue
        if char == ":" and tokens and tokens[-1].kind == "duration":
            tokens.append(_Token("op", ":", pos))  # the step separator of a subquery [5m:1m]
            pos += 1
            continue
        if char.isdigit():
            duration = _DURATION.match(query, pos)
            if duration and not _continues_identifier(query, duration.end()):
                tokens.append(_Token("duration", duration.group(), pos))
                pos = duration.end()
                continue
        number = _NUMBER.match(query, pos)
        if number:
            tokens.append(_Token("number", number.group(), pos))
            pos = number.end()
            continue
        identifier = _IDENTIFIER.match(query, pos)
        if identifier:
            tokens.append(_Token("ident", identifier.group(), pos))
            pos = identifier.end()
            continue
        for operator in _OPERATOR_TOKENS:
            if query.startswith(operator, pos):
                tokens.append(_Token("op", operator, pos))
                pos += len(operator)
                break
        else:
            raise _Error(f"at position {pos}: unexpected character {char!r}")
    if stack:
        opening = stack[-1]
        raise _Error(
            f"at position {opening.pos}: {opening.kind!r} is never closed (expected {_BRACKETS[opening.kind]!r})"
        )
    tokens.append(_Token("end", "", length))
    return tokens


def _continues_identifier(query: str, pos: int) -> bool:
    return pos < len(query) and (query[pos].isalnum() or query[pos] in "_.")


def _string_end(query: str, start: int) -> int:
    quote = query[start]
    pos = start + 1
    while pos < len(query):
        char = query[pos]
        if char == quote:
            return pos + 1
        if quote != "`":
            if char == "\n":
                break
            if char == "\\":
                pos = _escape_end(query, pos)
                continue
        pos += 1
    raise _Error(f"at position {start}: string literal is never closed (expected {quote})")


def _escape_end(query: str, pos: int) -> int:
    # Go string escapes (basics docs: "PromQL follows the same escaping rules as Go").
    if pos + 1 >= len(query):
        raise _Error(f"at position {pos}: escape sequence at the end of the query")
    char = query[pos + 1]
    if char in _STRING_ESCAPES:
        return pos + 2
    widths = {"x": 2, "u": 4, "U": 8}
    if char in widths:
        digits = query[pos + 2 : pos + 2 + widths[char]]
        if len(digits) == widths[char] and all(d in "0123456789abcdefABCDEF" for d in digits):
            return pos + 2 + widths[char]
    elif char in "01234567":
        digits = query[pos + 1 : pos + 4]
        if len(digits) == 3 and all(d in "01234567" for d in digits):
            return pos + 4
    raise _Error(f"at position {pos}: unknown escape sequence \\{char} in a string literal")


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.token
        return token.kind == kind and (text is None or token.text == text)

    def expect(self, kind: str, text: str | None, what: str) -> _Token:
        if not self.at(kind, text):
            self.fail(f"expected {what}")
        return self.advance()

    def fail(self, reason: str) -> None:
        token = self.token
        found = "the end of the query" if token.kind == "end" else repr(token.text)
        raise _Error(f"at position {token.pos}: {reason}, found {found}")

    def parse(self) -> None:
        self.expression(0)
        if not self.at("end"):
            self.fail("expected a binary operator or the end of the query")

    # expression := unary (binop modifiers unary)*, by precedence level
    def expression(self, level: int) -> str:
        if level == len(_PRECEDENCE):
            return self.unary()
        kind = self.expression(level + 1)
        while self.binary_operator() in _PRECEDENCE[level]:
            token = self.advance()
            operator = token.text
            returns_bool, matching = self.binary_modifiers(operator)
            # "^" is right-associative: its right operand may hold another "^".
            if operator == "^":
                self.enter()
                right = self.expression(level)
                self.depth -= 1
            else:
                right = self.expression(level + 1)
            kind = self.binary_result(token, kind, right, returns_bool=returns_bool, matching=matching)
        return kind

    def binary_result(self, token: _Token, left: str, right: str, *, returns_bool: bool, matching: bool) -> str:
        where = f"at position {token.pos}: operator {token.text!r}"
        for operand in (left, right):
            if operand == "string":
                raise _Error(f"{where} cannot take a string literal as an operand")
            if operand == "range":
                raise _Error(f"{where} cannot take a range vector (x[5m]) as an operand; wrap it in a function")
        scalars = left == "scalar" and right == "scalar"
        if matching and "scalar" in (left, right):
            raise _Error(f"{where}: vector matching (on/ignoring) needs instant vectors on both sides")
        if token.text in _SET_OPERATORS and "scalar" in (left, right):
            raise _Error(f"{where} is a set operator: both operands must be instant vectors")
        if token.text in _COMPARISONS and scalars and not returns_bool:
            raise _Error(f"{where} compares two scalars, which needs the 'bool' modifier")
        return "scalar" if scalars else "vector"

    def binary_operator(self) -> str:
        token = self.token
        if token.kind == "op" and token.text not in {"=", "=~", "!~", "@", ",", ":"}:
            return token.text
        if token.kind == "ident" and token.text in {"and", "or", "unless", "atan2"}:
            return token.text
        return ""

    def binary_modifiers(self, operator: str) -> tuple[bool, bool]:
        """Parse ``bool`` and vector matching after ``operator``: (``bool`` given, ``on``/``ignoring`` given)."""
        returns_bool = matching = False
        if self.at("ident", "bool"):
            if operator not in _COMPARISONS:
                self.fail(f"'bool' may only follow a comparison operator, not {operator!r}")
            self.advance()
            returns_bool = True
        if self.at("ident", "on") or self.at("ident", "ignoring"):
            matching = True
            self.advance()
            self.label_list()
            if self.at("ident", "group_left") or self.at("ident", "group_right"):
                if operator in _SET_OPERATORS:
                    self.fail(f"group modifiers are not allowed with the set operator {operator!r}")
                self.advance()
                if self.at("("):
                    self.label_list()
        return returns_bool, matching

    def unary(self) -> str:
        sign = None
        while self.at("op", "+") or self.at("op", "-"):
            sign = self.advance()
        kind = self.postfix(self.primary())
        if sign is not None and kind in {"range", "string"}:
            what = "a range vector" if kind == "range" else "a string"
            raise _Error(f"at position {sign.pos}: a unary {sign.text!r} cannot apply to {what}")
        return kind

    def postfix(self, kind: str) -> str:
        modified = False
        seen: set[str] = set()
        while True:
            if self.at("["):
                # After a modifier, a range [..] no longer fits (it comes first: x[5m] offset 1h); a subquery does.
                self.range_or_subquery("vector" if modified and kind == "selector" else kind)
                kind, modified = "range", False
                seen.clear()
            elif self.at("ident", "offset") or self.at("op", "@"):
                # Modifiers follow a selector or a subquery only (basics docs, "offset modifier", "@ modifier").
                if kind not in {"selector", "range"}:
                    self.fail(f"{self.token.text!r} must follow a vector selector, a range selector or a subquery")
                if self.token.text in seen:
                    self.fail(f"{self.token.text!r} may be given only once per selector or subquery")
                seen.add(self.token.text)
                self.modifier()
                modified = True
            else:
                return "vector" if modified and kind == "selector" else kind

    def modifier(self) -> None:
        if self.at("ident", "offset"):
            self.advance()
            if self.at("op", "-") or self.at("op", "+"):
                self.advance()
            self.expect("duration", None, "a duration after 'offset' (e.g. 5m)")
            return
        self.advance()  # "@"
        if self.at("ident", "start") or self.at("ident", "end"):
            self.advance()
            self.expect("(", None, "'(' after start/end")
            self.expect(")", None, "')'")
            return
        if self.at("op", "-") or self.at("op", "+"):
            self.advance()
        self.expect("number", None, "a Unix timestamp, start() or end() after '@'")

    def range_or_subquery(self, kind: str) -> None:
        opening = self.advance()
        self.expect("duration", None, "a range duration (e.g. 5m)")
        if self.at("op", ":"):
            if kind not in {"selector", "vector"}:
                raise _Error(
                    f"at position {opening.pos}: a subquery [range:step] needs an instant vector, not a {kind}"
                )
            self.advance()
            if self.at("duration"):
                self.advance()
        elif kind != "selector":
            raise _Error(
                f"at position {opening.pos}: a range [...] must follow a vector selector "
                "(use a subquery [range:step] for other expressions)"
            )
        self.expect("]", None, "']'")

    def primary(self) -> str:
        token = self.token
        if token.kind == "number":
            self.advance()
            return "scalar"
        if token.kind == "duration":
            self.advance()  # a duration is a number of seconds (Prometheus 3 "duration expressions")
            return "scalar"
        if token.kind == "string":
            self.advance()
            return "string"
        if token.kind == "(":
            self.enter()
            self.advance()
            kind = self.expression(0)
            self.expect(")", None, "')' or a binary operator")
            self.depth -= 1
            return "vector" if kind == "selector" else kind
        if token.kind == "{":
            self.matchers(require_one=True)
            return "selector"
        if token.kind == "ident":
            return self.identifier()
        self.fail("expected a number, string, selector, function call, aggregation or '('")
        return ""

    def identifier(self) -> str:
        token = self.advance()
        name = token.text
        if name in AGGREGATIONS and (self.at("(") or self.at("ident", "by") or self.at("ident", "without")):
            self.aggregation(name)
            return "vector"
        if name in _NOT_METRIC_NAMES:
            raise _Error(f"at position {token.pos}: {name!r} is a keyword and cannot start an expression")
        if self.at("(") and (name in _KEYWORDS or name in _SET_OPERATORS):
            raise _Error(f"at position {token.pos}: {name!r} is a keyword, not a function")
        if self.at("("):
            if name not in FUNCTIONS:
                raise _Error(f"at position {token.pos}: unknown function {name!r}")
            self.call(name, token.pos)
            return "vector" if name not in {"scalar", "time", "pi"} else "scalar"
        if self.at("{"):
            self.matchers(require_one=False)
        return "selector"

    def aggregation(self, name: str) -> None:
        grouped = self.grouping()
        self.enter()
        opening = self.expect("(", None, f"'(' after {name}")
        kinds = self.arguments()
        self.depth -= 1
        count = len(kinds)
        for kind, at in kinds:
            if kind == "range":
                raise _Error(f"at position {at}: aggregation {name!r} takes instant vectors, not a range vector")
        if count != AGGREGATIONS[name]:
            raise _Error(
                f"at position {opening.pos}: aggregation {name!r} takes {AGGREGATIONS[name]} argument(s), got {count}"
            )
        clause = self.token
        if self.grouping() and grouped:
            raise _Error(f"at position {clause.pos}: {name} has two by/without clauses")

    def grouping(self) -> bool:
        if self.at("ident", "by") or self.at("ident", "without"):
            self.advance()
            self.label_list()
            return True
        return False

    def call(self, name: str, pos: int) -> None:
        self.enter()
        self.advance()
        kinds = self.arguments()
        self.depth -= 1
        fewest, most = FUNCTIONS[name]
        count = len(kinds)
        if count < fewest or (most != _ANY and count > most):
            wanted = f"{fewest}" if fewest == most else f"{fewest} to {'any number' if most == _ANY else most}"
            raise _Error(f"at position {pos}: function {name!r} takes {wanted} argument(s), got {count}")
        wants_range = _RANGE_ARGUMENT.get(name)
        for index, (kind, at) in enumerate(kinds):
            if index == wants_range and kind != "range":
                raise _Error(
                    f"at position {at}: function {name!r} needs a range vector (e.g. x[5m]) as argument "
                    f"{index + 1}, got {_KIND_NAMES.get(kind, kind)}"
                )
            if index != wants_range and kind == "range":
                raise _Error(
                    f"at position {at}: function {name!r} does not take a range vector as argument {index + 1}"
                )

    def arguments(self) -> list[tuple[str, int]]:
        """After '(': parse comma-separated expressions up to and including ')'; (kind, position) of each."""
        if self.at(")"):
            self.advance()
            return []
        kinds: list[tuple[str, int]] = []
        while True:
            at = self.token.pos
            kinds.append((self.expression(0), at))
            if self.at("op", ","):
                self.advance()
                continue
            self.expect(")", None, "',' or ')'")
            return kinds

    def label_list(self) -> None:
        self.expect("(", None, "'(' and a list of label names")
        while not self.at(")"):
            if self.at("ident") or self.at("string"):
                self.advance()
            else:
                self.fail("expected a label name")
            if self.at("op", ","):
                self.advance()
            elif not self.at(")"):
                self.fail("expected ',' or ')' in the label list")
        self.advance()

    def matchers(self, *, require_one: bool) -> None:
        opening = self.advance()
        count = 0
        while not self.at("}"):
            if (
                self.at("string")
                and self.tokens[self.index + 1].kind in {"op", "}"}
                and (self.tokens[self.index + 1].text in {",", "}"})
            ):
                self.advance()  # a quoted metric name inside the braces (Prometheus 3 UTF-8 names)
            else:
                if not (self.at("ident") or self.at("string")):
                    self.fail("expected a label name in the matcher")
                self.advance()
                operator = self.token
                if not (operator.kind == "op" and operator.text in {"=", "!=", "=~", "!~"}):
                    self.fail("expected a label matcher operator (=, !=, =~ or !~)")
                self.advance()
                self.expect("string", None, "a quoted label value")
            count += 1
            if self.at("op", ","):
                self.advance()
            elif not self.at("}"):
                self.fail("expected ',' or '}' after a label matcher")
        self.advance()
        if require_one and count == 0:
            raise _Error(f"at position {opening.pos}: a selector needs a metric name or at least one label matcher")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.fail(f"nesting deeper than {MAX_NESTING} levels")

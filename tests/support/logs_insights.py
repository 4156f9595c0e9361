"""A small evaluator for the part of CloudWatch Logs Insights QL that our saved queries' ``filter``
commands use, so tests can run the synthesized query strings against sample log lines.

Supported (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html):
``filter`` with ``and``, ``or``, ``not``, parentheses, ``field = "text"`` / ``!=``, ``field like /regex/``,
``field like "text"`` (substring), ``ispresent(field)``; several ``filter`` commands all apply. Other
commands (``fields``, ``sort``, ``limit``...) do not select events and are skipped. Anything else in a
``filter`` raises ``ValueError``, so a query using syntax this evaluator does not know fails its test
instead of passing by accident.

Fields of an event, as Logs Insights discovers them
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html):
``@message`` (the raw line); for a JSON object, every key, nested keys joined with dots
(``record.status``) and list items by index; for Lambda's ``START``/``END``/``REPORT`` lines ``@type`` and
``@requestId``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Fields = dict[str, str]
Predicate = Callable[[Fields], bool]

_LAMBDA_PLATFORM_LINE = re.compile(r"^(START|END|REPORT) RequestId: (\S+)")


def discovered_fields(message: str) -> Fields:
    """The fields Logs Insights would discover in one log event."""
    fields: Fields = {"@message": message}
    try:
        document = json.loads(message)
    except ValueError:
        document = None
    if isinstance(document, dict):
        _flatten(document, "", fields)
    platform = _LAMBDA_PLATFORM_LINE.match(message)
    if platform:
        fields["@type"], fields["@requestId"] = platform.group(1), platform.group(2)
    return fields


def _flatten(value: Any, prefix: str, out: Fields) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}{index}.", out)
    elif value is not None:
        out[prefix[:-1]] = json.dumps(value) if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class _Token:
    kind: str  # word, string, number, regex, op, lparen, rparen, comma, pipe
    text: str


_WORD = re.compile(r"[@A-Za-z_][@A-Za-z0-9_.]*")


def _tokens(query: str) -> Iterator[_Token]:
    i, previous = 0, None
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
            continue
        if char == "#":
            raise ValueError(f"comments are not supported (at {i})")
        if char in "\"'":
            end = query.index(char, i + 1)
            token = _Token("string", query[i + 1 : end])
            i = end + 1
        elif char == "/" and previous is not None and previous.kind == "word" and previous.text.lower() == "like":
            end = i + 1
            while query[end] != "/":
                end += 2 if query[end] == "\\" else 1
            token = _Token("regex", query[i + 1 : end])
            i = end + 1
        elif query.startswith("!=", i):
            token, i = _Token("op", "!="), i + 2
        elif char in "=|(),":
            kinds = {"=": "op", "|": "pipe", "(": "lparen", ")": "rparen", ",": "comma"}
            token, i = _Token(kinds[char], char), i + 1
        elif char.isdigit():
            number = re.compile(r"[0-9.]+").match(query, i)
            assert number is not None
            token, i = _Token("number", number.group()), number.end()
        else:
            word = _WORD.match(query, i)
            if word is None:
                raise ValueError(f"unsupported character {char!r} at {i} in the query")
            token, i = _Token("word", word.group()), word.end()
        previous = token
        yield token


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.position = tokens, 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text.lower() != text):
            raise ValueError(f"expected {text or kind}, got {token}")
        self.position += 1
        return token

    def keyword(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() == text:
            self.position += 1
            return True
        return False

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.keyword("or"):
            terms.append(self.conjunction())
        return lambda fields: any(term(fields) for term in terms)

    def conjunction(self) -> Predicate:
        terms = [self.negation()]
        while self.keyword("and"):
            terms.append(self.negation())
        return lambda fields: all(term(fields) for term in terms)

    def negation(self) -> Predicate:
        if self.keyword("not"):
            inner = self.negation()
            return lambda fields: not inner(fields)
        return self.primary()

    def primary(self) -> Predicate:
        token = self.peek()
        if token is not None and token.kind == "lparen":
            self.take("lparen")
            inner = self.expression()
            self.take("rparen")
            return inner
        if self.keyword("ispresent"):
            self.take("lparen")
            name = self.take("word").text
            self.take("rparen")
            return lambda fields: name in fields
        name = self.take("word").text
        if self.keyword("like"):
            pattern = self.peek()
            if pattern is not None and pattern.kind == "regex":
                self.position += 1
                compiled = re.compile(pattern.text)
                return lambda fields: name in fields and compiled.search(fields[name]) is not None
            text = self.take("string").text
            return lambda fields: name in fields and text in fields[name]
        operator = self.take("op").text
        value = self.take("string").text
        if operator == "=":
            return lambda fields: fields.get(name) == value
        return lambda fields: name in fields and fields[name] != value


def compile_filter(query: str) -> Predicate:
    """A predicate over :func:`discovered_fields` that is true when the query's ``filter`` commands keep the event."""
    commands: list[list[_Token]] = [[]]
    for token in _tokens(query):
        if token.kind == "pipe":
            commands.append([])
        else:
            commands[-1].append(token)
    predicates = []
    for command in commands:
        if command and command[0].kind == "word" and command[0].text.lower() == "filter":
            parser = _Parser(command[1:])
            predicates.append(parser.expression())
            if parser.peek() is not None:
                raise ValueError(f"unsupported filter syntax at {parser.peek()}")
    if not predicates:
        raise ValueError("the query has no filter command")
    return lambda fields: all(predicate(fields) for predicate in predicates)


def matches(query: str, message: str) -> bool:
    """Whether the query's filter keeps the log event ``message``."""
    return compile_filter(query)(discovered_fields(message))

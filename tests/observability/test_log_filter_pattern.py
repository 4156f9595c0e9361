"""The CloudWatch Logs filter-pattern parser and evaluator: every operator of the syntax
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html), errors with their
position, the caps on hostile input, and the source article's pattern on RUM events."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devops_blueprints._wildcards import match_steps
from devops_blueprints.constructs.observability.log_filter_pattern import (
    MAX_EVENT_BYTES,
    MAX_NESTING,
    MAX_PATTERN_LENGTH,
    FilterPatternError,
    Wildcard,
    parse_filter_pattern,
    parse_selector,
    split_delimited,
)

ARTICLE_PATTERN = '{$.event_details.targetUrl = "*highlight.pack.js*" && $.event_details.duration > 0}'

#: A RUM performance resource event as the app monitor writes it to CloudWatch Logs: the fields of "Information
#: collected by the CloudWatch RUM web client" (event type, metadata: page, user agent, geolocation, domain;
#: event details of the resource schema),
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-RUM-datacollected.html,
#: with the resource of the source article (highlight.pack.js).
RUM_RESOURCE_EVENT: dict[str, Any] = {
    "event_timestamp": 1661781000000,
    "event_type": "com.amazon.rum.performance_resource_event",
    "event_id": "6a7f3b0e-8a8b-4f3b-9d63-4c2b9b1f0a11",
    "event_version": "1.0.0",
    "log_stream": "2022-08-29T13",
    "application_id": "5a2b155e-05cd-4d8e-9a1c-2f0e5b7d9c31",
    "application_version": "1.0.0",
    "metadata": {
        "version": "1.0.0",
        "browserLanguage": "en-US",
        "browserName": "Chrome",
        "browserVersion": "104.0.0.0",
        "osName": "Mac OS",
        "osVersion": "10.15.7",
        "deviceType": "desktop",
        "platformType": "web",
        "pageId": "/docs/",
        "interaction": 0,
        "title": "Docs",
        "domain": "www.example.com",
        "aws:client": "arw-script",
        "aws:clientVersion": "1.14.0",
        "countryCode": "US",
        "subdivisionCode": "VA",
    },
    "user_details": {"sessionId": "b2f9c3a4-1d2e-4f50-8a6b-7c8d9e0f1a2b", "userId": "c3a0b1d2-..."},
    "event_details": {
        "version": "1.0.0",
        "initiatorType": "script",
        "duration": 62.1,
        "fileType": "script",
        "transferSize": 7203,
        "targetUrl": "https://www.example.com/js/highlight.pack.js",
    },
}


def _event(**details: Any) -> dict[str, Any]:
    event = copy.deepcopy(RUM_RESOURCE_EVENT)
    event["event_details"].update(details)
    return event


# ------------------------------------------------------------------------------------ the article's pattern


def test_the_article_pattern_matches_the_article_event() -> None:
    pattern = parse_filter_pattern(ARTICLE_PATTERN)
    assert pattern.kind == "json"
    assert pattern.matches(RUM_RESOURCE_EVENT)
    assert pattern.matches(json.dumps(RUM_RESOURCE_EVENT))  # the log event's message text


@pytest.mark.parametrize(
    "event",
    [
        _event(targetUrl="https://www.example.com/js/app.js"),  # another resource
        _event(duration=0),  # not > 0
        {k: v for k, v in RUM_RESOURCE_EVENT.items() if k != "event_details"},  # no details at all
        _event(duration="62.1"),  # a string is not a number
    ],
)
def test_the_article_pattern_does_not_match_other_events(event: dict[str, Any]) -> None:
    assert not parse_filter_pattern(ARTICLE_PATTERN).matches(event)


def test_a_text_event_that_is_not_json_matches_no_json_pattern() -> None:
    assert not parse_filter_pattern(ARTICLE_PATTERN).matches("highlight.pack.js took 62 ms")


# -------------------------------------------------------------------------------------- JSON operators

DOC: dict[str, Any] = {
    "eventType": "UpdateTrail",
    "sourceIPAddress": "123.123.1.1",
    "n": 5,
    "f": 12.34,
    "big": 1.5e3,
    "neg": -2,
    "flag": True,
    "off": False,
    "nothing": None,
    "user": {"id": 1, "name": "John Doe"},
    "users": [{"email": "a@example.com"}, {"email": "b@example.com"}],
    "actions": ["GET", "PUT", "DELETE"],
    "aws:client": "arw-script",
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', True),
        ("{ $.eventType = UpdateTrail }", True),
        ('{ $.eventType != "UpdateTrail" }', False),
        ('{ $.eventType = "Update*" }', True),
        ('{ $.eventType = "*Trail" }', True),
        ('{ $.eventType = "U*T*l" }', True),
        ('{ $.eventType = "*" }', True),
        ('{ $.eventType = "update*" }', False),  # case-sensitive
        ("{ $.sourceIPAddress != 123.123.* }", False),
        ("{ $.sourceIPAddress != 124.* }", True),
        ("{ $.eventType = %Upd.te% }", True),
        ("{ $.eventType = %^Trail% }", False),
        ("{ $.n = 5 }", True),
        ("{ $.n = 5.0 }", True),
        ("{ $.n != 5 }", False),
        ("{ $.n > 4 }", True),
        ("{ $.n < 5 }", False),
        ("{ $.n <= 5 }", True),
        ("{ $.n >= 6 }", False),
        ("{ $.f = 12.34 }", True),
        ("{ $.big = 1.5e3 }", True),
        ("{ $.big > 1E2 }", True),
        ("{ $.neg < -1 }", True),
        ("{ $.neg > -1 }", False),
        ("{ $.n = 5* }", True),  # a wildcard compares the value's text
        ("{ $.eventType > 1 }", False),  # a string is never greater than a number
        ("{ $.flag IS TRUE }", True),
        ("{ $.flag IS FALSE }", False),
        ("{ $.off IS FALSE }", True),
        ("{ $.n IS TRUE }", False),
        ("{ $.nothing IS NULL }", True),
        ("{ $.n IS NULL }", False),
        ("{ $.missing IS NULL }", False),
        ("{ $.missing NOT EXISTS }", True),
        ("{ $.nothing NOT EXISTS }", False),
        ("{ $.user.id NOT EXISTS }", False),
        ("{ $.user.id = 1 }", True),
        ('{ $.user.name = "John *" }', True),
        ('{ $.users[0].email = "a@example.com" }', True),
        ('{ $.users[1].email = "a@example.com" }', False),
        ("{ $.users[5].email NOT EXISTS }", True),
        ('{ $.actions[2] = "DELETE" }', True),
        ('{ $.actions[0] = "DELETE" }', False),
        ('{ $.aws:client = "arw-script" }', True),
        ('{ $.missing != "x" }', False),  # a comparison on a missing property is false
        ('{ $.user = "*" }', False),  # an object is not a value
        ('{ $.eventType = "UpdateTrail" && $.n > 1 }', True),
        ('{ $.eventType = "UpdateTrail" && $.n > 10 }', False),
        ('{ $.eventType = "Nope" || $.n > 1 }', True),
        ('{ $.eventType = "Nope" || $.n > 10 }', False),
        # && binds tighter than ||: false && false || true == true; with parentheses false && (... ) == false
        ("{ $.n > 10 && $.n > 20 || $.flag IS TRUE }", True),
        ("{ $.n > 10 && ($.n > 20 || $.flag IS TRUE) }", False),
        ('{ ($.user.id = 1) && ($.users[0].email = "a@example.com" || $.actions[2] = "GET") }', True),
        ("{ ((($.n = 5))) }", True),
        ('{ $.eventType = "with \\"quote\\"" }', False),
    ],
)
def test_json_operators(pattern: str, expected: bool) -> None:
    assert parse_filter_pattern(pattern).matches(DOC) is expected


def test_a_json_pattern_on_event_text_and_on_the_decoded_object_agree() -> None:
    text = json.dumps(DOC)
    for pattern in ('{ $.eventType = "Update*" }', "{ $.missing NOT EXISTS }", "{ $.n > 10 }"):
        parsed = parse_filter_pattern(pattern)
        assert parsed.matches(text) == parsed.matches(DOC)


# ----------------------------------------------------------------------------------------- term patterns


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("", "anything at all", True),
        ("ERROR", "[ERROR] something failed", True),
        ("ERROR", "[error] something failed", False),
        ("ERROR ARGUMENTS", "ERROR: bad ARGUMENTS given", True),
        ("ERROR ARGUMENTS", "ERROR: nothing else", False),
        ('"Exception occurred"', "An Exception occurred here", True),
        ('"Exception occurred"', "Exception: nothing occurred", False),
        ("ERROR -Exiting", "ERROR something", True),
        ("ERROR -Exiting", "ERROR Exiting now", False),
        ("?ERROR ?WARN", "WARN disk", True),
        ("?ERROR ?WARN", "INFO fine", False),
        ("%ERROR [0-9]+%", "ERROR 42 happened", True),
        ("%ERROR [0-9]+%", "ERROR none", False),
    ],
)
def test_term_patterns(pattern: str, event: str, expected: bool) -> None:
    parsed = parse_filter_pattern(pattern)
    assert parsed.kind == ("all" if not pattern else "terms")
    assert parsed.matches(event) is expected


# ------------------------------------------------------------------------------------ space-delimited

ACCESS_LINE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534'


def test_delimited_events_split_like_cloudwatch() -> None:
    assert split_delimited(ACCESS_LINE) == [
        "127.0.0.1",
        "-",
        "frank",
        "10/Oct/2000:13:25:15 -0700",
        "GET /apache_pb.gif HTTP/1.0",
        "404",
        "1534",
    ]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code]", False),  # field count differs
        ("[ip, user, username, timestamp, request, status_code=404, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code=4*, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code=5*, bytes]", False),
        ("[ip, user, username, timestamp, request, status_code!=404, bytes]", False),
        ("[ip, user, username, timestamp, request, status_code, bytes>1000]", True),
        ("[ip, user, username, timestamp, request, status_code, bytes<1000]", False),
        ("[ip=127.0.0.1, ...]", True),
        ("[..., status_code=404, bytes]", True),
        ("[ip, ..., status_code=404, ...]", True),
        ("[ip, ..., status_code=500, ...]", False),
        ("[..., request=*gif*, ...]", True),
        ("[ip, user, username, timestamp, request, status_code=400 || status_code=404, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code>=400 && status_code<500, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code>=500 && status_code<600, bytes]", False),
        ("[ip, user, username=%fr.nk%, ...]", True),
    ],
)
def test_delimited_patterns(pattern: str, expected: bool) -> None:
    parsed = parse_filter_pattern(pattern)
    assert parsed.kind == "delimited"
    assert parsed.matches(ACCESS_LINE) is expected


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("pattern", "position", "message"),
    [
        ('{$.a = "x"', 10, "expected '}'"),
        ('{$.a = "x" &&}', 13, "property selector"),
        ("{}", 1, "empty JSON pattern"),
        ('{ a = "x" }', 2, "property selector"),
        ("{ $ = 1 }", 2, "names a property"),
        ("{ $. = 1 }", 4, "property name after"),
        ("{ $.a[x] = 1 }", 6, "array index"),
        ("{ $.a[-1] = 1 }", 6, "array index"),
        ("{ $.a ~ 1 }", 6, "expected an operator"),
        ("{ $.a > abc }", 8, "needs a number"),
        ("{ $.a > 1x }", 8, "needs a number"),
        ("{ $.a IS MAYBE }", 9, "TRUE, FALSE or NULL"),
        ("{ $.a NOT THERE }", 10, "EXISTS"),
        ('{ $.a = "open }', 8, "unterminated quoted string"),
        ("{ $.a = %open }", 8, "unterminated %regex%"),
        ("{ $.a = %(% }", 8, "invalid regular expression"),
        ("{ $.a = }", 8, "expected a value"),
        ("{ ($.a = 1 }", 11, "expected ')'"),
        ("{ $.a = 1 } extra", 12, "unexpected text"),
        ("{ $.a = 1 &| $.b = 2 }", 10, "expected '}'"),
        ("[]", 1, "empty space-delimited"),
        ("[a, b", 5, "expected ']'"),
        ("[a, , b]", 4, "field name"),
        ("[a > x]", 5, "needs a number"),
        ("[a=1 && b=2]", 8, "name the field 'a' again"),
        ('ERROR "unterminated', 6, "unterminated quoted string"),
        ("ERROR {", 6, "only at the beginning"),
    ],
)
def test_each_kind_of_error_names_its_position(pattern: str, position: int, message: str) -> None:
    with pytest.raises(FilterPatternError, match=re.escape(message)) as caught:
        parse_filter_pattern(pattern)
    assert caught.value.position == position
    assert f"at position {position}" in str(caught.value)


def test_a_pattern_longer_than_cloudwatch_takes_is_one_error() -> None:
    with pytest.raises(FilterPatternError, match=f"at most {MAX_PATTERN_LENGTH}"):
        parse_filter_pattern("{ $.a = " + "x" * MAX_PATTERN_LENGTH + " }")


def test_deep_nesting_is_refused_not_recursed() -> None:
    deep = "{ " + "(" * (MAX_NESTING + 1) + "$.a = 1" + ")" * (MAX_NESTING + 1) + " }"
    with pytest.raises(FilterPatternError, match="nesting deeper"):
        parse_filter_pattern(deep)
    ok = "{ " + "(" * MAX_NESTING + "$.a = 1" + ")" * MAX_NESTING + " }"
    assert parse_filter_pattern(ok).matches({"a": 1})


def test_not_a_string_is_one_error() -> None:
    with pytest.raises(FilterPatternError, match="is a string, got int"):
        parse_filter_pattern(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ hostile input


def test_oversized_and_deeply_nested_events_match_nothing() -> None:
    pattern = parse_filter_pattern("{ $.a NOT EXISTS }")
    assert pattern.matches('{"b": 1}')
    assert not pattern.matches('{"b": "' + "x" * MAX_EVENT_BYTES + '"}')
    assert not pattern.matches("[" * 200_000 + "]" * 200_000)  # too large
    assert not pattern.matches("[" * 100_000)  # invalid JSON within the size cap


def test_wildcards_do_not_backtrack() -> None:
    # The classic exponential case for backtracking globs: many stars against a long non-matching text.
    pattern = Wildcard("*a" * 40 + "*b")
    assert not pattern.matches("a" * 100_000)
    assert pattern.matches("a" * 100 + "b")


def test_only_the_star_is_a_wildcard_in_a_value() -> None:
    # "?" starts an alternative among terms, but inside a value it is a character like any other.
    pattern = parse_filter_pattern('{ $.path = "/a?b*" }')
    assert pattern.matches({"path": "/a?b/c"})
    assert not pattern.matches({"path": "/axb/c"})
    assert parse_filter_pattern("[ip, status=?0*]").matches("1.2.3.4 ?04")
    assert not parse_filter_pattern("[ip, status=?0*]").matches("1.2.3.4 404")


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.text(alphabet=st.sampled_from(list("ab*?[")), max_size=40),
    value=st.text(alphabet=st.sampled_from(list("ab?[")), max_size=80),
)
def test_wildcard_values_match_as_fnmatch_with_only_the_star_special(pattern: str, value: str) -> None:
    reference = re.sub(r"[?\[]", lambda m: f"[{m.group()}]", pattern)  # fnmatch with "?" and "[" literal
    expected = fnmatch.fnmatchcase(value, reference)
    assert Wildcard(pattern).matches(value) == expected
    matched, steps = match_steps(pattern, value, question_mark=False)
    assert matched == expected
    assert steps <= len(pattern) + len(value) + 1  # linear work, counted (no clocks)


def test_a_regex_that_would_backtrack_exponentially_is_refused_by_the_evaluator() -> None:
    pattern = parse_filter_pattern("{ $.a = %(x+)+y% }")  # parses: CloudWatch accepts it
    with pytest.raises(FilterPatternError, match="quantified group"):
        pattern.matches({"a": "x" * 50})


def test_delimited_events_with_too_many_fields_match_nothing() -> None:
    pattern = parse_filter_pattern("[first, ...]")
    assert pattern.matches("a b c")
    assert not pattern.matches("a " * 20_000)


# ------------------------------------------------------------------------------------------------ selectors


def test_parse_selector() -> None:
    selector = parse_selector("$.event_details.duration")
    assert selector.steps == ("event_details", "duration")
    assert selector.resolve(RUM_RESOURCE_EVENT) == 62.1
    assert parse_selector("$.users[1].email").resolve(DOC) == "b@example.com"
    with pytest.raises(FilterPatternError, match="unexpected text"):
        parse_selector("$.a b")


# ------------------------------------------------------------------- differential: aws-cdk-lib's builders


def _cdk_patterns() -> list[tuple[str, list[tuple[Any, bool]]]]:
    """Patterns aws-cdk-lib's ``FilterPattern`` builders write (an independent writer of the syntax), with events
    and whether each should match by the builder's documented meaning."""
    from aws_cdk import aws_logs as logs

    f = logs.FilterPattern
    return [
        (f.string_value("$.a", "=", "x*").log_pattern_string, [({"a": "xyz"}, True), ({"a": "yx"}, False)]),
        (f.number_value("$.n", ">=", 1.5).log_pattern_string, [({"n": 1.5}, True), ({"n": 1}, False)]),
        (f.boolean_value("$.f", True).log_pattern_string, [({"f": True}, True), ({"f": "true"}, False)]),
        (f.exists("$.e").log_pattern_string, [({"e": "v"}, True), ({"x": 1}, False)]),
        (f.not_exists("$.m").log_pattern_string, [({"x": 1}, True), ({"m": None}, False)]),
        (f.is_null("$.z").log_pattern_string, [({"z": None}, True), ({"z": 0}, False)]),
        (
            f.all(
                f.string_value("$.a", "!=", "b"), f.any(f.number_value("$.n", "<", 3), f.boolean_value("$.f", False))
            ).log_pattern_string,
            [
                ({"a": "c", "n": 5, "f": False}, True),
                ({"a": "c", "n": 5, "f": True}, False),
                ({"a": "b", "n": 1}, False),
            ],
        ),
        (
            f.regex_value("$.m", "=", "bind: .*").log_pattern_string,
            [({"m": "bind: in use"}, True), ({"m": "x"}, False)],
        ),
        (f.all_terms("ERROR", "Main").log_pattern_string, [("ERROR in Main", True), ("ERROR elsewhere", False)]),
        (f.any_term("ERROR", "WARN").log_pattern_string, [("WARN x", True), ("INFO x", False)]),
        (
            f.any_term_group(["ERROR", "Main"], ["WARN", "Dead"]).log_pattern_string,
            [("ERROR Main", True), ("WARN Deadlock", True), ("ERROR Dead", False)],
        ),
        (
            f.space_delimited("ip", "user", "...", "status")
            .where_string("user", "=", "frank")
            .where_number("status", ">=", 400)
            .log_pattern_string,
            [("1.2.3.4 frank x y 404", True), ("1.2.3.4 frank 200", False), ("1.2.3.4 bob 500", False)],
        ),
        (f.all_events().log_pattern_string, [("anything", True)]),
    ]


def test_patterns_aws_cdk_writes_parse_and_mean_what_the_builders_say() -> None:
    cases = _cdk_patterns()
    assert len(cases) == 13
    for text, events in cases:
        pattern = parse_filter_pattern(text)
        for event, expected in events:
            assert pattern.matches(event) is expected, (text, event)

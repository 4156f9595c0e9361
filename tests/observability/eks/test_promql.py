"""check_promql: the queries of the sample and of the Prometheus docs pass; each kind of syntax error fails with its
position and reason (https://prometheus.io/docs/prometheus/latest/querying/basics/, .../operators/,
.../functions/); hostile input hits a cap instead of recursing or taking long; generated queries agree with the
grammar they are generated from."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devops_blueprints.constructs.observability.eks.manifests import SCALED_TARGET_QUERY
from devops_blueprints.constructs.observability.eks.promql import (
    AGGREGATIONS,
    FUNCTIONS,
    MAX_NESTING,
    MAX_QUERY_LENGTH,
    check_promql,
)

VALID = [
    SCALED_TARGET_QUERY,
    # The ho11y README's and the Prometheus docs' examples.
    "rate(ho11y_total[1m])",
    "sum(rate(ho11y_downstream_payload_bytes_sum[10m])) / sum(rate(ho11y_downstream_payload_bytes_count[10m]))",
    "histogram_quantile(0.8, sum(rate(ho11y_randhist_bucket[1m])) by (le))",
    'http_requests_total{job="prometheus",group="canary"}',
    'http_requests_total{environment=~"staging|testing|development",method!="GET"}',
    'http_requests_total{job!~"x.*"}',
    '{__name__=~"job:.*"}',
    '{"my.utf8.metric", job="a"}',
    "http_requests_total offset 5m",
    "http_requests_total offset -1w",
    "http_requests_total @ 1609746000",
    "rate(http_requests_total[5m] @ end())",
    "rate(http_requests_total[5m])[30m:1m]",
    "max_over_time(deriv(rate(distance_covered_total[5s])[30s:5s])[10m:])",
    "sum by (app, proc) (instance_memory_limit_bytes - instance_memory_usage_bytes) / 1024 / 1024",
    "sum without (instance) (x)",
    "topk(3, sum by (app, proc) (rate(instance_cpu_time_ns[5m])))",
    'count_values("version", build_version)',
    "quantile(0.9, x)",
    'method_code:http_errors:rate5m{code="500"} / ignoring(code) method:http_requests:rate5m',
    "method_code:http_errors:rate5m / ignoring(code) group_left method:http_requests:rate5m",
    "a * on(job) group_right(instance) b",
    "a and on() b",
    "a unless b or c",
    "1 > bool 2",
    "x > bool 0.5",
    "-x ^ 2 ^ 0.5",
    "2 atan2 x",
    'label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*")',
    'label_join(up, "foo", ",", "src1", "src2", "src3")',
    "time() - process_start_time_seconds",
    "vector(1)",
    "scalar(x) * 2",
    "round(x, 0.5)",
    "clamp(x, 0, 1)",
    'absent(nonexistent{job="myjob"})',
    "predict_linear(node_filesystem_free_bytes[1h], 4 * 3600)",
    "day_of_week()",
    "0x1F + 1e3 + 1_000 + .5 + Inf - NaN",
    "x{a=`raw \\ string`}",
    "x{a='single'}",
    "x offset 5m @ 100",
    "x[5m] offset 1h @ start()",
    "rate(x[5m] offset 1h)",
    "x offset 1h [10m:1m]",
    "sum + by",  # aggregation and keyword names are metric names where an operand is expected
    "and or unless",
    'x{a="esc \\" \\n \\x41 \\u00e9"}',
    "rate(x[1h30m])",
    "x # a comment\n + y",
    "pi()",
]


@pytest.mark.parametrize("query", VALID)
def test_valid_queries_pass(query: str) -> None:
    check_promql(query)


INVALID = [
    # (query, position, reason fragment)
    ("sum(rate(ho11y_total[1m])", 3, "'(' is never closed"),
    ("sum(rate(x[1m]))))", 16, "unexpected ')' with no opening bracket"),
    ("sum(x]", 5, "']' closes '(' opened at position 3"),
    ('up{job="a"', 2, "'{' is never closed"),
    ("x[5m", 1, "'[' is never closed"),
    ('up{job="a}', 7, "string literal is never closed"),
    ('x{a="\\q"}', 5, "unknown escape sequence \\q"),
    ("up{job=a}", 7, "expected a quoted label value"),
    ('up{job~"a"}', 6, "unexpected character '~'"),
    ('up{job=="a"}', 6, "expected a label matcher operator"),
    ('up{job="a" instance="b"}', 11, "expected ',' or '}' after a label matcher"),
    ("{}", 0, "a selector needs a metric name or at least one label matcher"),
    ("x[5]", 2, "expected a range duration"),
    ("x[5m:1]", 5, "expected ']'"),
    ("rate((x)[5m])", 8, "a range [...] must follow a vector selector"),
    ("up[5m] + 1", 7, "cannot take a range vector"),
    ("x offset", 8, "expected a duration after 'offset'"),
    ("x @", 3, "expected a Unix timestamp, start() or end()"),
    ("foo(x)", 0, "unknown function 'foo'"),
    ("rate(x[1m], 2)", 0, "function 'rate' takes 1 argument(s), got 2"),
    ("round()", 0, "function 'round' takes 1 to 2 argument(s), got 0"),
    ('label_join(x, "a")', 0, "function 'label_join' takes 3 to any number argument(s), got 2"),
    ("sum(x, y)", 3, "aggregation 'sum' takes 1 argument(s), got 2"),
    ("topk(x)", 4, "aggregation 'topk' takes 2 argument(s), got 1"),
    ("sum by (a) (x) by (b)", 15, "sum has two by/without clauses"),
    ("sum by a (x)", 7, "expected '(' and a list of label names"),
    ("x +", 3, "expected a number, string, selector"),
    ("* x", 0, "expected a number, string, selector"),
    ("x y", 2, "expected a binary operator or the end of the query"),
    ('"a" + 1', 4, "cannot take a string literal as an operand"),
    ("1 and 2", 2, "is a set operator: both operands must be instant vectors"),
    ("1 > 2", 2, "compares two scalars, which needs the 'bool' modifier"),
    ("a + bool b", 4, "'bool' may only follow a comparison operator"),
    ("a and on(x) group_left b", 12, "group modifiers are not allowed with the set operator 'and'"),
    ("by (x)", 0, "'by' is a keyword, not a function"),
    ("on", 0, "'on' is a keyword and cannot start an expression"),
    ("x + bool", 4, "'bool' may only follow a comparison operator"),
    ("rate(x)", 5, "function 'rate' needs a range vector (e.g. x[5m]) as argument 1, got an instant vector"),
    ("quantile_over_time(0.9, x)", 24, "needs a range vector (e.g. x[5m]) as argument 2"),
    ("abs(x[5m])", 4, "function 'abs' does not take a range vector as argument 1"),
    ("sum(x[5m])", 4, "aggregation 'sum' takes instant vectors, not a range vector"),
    ("-x[5m]", 0, "a unary '-' cannot apply to a range vector"),
    ("1 + on(a) x", 2, "vector matching (on/ignoring) needs instant vectors on both sides"),
    ("1 offset 5m", 2, "'offset' must follow a vector selector, a range selector or a subquery"),
    ("time() @ 100", 7, "'@' must follow a vector selector"),
    ("time()[5m:1m]", 6, "a subquery [range:step] needs an instant vector, not a scalar"),
    ("x[5m][1h:]", 5, "a subquery [range:step] needs an instant vector, not a range"),
    ("x @ 1 @ 2", 6, "'@' may be given only once per selector or subquery"),
    ("x offset 1h [5m]", 12, "a range [...] must follow a vector selector"),
    ("x ! y", 2, "unexpected character '!'"),
    ('x{a="1"} 3.5m', 9, "unexpected character '3'"),
]


@pytest.mark.parametrize(("query", "position", "reason"), INVALID)
def test_each_syntax_error_names_its_position_and_reason(query: str, position: int, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_promql(query)
    message = str(caught.value)
    assert message.startswith(f"PromQL query {query!r}: at position {position}: ")
    assert reason in message


@pytest.mark.parametrize("bad", [None, 42, b"up"])
def test_a_non_string_is_one_error(bad: object) -> None:
    with pytest.raises(ValueError, match="PromQL query must be a string"):
        check_promql(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_an_empty_query_is_one_error(blank: str) -> None:
    with pytest.raises(ValueError, match="PromQL query is empty"):
        check_promql(blank)


def test_the_length_is_capped() -> None:
    check_promql("x" * MAX_QUERY_LENGTH)
    with pytest.raises(ValueError, match=rf"is {MAX_QUERY_LENGTH + 1} characters long; at most {MAX_QUERY_LENGTH}"):
        check_promql("x" * (MAX_QUERY_LENGTH + 1))


def test_nesting_is_capped_instead_of_recursing_without_bound() -> None:
    check_promql("(" * MAX_NESTING + "x" + ")" * MAX_NESTING)
    deep = "(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1)
    with pytest.raises(ValueError, match=rf"at position {MAX_NESTING}: nesting deeper than {MAX_NESTING} levels"):
        check_promql(deep)
    with pytest.raises(ValueError, match="nesting deeper than"):
        check_promql("sum(" * 600 + "x" + ")" * 600)
    with pytest.raises(ValueError, match="nesting deeper than"):
        check_promql("1" + "^1" * 1000)


def test_long_flat_queries_at_the_cap_are_checked_without_recursion() -> None:
    # Operators chained at one level and stacked unary signs are loops, not recursion.
    check_promql("x+" * ((MAX_QUERY_LENGTH - 1) // 2) + "x")
    check_promql("-" * (MAX_QUERY_LENGTH - 1) + "x")
    check_promql("x{" + ",".join(['a="b"'] * 500) + "}")


# Generated queries: valid ones from the grammar above, then the same with one closing bracket removed.
_METRICS = st.sampled_from(["up", "ho11y_total", "http_requests_total", "job:rate5m", "node_cpu_seconds_total"])
_LABEL = st.sampled_from(["job", "instance", "le", "code", "pod"])
_VALUE = st.text(alphabet="abcXYZ09_.*|-", max_size=6).map(lambda text: '"' + text + '"')
_MATCHER = st.builds(
    lambda label, op, value: f"{label}{op}{value}", _LABEL, st.sampled_from(["=", "!=", "=~", "!~"]), _VALUE
)
_DURATION = st.sampled_from(["30s", "1m", "5m", "1h", "1h30m", "2d"])


@st.composite
def _selector(draw: st.DrawFn) -> str:
    metric = draw(_METRICS)
    matchers = draw(st.lists(_MATCHER, max_size=3))
    return metric + ("{" + ",".join(matchers) + "}" if matchers else "")


def _vector(depth: int) -> st.SearchStrategy[str]:
    base = _selector()
    if depth == 0:
        return base
    inner = _vector(depth - 1)
    range_functions = st.sampled_from(["rate", "increase", "avg_over_time", "max_over_time", "irate", "deriv"])
    return st.one_of(
        base,
        st.builds(lambda fn, sel, duration: f"{fn}({sel}[{duration}])", range_functions, _selector(), _DURATION),
        st.builds(
            lambda agg, clause, labels, arg: f"{agg} {clause} ({', '.join(labels)}) ({arg})",
            st.sampled_from(["sum", "avg", "max", "min", "count", "group"]),
            st.sampled_from(["by", "without"]),
            st.lists(_LABEL, min_size=1, max_size=3),
            inner,
        ),
        st.builds(lambda k, arg: f"topk({k}, {arg})", st.integers(1, 9), inner),
        st.builds(
            lambda left, op, right: f"{left} {op} {right}",
            inner,
            st.sampled_from(["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless"]),
            inner,
        ),
        st.builds(lambda arg: f"({arg})", inner),
        st.builds(lambda arg, duration: f"max_over_time(({arg})[{duration}:])", inner, _DURATION),
        st.builds(lambda arg: f"histogram_quantile(0.9, {arg})", inner),
    )


@settings(max_examples=150, deadline=None)
@given(_vector(3))
def test_generated_valid_queries_pass(query: str) -> None:
    check_promql(query)


@settings(max_examples=150, deadline=None)
@given(_vector(3), st.data())
def test_generated_queries_with_a_closing_bracket_removed_fail_with_a_position(query: str, data: st.DataObject) -> None:
    closers = [index for index, char in enumerate(query) if char in ")]}" and not _inside_string(query, index)]
    if not closers:
        query, closers = f"({query})", [len(query) + 1]
    index = data.draw(st.sampled_from(closers))
    broken = query[:index] + query[index + 1 :]
    with pytest.raises(ValueError, match=r"at position [0-9]+: "):
        check_promql(broken)


def _inside_string(query: str, index: int) -> bool:
    return query[:index].count('"') % 2 == 1


def test_the_function_and_aggregation_tables_have_no_overlap_and_sane_arities() -> None:
    assert not set(AGGREGATIONS) & set(FUNCTIONS)
    for name, (fewest, most) in FUNCTIONS.items():
        assert re.fullmatch(r"[a-z_0-9]+", name)
        assert fewest >= 0
        assert most == -1 or most >= fewest


# Differential: Prometheus' own parser (promtool 2.42, `promtool check rules`) judged ~3000 queries, made by
# data/make_promtool_corpus.py from syntax that Prometheus 2.42 and 3.x parse alike.
_CORPUS = Path(__file__).with_name("data") / "promtool_verdicts.jsonl"


def _corpus() -> list[dict[str, Any]]:
    lines = _CORPUS.read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


def test_check_promql_agrees_with_promtool_on_every_query_of_the_corpus() -> None:
    corpus = _corpus()
    assert len(corpus) > 2500
    assert 200 < sum(entry["valid"] for entry in corpus) < len(corpus) - 200  # both verdicts well represented
    disagreements = []
    for entry in corpus:
        try:
            check_promql(entry["query"])
            ours = True
        except ValueError:
            ours = False
        if ours != entry["valid"]:
            disagreements.append((entry["query"], entry["promtool"] or "valid"))
    assert disagreements == []


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_the_corpus_is_what_the_installed_promtool_says(tmp_path: Path) -> None:
    # Where promtool is installed, a sample of the corpus is re-judged live.
    sample = _corpus()[::50]
    files = []
    for index, entry in enumerate(sample):
        path = tmp_path / f"q{index}.yml"
        path.write_text("groups:\n- name: g\n  rules:\n  - record: r\n    expr: " + json.dumps(entry["query"]) + "\n")
        files.append(str(path))
    run = subprocess.run(["promtool", "check", "rules", *files], capture_output=True, text=True, check=False)
    passed = {int(index) for index in re.findall(r"/q([0-9]+)\.yml\n  SUCCESS", run.stdout)}
    assert {index for index, entry in enumerate(sample) if entry["valid"]} == passed

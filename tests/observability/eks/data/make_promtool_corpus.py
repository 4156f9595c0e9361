"""Regenerates promtool_verdicts.jsonl: random PromQL token sequences, each judged by Prometheus' own parser.

Needs ``promtool`` (Debian's ``prometheus`` package; the corpus was made with promtool 2.42.0). Run from the
repository root: ``python tests/observability/eks/data/make_promtool_corpus.py``. The vocabulary holds only syntax
that Prometheus 2.42 and 3.x parse alike (no UTF-8 quoted names, no durations as numbers, no 3.x-only functions).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import tempfile
from pathlib import Path

VOCABULARY = [
    "x",
    'y{a="b"}',
    "(",
    ")",
    "[5m]",
    "[5m:1m]",
    "[1h:]",
    "+",
    "-",
    "*",
    "/",
    "^",
    "==",
    ">",
    "=~",
    ",",
    "and",
    "or",
    "unless",
    "atan2",
    "sum",
    "by",
    "without",
    "(a)",
    "(b)",
    "rate",
    "rate(x[5m])",
    "x[5m]",
    "1",
    "0.5",
    "inf",
    "nan",
    "topk",
    "quantile",
    "count_values",
    "offset 5m",
    "offset",
    "@ 100",
    "@ start()",
    "start",
    "end",
    "bool",
    "on",
    "on(a)",
    "ignoring",
    "ignoring(b)",
    "group_left",
    "group_right",
    "histogram_quantile",
    "max_over_time",
    "abs",
    "scalar",
    "time()",
    '{a="b"}',
    '"s"',
]
# Operands and operators for the second, mostly-valid half: type errors (scalars in set operations, ranges as
# operands, modifiers on the wrong things) are what is left to catch there.
OPERANDS = [
    "x",
    'y{a="b"}',
    "x[5m]",
    "rate(x[5m])",
    "sum by (a) (x)",
    "topk(2, x)",
    "1",
    "0.5",
    "time()",
    "scalar(x)",
    "(x)",
    "x offset 5m",
    "x @ 100",
    "x[5m] offset 1h",
    "max_over_time(x[10m:1m])",
    "(x)[5m:]",
    '"s"',
    "-x",
    "histogram_quantile(0.9, x)",
    "x offset 5m @ 100",
    "abs(x[5m])",
    "rate(x)",
    "sum(x[5m])",
    "(1)[5m:]",
]
OPERATORS = [
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "==",
    "!=",
    ">",
    "< bool",
    "> bool",
    "and",
    "or",
    "unless",
    "atan2",
    "+ on(a)",
    "* ignoring(b) group_left",
    "/ on(a) group_right(c)",
    "and on(a)",
    "or ignoring(b) group_left",
]
SEEDS = (2, 3, 4)
PER_SEED = 700
OUT = Path(__file__).with_name("promtool_verdicts.jsonl")


def main() -> None:
    queries: list[str] = []
    for seed in SEEDS:
        rng = random.Random(seed)
        batch: set[str] = set()
        while len(batch) < PER_SEED:
            batch.add(" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 7))))
        queries.extend(sorted(set(batch) - set(queries)))
        structured: set[str] = set()
        while len(structured) < PER_SEED // 2:
            parts = [rng.choice(OPERANDS)]
            for _ in range(rng.randint(0, 3)):
                parts += [rng.choice(OPERATORS), rng.choice(OPERANDS)]
            structured.add(" ".join(parts))
        queries.extend(sorted(structured - set(queries)))
    version = subprocess.run(["promtool", "--version"], capture_output=True, text=True, check=True).stdout.split()[2]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for index, query in enumerate(queries):
            path = Path(tmp) / f"q{index}.yml"
            path.write_text("groups:\n- name: g\n  rules:\n  - record: r\n    expr: " + json.dumps(query) + "\n")
            files.append(str(path))
        run = subprocess.run(["promtool", "check", "rules", *files], capture_output=True, text=True)
    # stdout: "Checking <file>" then "  SUCCESS: ..." or "  FAILED:"; stderr: "<file>: ...: could not parse ...".
    passed = set(re.findall(r"/q([0-9]+)\.yml\n  SUCCESS", run.stdout))
    reasons = dict(re.findall(r"/q([0-9]+)\.yml: [0-9]+:[0-9]+: .*?could not parse expression: (.*)", run.stderr))
    verdicts = {
        str(index): "" if str(index) in passed else reasons.get(str(index), "failed") for index in range(len(queries))
    }
    with OUT.open("w") as out:
        out.write(json.dumps({"promtool": version, "seeds": SEEDS, "per_seed": PER_SEED}) + "\n")
        for index, query in enumerate(queries):
            reason = verdicts[str(index)]
            out.write(json.dumps({"query": query, "valid": reason == "", "promtool": reason}) + "\n")


if __name__ == "__main__":
    main()

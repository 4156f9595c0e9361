"""The placeholder list is exact: every listed type is one the emulator lacks, and the sample app uses it."""

from __future__ import annotations

import json
import subprocess  # nosec B404 - fixed argument list
from typing import Any

import pytest

from tests.deploy.conftest import LocalCloud
from tests.support.local_deploy import deploy, emulator, placeholders, serve

pytestmark = pytest.mark.deploy

# Run in the emulator's virtualenv: its registry of types, and what its own alarm provisioner does with an alarm
# on metric math (the one conditional placeholder).
_PROBE = """
import json
from ministack.services.cloudformation import provisioners
alarm = {"ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1, "Threshold": 1,
         "Metrics": [{"Id": "e", "Expression": "m / 2", "ReturnData": True},
                     {"Id": "m", "ReturnData": False, "MetricStat": {"Period": 60, "Stat": "Maximum",
                      "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Duration"}}}]}
try:
    provisioners._RESOURCE_HANDLERS["AWS::CloudWatch::Alarm"]["create"]("Probe", alarm, "probe")
    refused = ""
except Exception as error:
    refused = str(error)
print(json.dumps({"types": sorted(provisioners._RESOURCE_HANDLERS), "metric_math_refused": refused}))
"""


def _probe_emulator() -> dict[str, Any]:
    completed = subprocess.run(  # nosec B603 - fixed argument list
        [str(serve.EMULATOR_PYTHON), "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_no_placeholder_stands_in_for_what_the_emulator_now_provisions() -> None:
    # WHEN a MiniStack upgrade brings a provisioner for a listed type (or alarms on metric math) THEN this fails:
    # remove the placeholder from tests/support/local_deploy/placeholders.py.
    probe = _probe_emulator()
    native = set(probe["types"])
    assert len(native) > 100  # the registry really was read
    unconditional = {t for t, p in placeholders.PLACEHOLDERS.items() if p.applies is None}
    assert sorted(unconditional & native) == []
    assert {t for t, p in placeholders.PLACEHOLDERS.items() if p.applies is not None} == {"AWS::CloudWatch::Alarm"}
    assert "metric math" in probe["metric_math_refused"]


def test_every_placeholder_type_is_used_by_the_sample_app_and_only_those_are_stubbed(local_cloud: LocalCloud) -> None:
    templates = deploy.assembly_stacks(local_cloud.state_dir / "cdk.out")
    declared = [
        (stack, lid, r["Type"])
        for stack, t in templates.items()
        for lid, r in t["Resources"].items()
        if (p := placeholders.PLACEHOLDERS.get(r["Type"])) and (p.applies is None or p.applies(r["Properties"]))
    ]
    stubbed = [(e["stack"], e["logical_id"], e["type"]) for e in emulator.ledger_entries(local_cloud.emulator.ledger)]
    assert sorted(stubbed) == sorted(declared)
    assert {t for _, _, t in declared} == set(placeholders.PLACEHOLDERS)


def test_the_report_counts_each_placeholder_once_and_everything_else_as_created(local_cloud: LocalCloud) -> None:
    reports = {r.name: r for r in emulator.report(local_cloud.endpoint, local_cloud.emulator.ledger)}
    for stack_name, template in deploy.assembly_stacks(local_cloud.state_dir / "cdk.out").items():
        report = reports[stack_name]
        listed = [r["LogicalResourceId"] for r in report.created + report.placeholders]
        unconditional = {lid for lid, r in template["Resources"].items() if "Condition" not in r}
        assert len(listed) == len(set(listed)), stack_name
        assert unconditional <= set(listed) <= set(template["Resources"]), stack_name
        always_stubbed = {t for t, p in placeholders.PLACEHOLDERS.items() if p.applies is None}
        assert {p["ResourceType"] for p in report.placeholders} <= set(placeholders.PLACEHOLDERS)
        assert not {c["ResourceType"] for c in report.created} & always_stubbed

"""The provisioner's ordering rules (docs/tenant-deployments.md, "Ordering rules"): one test per row of the state
table, against moto's server with real stream records.

Every test runs the provisioner on a CodeBuild client wrapped in a :class:`BuildLedger`, which keeps every
deployment's builds and fails the test if a build of a deployment starts while another build of the same
deployment has not ended (stopped and seen ended, or finished by its state-change event).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.tenant.conftest import DEPROVISIONING_PROJECT, IDEMPOTENCY_TABLE, PROVISIONING_PROJECT, TABLE, Tenant
from tests.tenant.test_provisioner import (
    VALID,
    LambdaContext,
    apply,
    env_override,
    provisioner_index,
    state_change,
)


class BuildLedger:
    """A CodeBuild client that records, per deployment, which builds are running (and any overlap)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.running: dict[str, str] = {}  # build id -> deployment id
        self.stopped: set[str] = set()
        self.calls: list[tuple[str, str]] = []  # (operation, build id or project)
        self.overlaps: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def start_build(self, **kwargs: Any) -> Any:
        deployment = next(v["value"] for v in kwargs["environmentVariablesOverride"] if v["name"] == "DEPLOYMENT_ID")
        busy = sorted(build for build, owner in self.running.items() if owner == deployment)
        response = self._client.start_build(**kwargs)
        build_id = response["build"]["id"]
        if busy:
            self.overlaps.append(f"{build_id} of {deployment} started while {busy} had not ended")
        self.running[build_id] = deployment
        self.calls.append(("StartBuild", kwargs["projectName"]))
        return response

    def stop_build(self, **kwargs: Any) -> Any:
        self.calls.append(("StopBuild", kwargs["id"]))
        self.stopped.add(kwargs["id"])
        return self._client.stop_build(**kwargs)

    def batch_get_builds(self, **kwargs: Any) -> Any:
        response = self._client.batch_get_builds(**kwargs)
        for build in response["builds"]:
            self.calls.append(("BatchGetBuilds", build["id"]))
            if build.get("currentPhase") == "COMPLETED":
                self.running.pop(build["id"], None)
        return response

    def finish(self, build_id: str) -> None:
        """The build ended on its own (its state-change event is being applied)."""
        self.running.pop(build_id, None)


@dataclasses.dataclass
class World:
    tenant: Tenant
    ledger: BuildLedger
    provisioner: Any

    def builds(self, project: str) -> list[str]:
        return sorted(self.tenant.builds(project))

    def batch(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(provisioner_index.process_batch({"Records": records}, self.provisioner))

    def deliver(self) -> dict[str, Any]:
        """Every new stream record as one batch."""
        return self.batch(self.tenant.stream.new_records())

    def finish(self, project: str, build_id: str, status: str, deployment_id: str = "acme") -> str:
        self.ledger.finish(build_id)
        return apply(state_change(project, build_id, status, deployment_id))

    def delete(self, deployment_id: str = "acme") -> None:
        self.tenant.dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": deployment_id}})

    def item(self, deployment_id: str = "acme") -> dict[str, Any]:
        stored = self.tenant.get(deployment_id)
        assert stored is not None, f"{deployment_id} is not in the table"
        return stored


def make_provisioner(tenant: Tenant, ledger: BuildLedger, dynamodb: Any = None, waiter: Any = None) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    dynamodb = dynamodb or boto3.client("dynamodb")
    config = provisioner_index.idempotency_config()
    config.register_lambda_context(LambdaContext())
    persistence = DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=boto3.client("dynamodb"))
    ended = provisioner_index.make_build_checker(ledger)
    return provisioner_index.Provisioner(
        table=TABLE,
        provisioning_project=PROVISIONING_PROJECT,
        deprovisioning_project=DEPROVISIONING_PROJECT,
        dynamodb=dynamodb,
        start_build=provisioner_index.make_build_starter(ledger, persistence, config),
        stop_build=provisioner_index.make_build_stopper(ledger),
        build_started=provisioner_index.make_build_lookup(persistence, config),
        build_ended=ended,
        wait_for_build=waiter or provisioner_index.make_build_waiter(ended),
    )


@pytest.fixture
def world(tenant: Tenant) -> Iterator[World]:
    ledger = BuildLedger(tenant.codebuild)
    world = World(tenant=tenant, ledger=ledger, provisioner=make_provisioner(tenant, ledger))
    yield world
    assert world.ledger.overlaps == [], "two builds of one deployment overlapped"


def ok() -> dict[str, Any]:
    return {"batchItemFailures": []}


def failed(*records: dict[str, Any]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records]}


def provisioned(world: World, item: dict[str, Any] = VALID, *, active: bool = True) -> str:
    """Provision ``item`` to ACTIVE (or leave it PROVISIONING) and consume the stream; returns the build id."""
    world.tenant.put(item)
    assert world.deliver() == ok()
    build_id = str(world.item(item["id"]["S"])["build_id"]["S"])
    if active:
        assert world.finish(PROVISIONING_PROJECT, build_id, "SUCCEEDED", item["id"]["S"]) == "ACTIVE"
    world.deliver()  # the system's own writes, which start nothing
    return build_id


class Flaky:
    """A DynamoDB client whose first call of ``operation`` (for key ``acme``) runs ``action`` instead."""

    def __init__(self, client: Any, operation: str, action: Any) -> None:
        self._client = client
        self._operation = operation
        self._action = action
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if name != self._operation:
            return real

        def call(**kwargs: Any) -> Any:
            if not self.fired and kwargs.get("Key") == {"id": {"S": "acme"}}:
                self.fired = True
                return self._action(real, **kwargs)
            return real(**kwargs)

        return call


def throttle(real: Any, **kwargs: Any) -> Any:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "Call")


# -- INSERT --------------------------------------------------------------------------------------------------


def test_i3_insert_and_remove_in_one_batch_start_no_provisioning_build(world: World) -> None:
    """Defect 1: put, delete, both records in one batch (the item is gone): nothing provisions, one deprovisions."""
    world.tenant.put(VALID)
    world.delete()

    assert world.deliver() == ok()

    assert world.builds(PROVISIONING_PROJECT) == []
    (deprovisioning,) = world.builds(DEPROVISIONING_PROJECT)
    marker = world.item()
    assert (marker["status"], marker["build_id"]) == ({"S": "DEPROVISIONING"}, {"S": deprovisioning})
    assert world.deliver() == ok()  # the marker's INSERT
    assert world.finish(DEPROVISIONING_PROJECT, deprovisioning, "SUCCEEDED") == "DELETED"
    assert world.deliver() == ok()  # the marker's REMOVE
    assert world.tenant.get("acme") is None
    assert len(world.tenant.start_build_requests) == 1


def test_i4_insert_processed_after_its_item_was_removed_starts_nothing(world: World) -> None:
    world.tenant.put(VALID)
    world.delete()
    insert, remove = world.tenant.stream.new_records()

    assert world.batch([insert]) == ok()
    assert world.builds(PROVISIONING_PROJECT) == []
    assert world.tenant.get("acme") is None  # no status written onto nothing

    assert world.batch([remove]) == ok()
    assert len(world.builds(DEPROVISIONING_PROJECT)) == 1


def test_i5_retried_insert_whose_item_is_gone_stops_the_build_its_first_attempt_started(world: World) -> None:
    flaky = Flaky(boto3.client("dynamodb"), "update_item", throttle)
    world.provisioner = dataclasses.replace(world.provisioner, dynamodb=flaky)
    world.tenant.put(VALID)
    insert = world.tenant.stream.new_records()[0]
    assert world.batch([insert]) == failed(insert)  # the build started, its status write was throttled
    (started,) = world.builds(PROVISIONING_PROJECT)
    world.delete()
    (remove,) = world.tenant.stream.new_records()

    assert world.batch([insert, remove]) == ok()  # Lambda's retry, from the failed record on

    assert world.builds(PROVISIONING_PROJECT) == [started]
    assert ("StopBuild", started) in world.ledger.calls
    stop = world.ledger.calls.index(("StopBuild", started))
    assert world.ledger.calls[stop + 1 :][:2] == [("BatchGetBuilds", started), ("StartBuild", DEPROVISIONING_PROJECT)]


def _delete_before(real: Any, **kwargs: Any) -> Any:
    boto3.client("dynamodb").delete_item(TableName=TABLE, Key=kwargs["Key"])
    return real(**kwargs)


def _move_before(real: Any, **kwargs: Any) -> Any:
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key=kwargs["Key"],
        UpdateExpression="SET #a = :a",
        ExpressionAttributeNames={"#a": "account"},
        ExpressionAttributeValues={":a": {"S": "222222222222"}},
    )
    return real(**kwargs)


@pytest.mark.parametrize("change", [_delete_before, _move_before], ids=["removed", "account-changed"])
def test_i6_item_changed_as_its_build_started_has_that_build_stopped_and_waited_for(world: World, change: Any) -> None:
    world.provisioner = dataclasses.replace(
        world.provisioner, dynamodb=Flaky(boto3.client("dynamodb"), "update_item", change)
    )
    world.tenant.put(VALID)

    assert world.deliver() == ok()  # INSERT: build started, then the write finds the item changed -> stopped
    (first,) = world.builds(PROVISIONING_PROJECT)
    assert world.ledger.calls[:3] == [
        ("StartBuild", PROVISIONING_PROJECT),
        ("StopBuild", first),
        ("BatchGetBuilds", first),
    ]
    assert world.deliver() == ok()  # the operator's change

    if change is _delete_before:
        assert world.tenant.get("acme") is not None and world.item()["status"] == {"S": "DEPROVISIONING"}
        assert len(world.builds(DEPROVISIONING_PROJECT)) == 1
    else:  # a record never provisioned: the changed one is a new submission, built once the first build ended
        item = world.item()
        assert item["status"] == {"S": "PROVISIONING"} and item["account"] == {"S": "222222222222"}
        assert world.tenant.start_build_requests[-1]["environmentVariablesOverride"] == env_override(
            "acme", "silo", "222222222222", "eu-west-1"
        )
        assert len(world.builds(PROVISIONING_PROJECT)) == 2


def test_i7_invalid_insert_corrected_in_the_same_batch_is_provisioned(world: World) -> None:
    """Defect 2: INSERT with account 12345 and the correcting MODIFY in one batch."""
    world.tenant.put({**VALID, "account": {"S": "12345"}})
    world.tenant.set("acme", account={"S": "111111111111"})

    assert world.deliver() == ok()

    item = world.item()
    assert item["status"] == {"S": "PROVISIONING"} and "status_reason" not in item
    assert [r["environmentVariablesOverride"] for r in world.tenant.start_build_requests] == [
        env_override("acme", "silo", "111111111111", "eu-west-1")
    ]
    assert world.deliver() == ok()
    assert len(world.builds(PROVISIONING_PROJECT)) == 1


def test_i8_insert_edited_before_it_was_processed_is_provisioned_once(world: World) -> None:
    world.tenant.put(VALID)
    world.tenant.set("acme", tier={"S": "platinum"})

    assert world.deliver() == ok()

    assert len(world.builds(PROVISIONING_PROJECT)) == 1
    item = world.item()
    assert item["status"] == {"S": "PROVISIONING"} and item["tier"] == {"S": "platinum"}


def test_i9_redelivered_insert_after_the_record_is_active_changes_nothing(world: World) -> None:
    world.tenant.put(VALID)
    (insert,) = world.tenant.stream.new_records()
    world.batch([insert])
    (build_id,) = world.builds(PROVISIONING_PROJECT)
    world.finish(PROVISIONING_PROJECT, build_id, "SUCCEEDED")
    world.deliver()

    assert world.batch([insert]) == ok()

    assert world.item()["status"] == {"S": "ACTIVE"}
    assert world.builds(PROVISIONING_PROJECT) == [build_id]
    assert ("StopBuild", build_id) not in world.ledger.calls


# -- MODIFY --------------------------------------------------------------------------------------------------


def test_m5_correction_removed_in_the_same_batch_provisions_nothing(world: World) -> None:
    world.tenant.put({**VALID, "region": {"S": "us-east-9"}})
    world.deliver()
    world.tenant.set("acme", region={"S": "eu-west-1"})
    world.delete()

    assert world.deliver() == ok()

    assert world.builds(PROVISIONING_PROJECT) == []
    assert len(world.builds(DEPROVISIONING_PROJECT)) == 1  # the old image (the correction) is valid


def test_m6_redelivered_correction_after_it_was_provisioned_starts_nothing(world: World) -> None:
    world.tenant.put({**VALID, "region": {"S": "us-east-9"}})
    world.deliver()
    world.deliver()  # the FAILED write
    world.tenant.set("acme", region={"S": "eu-west-1"})
    (correction,) = world.tenant.stream.new_records()
    world.batch([correction])
    world.deliver()

    assert world.batch([correction]) == ok()

    assert len(world.builds(PROVISIONING_PROJECT)) == 1
    assert world.item()["status"] == {"S": "PROVISIONING"}


# -- REMOVE --------------------------------------------------------------------------------------------------


def test_r2_remove_during_provisioning_deprovisions_only_after_the_stopped_build_ended(world: World) -> None:
    build_id = provisioned(world, active=False)
    world.delete()

    assert world.deliver() == ok()

    assert world.ledger.calls[-3:] == [
        ("StopBuild", build_id),
        ("BatchGetBuilds", build_id),
        ("StartBuild", DEPROVISIONING_PROJECT),
    ]


def test_r2_remove_waits_while_the_stopped_build_is_still_running_then_is_retried(world: World) -> None:
    build_id = provisioned(world, active=False)
    still_running = provisioner_index.make_build_waiter(never_ends, timeout=0)
    world.provisioner = dataclasses.replace(world.provisioner, wait_for_build=still_running)
    world.delete()
    (remove,) = world.tenant.stream.new_records()

    assert world.batch([remove]) == failed(remove)
    assert world.builds(DEPROVISIONING_PROJECT) == []

    world.provisioner = make_provisioner(world.tenant, world.ledger)  # the build has ended now
    assert world.batch([remove]) == ok()
    assert len(world.builds(DEPROVISIONING_PROJECT)) == 1
    assert world.ledger.calls.count(("StopBuild", build_id)) == 2


def test_r5_remove_after_a_readd_not_yet_processed_replaces_it_with_the_marker(world: World) -> None:
    provisioned(world)
    world.delete()
    world.tenant.put({**VALID, "account": {"S": "222222222222"}})

    assert world.deliver() == ok()  # REMOVE, then the re-add's INSERT

    (deprovisioning,) = world.builds(DEPROVISIONING_PROJECT)
    assert world.tenant.start_build_requests[-1]["environmentVariablesOverride"] == env_override(
        "acme", "silo", "111111111111", "eu-west-1"
    )
    marker = world.item()
    assert (marker["status"], marker["build_id"]) == ({"S": "DEPROVISIONING"}, {"S": deprovisioning})
    assert marker["account"] == {"S": "111111111111"}
    assert "re-added meanwhile" in marker["status_reason"]["S"] and "222222222222" in marker["status_reason"]["S"]
    assert len(world.builds(PROVISIONING_PROJECT)) == 1  # the re-add's INSERT found the marker
    assert world.deliver() == ok()


def deprovisioned(world: World) -> tuple[dict[str, Any], str]:
    """Provision acme, remove it and let deprovisioning succeed; returns the REMOVE record and the build id."""
    provisioned(world)
    world.delete()
    (remove,) = world.tenant.stream.new_records()
    world.batch([remove])
    (deprovisioning,) = world.builds(DEPROVISIONING_PROJECT)
    world.deliver()
    assert world.finish(DEPROVISIONING_PROJECT, deprovisioning, "SUCCEEDED") == "DELETED"
    world.deliver()
    assert world.tenant.get("acme") is None
    return remove, deprovisioning


def test_r6_remove_redelivered_after_a_readd_was_taken_up_does_nothing(world: World) -> None:
    remove, deprovisioning = deprovisioned(world)
    readded = provisioned(world, {**VALID, "account": {"S": "222222222222"}}, active=False)

    assert world.batch([remove]) == ok()

    assert world.builds(DEPROVISIONING_PROJECT) == [deprovisioning]
    item = world.item()
    assert (item["status"], item["build_id"]) == ({"S": "PROVISIONING"}, {"S": readded})
    assert ("StopBuild", readded) not in world.ledger.calls


def test_r7_remove_redelivered_after_its_deprovisioning_finished_writes_no_marker(world: World) -> None:
    remove, deprovisioning = deprovisioned(world)

    assert world.batch([remove]) == ok()

    assert world.tenant.get("acme") is None
    assert world.builds(DEPROVISIONING_PROJECT) == [deprovisioning]


def test_r8_identical_readd_picked_up_by_the_older_insert_is_kept(world: World) -> None:
    """Put, delete, put again (same attributes); the first INSERT is processed alone, the rest later."""
    world.tenant.put(VALID)
    world.delete()
    world.tenant.put(VALID)
    first_insert, *rest = world.tenant.stream.new_records()

    assert world.batch([first_insert]) == ok()  # the table holds an identical, untaken version: it is built
    assert world.batch(rest) == ok()  # the REMOVE finds the id taken up; the second INSERT finds it built

    (build_id,) = world.builds(PROVISIONING_PROJECT)
    assert world.builds(DEPROVISIONING_PROJECT) == []
    assert world.item()["build_id"] == {"S": build_id}
    assert world.deliver() == ok()


# -- batches -------------------------------------------------------------------------------------------------


def test_b1_a_failed_record_defers_the_later_records_of_its_item_only(world: World) -> None:
    world.provisioner = dataclasses.replace(
        world.provisioner, dynamodb=Flaky(boto3.client("dynamodb"), "get_item", throttle)
    )
    world.tenant.put(VALID)
    world.tenant.put({**VALID, "id": {"S": "other"}})
    world.tenant.set("acme", tier={"S": "platinum"})
    acme_insert, other_insert, acme_modify = world.tenant.stream.new_records()

    assert world.batch([acme_insert, other_insert, acme_modify]) == failed(acme_insert, acme_modify)
    assert [r["environmentVariablesOverride"][0]["value"] for r in world.tenant.start_build_requests] == ["other"]

    assert world.batch([acme_insert, other_insert, acme_modify]) == ok()  # Lambda's retry from the checkpoint
    ids = [r["environmentVariablesOverride"][0]["value"] for r in world.tenant.start_build_requests]
    assert ids == ["other", "acme"]
    assert world.item()["tier"] == {"S": "platinum"}


class FakeClock:
    """``monotonic`` and ``sleep`` for a waiter: sleeping moves the clock; every sleep is kept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def never_ends(build_id: str) -> bool:
    return False


def test_b2_waiting_for_a_stopped_build_gives_up_after_its_timeout() -> None:
    clock = FakeClock()
    wait = provisioner_index.make_build_waiter(
        never_ends, timeout=10, interval=2, sleep=clock.sleep, monotonic=clock.monotonic
    )

    with pytest.raises(provisioner_index.BuildStillRunningError, match=r"^build p:1 was stopped but has not ended yet"):
        wait("p:1")
    assert clock.sleeps == [2, 2, 2, 2, 2]


def test_b2_waiting_stops_early_when_the_invocation_runs_out_of_time() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 14_000

    deadline = provisioner_index.InvocationDeadline()
    before = time.monotonic()
    deadline.start(Context())  # 14 s left, 10 s kept back for the rest of the batch
    assert before + 4 <= deadline.at <= time.monotonic() + 4

    clock = FakeClock()
    invocation = provisioner_index.InvocationDeadline(at=3.0)
    wait = provisioner_index.make_build_waiter(
        never_ends, timeout=40, interval=1, sleep=clock.sleep, monotonic=clock.monotonic, invocation=invocation
    )

    with pytest.raises(provisioner_index.BuildStillRunningError):
        wait("p:1")
    assert clock.sleeps == [1, 1, 1]  # the invocation's 3 s, not the 40 s timeout


@pytest.mark.parametrize(
    ("builds", "ended"),
    [
        ([{"id": "p:1", "buildComplete": False, "currentPhase": "BUILD", "buildStatus": "IN_PROGRESS"}], False),
        ([{"id": "p:1", "buildComplete": False, "currentPhase": "FINALIZING", "buildStatus": "STOPPED"}], False),
        ([{"id": "p:1", "buildComplete": True, "currentPhase": "COMPLETED", "buildStatus": "STOPPED"}], True),
        ([], True),  # a build that does not exist (any more) cannot overlap anything
    ],
    ids=["running", "stopping", "stopped", "gone"],
)
def test_b2_a_build_has_ended_when_codebuild_says_it_is_complete(builds: list[dict[str, Any]], ended: bool) -> None:
    client = boto3.client("codebuild", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("batch_get_builds", {"builds": builds}, {"ids": ["p:1"]})
        assert provisioner_index.make_build_checker(client)("p:1") is ended
        stub.assert_no_pending_responses()


# -- the table itself ------------------------------------------------------------------------------------------

# Rows whose test lives in test_provisioner.py (written before the table); the others have a test_<row>_ here.
EARLIER_TESTS = {
    "I1": ["test_valid_insert_starts_one_build_then_build_state_sets_status"],
    "I2": ["test_invalid_record_starts_no_build_and_fails_naming_field_and_value"],
    "I10": ["test_remove_starts_deprovisioning_build_from_old_image"],
    "M1": ["test_modify_of_system_attributes_only_starts_nothing"],
    "M2": ["test_modify_of_identity_is_refused_and_reverted"],
    "M3": ["test_modify_of_tier_or_wave_starts_no_build", "test_modify_to_an_invalid_wave_is_reported_without_a_build"],
    "M4": ["test_correcting_an_invalid_record_provisions_it"],
    "R1": ["test_remove_starts_deprovisioning_build_from_old_image"],
    "R3": ["test_remove_of_a_never_valid_record_starts_nothing"],
    "R4": ["test_remove_starts_deprovisioning_build_from_old_image"],
}


def test_every_row_of_the_state_table_has_a_test() -> None:
    from pathlib import Path

    from tests.tenant import test_provisioner

    page = (Path(__file__).resolve().parents[2] / "docs" / "tenant-deployments.md").read_text(encoding="utf-8")
    section = page.split("\n## Ordering rules\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [row for row in rows if row != "row"]
    here = {match[1].upper() for name in globals() if (match := re.match(r"test_([a-z][0-9]+)_", name))}

    assert len(rows) == len(set(rows)) > 20
    untested = [row for row in rows if row not in here and row not in EARLIER_TESTS]
    assert untested == []
    for names in EARLIER_TESTS.values():
        for name in names:
            assert callable(getattr(test_provisioner, name)), name
    assert sorted(set(EARLIER_TESTS) - set(rows)) == []

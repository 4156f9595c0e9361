"""The deployment provisioner against moto's server: real table, real stream records, real CodeBuild calls."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support import powertools
from tests.tenant.conftest import (
    DEPROVISIONING_PROJECT,
    IDEMPOTENCY_TABLE,
    PROVISIONING_PROJECT,
    TABLE,
    Tenant,
    create_project,
    load_lambda,
)

provisioner_index = load_lambda("deployment_provisioner")
status_index = load_lambda("deployment_status")

VALID = {
    "id": {"S": "acme"},
    "type": {"S": "silo"},
    "account": {"S": "111111111111"},
    "region": {"S": "eu-west-1"},
    "tier": {"S": "gold"},
    "wave": {"N": "0"},
}


def env_override(deployment_id: str, deployment_type: str, account: str, region: str) -> list[dict[str, str]]:
    return [
        {"name": "DEPLOYMENT_ID", "value": deployment_id, "type": "PLAINTEXT"},
        {"name": "DEPLOYMENT_TYPE", "value": deployment_type, "type": "PLAINTEXT"},
        {"name": "COMPONENT_ACCOUNT", "value": account, "type": "PLAINTEXT"},
        {"name": "COMPONENT_REGION", "value": region, "type": "PLAINTEXT"},
    ]


class LambdaContext:
    function_name = "provisioner"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:provisioner"
    aws_request_id = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


STATUS_CONTEXT = powertools.LambdaContext(function_name="deployment-status")


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"moto ends a stopped build at once; nothing should wait ({seconds} s)")


def new_provisioner(tenant: Tenant) -> Any:
    """A fresh container's worth of provisioner (no in-memory state shared with earlier ones)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    dynamodb = boto3.client("dynamodb")
    config = provisioner_index.idempotency_config()
    config.register_lambda_context(LambdaContext())
    persistence = DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=dynamodb)
    ended = provisioner_index.make_build_checker(tenant.codebuild)
    return provisioner_index.Provisioner(
        table=TABLE,
        provisioning_project=PROVISIONING_PROJECT,
        deprovisioning_project=DEPROVISIONING_PROJECT,
        dynamodb=dynamodb,
        start_build=provisioner_index.make_build_starter(tenant.codebuild, persistence, config),
        stop_build=provisioner_index.make_build_stopper(tenant.codebuild),
        build_started=provisioner_index.make_build_lookup(persistence, config),
        build_ended=ended,
        wait_for_build=provisioner_index.make_build_waiter(ended, sleep=_no_sleep),
    )


@pytest.fixture
def provisioner(tenant: Tenant) -> Any:
    return new_provisioner(tenant)


def deliver(tenant: Tenant, provisioner: Any) -> dict[str, Any]:
    """Deliver every new stream record as one batch; returns the handler's response."""
    event = tenant.stream.event()
    assert event["Records"], "expected new stream records"
    return provisioner_index.process_batch(event, provisioner)


def state_change(project: str, build_id: str, status: str, deployment_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.codebuild",
        "detail-type": "CodeBuild Build State Change",
        "region": "us-east-1",
        "detail": {
            "build-status": status,
            "project-name": project,
            "build-id": f"arn:aws:codebuild:us-east-1:123456789012:build/{build_id}",
            "additional-information": {
                "environment": {
                    "environment-variables": [
                        {"name": "DEPLOYMENT_ID", "value": deployment_id, "type": "PLAINTEXT"},
                    ]
                }
            },
        },
    }


def status_updater() -> Any:
    return status_index.StatusUpdater(table=TABLE, dynamodb=boto3.client("dynamodb"))


def apply(event: dict[str, Any]) -> str:
    change = status_index.BuildStateChange.from_event(event)
    assert change is not None
    return str(status_updater().apply(change))


def provision(tenant: Tenant, provisioner: Any, item: dict[str, Any] = VALID) -> str:
    tenant.put(item)
    assert deliver(tenant, provisioner) == {"batchItemFailures": []}
    stored = tenant.get(item["id"]["S"])
    assert stored is not None
    return str(stored["build_id"]["S"])


# -- INSERT ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"])
def test_valid_insert_starts_one_build_then_build_state_sets_status(
    tenant: Tenant, provisioner: Any, outcome: str
) -> None:
    tenant.put(VALID)

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    assert tenant.start_build_requests == [
        {
            "projectName": PROVISIONING_PROJECT,
            "environmentVariablesOverride": env_override("acme", "silo", "111111111111", "eu-west-1"),
        }
    ]
    builds = tenant.builds(PROVISIONING_PROJECT)
    assert len(builds) == 1
    item = tenant.get("acme")
    assert item is not None
    assert item["status"] == {"S": "PROVISIONING"}
    assert item["build_id"] == {"S": builds[0]}
    assert "updated_at" in item
    # The provisioner's own status write comes back on the stream and starts nothing.
    assert deliver(tenant, provisioner) == {"batchItemFailures": []}
    assert len(tenant.builds(PROVISIONING_PROJECT)) == 1

    result = apply(state_change(PROVISIONING_PROJECT, builds[0], outcome, "acme"))

    item = tenant.get("acme")
    assert item is not None
    if outcome == "SUCCEEDED":
        assert result == "ACTIVE"
        assert item["status"] == {"S": "ACTIVE"}
        assert "status_reason" not in item
    else:
        assert result == "FAILED"
        assert item["status"] == {"S": "FAILED"}
        assert builds[0] in item["status_reason"]["S"] and outcome in item["status_reason"]["S"]
    # ... and the status handler's write starts nothing either.
    assert deliver(tenant, provisioner) == {"batchItemFailures": []}
    assert len(tenant.start_build_requests) == 1


def test_stale_and_in_progress_build_events_change_nothing(tenant: Tenant, provisioner: Any) -> None:
    build_id = provision(tenant, provisioner)

    assert apply(state_change(PROVISIONING_PROJECT, "deployment-provisioning:older", "SUCCEEDED", "acme")) == "stale"
    assert apply(state_change(PROVISIONING_PROJECT, build_id, "IN_PROGRESS", "acme")) == "ignored"
    assert apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "nobody")) == "stale"
    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "PROVISIONING"}
    assert tenant.get("nobody") is None
    # A repeated event after the record settled changes nothing.
    assert apply(state_change(PROVISIONING_PROJECT, build_id, "FAILED", "acme")) == "FAILED"
    assert apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme")) == "ignored"
    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "FAILED"}


def test_status_events_of_other_builds_are_ignored_and_malformed_ones_rejected(tenant: Tenant) -> None:
    event = state_change("someone-elses-project", "p:1", "SUCCEEDED", "acme")
    event["detail"]["additional-information"]["environment"]["environment-variables"] = []
    assert status_index.BuildStateChange.from_event(event) is None
    assert status_index.handler(event, STATUS_CONTEXT) == {"outcome": "ignored"}
    with pytest.raises(status_index.InvalidEventError, match=r"detail.build-status must be"):
        status_index.BuildStateChange.from_event({"detail": {"project-name": "p", "build-id": "b"}})


def test_same_stream_record_delivered_twice_starts_one_build(tenant: Tenant, provisioner: Any) -> None:
    tenant.put(VALID)
    event = tenant.stream.event()

    first = provisioner_index.process_batch(event, provisioner)
    # Redelivery to the same container, in a batch with itself, and to a brand-new container.
    second = provisioner_index.process_batch({"Records": event["Records"] * 2}, provisioner)
    third = provisioner_index.process_batch(event, new_provisioner(tenant))

    assert first == second == third == {"batchItemFailures": []}
    assert len(tenant.builds(PROVISIONING_PROJECT)) == 1
    assert len(tenant.start_build_requests) == 1
    item = tenant.get("acme")
    assert item is not None and item["build_id"] == {"S": tenant.builds(PROVISIONING_PROJECT)[0]}


def test_redelivery_after_the_build_finished_does_not_reset_status(tenant: Tenant, provisioner: Any) -> None:
    tenant.put(VALID)
    event = tenant.stream.event()
    provisioner_index.process_batch(event, provisioner)
    build_id = tenant.builds(PROVISIONING_PROJECT)[0]
    apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme"))

    assert provisioner_index.process_batch(event, provisioner) == {"batchItemFailures": []}

    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "ACTIVE"}
    assert len(tenant.builds(PROVISIONING_PROJECT)) == 1


INVALID = [
    ("account", {"account": {"S": "12345"}}, "'12345'"),
    ("account", {"account": {"N": "111111111111"}}, "111111111111"),
    ("region", {"region": {"S": "us-east-9"}}, "'us-east-9'"),
    ("region", {"region": {"S": "EU-WEST-1"}}, "'EU-WEST-1'"),
    ("type", {"type": {"S": "dedicated"}}, "'dedicated'"),
    ("id", {"id": {"S": "a;rm -rf /"}}, "'a;rm -rf /'"),
    ("id", {"id": {"S": "$(x)"}}, "'$(x)'"),
    ("id", {"id": {"S": "Acme"}}, "'Acme'"),
    ("id", {"id": {"S": "a" * 32}}, "'" + "a" * 32 + "'"),
    ("wave", {"wave": {"N": "-1"}}, "-1"),
    ("wave", {"wave": {"S": "first"}}, "'first'"),
    ("account", {"account": None}, "missing"),
    ("region", {"region": None}, "missing"),
    ("type", {"type": None}, "missing"),
]


@pytest.mark.parametrize(("field", "change", "shown"), INVALID, ids=[f"{f}-{s}" for f, _, s in INVALID])
def test_invalid_record_starts_no_build_and_fails_naming_field_and_value(
    tenant: Tenant, provisioner: Any, field: str, change: dict[str, Any], shown: str
) -> None:
    item = {**VALID, **change}
    item = {name: value for name, value in item.items() if value is not None}
    tenant.put(item)

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    assert tenant.start_build_requests == []
    assert tenant.builds(PROVISIONING_PROJECT) == []
    stored = tenant.get(item["id"]["S"])
    assert stored is not None
    assert stored["status"] == {"S": "FAILED"}
    reason = stored["status_reason"]["S"]
    assert reason.startswith(f"invalid record: {field} ")
    assert shown in reason
    # Writing FAILED does not come back as work.
    assert deliver(tenant, provisioner) == {"batchItemFailures": []}
    assert tenant.start_build_requests == []


def test_correcting_an_invalid_record_provisions_it(tenant: Tenant, provisioner: Any) -> None:
    tenant.put({**VALID, "region": {"S": "us-east-9"}})
    deliver(tenant, provisioner)
    tenant.set("acme", region={"S": "eu-west-1"})

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    assert [r["environmentVariablesOverride"] for r in tenant.start_build_requests] == [
        env_override("acme", "silo", "111111111111", "eu-west-1")
    ]
    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "PROVISIONING"} and "status_reason" not in item


def test_redelivered_invalid_insert_does_not_fail_a_record_corrected_since(tenant: Tenant, provisioner: Any) -> None:
    tenant.put({**VALID, "region": {"S": "us-east-9"}})
    invalid_insert = tenant.stream.event()
    provisioner_index.process_batch(invalid_insert, provisioner)
    tenant.set("acme", region={"S": "eu-west-1"})
    deliver(tenant, provisioner)

    assert provisioner_index.process_batch(invalid_insert, provisioner) == {"batchItemFailures": []}

    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "PROVISIONING"}


# -- MODIFY ------------------------------------------------------------------------------------------------


def test_modify_of_system_attributes_only_starts_nothing(tenant: Tenant, provisioner: Any) -> None:
    provision(tenant, provisioner)
    deliver(tenant, provisioner)  # the PROVISIONING write
    before = tenant.get("acme")
    # An operator clears status_reason / sets status by hand (updated_at untouched).
    tenant.set("acme", status={"S": "ACTIVE"}, status_reason={"S": "checked by hand"})
    records = tenant.stream.new_records()
    assert [r["eventName"] for r in records] == ["MODIFY"]

    outcome = provisioner_index.process_record(records[0], provisioner)

    assert outcome == "ignored: system attributes only"
    assert len(tenant.start_build_requests) == 1
    after = tenant.get("acme")
    assert before is not None and after is not None
    assert after["updated_at"] == before["updated_at"]


@pytest.mark.parametrize(
    ("field", "new_value"), [("type", "pool"), ("account", "222222222222"), ("region", "us-west-2")]
)
def test_modify_of_identity_is_refused_and_reverted(
    tenant: Tenant, provisioner: Any, field: str, new_value: str
) -> None:
    build_id = provision(tenant, provisioner)
    apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme"))
    deliver(tenant, provisioner)
    tenant.set("acme", **{field: {"S": new_value}})

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    item = tenant.get("acme")
    assert item is not None
    assert item["status"] == {"S": "FAILED"}
    reason = item["status_reason"]["S"]
    assert "identity is immutable" in reason and field in reason and new_value in reason
    assert item[field] == VALID[field]  # reverted to what is deployed
    assert item["build_id"] == {"S": build_id}
    # No build of any kind; the revert itself comes back as a system write and starts nothing.
    assert deliver(tenant, provisioner) == {"batchItemFailures": []}
    assert len(tenant.start_build_requests) == 1
    assert tenant.builds(DEPROVISIONING_PROJECT) == []


def test_modify_of_tier_or_wave_starts_no_build(tenant: Tenant, provisioner: Any) -> None:
    build_id = provision(tenant, provisioner)
    apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme"))
    deliver(tenant, provisioner)
    tenant.set("acme", tier={"S": "platinum"}, wave={"N": "3"})

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "ACTIVE"} and item["wave"] == {"N": "3"}
    assert len(tenant.start_build_requests) == 1


def test_modify_to_an_invalid_wave_is_reported_without_a_build(tenant: Tenant, provisioner: Any) -> None:
    build_id = provision(tenant, provisioner)
    apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme"))
    deliver(tenant, provisioner)
    tenant.set("acme", wave={"N": "1.5"})

    deliver(tenant, provisioner)

    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "ACTIVE"}
    assert "wave must be a whole number >= 0" in item["status_reason"]["S"] and "1.5" in item["status_reason"]["S"]
    assert len(tenant.start_build_requests) == 1
    deliver(tenant, provisioner)  # the note itself is a system write
    tenant.set("acme", wave={"N": "2"})

    deliver(tenant, provisioner)

    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "ACTIVE"} and "status_reason" not in item
    assert len(tenant.start_build_requests) == 1


# -- REMOVE ------------------------------------------------------------------------------------------------


def test_remove_starts_deprovisioning_build_from_old_image(tenant: Tenant, provisioner: Any) -> None:
    build_id = provision(tenant, provisioner)
    apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme"))
    deliver(tenant, provisioner)
    tenant.dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "acme"}})

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    assert tenant.start_build_requests[1:] == [
        {
            "projectName": DEPROVISIONING_PROJECT,
            "environmentVariablesOverride": env_override("acme", "silo", "111111111111", "eu-west-1"),
        }
    ]
    deprovisioning = tenant.builds(DEPROVISIONING_PROJECT)
    assert len(deprovisioning) == 1
    marker = tenant.get("acme")
    assert marker is not None
    assert marker["status"] == {"S": "DEPROVISIONING"} and marker["build_id"] == {"S": deprovisioning[0]}
    assert deliver(tenant, provisioner) == {"batchItemFailures": []}  # the marker's INSERT starts nothing

    assert apply(state_change(DEPROVISIONING_PROJECT, deprovisioning[0], "SUCCEEDED", "acme")) == "DELETED"

    assert tenant.get("acme") is None
    assert deliver(tenant, provisioner) == {"batchItemFailures": []}  # the marker's REMOVE starts nothing
    assert len(tenant.start_build_requests) == 2


def test_remove_during_provisioning_stops_the_running_provisioning_build(tenant: Tenant, provisioner: Any) -> None:
    build_id = provision(tenant, provisioner)  # status PROVISIONING: its build is still running
    tenant.dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "acme"}})

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    assert tenant.stop_build_requests == [{"id": build_id}]
    assert len(tenant.builds(DEPROVISIONING_PROJECT)) == 1


def test_remove_after_provisioning_stops_nothing(tenant: Tenant, provisioner: Any) -> None:
    build_id = provision(tenant, provisioner)
    apply(state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme"))
    deliver(tenant, provisioner)
    tenant.dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "acme"}})

    deliver(tenant, provisioner)

    assert tenant.stop_build_requests == []
    assert len(tenant.builds(DEPROVISIONING_PROJECT)) == 1


def test_stopping_a_build_that_already_ended_is_not_an_error() -> None:
    class Ended:
        def stop_build(self, id: str) -> None:
            raise ClientError(
                {"Error": {"Code": "InvalidInputException", "Message": "Build already done"}}, "StopBuild"
            )

    assert provisioner_index.make_build_stopper(Ended())("project:1") is False


def test_failed_deprovisioning_is_retried_by_removing_again(tenant: Tenant, provisioner: Any) -> None:
    provision(tenant, provisioner)
    tenant.dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "acme"}})
    deliver(tenant, provisioner)
    first = tenant.builds(DEPROVISIONING_PROJECT)[0]

    assert apply(state_change(DEPROVISIONING_PROJECT, first, "FAILED", "acme")) == "FAILED"
    marker = tenant.get("acme")
    assert marker is not None and "remove the record again" in marker["status_reason"]["S"]
    deliver(tenant, provisioner)
    tenant.dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "acme"}})
    deliver(tenant, provisioner)

    assert len(tenant.builds(DEPROVISIONING_PROJECT)) == 2


def test_remove_of_a_never_valid_record_starts_nothing(tenant: Tenant, provisioner: Any) -> None:
    tenant.put({**VALID, "account": {"S": "nope"}})
    deliver(tenant, provisioner)
    tenant.dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "acme"}})

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    assert tenant.start_build_requests == []


# -- batches and failures ----------------------------------------------------------------------------------


def test_failing_record_does_not_block_the_batch_and_is_reported(tenant: Tenant, provisioner: Any) -> None:
    tenant.put({**VALID, "id": {"S": "first"}})
    tenant.put({**VALID, "id": {"S": "broken"}})
    tenant.put({**VALID, "id": {"S": "third"}})
    event = tenant.stream.event()
    broken = event["Records"][1]
    del broken["dynamodb"]["NewImage"]  # what a KEYS_ONLY stream would deliver

    response = provisioner_index.process_batch(event, provisioner)

    assert response == {"batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]}
    ids = [r["environmentVariablesOverride"][0]["value"] for r in tenant.start_build_requests]
    assert ids == ["first", "third"]


def test_build_that_cannot_start_is_reported_and_retried_once_it_can(tenant: Tenant, provisioner: Any) -> None:
    tenant.codebuild.delete_project(name=PROVISIONING_PROJECT)
    tenant.put(VALID)
    event = tenant.stream.event()

    response = provisioner_index.process_batch(event, provisioner)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]}
    item = tenant.get("acme")
    assert item is not None and "status" not in item
    # Lambda retries the record: now that the project exists it starts exactly one build.
    create_project(tenant.codebuild, PROVISIONING_PROJECT)
    assert provisioner_index.process_batch(event, provisioner) == {"batchItemFailures": []}
    assert provisioner_index.process_batch(event, provisioner) == {"batchItemFailures": []}
    assert len(tenant.builds(PROVISIONING_PROJECT)) == 1


def test_handler_wires_environment_and_reports_failures(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT_TABLE", TABLE)
    monkeypatch.setenv("PROVISIONING_PROJECT", PROVISIONING_PROJECT)
    monkeypatch.setenv("DEPROVISIONING_PROJECT", DEPROVISIONING_PROJECT)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", IDEMPOTENCY_TABLE)
    provisioner_index._runtime.cache_clear()
    tenant.put(VALID)
    event = tenant.stream.event()
    event["Records"].append({"eventName": "INSERT", "eventID": "x", "dynamodb": {"SequenceNumber": "999"}})

    try:
        with powertools.captured_logs(provisioner_index.logger) as logs:
            response = provisioner_index.handler(event, LambdaContext())
    finally:
        provisioner_index._runtime.cache_clear()

    assert response == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    assert len(tenant.builds(PROVISIONING_PROJECT)) == 1
    started = next(record for record in logs.records() if record["message"] == "provisioning build started")
    assert (started["service"], started["function_name"], started["deployment_id"]) == (
        "deployment-provisioner",
        "provisioner",
        "acme",
    )


def test_status_handler_applies_build_state_changes_and_logs_them_as_json(
    tenant: Tenant, provisioner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYMENT_TABLE", TABLE)
    status_index._updater.cache_clear()
    build_id = provision(tenant, provisioner)
    other_build = state_change("someone-elses-project", "p:1", "SUCCEEDED", "acme")
    other_build["detail"]["additional-information"]["environment"]["environment-variables"] = []

    try:
        with powertools.captured_logs(status_index.logger) as logs:
            applied = status_index.handler(
                state_change(PROVISIONING_PROJECT, build_id, "SUCCEEDED", "acme"), STATUS_CONTEXT
            )
            ignored = status_index.handler(other_build, STATUS_CONTEXT)
    finally:
        status_index._updater.cache_clear()

    assert applied == {"deployment_id": "acme", "build_id": build_id, "outcome": "ACTIVE"}
    assert ignored == {"outcome": "ignored"}
    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "ACTIVE"}
    first, second = logs.records()
    assert {key: first[key] for key in ("level", "message", "service", "function_name")} == {
        "level": "INFO",
        "message": "build state change applied",
        "service": "deployment-status",
        "function_name": "deployment-status",
    }
    assert (first["deployment_id"], first["build_id"], first["build_status"], first["outcome"]) == (
        "acme",
        build_id,
        "SUCCEEDED",
        "ACTIVE",
    )
    assert (second["message"], second["build_id"]) == (
        "build carries no DEPLOYMENT_ID; ignored",
        "arn:aws:codebuild:us-east-1:123456789012:build/p:1",
    )


class _ThrottledOnce:
    """The provisioner's DynamoDB client, whose first UpdateItem is throttled beyond the SDK's retries."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.throttled = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **kwargs: Any) -> Any:
        if not self.throttled:
            self.throttled = True
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "UpdateItem")
        return self._client.update_item(**kwargs)


def test_status_write_failing_after_the_build_started_is_retried_without_a_second_build(tenant: Tenant) -> None:
    import dataclasses

    flaky = _ThrottledOnce(boto3.client("dynamodb"))
    provisioner = dataclasses.replace(new_provisioner(tenant), dynamodb=flaky)
    tenant.put(VALID)
    event = tenant.stream.event()

    first = provisioner_index.process_batch(event, provisioner)
    second = provisioner_index.process_batch(event, provisioner)

    assert first == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]}
    assert second == {"batchItemFailures": []}
    builds = tenant.builds(PROVISIONING_PROJECT)
    assert len(builds) == 1
    item = tenant.get("acme")
    assert item is not None and item["status"] == {"S": "PROVISIONING"} and item["build_id"] == {"S": builds[0]}


# -- hostile input (issue 11): parsing of malformed stream records and build events --------------------------


def test_malformed_records_never_block_or_lose_the_valid_records_of_their_batch(
    tenant: Tenant, provisioner: Any
) -> None:
    tenant.put({**VALID, "id": {"S": "first"}})
    tenant.put({**VALID, "id": {"S": "third"}})
    real = tenant.stream.event()["Records"]
    template = real[0]

    def variant(sequence: str, **dynamodb: Any) -> dict[str, Any]:
        return {**template, "dynamodb": {**template["dynamodb"], "SequenceNumber": sequence, **dynamodb}}

    unidentifiable: list[Any] = [
        5,
        ["INSERT"],
        None,
        {**template, "dynamodb": "INSERT"},
        {**template, "dynamodb": {**template["dynamodb"], "SequenceNumber": 7}},
        {key: value for key, value in template.items() if key != "dynamodb"},
    ]
    reported = [
        variant("900001", NewImage={"id": {"Q": "first"}}),  # an attribute type DynamoDB does not have
        variant("900002", NewImage={"id": "first"}),  # an attribute value that is not typed
        variant("900003", NewImage=["id"]),
        variant("900004", Keys="first"),
        {**variant("900005"), "eventName": 42},
        variant("900006", NewImage={"id": {"N": "1" * 50}}),  # boto3 cannot read it (decimal.Rounded)
    ]
    event = {"Records": [real[0], *unidentifiable, *reported, real[1]]}

    with powertools.captured_logs(provisioner_index.logger) as logs:
        response = provisioner_index.process_batch(event, provisioner)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]} for record in reported]
    }
    assert [r["environmentVariablesOverride"][0]["value"] for r in tenant.start_build_requests] == ["first", "third"]
    skipped = [line for line in logs.records() if line["message"].startswith("stream record without")]
    assert [(line["level"], line["position"]) for line in skipped] == [("ERROR", n) for n in range(1, 7)]
    assert skipped[0]["record"] == "5"
    for deployment_id in ("first", "third"):
        stored = tenant.get(deployment_id)
        assert stored is not None and stored["status"] == {"S": "PROVISIONING"}


@pytest.mark.parametrize("event", [{}, {"Records": None}, {"Records": "x"}, [1], "Records"])
def test_an_event_that_is_not_a_stream_batch_is_refused_naming_it(provisioner: Any, event: Any) -> None:
    with pytest.raises(provisioner_index.UnprocessableRecordError, match=r"^event must be a DynamoDB stream batch"):
        provisioner_index.process_batch(event, provisioner)


def test_a_batch_of_only_unidentifiable_records_reports_nothing(provisioner: Any) -> None:
    assert provisioner_index.process_batch({"Records": [1, "x", {}]}, provisioner) == {"batchItemFailures": []}


def test_a_huge_record_is_failed_with_a_short_reason(tenant: Tenant, provisioner: Any) -> None:
    tenant.put({**VALID, "id": {"S": "big"}, "tier": {"S": "x" * 300_000}, "account": {"S": "\x1b[2J" * 10_000}})

    assert deliver(tenant, provisioner) == {"batchItemFailures": []}

    stored = tenant.get("big")
    assert stored is not None and stored["status"] == {"S": "FAILED"}
    reason = stored["status_reason"]["S"]
    assert reason.startswith("invalid record: account must be a string of 12 digits, got '\\x1b[2J")
    assert len(reason) < 1_000
    assert tenant.start_build_requests == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("not an event", "event must be an object, got str"),
        ([{"detail": {}}], "event must be an object, got list"),
        ({"detail": "SUCCEEDED"}, "event has no detail object"),
        ({"detail": {"project-name": "p", "build-id": ["b"], "build-status": "SUCCEEDED"}}, r"detail.build-id must be"),
        ({"detail": {"project-name": "p", "build-id": "b", "build-status": 5}}, r"detail.build-status must be"),
    ],
)
def test_malformed_build_events_are_refused_naming_the_field(tenant: Tenant, event: Any, message: str) -> None:
    tenant.put({**VALID, "status": {"S": "PROVISIONING"}, "build_id": {"S": "b"}})

    with pytest.raises(status_index.InvalidEventError, match=message):
        status_index.handler(event, STATUS_CONTEXT)

    assert tenant.get("acme") == {**VALID, "status": {"S": "PROVISIONING"}, "build_id": {"S": "b"}}


@pytest.mark.parametrize(
    "variables",
    [
        "DEPLOYMENT_ID=acme",
        [{"name": "DEPLOYMENT_ID", "value": ["acme"]}],
        [{"name": "DEPLOYMENT_ID", "value": "x" * 5000}],  # over DynamoDB's 2,048-byte key limit
        [{"name": "DEPLOYMENT_ID", "value": "ACME"}],
        [{"name": "DEPLOYMENT_ID", "value": ""}],
        [7, None],
    ],
)
def test_build_events_whose_deployment_id_cannot_name_a_record_are_ignored(tenant: Tenant, variables: Any) -> None:
    tenant.put({**VALID, "status": {"S": "PROVISIONING"}, "build_id": {"S": "p:1"}})
    event = state_change(PROVISIONING_PROJECT, "p:1", "SUCCEEDED", "acme")
    event["detail"]["additional-information"]["environment"]["environment-variables"] = variables

    assert status_index.handler(event, STATUS_CONTEXT) == {"outcome": "ignored"}

    stored = tenant.get("acme")
    assert stored is not None and stored["status"] == {"S": "PROVISIONING"}

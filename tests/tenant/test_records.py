"""records.py: the one validation module (plain Python) shared by the provisioner and the CLI."""

from __future__ import annotations

import shutil
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devops_blueprints import assets, deployments_cli
from tests.tenant.conftest import REPO_ROOT, load_lambda

load_lambda("deployment_provisioner")
import records  # noqa: E402  (the provisioner's folder is on sys.path, as in Lambda)

VALID = {"id": "acme-1", "type": "pool", "account": "012345678901", "region": "eu-west-1"}


def test_valid_record_and_its_build_environment() -> None:
    deployment = records.validate({**VALID, "tier": "gold", "wave": Decimal(3), "status": "ACTIVE"})
    assert deployment == records.Deployment("acme-1", "pool", "012345678901", "eu-west-1", "gold", 3)
    assert deployment.pipeline_stack_name == "pool-acme-1-pipeline"
    assert [(v["name"], v["value"], v["type"]) for v in deployment.build_environment()] == [
        ("DEPLOYMENT_ID", "acme-1", "PLAINTEXT"),
        ("DEPLOYMENT_TYPE", "pool", "PLAINTEXT"),
        ("COMPONENT_ACCOUNT", "012345678901", "PLAINTEXT"),
        ("COMPONENT_REGION", "eu-west-1", "PLAINTEXT"),
    ]
    assert records.validate(VALID).effective_wave == records.DEFAULT_WAVE == 1


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-5", "cn-north-1", "us-gov-west-1", "eusc-de-east-1"])
def test_regions_of_every_partition_are_known_offline(region: str) -> None:
    assert records.check_region(region) == region


@pytest.mark.parametrize("region", ["us-east-7", "aws-global", "", "eu-west-1 ", "local"])
def test_unknown_regions_are_rejected(region: str) -> None:
    with pytest.raises(records.RecordError, match="region must be a real AWS region"):
        records.check_region(region)


@pytest.mark.parametrize("wave", [True, -1, Decimal("0.5"), Decimal("NaN"), "1", 1.0])
def test_wave_must_be_a_whole_number(wave: object) -> None:
    with pytest.raises(records.RecordError, match=r"wave must be a whole number >= 0"):
        records.check_wave(wave)


def test_every_problem_is_listed_once_in_field_order() -> None:
    with pytest.raises(records.InvalidRecordError) as caught:
        records.validate({"id": "x", "type": "silo"})
    assert str(caught.value) == (
        "account is missing (expected a string of 12 digits); "
        "region is missing (expected a real AWS region such as 'eu-west-1')"
    )
    assert [e.field for e in caught.value.errors] == ["account", "region"]


@given(st.text(min_size=1, max_size=40))
def test_ids_with_anything_but_lowercase_digits_and_dashes_are_rejected(candidate: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    valid = candidate[0].isascii() and candidate[0].islower() and set(candidate) <= allowed and len(candidate) <= 31
    try:
        records.check_id(candidate)
        accepted = True
    except records.RecordError as exc:
        accepted = False
        assert exc.field == "id" and exc.value == candidate
    assert accepted == valid


def test_cli_loads_records_from_an_installed_wheel_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "devops_blueprints"
    shutil.copytree(REPO_ROOT / "lambda_src", installed / "_assets" / "lambda_src")
    monkeypatch.setattr(assets, "_CANDIDATE_ROOTS", (tmp_path / "checkout", installed / "_assets"))
    assets._tree.cache_clear()
    deployments_cli.records.cache_clear()
    # Loaded lambda_src modules are shared per process; forget the checkout's copy for this test only.
    monkeypatch.delitem(sys.modules, "_lambda_src__deployment_provisioner__records", raising=False)
    try:
        module = deployments_cli.records()
        assert module.__file__ == str(installed / "_assets" / "lambda_src" / "deployment_provisioner" / "records.py")
        assert module.validate(VALID).to_item() == VALID
    finally:
        assets._tree.cache_clear()
        deployments_cli.records.cache_clear()

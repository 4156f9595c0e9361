"""``devops-blueprints deployments add|list|remove`` against a deployment table on moto."""

from __future__ import annotations

import re
from typing import Any

import pytest

from devops_blueprints import deployments_cli
from devops_blueprints.cli import main
from tests.tenant.conftest import REPO_ROOT, TABLE

ADD = ["deployments", "add", "--table", TABLE, "--id", "acme", "--type", "silo", "--account", "111111111111"]


@pytest.fixture
def table(deployment_table: Any) -> Any:
    return deployment_table


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return sorted(dynamodb.scan(TableName=TABLE)["Items"], key=lambda i: i["id"]["S"])


def test_cli_uses_the_provisioners_records_module() -> None:
    module = deployments_cli.records()
    assert module.__file__ == str(REPO_ROOT / "lambda_src" / "deployment_provisioner" / "records.py")


def test_add_writes_the_validated_record(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*ADD, "--region", "eu-west-1", "--tier", "gold", "--wave", "0"])

    assert code == 0
    assert items(table) == [
        {
            "id": {"S": "acme"},
            "type": {"S": "silo"},
            "account": {"S": "111111111111"},
            "region": {"S": "eu-west-1"},
            "tier": {"S": "gold"},
            "wave": {"N": "0"},
        }
    ]
    assert "added deployment acme (silo, 111111111111/eu-west-1, wave 0)" in capsys.readouterr().out


def test_add_refuses_to_overwrite(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ADD, "--region", "eu-west-1"]) == 0
    table.update_item(
        TableName=TABLE,
        Key={"id": {"S": "acme"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "ACTIVE"}},
    )
    capsys.readouterr()

    code = main([*ADD[:-1], "222222222222", "--region", "us-west-2"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        "devops-blueprints: error: deployment 'acme' already exists in table 'deployments' (status ACTIVE); "
        "records are never overwritten: remove it first or choose another id"
    ]
    assert items(table)[0]["account"] == {"S": "111111111111"}


BAD = [
    (["--id", "a;rm -rf /"], "id must be a string matching ^[a-z][a-z0-9-]{0,30}$, got 'a;rm -rf /'"),
    (["--id", "$(x)"], "id must be a string matching ^[a-z][a-z0-9-]{0,30}$, got '$(x)'"),
    (["--type", "shared"], "type must be 'silo' or 'pool', got 'shared'"),
    (["--account", "1234"], "account must be a string of 12 digits, got '1234'"),
    (["--region", "moon-1"], "region must be a real AWS region such as 'eu-west-1', got 'moon-1'"),
    (["--wave", "-2"], "wave must be a whole number >= 0 (0 is the canary wave), got -2"),
    (["--wave", "soon"], "wave must be a whole number >= 0 (0 is the canary wave), got 'soon'"),
    (["--tier", ""], "tier must be a non-empty printable string of at most 64 characters, got ''"),
]


@pytest.mark.parametrize(("override", "message"), BAD, ids=[m.split(" ")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_add_rejects_bad_input_with_one_line(
    table: Any, capsys: pytest.CaptureFixture[str], override: list[str], message: str
) -> None:
    args = {"--id": "acme", "--type": "silo", "--account": "111111111111", "--region": "eu-west-1"}
    args.update(dict(zip(override[::2], override[1::2], strict=True)))

    code = main(["deployments", "add", "--table", TABLE, *[part for pair in args.items() for part in pair]])

    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"devops-blueprints: error: invalid deployment: {message}"]
    assert items(table) == []


def test_add_to_a_missing_table_is_one_clear_error(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*ADD, "--region", "eu-west-1"])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: table 'deployments' not found (check --table and the AWS region)"
    ]


def test_list_shows_status_in_a_table(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    main([*ADD, "--region", "eu-west-1", "--wave", "2"])
    canary = ["--id", "canary", "--type", "pool", "--account", "222222222222", "--region", "us-east-1"]
    main(["deployments", "add", "--table", TABLE, *canary, "--wave", "0"])
    table.update_item(
        TableName=TABLE,
        Key={"id": {"S": "canary"}},
        UpdateExpression="SET #s = :s, updated_at = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "ACTIVE"}, ":t": {"S": "2026-01-01T00:00:00Z"}},
    )
    capsys.readouterr()

    assert main(["deployments", "list", "--table", TABLE]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "ID",
        "TYPE",
        "ACCOUNT",
        "REGION",
        "TIER",
        "WAVE",
        "STATUS",
        "UPDATED_AT",
        "STATUS_REASON",
        "PROBLEMS",
    ]
    assert lines[1].split() == [
        "canary",
        "pool",
        "222222222222",
        "us-east-1",
        "-",
        "0",
        "ACTIVE",
        "2026-01-01T00:00:00Z",
        "-",
        "-",
    ]
    assert lines[2].split() == ["acme", "silo", "111111111111", "eu-west-1", "-", "2", "-", "-", "-", "-"]
    assert lines[3] == "2 deployment(s): 1 ACTIVE, 1 NEW"


def test_a_record_without_a_wave_is_in_the_default_wave_for_add_and_list(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a deployment added without --wave (and one in wave 2, released after it)
    main([*ADD[:5], "late", *ADD[6:], "--region", "eu-west-1", "--wave", "2"])
    assert main([*ADD, "--region", "eu-west-1"]) == 0
    added = capsys.readouterr().out
    # THEN the record holds no wave, add names the default wave and list shows that same wave, sorted by it
    assert "wave" not in next(item for item in items(table) if item["id"] == {"S": "acme"})
    assert "added deployment acme (silo, 111111111111/eu-west-1, wave 1)" in added
    lines = list_output(capsys)
    wave_column = lines[0].index("WAVE")
    assert [(line.split()[0], line[wave_column:].split()[0]) for line in lines[1:-1]] == [("acme", "1"), ("late", "2")]


def test_list_of_an_empty_table(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deployments", "list", "--table", TABLE]) == 0
    assert capsys.readouterr().out == f"no deployments in table {TABLE}\n"


def test_remove_deletes_the_record(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    main([*ADD, "--region", "eu-west-1"])

    assert main(["deployments", "remove", "--table", TABLE, "--id", "acme"]) == 0

    assert items(table) == []
    assert "removed deployment acme" in capsys.readouterr().out


def test_remove_of_an_absent_id_is_one_clear_error(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deployments", "remove", "--table", TABLE, "--id", "ghost"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: deployment 'ghost' not found in table 'deployments'"
    ]


def test_remove_refuses_a_deployment_already_being_deprovisioned(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    table.put_item(
        TableName=TABLE,
        Item={"id": {"S": "acme"}, "status": {"S": "DEPROVISIONING"}, "build_id": {"S": "deprov:1"}},
    )
    assert main(["deployments", "remove", "--table", TABLE, "--id", "acme"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: deployment 'acme' is already being deprovisioned (build deprov:1)"
    ]
    assert len(items(table)) == 1


def test_remove_works_for_a_record_with_an_invalid_id(table: Any) -> None:
    table.put_item(TableName=TABLE, Item={"id": {"S": "a;rm -rf /"}, "status": {"S": "FAILED"}})
    assert main(["deployments", "remove", "--table", TABLE, "--id", "a;rm -rf /"]) == 0
    assert items(table) == []


def test_missing_region_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert main(["deployments", "list", "--table", TABLE]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: no AWS region for the deployment table: set AWS_DEFAULT_REGION or a profile region"
    ]


def test_unreachable_endpoint_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["deployments", "remove", "--table", TABLE, "--id", "acme"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("devops-blueprints: error: DeleteItem on table 'deployments' failed: Could not connect")


# -- hostile input (issue 11) -------------------------------------------------------------------------------

ERROR = "devops-blueprints: error: "
VALID = ["--id", "acme", "--type", "silo", "--account", "111111111111", "--region", "eu-west-1"]
COMMANDS = {
    "add": ["deployments", "add", "--table", TABLE, *VALID],
    "list": ["deployments", "list", "--table", TABLE],
    "remove": ["deployments", "remove", "--table", TABLE, "--id", "acme"],
}


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(ERROR)
    assert "Traceback" not in captured.err
    return lines[0].removeprefix(ERROR)


@pytest.mark.parametrize(
    ("wave", "shown"),
    [
        ("1" * 39, "1" * 39),
        ("9" * 39, "9" * 39),
        ("1" + "0" * 38, "1" + "0" * 38),
        ("7" * 5000, "7" * 77 + "..."),  # past int()'s 4,300-digit limit
    ],
    ids=["39-ones", "39-nines", "1e38", "5000-digits"],
)
def test_add_refuses_a_wave_of_more_than_38_digits(
    table: Any, capsys: pytest.CaptureFixture[str], wave: str, shown: str
) -> None:
    code = main([*COMMANDS["add"], "--wave", wave])

    assert code == 2
    assert one_error_line(capsys) == (
        f"invalid deployment: wave must be a whole number of at most 38 digits (a DynamoDB number), got {shown}"
    )
    assert items(table) == []


def test_add_accepts_the_largest_38_digit_wave_and_leading_zeros(table: Any) -> None:
    assert main([*COMMANDS["add"], "--wave", "9" * 38]) == 0
    assert main([*COMMANDS["add"][:5], "other", *COMMANDS["add"][6:], "--wave", "0" * 50 + "3"]) == 0

    assert [item["wave"] for item in items(table)] == [{"N": "9" * 38}, {"N": "3"}]


def put_raw(table: Any, **attributes: dict[str, Any]) -> None:
    table.put_item(TableName=TABLE, Item=attributes)


def list_output(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(COMMANDS["list"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out.splitlines()


GOOD = {
    "type": {"S": "silo"},
    "account": {"S": "111111111111"},
    "region": {"S": "eu-west-1"},
}


def test_list_shows_an_item_with_binary_attributes(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put_raw(table, id={"S": "acme"}, **GOOD, status={"B": b"\x00\x1b["}, build_id={"BS": [b"a", b"bc"]})

    lines = list_output(capsys)

    assert len(lines) == 3
    assert "<binary, 3 bytes>" in lines[1]
    assert "{<binary, 1 bytes>, <binary, 2 bytes>}" in lines[1]
    assert (
        "status must be one of PROVISIONING, ACTIVE, FAILED, DEPROVISIONING, got binary <binary, 3 bytes>" in (lines[1])
    )
    assert "build_id must be a string, got set" in lines[1]
    assert lines[2] == "1 deployment(s): 1 <binary, 3 bytes>; 1 malformed (see PROBLEMS)"


def test_list_escapes_control_characters_in_every_value(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    fake_row = "x\nevil  silo  999999999999  us-east-1  -  0  ACTIVE  -  -  -"
    put_raw(
        table,
        id={"S": fake_row},
        type={"S": "silo\r"},
        account={"S": "\x1b[2J\x1b[H"},
        region={"S": "eu-west-1\u202e"},
        tier={"S": "a\\nb"},
        status={"S": "ACTIVE"},
        status_reason={"S": "line one\nline two\x07\x9b31m"},
        updated_at={"SS": ["\x1b]0;title\x07"]},
    )

    lines = list_output(capsys)

    assert len(lines) == 3  # header, the one item, the summary: no value fakes a row
    assert all(line.isprintable() for line in lines)  # no control, format (bidi) or separator characters
    row = lines[1]
    assert row.startswith("x\\nevil  silo  999999999999")
    for escaped in ("silo\\r", "\\x1b[2J\\x1b[H", "eu-west-1\\u202e", "a\\\\nb", "{\\x1b]0;title\\x07}"):
        assert escaped in row
    assert "line one\\nline two\\x07\\x9b31m" in row
    assert row[lines[0].index("PROBLEMS") :] == (
        f"id must be a string matching ^[a-z][a-z0-9-]{{0,30}}$, got string {repr(fake_row)[:37]}...; "
        "type must be 'silo' or 'pool', got string 'silo\\r'; "
        "account must be a string of 12 digits, got string '\\x1b[2J\\x1b[H'; "
        "region must be a real AWS region such as 'eu-west-1', got string 'eu-west-1\\u202e'; "
        "updated_at must be a string, got set {\\x1b]0;title\\x07}"
    )


def test_list_flags_malformed_items_with_what_is_wrong(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put_raw(table, id={"S": "good"}, **GOOD, wave={"N": "0"})
    put_raw(table, id={"S": "numeric"}, **{**GOOD, "account": {"N": "111111111111"}})
    put_raw(table, id={"S": "listwave"}, **GOOD, wave={"L": [{"N": "1"}]})
    put_raw(table, id={"S": "bare"})
    put_raw(table, id={"S": "toobig"}, **GOOD, wave={"N": "1" * 38 + "0"})

    lines = list_output(capsys)

    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert list(rows) == ["good", "bare", "listwave", "numeric", "toobig"]  # by wave (malformed: default), then id
    problems = {name: row[lines[0].index("PROBLEMS") :] for name, row in rows.items()}
    # moto stores 39 digits (DynamoDB refuses them) and boto3 cannot read them back: shown raw and flagged
    assert problems.pop("toobig").startswith(
        "wave must be a whole number >= 0 (0 is the canary wave), got unreadable value <unreadable {'N': '1111"
    )
    assert problems == {
        "good": "-",
        "bare": "type missing; account missing; region missing",
        "listwave": "wave must be a whole number >= 0 (0 is the canary wave), got list [1]",
        "numeric": "account must be a string of 12 digits, got number 111111111111",
    }
    assert lines[-1] == "5 deployment(s): 5 NEW; 4 malformed (see PROBLEMS)"


BAD_ENDPOINTS = [
    "not a url",
    "http://[::1",
    "ftp://example.com",
    "http://127.0.0.1:99999",
    "http://",
    "http://exa mple",
]


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"])
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_a_malformed_endpoint_url_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, endpoint: str, variable: str
) -> None:
    monkeypatch.setenv(variable, endpoint)

    assert main(COMMANDS[command]) == 2

    line = one_error_line(capsys)
    assert line.startswith((f"{variable}={endpoint!r} is not ", "cannot create the AWS dynamodb client: "))
    assert endpoint in line


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", ["", "ab", "a b", "t\nx", "x" * 256, "arn:aws:dynamodb:us-east-1:1:table/t"])
def test_a_bad_table_name_is_one_error_line(
    table: Any, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    args = list(COMMANDS[command])
    args[args.index("--table") + 1] = name

    assert main(args) == 2

    assert one_error_line(capsys) == (
        f"--table must be a DynamoDB table name (3-255 letters, digits, '_', '-' or '.') or a table ARN, got {name!r}"
    )
    assert items(table) == []


def test_a_table_arn_is_accepted(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"
    assert main(["deployments", "add", "--table", arn, *VALID]) == 0
    assert [item["id"] for item in items(table)] == [{"S": "acme"}]


def test_remove_escapes_the_id_it_prints(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put_raw(table, id={"S": "a\x1b[2Jb"})

    assert main(["deployments", "remove", "--table", TABLE, "--id", "a\x1b[2Jb"]) == 0

    assert capsys.readouterr().out == "removed deployment a\\x1b[2Jb; deprovisioning starts from the table stream\n"
    assert items(table) == []


def test_remove_of_an_id_that_is_not_utf8_is_one_error_line(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put_raw(table, id={"S": "acme"})
    bad = b"ac\xffme".decode("utf-8", "surrogateescape")  # what Python makes of such bytes in argv

    assert main(["deployments", "remove", "--table", TABLE, "--id", bad]) == 2

    assert one_error_line(capsys) == f"--id must be UTF-8 text, got {bad!r}"
    assert len(items(table)) == 1


def test_an_aws_error_message_with_line_breaks_is_one_line(
    table: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad\nthing\x1b[2J"}}, "PutItem")

    monkeypatch.setattr(deployments_cli, "_dynamodb", lambda table: type("C", (), {"put_item": staticmethod(refuse)}))

    assert main(COMMANDS["add"]) == 2

    assert one_error_line(capsys) == "PutItem on table 'deployments' failed: ValidationException: bad; thing\\x1b[2J"


# -- fuzz: deployment records ----------------------------------------------------------------------------

from hypothesis import HealthCheck, event, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ANY_TEXT = st.text(st.characters(), max_size=40)  # any code point: control, bidi, surrogates, NUL
_FIELDS: dict[str, st.SearchStrategy[str]] = {
    "id": st.one_of(
        st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True), st.sampled_from(["acme", "A", ""]), _ANY_TEXT
    ),
    "type": st.one_of(st.sampled_from(["silo", "pool", "Silo", "shared", ""]), _ANY_TEXT),
    "account": st.one_of(
        st.from_regex(r"[0-9]{12}", fullmatch=True), st.from_regex(r"[0-9]{0,20}", fullmatch=True), _ANY_TEXT
    ),
    "region": st.one_of(st.sampled_from(["eu-west-1", "us-east-1", "cn-north-1", "moon-1", "EU-WEST-1"]), _ANY_TEXT),
}
_TIER = st.one_of(st.none(), st.sampled_from(["gold", "", "x" * 64, "x" * 65, "a\nb"]), _ANY_TEXT)
_WAVE = st.one_of(
    st.none(),
    st.integers(-(10**40), 10**40).map(str),
    st.integers(30, 45).map(lambda n: "9" * n),
    st.sampled_from(["0", "+3", " 4 ", "1.5", "1e3", "0x10", "", "0" * 60 + "7", "8" * 5000]),
    _ANY_TEXT,
)
_VALID = {
    "id": st.sampled_from(["acme", "beta", "c0-1"]),
    "type": st.sampled_from(["silo", "pool"]),
    "account": st.from_regex(r"[0-9]{12}", fullmatch=True),
    "region": st.sampled_from(["eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1"]),
}


@st.composite
def deployment_record(draw: st.DrawFn) -> dict[str, str | None]:
    """A valid record with at most one field replaced by something hostile (half of them), or anything at all."""
    if draw(st.booleans()):
        return draw(st.fixed_dictionaries(_FIELDS, optional={"tier": _TIER, "wave": _WAVE}))
    record: dict[str, str | None] = draw(st.fixed_dictionaries(_VALID))
    record["tier"] = draw(st.one_of(st.none(), st.just("gold")))
    record["wave"] = draw(st.one_of(st.none(), st.integers(0, 10**38 - 1).map(str)))
    field = draw(st.sampled_from([None, *_FIELDS, "tier", "wave"]))
    if field is not None:
        record[field] = draw({**_FIELDS, "tier": _TIER, "wave": _WAVE}[field])
    return record


_RECORD = deployment_record()


def expected_record(record: dict[str, str | None]) -> dict[str, Any] | None:
    """The item `add` must write for these arguments (the documented rules, written out again), else None."""
    from botocore.loaders import create_loader

    partitions = create_loader().load_data("endpoints")["partitions"]
    regions = {region for partition in partitions for region in partition["regions"]}
    tier, wave = record.get("tier"), record.get("wave")
    wave_text = None if wave is None else wave.strip()
    valid = (
        re.fullmatch(r"[a-z][a-z0-9-]{0,30}", record["id"] or "") is not None
        and record["type"] in ("silo", "pool")
        and re.fullmatch(r"[0-9]{12}", record["account"] or "") is not None
        and record["region"] in regions
        and (tier is None or (0 < len(tier) <= 64 and tier.isprintable()))
        and (
            wave_text is None
            or (re.fullmatch(r"\+?[0-9]+", wave_text) is not None and len(wave_text.lstrip("+").lstrip("0")) <= 38)
        )
    )
    if not valid:
        return None
    item: dict[str, Any] = {name: {"S": record[name]} for name in ("id", "type", "account", "region")}
    if tier is not None:
        item["tier"] = {"S": tier}
    if wave_text is not None:
        item["wave"] = {"N": str(int(wave_text))}
    return item


_fuzz_tables = iter(range(10**6))


def fresh_table() -> tuple[Any, str]:
    """A DynamoDB client and a new, empty deployment table of its own (one per hypothesis example)."""
    import boto3

    dynamodb = boto3.client("dynamodb")
    name = f"fuzz-{next(_fuzz_tables)}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb, name


@seed(20261202)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(_RECORD, min_size=1, max_size=4))
def test_fuzz_add_never_tracebacks_and_writes_exactly_the_valid_records(
    aws: str, capsys: pytest.CaptureFixture[str], records: list[dict[str, str | None]]
) -> None:
    dynamodb, name = fresh_table()
    expected: dict[str, dict[str, Any]] = {}
    for record in records:
        args = ["deployments", "add", f"--table={name}"]
        args += [f"--{field}={value}" for field, value in record.items() if value is not None]
        capsys.readouterr()

        code = main(args)

        captured = capsys.readouterr()
        item = expected_record(record)
        event("valid record" if item is not None else "invalid record")
        if item is not None and item["id"]["S"] not in expected:
            assert (code, captured.err) == (0, ""), args
            assert captured.out.startswith(f"added deployment {item['id']['S']} (")
            expected[item["id"]["S"]] = item
        else:  # invalid, or a second record with an existing id: refused with one line, nothing written
            assert code == 2, args
            assert captured.out == ""
            lines = captured.err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("devops-blueprints: error: "), captured.err
            assert lines[0].isprintable()
    stored = dynamodb.scan(TableName=name, ConsistentRead=True)["Items"]
    assert sorted(stored, key=lambda i: i["id"]["S"]) == [expected[key] for key in sorted(expected)]
    dynamodb.delete_table(TableName=name)


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # DynamoDB strings are UTF-8
_NUMBER = st.one_of(st.integers(-(10**37), 10**37), st.decimals(allow_nan=False, allow_infinity=False, places=3))
_SCALAR = st.one_of(
    _TEXT.map(lambda text: {"S": text}),
    _NUMBER.map(lambda number: {"N": str(number)}),
    st.binary(max_size=20).map(lambda data: {"B": data}),
    st.booleans().map(lambda flag: {"BOOL": flag}),
    st.just({"NULL": True}),
    st.sets(_TEXT, min_size=1, max_size=3).map(lambda texts: {"SS": sorted(texts)}),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda values: {"L": values}),
        # map keys non-empty: moto answers an empty one with a response botocore cannot parse
        st.dictionaries(_TEXT.filter(bool), inner, max_size=3).map(lambda values: {"M": values}),
    ),
    max_leaves=6,
)
_ITEM = st.fixed_dictionaries(
    {"id": st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30).map(lambda text: {"S": text})},
    optional={name: _VALUE for name in ["type", "account", "region", "tier", "wave", "status", "status_reason"]},
)


@seed(20261203)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(stored=st.lists(_ITEM, min_size=1, max_size=5, unique_by=lambda item: item["id"]["S"]))
def test_fuzz_list_shows_every_item_on_one_printable_line(
    aws: str, capsys: pytest.CaptureFixture[str], stored: list[dict[str, Any]]
) -> None:
    dynamodb, name = fresh_table()
    for item in stored:
        dynamodb.put_item(TableName=name, Item=item)
    capsys.readouterr()

    code = main(["deployments", "list", "--table", name])

    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    lines = captured.out.splitlines()
    assert captured.out.count("\n") == len(lines) == len(stored) + 2  # header, one line per item, summary
    assert all(line.isprintable() for line in lines)
    assert lines[-1].startswith(f"{len(stored)} deployment(s): ")
    dynamodb.delete_table(TableName=name)

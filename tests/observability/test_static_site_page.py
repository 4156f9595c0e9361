"""The sample site's built page: the index.html the stack's BucketDeployment uploads (its synthesized asset,
with the deploy-time values CloudFormation substitutes filled in) carries RUM's snippet, well-formed.

No browser is available here (and the RUM endpoint is not reachable), so the page is parsed with the
standard library's ``html.parser``, the inline script is checked with ``node --check``, and then run in Node
against a minimal stand-in for ``window``/``document`` to see what it does: queue the RUM client's
configuration and insert the web client's ``<script async>`` first in ``<head>``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from devops_blueprints.constructs.observability.rum_monitor import WEB_CLIENT_URL
from devops_blueprints.stacks.observability.static_site import StaticSiteStack
from tests.support.cdk import project_context

MONITOR_ID = "5a2b155e-05cd-4d8e-9a1c-2f0e5b7d9c31"
REGION = "eu-west-1"
IDENTITY_POOL = "eu-west-1:2e7c1c4a-6d6b-4c59-9a37-0c1f5b3f7d11"
GUEST_ROLE = "arn:aws:iam::111111111111:role/StaticSite-RumGuestRole-ABC"


def _deploy_time_value(value: dict[str, Any]) -> str:
    """What CloudFormation puts in place of one marker of the page."""
    if value == {"Ref": "AWS::Region"}:
        return REGION
    if value == {"Ref": "AWS::URLSuffix"}:
        return "amazonaws.com"
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Id":
        return MONITOR_ID
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return GUEST_ROLE
    if "Ref" in value and "IdentityPool" in value["Ref"]:
        return IDENTITY_POOL
    raise AssertionError(f"the page refers to a value the test does not know: {value}")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(context=project_context(), outdir=str(out))
    stack = StaticSiteStack(app, "StaticSite")
    template = app.synth().get_stack_by_name(stack.stack_name).template
    (deployment,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"]
    props = deployment["Properties"]
    for key, markers in zip(props["SourceObjectKeys"], props["SourceMarkers"], strict=True):
        index = out / f"asset.{key.removesuffix('.zip')}" / "index.html"
        if index.exists():
            text = index.read_text()
            for marker, value in markers.items():
                assert marker in text
                text = text.replace(marker, _deploy_time_value(value))
            assert "<<marker:" not in text
            return text
    raise AssertionError("no index.html among the deployment's sources")


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.scripts: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append({"attrs": dict(attrs), "text": "", "parents": list(self.stack)})
        if tag not in ("meta", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts[-1]["text"] += data


def _scripts(page: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(page)
    parser.close()
    return parser


def test_the_page_is_well_nested_with_the_snippet_first_in_head(page: str) -> None:
    parsed = _scripts(page)
    assert parsed.errors == [] and parsed.stack == []
    inline = [s for s in parsed.scripts if "src" not in s["attrs"]]
    assert len(inline) == 1, "exactly one inline script: RUM's snippet"
    assert parsed.scripts[0] is inline[0], "the snippet comes before the page's own scripts"
    assert inline[0]["parents"] == ["html", "head"]
    assert [s["attrs"]["src"] for s in parsed.scripts if "src" in s["attrs"]] == ["/js/app.js"]


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "node (from .tools) must be on PATH"
    return node


def test_the_snippet_is_valid_javascript(page: str, tmp_path: Path) -> None:
    (snippet,) = [s["text"] for s in _scripts(page).scripts if "src" not in s["attrs"]]
    script = tmp_path / "snippet.js"
    script.write_text(snippet)
    result = subprocess.run([_node(), "--check", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    # And a syntax error is caught by the same check (the check can fail).
    script.write_text(snippet.replace("});", "}"))
    assert subprocess.run([_node(), "--check", str(script)], capture_output=True, check=False).returncode != 0


def test_the_snippet_configures_the_rum_client_and_loads_it(page: str, tmp_path: Path) -> None:
    (snippet,) = [s["text"] for s in _scripts(page).scripts if "src" not in s["attrs"]]
    harness = tmp_path / "run.js"
    harness.write_text(
        "const inserted = [];\n"
        "globalThis.window = globalThis;\n"
        "globalThis.document = {\n"
        "  createElement: (tag) => ({ tag }),\n"
        "  head: { insertBefore: (el, before) => inserted.push({ el, before }),\n"
        "          getElementsByTagName: () => [] },\n"
        "};\n"
        f"{snippet}\n"
        "window.cwr('recordPageView', '/');\n"
        "console.log(JSON.stringify({ client: window.AwsRumClient, inserted }));\n"
    )
    result = subprocess.run([_node(), str(harness)], capture_output=True, text=True, check=True)
    ran = json.loads(result.stdout)
    client = ran["client"]
    assert client["n"] == "cwr" and client["i"] == MONITOR_ID and client["v"] == "1.0.0" and client["r"] == REGION
    config = client["c"]
    assert config["identityPoolId"] == IDENTITY_POOL
    assert config["guestRoleArn"] == GUEST_ROLE
    assert config["endpoint"] == f"https://dataplane.rum.{REGION}.amazonaws.com"
    assert config["telemetries"] == ["errors", "performance", "http"]
    assert 0 < config["sessionSampleRate"] <= 1
    assert client["q"] == [{"c": "recordPageView", "p": "/"}]  # commands before the client loads are queued
    (insert,) = ran["inserted"]
    assert insert["el"] == {"tag": "script", "async": True, "src": WEB_CLIENT_URL}


def test_the_sample_patterns_select_the_sample_page_events() -> None:
    from devops_blueprints.constructs.observability.log_filter_pattern import parse_filter_pattern
    from devops_blueprints.stacks.observability.static_site import HOME_NAVIGATION_PATTERN, SCRIPT_PATTERN
    from tests.observability.test_log_filter_pattern import RUM_RESOURCE_EVENT

    script = {
        **RUM_RESOURCE_EVENT,
        "event_details": {"duration": 41.0, "targetUrl": "https://d1.cloudfront.net/js/app.js"},
    }
    other = {**RUM_RESOURCE_EVENT, "event_details": {"duration": 41.0, "targetUrl": "https://d1.cloudfront.net/a.css"}}
    home = {
        **RUM_RESOURCE_EVENT,
        "event_type": "com.amazon.rum.performance_navigation_event",
        "metadata": {**RUM_RESOURCE_EVENT["metadata"], "pageId": "/"},
        "event_details": {"duration": 812.4},
    }
    assert parse_filter_pattern(SCRIPT_PATTERN).matches(script)
    assert not parse_filter_pattern(SCRIPT_PATTERN).matches(other)
    assert parse_filter_pattern(HOME_NAVIGATION_PATTERN).matches(home)
    assert not parse_filter_pattern(HOME_NAVIGATION_PATTERN).matches(script)

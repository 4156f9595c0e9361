"""Session-wide test fixtures.

* Node 22 from ``.tools/`` goes first on PATH before anything imports aws_cdk (jsii starts ``node``).
* ``moto_server``: moto's server mode on a free loopback port for the whole session, with
  ``AWS_ENDPOINT_URL`` pointing at it, so handler and job tests use real boto3 clients over HTTP.
* ``aws``: a clean moto state for one test (everything created by earlier tests is gone).
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _prepend_tools_node() -> None:
    for node_bin in sorted((REPO_ROOT / ".tools" / "node_modules").glob("node-linux-*/bin")):
        if str(node_bin) not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"


_prepend_tools_node()
# Never talk to a real AWS account from tests, whatever the developer's shell has configured.
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1:<free port>; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = _free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield endpoint
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        server.stop()


@pytest.fixture
def aws(moto_server: str) -> Iterator[str]:
    """A moto endpoint with no resources left over from other tests; yields the endpoint URL."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310 - loopback moto
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback moto server
        assert response.status == 200
    yield moto_server

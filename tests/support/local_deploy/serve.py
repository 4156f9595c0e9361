"""Start and stop the local AWS emulator (MiniStack, from its own virtualenv ``.venv-ministack``).

``start(state_dir)`` runs ``python -m tests.support.local_deploy.serve`` with the emulator's interpreter: that
process registers the placeholders (``placeholders.py``) in MiniStack's resource-type registry and then runs
MiniStack's own server entry point bound to 127.0.0.1 only (``BIND_HOST``; MiniStack's default is every
interface) on a free port. The emulator leads its own process group, and the Lambda workers it starts stay in
it, so ``stop`` ends exactly that group, found by the PID written in ``state_dir`` — never by name.

The ``start``/``stop`` half runs in the dev virtualenv; the ``__main__`` half in ``.venv-ministack`` (standard
library and MiniStack only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess  # nosec B404 - fixed argument lists, no shell
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
EMULATOR_PYTHON = REPO_ROOT / ".venv-ministack" / "bin" / "python"
HEALTH_PATH = "/_ministack/health"
PID_FILE = "ministack.pid"
ENDPOINT_FILE = "endpoint"
LOG_FILE = "ministack.log"
LEDGER_FILE = "placeholders.jsonl"


@dataclass(frozen=True)
class Emulator:
    endpoint: str
    pid: int
    state_dir: Path

    @property
    def ledger(self) -> Path:
        return self.state_dir / LEDGER_FILE

    @property
    def log(self) -> Path:
        return self.state_dir / LOG_FILE


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + HEALTH_PATH, timeout=2) as response:  # nosec B310 # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


def running(state_dir: Path) -> Emulator | None:
    """The emulator started in ``state_dir``, if its process is still alive and answering."""
    try:
        pid = int((state_dir / PID_FILE).read_text(encoding="utf-8"))
        endpoint = (state_dir / ENDPOINT_FILE).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return Emulator(endpoint, pid, state_dir) if _healthy(endpoint) else None


def emulator_environment() -> dict[str, str]:
    """The emulator's environment: its Lambda workers inherit it.

    Node handlers (CDK's AwsCustomResource) import the AWS SDK for JavaScript v3, which the real Node.js Lambda
    runtime provides: here it comes from .tools (``@aws-sdk/client-ec2``, pinned in .tools/package.json) through
    NODE_PATH, with Node 22 from .tools first on PATH.
    """
    tools = REPO_ROOT / ".tools" / "node_modules"
    node_bins = [str(p) for p in sorted(tools.glob("node-linux-*/bin"))]
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "NODE_PATH": str(tools),
        "PATH": os.pathsep.join([*node_bins, os.environ.get("PATH", "")]),
    }


def start(state_dir: Path, *, timeout: float = 60.0) -> Emulator:
    """Start the emulator on a free loopback port; wait until it answers its health check."""
    if not EMULATOR_PYTHON.exists():
        raise RuntimeError(f"{EMULATOR_PYTHON} is missing: run `make ministack` first")
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_loopback_port()
    endpoint = f"http://127.0.0.1:{port}"
    (state_dir / LEDGER_FILE).write_text("", encoding="utf-8")
    with (state_dir / LOG_FILE).open("wb") as log:
        process = subprocess.Popen(  # nosec B603 - fixed argument list
            [
                str(EMULATOR_PYTHON),
                "-m",
                "tests.support.local_deploy.serve",
                "--port",
                str(port),
                "--state-dir",
                str(state_dir),
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=emulator_environment(),
        )
    (state_dir / PID_FILE).write_text(str(process.pid), encoding="utf-8")
    (state_dir / ENDPOINT_FILE).write_text(endpoint + "\n", encoding="utf-8")
    emulator = Emulator(endpoint, process.pid, state_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (state_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")[-2000:]
            stop(state_dir)
            raise RuntimeError(f"the emulator exited with {process.returncode} while starting:\n{tail}")
        if _healthy(endpoint):
            return emulator
        time.sleep(0.2)
    stop(state_dir)
    raise RuntimeError(f"the emulator did not answer {endpoint}{HEALTH_PATH} within {timeout:.0f} s")


def stop(state_dir: Path, *, timeout: float = 15.0) -> bool:
    """End the emulator's process group (its PID from ``state_dir``); True when one was running."""
    pid_file = state_dir / PID_FILE
    try:
        pid = int(pid_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    stopped = False
    try:
        os.killpg(pid, signal.SIGTERM)
        stopped = True
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while stopped and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    (state_dir / ENDPOINT_FILE).unlink(missing_ok=True)
    return stopped


def _serve(port: int, state_dir: Path) -> None:  # pragma: no cover - runs in .venv-ministack
    os.environ["GATEWAY_PORT"] = str(port)
    os.environ["BIND_HOST"] = "127.0.0.1"
    # The IoT mTLS listener would bind every interface on 8883; a port outside 1-65535 turns it off.
    os.environ["IOT_MTLS_PORT"] = "0"
    os.environ.setdefault("TMPDIR", str(state_dir))
    from ministack.services.cloudformation import provisioners

    from tests.support.local_deploy import placeholders

    placeholders.register(provisioners._RESOURCE_HANDLERS, state_dir / LEDGER_FILE)
    print(json.dumps({"placeholders": sorted(placeholders.PLACEHOLDERS)}), flush=True)
    from ministack import app

    sys.argv = ["ministack"]
    app.main()


if __name__ == "__main__":  # pragma: no cover - runs in .venv-ministack
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    arguments = parser.parse_args()
    _serve(arguments.port, arguments.state_dir)

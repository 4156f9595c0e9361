"""The deploy tests' session: one emulator, bootstrapped, with every sample stage deployed (``make test-deploy``).

The emulator is stopped by its PID when the session ends, whatever the tests did. Modules run in file order:
``test_z_update_destroy.py`` (update, then destroy) goes last. The per-stack table of created resources and
placeholders is printed in the terminal summary, so CI output lists every stubbed resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.local_deploy import deploy, emulator, placeholders, serve

_REPORT: list[str] = []


@dataclass
class LocalCloud:
    emulator: serve.Emulator
    state_dir: Path
    outputs: dict[str, dict[str, str]]

    @property
    def endpoint(self) -> str:
        return self.emulator.endpoint

    def client(self, service: str) -> Any:
        return emulator.client(service, self.endpoint)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("local-deploy")
    started = serve.start(state_dir)
    try:
        deploy.bootstrap(started.endpoint, quiet=True)
        outputs = deploy.deploy(started.endpoint, state_dir, quiet=True)
        _REPORT.append(emulator.format_report(emulator.report(started.endpoint, started.ledger)))
        yield LocalCloud(started, state_dir, outputs)
    finally:
        serve.stop(state_dir)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORT:
        terminalreporter.section("local deploy: resources created and placeholders, per stack")
        terminalreporter.write_line("placeholder types: " + ", ".join(placeholders.described()))
        terminalreporter.write_line(_REPORT[0])

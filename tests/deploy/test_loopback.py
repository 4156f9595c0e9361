"""The emulator listens on the loopback interface only (MiniStack's own default is every interface)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deploy.conftest import LocalCloud

pytestmark = pytest.mark.deploy

_LISTEN = "0A"


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
    return pids


def _listening(inodes: set[str]) -> list[str]:
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text(encoding="utf-8").splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode in inodes and (state == _LISTEN or table.startswith("/proc/net/udp")):
                addresses.append(local.rsplit(":", 1)[0])
    return addresses


def test_every_socket_the_emulator_listens_on_is_bound_to_127_0_0_1(local_cloud: LocalCloud) -> None:
    pids = _group_pids(local_cloud.emulator.pid)
    assert local_cloud.emulator.pid in pids
    addresses = _listening(_socket_inodes(pids))
    assert addresses, "the emulator's listening socket was found"
    # /proc/net/tcp writes 127.0.0.1 as 0100007F (little-endian hex)
    assert set(addresses) == {"0100007F"}

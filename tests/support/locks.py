"""Read the project's lock files (``make lock``: uv's hashed ``requirements.txt`` format).

A lock line is ``name[extras]==version \\`` followed by ``--hash=...`` continuation lines and ``# via``
comments. Only exact pins with at least one hash are accepted: anything else means the file was edited by
hand or compiled without ``--generate-hashes``, and the reader says which line.
"""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]


def logical_lines(text: str) -> list[str]:
    """Requirement lines with their ``\\`` continuations joined and comments removed."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def pins(path: Path) -> dict[str, str]:
    """Canonical package name -> exact version of every package the lock file ``path`` installs."""
    result: dict[str, str] = {}
    for line in logical_lines(path.read_text()):
        specifier, *options = line.split()
        if specifier.startswith("-"):
            raise ValueError(f"{path}: unexpected option line {line!r} in a lock file")
        requirement = Requirement(specifier)
        exact = list(requirement.specifier)
        if len(exact) != 1 or exact[0].operator != "==":
            raise ValueError(f"{path}: {specifier!r} is not an exact pin")
        if not any(option.startswith("--hash=sha256:") for option in options):
            raise ValueError(f"{path}: {specifier!r} has no --hash")
        result[canonicalize_name(requirement.name)] = exact[0].version
    return result


def dependents(path: Path) -> dict[str, set[str]]:
    """Canonical package name -> what its ``# via`` comment names: packages, and ``-r FILE`` for a direct
    requirement (``-c`` constraint sources are no reason to install anything and are left out)."""
    result: dict[str, set[str]] = {}
    current: str | None = None
    for raw in path.read_text().splitlines():
        if raw[:1].isalnum():
            current = str(canonicalize_name(Requirement(raw.split()[0]).name))
            result[current] = set()
            continue
        words = raw.strip().lstrip("#").split()
        if current is None or raw.startswith("#") or not raw.strip().startswith("#") or not words:
            continue
        if words[0] == "via":
            words = words[1:]
        if words[:1] == ["-r"]:
            result[current].add(" ".join(words))
        elif words and words[0] != "-c":
            result[current].add(str(canonicalize_name(words[0])))
    return result


def required_by(path: Path, root: str) -> set[str]:
    """``root`` and every package of the lock that is there only because of it (directly or transitively)."""
    via = dependents(path)
    only = {str(canonicalize_name(root))}
    changed = True
    while changed:
        changed = False
        for name, parents in via.items():
            if name not in only and parents and parents <= only:
                only.add(name)
                changed = True
    return only

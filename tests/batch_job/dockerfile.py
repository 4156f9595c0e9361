"""A small Dockerfile reader for the Batch job image tests: stages, instructions, ARG substitution in FROM,
ENV, JSON CMD and the ``pip install`` commands inside RUN lines. Enough for batch_job's Dockerfiles; it
fails loudly on anything it does not understand rather than guessing."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import locks

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# pip install options that take a value (the next token when not written as --opt=value).
_PIP_VALUE_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-c",
    "--constraint",
    "-r",
    "--requirement",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--config-settings",
    "-C",
    "--platform",
    "--python-version",
}


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    value: str  # the rest of the (joined) logical line
    line: int  # 1-based line where it starts


@dataclass(frozen=True)
class PipInstall:
    """One ``pip install`` command of a RUN instruction."""

    requirements: tuple[str, ...]  # positional arguments: requirement specifiers or paths like "."
    options: tuple[tuple[str, str | None], ...]  # (option, value or None) in order
    tokens: tuple[str, ...]  # everything after "pip install"

    def has_option(self, name: str) -> bool:
        return any(option == name for option, _ in self.options)

    def requirement_files(self) -> list[str]:
        return [value for option, value in self.options if option in ("-r", "--requirement") and value]

    def pins(self, context: Path | None = None) -> dict[str, str]:
        """Canonical package name -> version, for every requirement that is not a path; each must be ``==``.

        A ``-r FILE`` is read from the build ``context`` as a lock file (exact pins with hashes).
        """
        pins: dict[str, str] = {}
        for name in self.requirement_files():
            if context is None:
                raise ValueError(f"pip install -r {name}: the build context is needed to read it")
            pins.update(locks.pins(context / name))
        for text in self.requirements:
            if text.startswith((".", "/")):
                continue
            requirement = Requirement(text)
            specifiers = list(requirement.specifier)
            if len(specifiers) != 1 or specifiers[0].operator != "==":
                raise ValueError(f"pip install {text!r}: expected an exact pin NAME==VERSION")
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
        return pins


@dataclass
class Stage:
    base: str  # the FROM image with global ARGs substituted
    name: str | None
    context: Path | None = None  # the build context (the Dockerfile's folder): where `-r FILE` is read
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """ENV values of this stage (later ones win; ``$VAR`` references are kept as written)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            tokens = shlex.split(instruction.value)
            if tokens and "=" not in tokens[0]:  # legacy form: ENV NAME value with spaces
                values[tokens[0]] = instruction.value.split(None, 1)[1]
                continue
            for token in tokens:
                name, sep, value = token.partition("=")
                if not sep:
                    raise ValueError(f"line {instruction.line}: ENV {token!r} is not NAME=VALUE")
                values[name] = value
        return values

    def cmd(self) -> list[str]:
        """The last CMD in exec (JSON) form."""
        (*_, last) = self.all("CMD")
        parsed = json.loads(last.value)
        if not isinstance(parsed, list) or not all(isinstance(part, str) for part in parsed):
            raise ValueError(f"line {last.line}: CMD is not a JSON list of strings")
        return parsed

    def copies(self) -> list[tuple[dict[str, str], list[str], str]]:
        """(flags such as {"from": "export"}, sources, destination) of every COPY."""
        return [parse_copy(instruction.value) for instruction in self.all("COPY")]

    def user(self) -> str | None:
        users = self.all("USER")
        return users[-1].value.strip() if users else None

    def pip_installs(self) -> list[PipInstall]:
        return [pip for run in self.all("RUN") for pip in pip_installs(run.value)]

    def pins(self) -> dict[str, str]:
        pins: dict[str, str] = {}
        for pip in self.pip_installs():
            pins.update(pip.pins(self.context))
        return pins


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        (found,) = [stage for stage in self.stages if stage.name == name]
        return found


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, joined text) per instruction: comments dropped, backslash continuations joined."""
    result: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not parts):
            continue  # comments (and the syntax directive) are ignored, also inside a continuation
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        result.append((start, " ".join(part for part in parts if part)))
        parts = []
    if parts:
        raise ValueError(f"line {start}: continuation never ends")
    return result


def substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise ValueError(f"{text!r}: ${name} is not a global ARG with a default")
        return values[name]

    return _VARIABLE.sub(replace, text)


def parse(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in logical_lines(path.read_text()):
        keyword, _, value = line.partition(" ")
        keyword, value = keyword.upper(), value.strip()
        if keyword == "ARG" and not stages:
            name, sep, default = value.partition("=")
            global_args[name] = default if sep else ""
        elif keyword == "FROM":
            tokens = [t for t in value.split() if not t.startswith("--platform")]
            base = substitute(tokens[0], global_args)
            stage_name = tokens[2] if len(tokens) == 3 and tokens[1].upper() == "AS" else None
            if len(tokens) not in (1, 3) or (len(tokens) == 3 and stage_name is None):
                raise ValueError(f"{path}:{number}: cannot read FROM {value!r}")
            stages.append(Stage(base=base, name=stage_name, context=path.parent))
        elif not stages:
            raise ValueError(f"{path}:{number}: {keyword} before the first FROM")
        else:
            stages[-1].instructions.append(Instruction(keyword, value, number))
    return Dockerfile(path, global_args, stages)


def parse_copy(value: str) -> tuple[dict[str, str], list[str], str]:
    """(flags such as {"from": "export"}, sources, destination) of one COPY instruction's value."""
    tokens = shlex.split(value)
    flags = {}
    while tokens and tokens[0].startswith("--"):
        name, _, flag_value = tokens.pop(0)[2:].partition("=")
        flags[name] = flag_value
    *sources, destination = tokens
    return flags, sources, destination


def pip_installs(shell: str) -> list[PipInstall]:
    """The ``pip install`` commands of a RUN shell line (commands split at ``&&``, ``||`` and ``;``)."""
    result = []
    for command in re.split(r"&&|\|\||;", shell):
        tokens = shlex.split(command)
        if tokens[:2] in (["pip", "install"], ["pip3", "install"]):
            rest = tokens[2:]
        elif len(tokens) > 3 and tokens[0].startswith("python") and tokens[1:4] == ["-m", "pip", "install"]:
            rest = tokens[4:]
        else:
            continue
        requirements: list[str] = []
        options: list[tuple[str, str | None]] = []
        iterator = iter(rest)
        for token in iterator:
            if token.startswith("-"):
                name, sep, value = token.partition("=")
                if sep:
                    options.append((name, value))
                elif name in _PIP_VALUE_OPTIONS:
                    options.append((name, next(iterator)))
                else:
                    options.append((name, None))
            else:
                requirements.append(token)
        result.append(PipInstall(tuple(requirements), tuple(options), tuple(rest)))
    return result

"""The ``devops-blueprints`` command.

Each capability contributes one sub-command group from its own module through a
``register(subparsers)`` function that adds its parser and sets ``func`` on it; ``func(args)``
returns the exit code. Modules are imported only when their group is used, so ``scp lint`` never
loads the CDK.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from devops_blueprints._text import escaped, printable

T = TypeVar("T")

# group name -> (module with register(), one-line help)
_GROUPS: dict[str, tuple[str, str]] = {
    "deployments": ("devops_blueprints.deployments_cli", "add, list and remove tenant deployment records"),
    "flags": ("devops_blueprints.feature_flags.cli", "list, set and deploy a deployment's feature flags"),
    "scp": ("devops_blueprints.guardrails.cli", "lint, simulate and render service control policies"),
    "tf": ("devops_blueprints.tf_import.cli", "import Terraform-managed resources into CloudFormation"),
}


class CliError(Exception):
    """A user error: printed as one line on stderr, exit code 2 unless given."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(message: str) -> str:
    """A library's message as one line: line breaks become "; ", anything else unprintable is escaped."""
    return escaped("; ".join(line.strip() for line in message.splitlines() if line.strip()))


def aws_failure(action: str, exc: Exception, refine: Callable[[Exception], CliError | None] | None = None) -> CliError:
    """The :class:`CliError` (exit 2) for a failed AWS call: what ``refine`` makes of ``exc`` when it knows better
    (a missing table, no region), else ``ACTION failed: Code: Message`` in AWS's words, on one line."""
    from botocore.exceptions import ClientError

    refined = refine(exc) if refine is not None else None
    if refined is not None:
        return refined
    detail = str(exc)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code')}: {error.get('Message')}"
    return CliError(f"{action} failed: {one_line(detail)}")


def call_aws(action: str, call: Callable[[], T], refine: Callable[[Exception], CliError | None] | None = None) -> T:
    """``call()``; a botocore error, or the ValueError a malformed AWS setting gives (a profile's endpoint port),
    is raised as :func:`aws_failure`, never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except (BotoCoreError, ClientError, ValueError) as exc:
        raise aws_failure(action, exc, refine) from None


def add_group(subparsers: Any, name: str, commands: Sequence[str], *, description: str | None = None) -> Any:
    """Add the sub-command group ``name`` (its one-line help from the table above) whose sub-commands
    ``commands`` are required; returns what each command's parser is added to."""
    group = subparsers.add_parser(name, help=_GROUPS[name][1], description=description)
    added = group.add_subparsers(dest="command", metavar="{" + ",".join(commands) + "}")
    added.required = True
    return added


def build_parser(groups: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devops-blueprints", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="group", metavar="{" + ",".join(_GROUPS) + "}")
    subparsers.required = True
    for name in groups if groups is not None else _GROUPS:
        module_name, _help = _GROUPS[name]
        module = importlib.import_module(module_name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Load only the group that was asked for (all of them for --help or an unknown group).
    wanted = [args_list[0]] if args_list and args_list[0] in _GROUPS else None
    parser = build_parser(wanted)
    args = parser.parse_args(args_list)
    try:
        return int(args.func(args))
    except CliError as exc:
        # One line whatever the message holds: control characters, line separators and lone surrogates
        # (from a file name or a value in the input) are escaped.
        print(f"devops-blueprints: error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("devops-blueprints: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

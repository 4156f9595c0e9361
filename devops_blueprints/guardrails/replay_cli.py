"""``devops-blueprints scp replay``: CloudTrail activity replayed against proposed SCPs (ARCHITECTURE.md section 4)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from devops_blueprints._aws import AwsSetupError
from devops_blueprints._text import printable
from devops_blueprints.cli import CliError
from devops_blueprints.guardrails import catalog
from devops_blueprints.guardrails.cloudtrail import MAX_FILE_BYTES, FileProblem
from devops_blueprints.guardrails.model import PolicyError, full_aws_access, load_policy
from devops_blueprints.guardrails.replay_report import (
    Summary,
    default_jobs,
    render_csv,
    render_json,
    render_text,
    summarize,
)
from devops_blueprints.guardrails.simulator import Level

EXIT_DENIED = 3
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_RENDER = {"text": render_text, "json": render_json, "csv": render_csv}


def register(commands: Any) -> None:
    replay = commands.add_parser(
        "replay", help="replay CloudTrail logs against SCPs: which recorded calls would they deny? (exit 3 if any)"
    )
    replay.add_argument("--policy", action="append", default=[], metavar="FILE", dest="policies")
    replay.add_argument(
        "--path",
        metavar="ROOT,OU,...",
        help=f"evaluate on this path from the root down ({catalog.ROOT} first, then OUs, nested in the order given) "
        f"-> account, each node with the catalog SCPs the article attaches there and the --policy files added at "
        f"the last node; nodes: {catalog.ROOT}, {', '.join(catalog.OU_NAMES)}",
    )
    replay.add_argument(
        "--catalog-path",
        metavar="OU",
        help=f"evaluate on root -> OU -> account with the catalog SCPs where the article attaches them, the "
        f"--policy files added at the OU ({', '.join(catalog.OU_NAMES)}); default: the --policy files at one "
        f"level beside FullAWSAccess",
    )
    replay.add_argument(
        "--cloudtrail",
        action="extend",
        nargs="+",
        required=True,
        metavar="PATH",
        help="log files, folders of them or s3://BUCKET/PREFIX (gzip'd JSON as a trail delivers them)",
    )
    replay.add_argument("--format", choices=tuple(_RENDER), default="text")
    replay.add_argument("--top", type=int, metavar="N", help="show only the N largest groups of each kind")
    replay.add_argument(
        "--management-account", metavar="ID", help="the organization's management account (SCPs do not apply there)"
    )
    replay.add_argument("--org-id", metavar="ID", help="the organization ID, for aws:PrincipalOrgID (o-...)")
    replay.add_argument(
        "--max-file-mb",
        type=int,
        default=MAX_FILE_BYTES // (1024 * 1024),
        metavar="N",
        help="skip a log file of more than N MiB of JSON (default %(default)s)",
    )
    replay.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        metavar="N",
        help="worker processes reading and deciding files in parallel (default: the CPU count, %(default)s here); "
        "the report does not depend on it",
    )
    replay.set_defaults(func=run_replay)


def _levels(args: argparse.Namespace) -> list[Level]:
    if args.path is not None and args.catalog_path is not None:
        raise CliError("--path and --catalog-path both give the path: use one (--catalog-path OU is --path Root,OU)")
    if not args.policies and not args.catalog_path and args.path is None:
        raise CliError(
            "scp replay needs --policy FILE (one or more), a catalog path (--path ROOT,OU,... or --catalog-path OU), or both"
        )
    try:
        policies = [load_policy(path) for path in args.policies]
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    if args.path is not None:
        levels = path_levels(args.path)
    elif args.catalog_path:
        try:
            levels = catalog.path(args.catalog_path)
        except ValueError as exc:
            raise CliError(f"--catalog-path: {exc}") from None
    else:
        return [Level("target", (full_aws_access(), *policies))]
    last = len(levels) - 2  # the deepest node above the account
    levels[last] = Level(levels[last].name, (*levels[last].policies, *policies))
    return levels


def path_levels(text: str) -> list[Level]:
    """``--path``: ``Root,OU,...`` -> the levels root -> OUs (nested in that order) -> account, each node with
    FullAWSAccess and the catalog SCPs the article attaches there (:func:`catalog.attachments`)."""
    nodes = [node.strip() for node in text.split(",")]
    known = (catalog.ROOT, *catalog.OU_NAMES)
    for node in nodes:
        if not node:
            raise CliError(f"--path has an empty node in {text!r}: expected ROOT,OU,... such as Root,Workloads")
        if node not in known:
            raise CliError(f"--path: unknown node {node!r}; the catalog's nodes are {', '.join(known)}")
    if nodes[0] != catalog.ROOT:
        raise CliError(f"--path starts at the organization root: {catalog.ROOT} first, got {nodes[0]!r}")
    repeated = sorted({node for node in nodes if nodes.count(node) > 1})
    if repeated:
        raise CliError(f"--path names {', '.join(repeated)} more than once: a path visits each node once")
    targets = catalog.attachments()
    levels = [
        Level(node, (full_aws_access(), *(catalog.get(name).policy() for name in targets.get(node, []))))
        for node in nodes
    ]
    return [*levels, Level("Account", (full_aws_access(),))]


class _Progress:
    """One self-overwriting line on stderr when it is a terminal: files, events, would-be denials."""

    def __init__(self) -> None:
        self.active = sys.stderr.isatty()
        self.files = 0
        self.shown = 0.0

    def file(self, s: Summary) -> None:
        self.files += 1
        now = time.monotonic()
        if self.active and now - self.shown > 0.2:
            self.shown = now
            print(
                f"\r{self.files:,} files, {s.events:,} events, {s.would_deny:,} would be denied",
                end="",
                file=sys.stderr,
            )

    def problem(self, problem: FileProblem) -> None:
        self.done()
        print(f"devops-blueprints: skipped {printable(str(problem))}", file=sys.stderr)

    def done(self) -> None:
        if self.active and self.shown:
            print("\r\x1b[K", end="", file=sys.stderr)
            self.shown = 0.0


def run_replay(args: argparse.Namespace) -> int:
    if args.top is not None and args.top < 1:
        raise CliError(f"--top must be a positive number of groups, got {args.top}")
    if args.max_file_mb < 1:
        raise CliError(f"--max-file-mb must be a positive number of MiB, got {args.max_file_mb}")
    if args.management_account is not None and not _ACCOUNT.match(args.management_account):
        raise CliError(f"--management-account expects a 12-digit account ID, got {args.management_account!r}")
    if args.org_id is not None and not _ORG_ID.match(args.org_id):
        raise CliError(f"--org-id expects an organization ID such as o-a1b2c3d4e5, got {args.org_id!r}")
    if args.jobs < 1:
        raise CliError(f"--jobs must be a positive number of processes, got {args.jobs}")
    levels = _levels(args)
    progress = _Progress()
    try:
        summary = summarize(
            levels,
            args.cloudtrail,
            jobs=args.jobs,
            on_file=progress.file,
            on_problem=progress.problem,
            management_account=args.management_account,
            org_id=args.org_id,
            max_file_bytes=args.max_file_mb * 1024 * 1024,
        )
    except AwsSetupError as exc:
        raise CliError(str(exc)) from None
    finally:
        progress.done()
    print(_RENDER[args.format](summary, args.top).rstrip("\n"))
    return EXIT_DENIED if summary.would_deny else 0

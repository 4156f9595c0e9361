"""``devops-blueprints scp lint|simulate|replay|catalog`` (see ARCHITECTURE.md section 4)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from devops_blueprints._json_input import dumps
from devops_blueprints._outputs import OutputError, check_outputs, write_texts
from devops_blueprints._text import printable
from devops_blueprints.cli import CliError, add_group
from devops_blueprints.guardrails import catalog
from devops_blueprints.guardrails.linter import ERROR, Finding, Limits, lint_file
from devops_blueprints.guardrails.model import PolicyError, full_aws_access, load_policy
from devops_blueprints.guardrails.simulator import ALLOWED, Level, Request, Simulator

EXIT_LINT_ERRORS = 1
EXIT_DENIED = 3
_ACTION = re.compile(r"^[a-zA-Z0-9-]+:[a-zA-Z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
# The principals a request can come from (the IAM identifiers page): the account root, an IAM user or
# role (with an optional path), a role session or a federated user session; never a wildcard.
_NAME = r"[\w+=,.@-]+"
_PRINCIPAL = re.compile(
    rf"^arn:aws[a-z-]*:(iam::\d{{12}}:(root|user/({_NAME}/)*{_NAME}|role/({_NAME}/)*{_NAME})"
    rf"|sts::\d{{12}}:(assumed-role/{_NAME}/{_NAME}|federated-user/{_NAME}))$"
)


def register(subparsers: Any) -> None:
    commands = add_group(subparsers, "scp", ("lint", "simulate", "replay", "catalog"))

    lint = commands.add_parser("lint", help="check SCP files (exit 1 when an error-level finding exists)")
    lint.add_argument(
        "--max-size",
        type=int,
        default=None,
        metavar="N",
        help="size limit in characters of the minified JSON (default 10240; legacy 5120)",
    )
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.add_argument("files", nargs="+", metavar="FILE")
    lint.set_defaults(func=run_lint)

    sim = commands.add_parser("simulate", help="decide a request against SCPs attached beside FullAWSAccess")
    sim.add_argument("--policy", action="append", required=True, metavar="FILE", dest="policies")
    sim.add_argument("--action", required=True, metavar="ACTION", help="service:Action, e.g. ec2:RunInstances")
    sim.add_argument("--resource", default="*", metavar="ARN", help="resource ARN (default *)")
    sim.add_argument("--principal-arn", metavar="ARN", help="sets aws:PrincipalArn and aws:PrincipalAccount")
    sim.add_argument("--region", metavar="REGION", help="sets aws:RequestedRegion")
    sim.add_argument(
        "--context",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="further condition keys (repeat a key for several values)",
    )
    sim.add_argument("--format", choices=("text", "json"), default="text")
    sim.set_defaults(func=run_simulate)

    from devops_blueprints.guardrails import replay_cli

    replay_cli.register(commands)

    cat = commands.add_parser("catalog", help="list catalog SCPs or render them to JSON files")
    cat.add_argument("names", nargs="*", metavar="NAME", help="catalog policies (default: all)")
    cat.add_argument("--out", type=Path, metavar="DIR", help="write NAME.json files into DIR")
    cat.add_argument(
        "--published",
        action="store_true",
        help="render the article's published (defective) forms as NAME.published.json",
    )
    cat.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="override a parameter; lists are comma-separated",
    )
    cat.add_argument("--format", choices=("text", "json"), default="text")
    cat.set_defaults(func=run_catalog)


# -- lint ----------------------------------------------------------------------------------------


def run_lint(args: argparse.Namespace) -> int:
    if args.max_size is not None and args.max_size < 1:
        raise CliError(f"--max-size must be a positive number of characters, got {args.max_size}")
    limits = Limits(max_size=args.max_size) if args.max_size else Limits()
    findings: list[Finding] = []
    for file in args.files:
        try:
            findings.extend(lint_file(file, limits))
        except PolicyError as exc:
            raise CliError(str(exc)) from None
    errors = sum(1 for f in findings if f.severity == ERROR)
    if args.format == "json":
        print(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            print(printable(str(finding)))  # a Sid or file name cannot fake a finding line or clear the screen
        print(f"{len(args.files)} file(s) checked: {errors} error(s), {len(findings) - errors} warning(s)")
    return EXIT_LINT_ERRORS if errors else 0


# -- simulate ------------------------------------------------------------------------------------


def _context(pairs: list[str]) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise CliError(f"--context expects KEY=VALUE, got {pair!r}")
        context.setdefault(key.strip(), []).append(value)
    return context


def run_simulate(args: argparse.Namespace) -> int:
    if "*" in args.action or "?" in args.action:
        raise CliError(
            f"--action is one request's action, so it takes no wildcards (a request calls one action, "
            f"for example s3:GetObject), got {args.action!r}"
        )
    if not _ACTION.match(args.action):
        raise CliError(f"--action expects service:Action (for example ec2:RunInstances), got {args.action!r}")
    if args.region is not None and not _REGION.match(args.region):
        raise CliError(f"--region expects a region name such as eu-west-1, got {args.region!r}")
    if args.principal_arn is not None and not _PRINCIPAL.match(args.principal_arn):
        raise CliError(
            f"--principal-arn expects an IAM or STS ARN of a principal with a 12-digit account "
            f"(arn:aws:iam::123456789012:role/Name, ...:user/Name, ...:root, "
            f"arn:aws:sts::123456789012:assumed-role/Name/session), got {args.principal_arn!r}"
        )
    if args.resource != "*" and not args.resource.startswith("arn:"):
        raise CliError(f"--resource expects an ARN or *, got {args.resource!r}")
    try:
        policies = [load_policy(path) for path in args.policies]
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    request = Request(
        action=args.action,
        resource=args.resource,
        principal_arn=args.principal_arn,
        region=args.region,
        context=_context(args.context),
    )
    decision = Simulator([Level("target", (full_aws_access(), *policies))]).evaluate(request)
    if args.format == "json":
        matched = [{"file": name, "sid": sid} for name, sid in decision.matched]
        print(json.dumps({"decision": decision.decision, "matched": matched}))
    elif decision.allowed:
        print(ALLOWED)
    elif decision.matched:
        print(printable("DENIED by " + ", ".join(f"{name}#{sid}" for name, sid in decision.matched)))
    else:
        print(printable(f"DENIED ({decision.reason})"))
    return 0 if decision.allowed else EXIT_DENIED


# -- catalog -------------------------------------------------------------------------------------


def _overrides(params: list[str]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for item in params:
        target, equals, value = item.partition("=")
        name, dot, key = target.partition(".")
        if not equals or not dot or not key:
            raise CliError(f"--param expects NAME.KEY=VALUE, got {item!r}")
        try:
            policy = catalog.get(name)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        default = policy.defaults.get(key)
        result.setdefault(name, {})[key] = value.split(",") if isinstance(default, list) else value
    return result


def run_catalog(args: argparse.Namespace) -> int:
    try:
        selected = [catalog.get(name) for name in args.names] or list(catalog.CATALOG.values())
        overrides = _overrides(args.param)
        if args.published:
            if args.names:
                for policy in selected:
                    if policy.published_defect is None:
                        raise CliError(
                            f"{policy.name}: no published form with a defect (only for "
                            f"{', '.join(p.name for p in catalog.CATALOG.values() if p.published_defect)})"
                        )
            selected = [p for p in selected if p.published_defect]
        rendered = {
            p.name: (p.published if args.published else p.render)(**overrides.get(p.name, {})) for p in selected
        }
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.out is None:
        if args.format == "json":
            rows = [
                {
                    "name": p.name,
                    "title": p.title,
                    "pillar": p.pillar,
                    "attach_to": list(p.attach_to),
                    "parameters": p.parameters(overrides.get(p.name)),
                    "published_defect": p.published_defect,
                }
                for p in selected
            ]
            print(json.dumps(rows, indent=2))
        else:
            for p in selected:
                print(f"{p.name:32} {','.join(p.attach_to):18} {p.title}")
            print(f"{len(selected)} catalog policies")
        return 0
    # The output rule (devops_blueprints._outputs): every file checked first, all written or none.
    suffix = ".published.json" if args.published else ".json"
    files = [("--out", args.out / f"{name}{suffix}", dumps(document)) for name, document in rendered.items()]
    try:
        if args.out.exists() and not args.out.is_dir():
            raise OutputError(f"--out {args.out}: is not a directory")
        check_outputs([(option, path) for option, path, _text in files])
        write_texts(files)
    except OutputError as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {len(rendered)} policies to {args.out}", file=sys.stdout)
    return 0

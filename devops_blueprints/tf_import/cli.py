"""``devops-blueprints tf cfn`` and ``devops-blueprints tf deploy``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from devops_blueprints.cli import add_group
from devops_blueprints.tf_import.errors import TfImportError


def register(subparsers: Any) -> None:
    """Add the ``tf`` group to the ``devops-blueprints`` command."""
    commands = add_group(
        subparsers,
        "tf",
        ("cfn", "deploy"),
        description="Put Terraform-managed resources under DevOps Guru by importing them into a "
        "CloudFormation stack (every resource Retain; nothing is created, replaced or deleted).",
    )

    cfn = commands.add_parser("cfn", help="turn `terraform show -json` output into an import template")
    source = cfn.add_mutually_exclusive_group(required=True)
    source.add_argument("--module", metavar="DIR", help="Terraform module directory: runs `terraform show -json` there")
    source.add_argument("--state-file", metavar="FILE", help="file holding `terraform show -json` output")
    cfn.add_argument("--template", metavar="OUT.json", required=True, help="where to write the template")
    cfn.add_argument("--resources", metavar="IDS.json", required=True, help="where to write ResourcesToImport")
    cfn.add_argument("--types", nargs="+", metavar="T", help="only these Terraform types (e.g. aws_sqs_queue)")
    cfn.add_argument("--s3-path", metavar="s3://BUCKET/PREFIX", help="upload a template over 51,200 bytes here")
    cfn.set_defaults(func=run_cfn)

    deploy = commands.add_parser("deploy", help="import the resources with an IMPORT change set, add to DevOps Guru")
    deploy.add_argument("--template", metavar="OUT.json", required=True)
    deploy.add_argument("--resources", metavar="IDS.json", required=True)
    deploy.add_argument("--stack-name", metavar="NAME", help="stack to create or extend (default: terraform-import)")
    deploy.add_argument("--no-guru", action="store_true", help="do not add the stack to DevOps Guru's coverage")
    deploy.add_argument(
        "--engine",
        choices=("devops-guru", "cloudwatch"),
        default="devops-guru",
        help="devops-guru (default): add the stack to DevOps Guru's coverage (ends 2027-09-30); cloudwatch: "
        "deploy the CloudWatch engine's alarms for the imported resources as stack <NAME>-observability",
    )
    deploy.add_argument("--s3-path", metavar="s3://BUCKET/PREFIX", help="upload a template over 51,200 bytes here")
    deploy.set_defaults(func=run_deploy)


def _cli_error(exc: Exception) -> Exception:
    from devops_blueprints.cli import CliError

    return CliError(str(exc), 2)


def _err(line: str) -> None:
    from devops_blueprints._text import printable

    print(printable(line), file=sys.stderr, flush=True)


def _client(service: str) -> Any:
    from devops_blueprints._aws import AwsSetupError, client

    try:
        return client(service)
    except AwsSetupError as exc:
        raise TfImportError(str(exc)) from None


def run_cfn(args: argparse.Namespace) -> int:
    """Check the outputs, read, translate, check the size (upload with --s3-path), then write both files.

    Nothing is written unless every step succeeds; the summary goes to stderr after the files are written."""
    from devops_blueprints._outputs import OutputError, check_outputs, write_texts
    from devops_blueprints.tf_import.reader import load_module, load_state_file
    from devops_blueprints.tf_import.s3path import parse_s3_path, upload_template
    from devops_blueprints.tf_import.template import (
        STACK_RESOURCE_LIMIT,
        TEMPLATE_BODY_LIMIT,
        body_size,
        output_texts,
        template_body,
        translate,
    )

    outputs = [("--template", Path(args.template)), ("--resources", Path(args.resources))]
    try:
        check_outputs(
            outputs,
            inputs=[("--state-file", Path(args.state_file))] if args.state_file else [],
            input_dirs=[("--module", Path(args.module))] if args.module else [],
        )
        if args.s3_path:
            parse_s3_path(args.s3_path)  # fail before any work
        resources = load_module(args.module) if args.module else load_state_file(args.state_file)
        translation = translate(resources, args.types)
        texts = output_texts(translation)
        count = len(translation.resources_to_import)
        too_many = count > STACK_RESOURCE_LIMIT
        size = body_size(translation.template)
        url = None
        if size > TEMPLATE_BODY_LIMIT:
            if not args.s3_path:
                split = f"; {count} resources also exceed {STACK_RESOURCE_LIMIT} per stack" if too_many else ""
                raise TfImportError(
                    f"--template {args.template} would be {size} bytes, over CloudFormation's "
                    f"{TEMPLATE_BODY_LIMIT}-byte TemplateBody limit{split} (nothing written); "
                    "pass --s3-path s3://BUCKET/PREFIX to upload it, or split with --types"
                )
            url = upload_template(_client("s3"), args.s3_path, template_body(translation.template))
        write_texts([(option, path, text) for (option, path), text in zip(outputs, texts, strict=True)])
    except (TfImportError, OutputError) as exc:
        raise _cli_error(exc) from None
    for line in translation.summary_lines():
        _err(line)
    if too_many:
        _err(f"warning: {count} resources exceed CloudFormation's {STACK_RESOURCE_LIMIT} per stack; split with --types")
    if url:
        _err(f"template uploaded: {url}")
    print(f"wrote {args.template} and {args.resources}: {count} resource(s) to import")
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    from devops_blueprints.tf_import.deploy import DEFAULT_STACK_NAME, check_stack_name, deploy, load_inputs
    from devops_blueprints.tf_import.s3path import parse_s3_path

    stack_name = DEFAULT_STACK_NAME if args.stack_name is None else args.stack_name
    try:
        check_stack_name(stack_name)
        if args.s3_path:
            parse_s3_path(args.s3_path)
        if args.no_guru and args.engine != "devops-guru":
            raise TfImportError("--no-guru applies to --engine devops-guru only")
        template, resources = load_inputs(args.template, args.resources)
        companion = None
        if args.engine == "cloudwatch":
            from devops_blueprints.tf_import.companion import companion_template

            companion, coverage = companion_template(template, stack_name)
        cfn = _client("cloudformation")
        guru = None if args.no_guru or args.engine != "devops-guru" else _client("devops-guru")
        s3 = _client("s3") if args.s3_path else None
        result = deploy(
            cfn,
            guru,
            s3,
            template=template,
            resources=resources,
            stack_name=stack_name,
            s3_path=args.s3_path,
            echo=_err,
        )
        if companion is not None:
            from devops_blueprints.tf_import.companion import deploy_companion

            deploy_companion(cfn, companion, stack_name, echo=_err)
    except TfImportError as exc:
        raise _cli_error(exc) from None
    if companion is not None:
        from devops_blueprints.tf_import.companion import companion_stack_name

        guru_text = (
            f"CloudWatch engine in {companion_stack_name(stack_name)}: {len(coverage.alarms)} alarms, "
            f"{len(coverage.composites)} composite"
        )
    else:
        guru_text = "added to DevOps Guru" if result.guru_added else "DevOps Guru not changed (--no-guru)"
    print(
        f"stack {result.stack_name}: {len(result.imported)} imported, "
        f"{len(result.already_in_stack)} already there; {guru_text}"
    )
    return 0

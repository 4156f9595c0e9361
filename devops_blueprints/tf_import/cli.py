"""``devops-blueprints tf cfn`` and ``devops-blueprints tf deploy``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from devops_blueprints.tf_import.errors import TfImportError


def register(subparsers: Any) -> None:
    """Add the ``tf`` group to the ``devops-blueprints`` command."""
    group = subparsers.add_parser(
        "tf",
        help="import Terraform-managed resources into CloudFormation",
        description="Put Terraform-managed resources under DevOps Guru by importing them into a "
        "CloudFormation stack (every resource Retain; nothing is created, replaced or deleted).",
    )
    commands = group.add_subparsers(dest="tf_command", metavar="{cfn,deploy}")
    commands.required = True

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
    deploy.add_argument("--s3-path", metavar="s3://BUCKET/PREFIX", help="upload a template over 51,200 bytes here")
    deploy.set_defaults(func=run_deploy)


def _cli_error(exc: TfImportError) -> Exception:
    from devops_blueprints.cli import CliError

    return CliError(str(exc), 2)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_cfn(args: argparse.Namespace) -> int:
    from devops_blueprints.tf_import.reader import load_module, load_state_file
    from devops_blueprints.tf_import.s3path import parse_s3_path, upload_template
    from devops_blueprints.tf_import.template import (
        STACK_RESOURCE_LIMIT,
        TEMPLATE_BODY_LIMIT,
        body_size,
        template_body,
        translate,
        write_outputs,
    )

    try:
        if args.s3_path:
            parse_s3_path(args.s3_path)  # fail before any work
        resources = load_module(args.module) if args.module else load_state_file(args.state_file)
        translation = translate(resources, args.types)
        write_outputs(translation, args.template, args.resources)
        for line in translation.summary_lines():
            _err(line)
        count = len(translation.resources_to_import)
        if count > STACK_RESOURCE_LIMIT:
            _err(
                f"warning: {count} resources exceed CloudFormation's {STACK_RESOURCE_LIMIT} per stack; "
                "split with --types"
            )
        size = body_size(translation.template)
        if size > TEMPLATE_BODY_LIMIT:
            if not args.s3_path:
                raise TfImportError(
                    f"--template {args.template} is {size} bytes, over CloudFormation's "
                    f"{TEMPLATE_BODY_LIMIT}-byte "
                    "TemplateBody limit (files written); pass --s3-path s3://BUCKET/PREFIX to upload it"
                )
            import boto3

            url = upload_template(boto3.client("s3"), args.s3_path, template_body(translation.template))
            _err(f"template uploaded: {url}")
    except TfImportError as exc:
        raise _cli_error(exc) from None
    print(f"wrote {args.template} and {args.resources}: {count} resource(s) to import")
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    import boto3

    from devops_blueprints.tf_import.deploy import DEFAULT_STACK_NAME, deploy, load_inputs
    from devops_blueprints.tf_import.s3path import parse_s3_path

    stack_name = args.stack_name or DEFAULT_STACK_NAME
    try:
        if args.s3_path:
            parse_s3_path(args.s3_path)
        template, resources = load_inputs(args.template, args.resources)
        result = deploy(
            boto3.client("cloudformation"),
            None if args.no_guru else boto3.client("devops-guru"),
            boto3.client("s3") if args.s3_path else None,
            template=template,
            resources=resources,
            stack_name=stack_name,
            s3_path=args.s3_path,
            echo=_err,
        )
    except TfImportError as exc:
        raise _cli_error(exc) from None
    guru = "added to DevOps Guru" if result.guru_added else "DevOps Guru not changed (--no-guru)"
    print(
        f"stack {result.stack_name}: {len(result.imported)} imported, "
        f"{len(result.already_in_stack)} already there; {guru}"
    )
    return 0

"""Reads ``terraform show -json`` output: every managed resource of the root module and of child
modules at any depth, one :class:`TfResource` per ``count`` / ``for_each`` instance.

The input format is Terraform's JSON output format (``format_version`` 1.x): ``values.root_module``
holds ``resources`` and ``child_modules``, each child module its own ``address``, ``resources`` and
``child_modules``. Data sources (``mode: "data"``) are skipped: they are read, not managed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devops_blueprints.tf_import.errors import TfImportError

_SHOW_HINT = "run `terraform show -json > state.json` in the module directory and pass --state-file state.json"
_TERRAFORM_TIMEOUT_S = 600


@dataclass(frozen=True)
class TfResource:
    """One managed resource instance from the state."""

    address: str
    type: str
    name: str
    module: str = ""  # "" for the root module, else e.g. 'module.app["eu"].module.db'
    index: int | str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    sensitive_values: dict[str, Any] = field(default_factory=dict)
    provider_name: str = ""


def load_show_json(text: str, source: str) -> list[TfResource]:
    """Parse ``terraform show -json`` text; ``source`` names the input in error messages."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TfImportError(
            f"{source}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "expected the output of `terraform show -json`"
        ) from None
    return resources_from_document(document, source)


def load_state_file(path: str | Path) -> list[TfResource]:
    """Read a file holding ``terraform show -json`` output."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TfImportError(f"{file}: no such state file; {_SHOW_HINT}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TfImportError(f"{file}: cannot read the state file ({exc})") from None
    return load_show_json(text, str(file))


def run_terraform_show(module_dir: str | Path, terraform: str = "terraform") -> str:
    """Run ``terraform show -json`` in ``module_dir`` (argument list, no shell) and return its output."""
    directory = Path(module_dir)
    if not directory.is_dir():
        raise TfImportError(f"--module {directory}: not a directory; expected a Terraform module directory")
    executable = shutil.which(terraform)
    if executable is None:
        raise TfImportError(
            f"terraform is not installed or not on PATH (needed by --module {directory}); install Terraform, "
            f"or {_SHOW_HINT} where it is installed"
        )
    try:
        completed = subprocess.run(
            [executable, "show", "-no-color", "-json"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=_TERRAFORM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TfImportError(
            f"--module {directory}: `terraform show -json` did not finish in {_TERRAFORM_TIMEOUT_S} s"
        ) from None
    if completed.returncode != 0:
        detail = next((line.strip() for line in completed.stderr.splitlines() if line.strip()), "no output")
        raise TfImportError(
            f"--module {directory}: `terraform show -json` failed with exit code {completed.returncode}: {detail}"
        )
    return completed.stdout


def load_module(module_dir: str | Path, terraform: str = "terraform") -> list[TfResource]:
    """The resources of the state of the Terraform module in ``module_dir``."""
    return load_show_json(run_terraform_show(module_dir, terraform), f"terraform show -json in {module_dir}")


def resources_from_document(document: Any, source: str) -> list[TfResource]:
    """The managed resources of a parsed ``terraform show -json`` document."""
    if not isinstance(document, dict):
        raise TfImportError(
            f"{source}: expected a JSON object from `terraform show -json`, got {type(document).__name__}"
        )
    if "format_version" not in document and {"version", "serial", "lineage", "resources"} & document.keys():
        raise TfImportError(
            f"{source} is a raw Terraform state file (.tfstate), not `terraform show -json` output; {_SHOW_HINT}"
        )
    if "planned_values" in document or "resource_changes" in document:
        raise TfImportError(f"{source} is a Terraform plan, not the state; {_SHOW_HINT} (without a plan file argument)")
    if "format_version" not in document:
        raise TfImportError(f"{source}: no 'format_version' key, so not `terraform show -json` output; {_SHOW_HINT}")
    root = (document.get("values") or {}).get("root_module") or {}
    if not isinstance(root, dict):
        raise TfImportError(f"{source}: 'values.root_module' must be an object")
    resources = list(_walk(root, "", source))
    if not resources:
        raise TfImportError(
            f"{source}: the state has no managed resources (empty state: has `terraform apply` run in this "
            "module, and is its backend initialised?)"
        )
    return resources


def _walk(module: dict[str, Any], module_address: str, source: str) -> Iterator[TfResource]:
    for raw in module.get("resources") or []:
        if not isinstance(raw, dict):
            raise TfImportError(f"{source}: a resource entry in {module_address or 'the root module'} is not an object")
        if raw.get("mode", "managed") != "managed":
            continue
        address = raw.get("address")
        rtype = raw.get("type")
        name = raw.get("name")
        if not (isinstance(address, str) and isinstance(rtype, str) and isinstance(name, str)):
            raise TfImportError(
                f"{source}: a resource in {module_address or 'the root module'} lacks address, type or name"
            )
        values = raw.get("values")
        if not isinstance(values, dict):
            raise TfImportError(f"{source}: {address} has no 'values' object")
        sensitive = raw.get("sensitive_values")
        index = raw.get("index")
        yield TfResource(
            address=address,
            type=rtype,
            name=name,
            module=module_address,
            index=index if isinstance(index, int | str) and not isinstance(index, bool) else None,
            values=values,
            sensitive_values=sensitive if isinstance(sensitive, dict) else {},
            provider_name=str(raw.get("provider_name", "")),
        )
    for child in module.get("child_modules") or []:
        if not isinstance(child, dict) or not isinstance(child.get("address"), str):
            raise TfImportError(f"{source}: a child module of {module_address or 'the root module'} lacks an 'address'")
        yield from _walk(child, child["address"], source)

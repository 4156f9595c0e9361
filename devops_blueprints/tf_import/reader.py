"""Reads ``terraform show -json`` output: every managed resource of the root module and of child
modules at any depth, one :class:`TfResource` per ``count`` / ``for_each`` instance.

The input format is Terraform's JSON output format (``format_version`` 1.x): ``values.root_module``
holds ``resources`` and ``child_modules``, each child module its own ``address``, ``resources`` and
``child_modules``. Data sources (``mode: "data"``) are skipped: they are read, not managed.
"""

from __future__ import annotations

import shutil

# Runs only `terraform show -json`: a fixed argument list, no shell, the executable found by shutil.which.
import subprocess  # nosec B404
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devops_blueprints._json_input import JsonInputError, loads, read_text, schema_problem
from devops_blueprints.tf_import.errors import TfImportError
from devops_blueprints.tf_import.schema import VALUES, validator

_SHOW_HINT = "run `terraform show -json > state.json` in the module directory and pass --state-file state.json"
_TERRAFORM_TIMEOUT_S = 600
MAX_STATE_CHARACTERS = 256 * 1024 * 1024  # a 5,000-resource state is about 2.6 MB


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
    """Parse ``terraform show -json`` text; ``source`` names the input in error messages.

    The text is parsed within bounds (:mod:`devops_blueprints._json_input`: nesting depth, integer digits,
    no NaN/Infinity, no lone surrogates) and its shape is checked against :mod:`.schema` before anything is
    translated; every problem is one :class:`TfImportError` line naming the JSON path."""
    if len(text) > MAX_STATE_CHARACTERS:
        raise TfImportError(f"{source}: larger than {MAX_STATE_CHARACTERS:,} characters; split the state")
    try:
        document = loads(text, source)
    except JsonInputError as exc:
        raise TfImportError(f"{exc}; expected the output of `terraform show -json`") from None
    return resources_from_document(document, source)


def load_state_file(path: str | Path) -> list[TfResource]:
    """Read a file holding ``terraform show -json`` output."""
    file = Path(path)
    try:
        text = read_text(file, str(file), max_bytes=MAX_STATE_CHARACTERS)
    except FileNotFoundError:
        raise TfImportError(f"{file}: no such state file; {_SHOW_HINT}") from None
    except JsonInputError as exc:
        raise TfImportError(f"{exc}; expected the output of `terraform show -json`") from None
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
        completed = subprocess.run(  # nosec B603  # fixed argv, no shell, no user text
            [executable, "show", "-no-color", "-json"],
            cwd=directory,
            capture_output=True,
            timeout=_TERRAFORM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TfImportError(
            f"--module {directory}: `terraform show -json` did not finish in {_TERRAFORM_TIMEOUT_S} s"
        ) from None
    except OSError as exc:
        raise TfImportError(f"--module {directory}: cannot run {executable}: {exc.strerror or exc}") from None
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", errors="replace")
        detail = next((line.strip() for line in stderr.splitlines() if line.strip()), "no output")
        raise TfImportError(
            f"--module {directory}: `terraform show -json` failed with exit code {completed.returncode}: {detail}"
        )
    try:
        return str(completed.stdout.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TfImportError(
            f"--module {directory}: `terraform show -json` printed text that is not UTF-8 (byte {exc.start})"
        ) from None


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
    _check(source, "DOCUMENT", document, "")
    root = (document.get("values") or {}).get("root_module") or {}
    resources = list(_walk(root, source))
    if not resources:
        raise TfImportError(
            f"{source}: the state has no managed resources (empty state: has `terraform apply` run in this "
            "module, and is its backend initialised?)"
        )
    return resources


def _check(source: str, schema: str, instance: Any, path: str) -> None:
    problem = schema_problem(validator(schema), instance, path)
    if problem is not None:
        raise TfImportError(f"{source}: {problem}")


def _walk(root: dict[str, Any], source: str) -> Iterator[TfResource]:
    """Every managed resource, module by module in document order (depth first), without recursion."""
    seen: dict[str, str] = {}  # address -> JSON path of its first entry
    stack: list[tuple[dict[str, Any], str, str]] = [(root, "", "values.root_module")]
    while stack:
        module, module_address, path = stack.pop()
        _check(source, "MODULE", module, path)
        for position, raw in enumerate(module.get("resources") or []):
            where = f"{path}.resources[{position}]"
            if raw.get("mode", "managed") != "managed":
                continue
            address = raw["address"]
            if address in seen:
                raise TfImportError(
                    f"{source}: {where}: the resource address {address} appears twice (first at {seen[address]}); "
                    "a Terraform state lists every resource instance once"
                )
            seen[address] = where
            if raw["type"] in VALUES:
                _check(source, raw["type"], raw["values"], f"{where}.values")
            sensitive = raw.get("sensitive_values")
            yield TfResource(
                address=address,
                type=raw["type"],
                name=raw["name"],
                module=module_address,
                index=raw.get("index"),
                values=raw["values"],
                sensitive_values=sensitive if isinstance(sensitive, dict) else {},
                provider_name=str(raw.get("provider_name", "")),
            )
        children = module.get("child_modules") or []
        for position in reversed(range(len(children))):
            child = children[position]
            stack.append((child, child["address"], f"{path}.child_modules[{position}]"))

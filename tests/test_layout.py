"""The package layout shows the capabilities (ARCHITECTURE.md "Repository layout", CONVENTIONS.md "Layout and
size"), checked statically with :mod:`ast` over the files of ``devops_blueprints/`` (nothing is imported).

Which imports count: every ``import`` and ``from ... import`` statement of a module, wherever it stands -
module level, inside a function, inside ``if TYPE_CHECKING:`` - in all their forms (``import a.b``,
``from a import b``, ``from . import b``, ``from .a import b``). None is ignored: a circle closed by an import
inside a function or a ``TYPE_CHECKING`` block is still a circle between the two modules (mypy and every
reader follow it; only the interpreter is spared), and hiding a circle that way is what the layout rules out.
``from package import name`` counts as an import of the submodule ``package.name`` when there is one, of
``package`` (its ``__init__``) otherwise.

Rules:

1. No import cycles among the modules of ``devops_blueprints``.
2. ``constructs/`` and ``stacks/`` hold one subpackage per capability (``embeddings``, ``guardrails``,
   ``observability``, ``tenants``) and, besides their ``__init__``, only shared modules: a module directly in
   ``constructs/`` (``key_policies``, ``app_boundary``) is a helper shared by several capabilities; ``stacks/``
   has none.
3. A module of a capability subpackage (``constructs/<capability>/`` or ``stacks/<capability>/``) imports only
   - its own capability: ``constructs/<capability>/``, from ``stacks/<capability>/`` also
     ``stacks/<capability>/``, and the capability's plain-Python package (``devops_blueprints.guardrails``
     for ``guardrails``, ``devops_blueprints.feature_flags`` for ``tenants``);
   - the shared modules below the capabilities: the modules directly in ``constructs/`` and the package's
     own helpers ``devops_blueprints.assets``, ``devops_blueprints.context`` and ``devops_blueprints._wildcards``.
   So never another capability's subpackage (or its plain-Python package), never the re-exporting
   ``devops_blueprints.constructs`` / ``devops_blueprints.stacks`` packages (they import every capability),
   never ``stages/`` or the command line, and constructs never import stacks.
4. A shared module imports only other shared modules: nothing of a capability, nor a re-exporting package.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Set
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

PACKAGE = "devops_blueprints"
LAYERS = ("constructs", "stacks")
CAPABILITIES = frozenset({"embeddings", "guardrails", "observability", "tenants"})
#: The plain-Python (no CDK) package that holds a capability's business logic.
PLAIN_PACKAGES = {"guardrails": f"{PACKAGE}.guardrails", "tenants": f"{PACKAGE}.feature_flags"}
#: Helpers of the package that every layer may use (they import no construct, stack or stage): also the
#: wildcard engine that the SCP simulator and the Logs filter-pattern evaluator share (it imports nothing).
PACKAGE_HELPERS = frozenset({f"{PACKAGE}.assets", f"{PACKAGE}.context", f"{PACKAGE}._wildcards"})


# ------------------------------------------------------------------------------------------------ the checker


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (rooted at ``root``) by dotted name; a package is its ``__init__.py``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported_names(module: str, is_package: bool, tree: ast.AST) -> set[str]:
    """Dotted names of everything ``module`` imports (a ``from`` import gives both ``base`` and ``base.name``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                names.add(f"{base}\0{alias.name}")
    return names


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """``module -> the modules of package it imports`` (see the module docstring for what counts)."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for name in _imported_names(module, path.name == "__init__.py", tree):
            if "\0" in name:  # from base import attr
                base, attr = name.split("\0")
                if f"{base}.{attr}" in modules:
                    targets.add(f"{base}.{attr}")
                elif base in modules:
                    targets.add(base)
            else:  # import a.b.c: the longest prefix that is a module of the package
                parts = name.split(".")
                while parts and ".".join(parts) not in modules:
                    parts.pop()
                if parts:
                    targets.add(".".join(parts))
        targets.discard(module)
        graph[module] = targets
    return graph


def find_cycles(graph: Mapping[str, Set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one module (Tarjan),
    each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def capability_of(module: str) -> tuple[str, str] | None:
    """``(layer, capability)`` of a module in a capability subpackage, else None."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[0] == PACKAGE and parts[1] in LAYERS and parts[2] in CAPABILITIES:
        return parts[1], parts[2]
    return None


def shared_modules(modules: Set[str]) -> set[str]:
    """The modules directly in ``constructs/``: helpers below the capabilities."""
    return {
        module
        for module in modules
        if module.startswith(f"{PACKAGE}.constructs.")
        and module.count(".") == 2
        and module.rsplit(".", 1)[1] not in CAPABILITIES
    }


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def layering_violations(graph: Mapping[str, Set[str]]) -> list[str]:
    """Every import that breaks rule 3 or 4 of the module docstring, as ``importer -> imported``."""
    shared = shared_modules(set(graph))
    violations = []
    for module, targets in sorted(graph.items()):
        home = capability_of(module)
        if home is not None:
            layer, capability = home
            allowed = [f"{PACKAGE}.constructs.{capability}"]
            if layer == "stacks":
                allowed.append(f"{PACKAGE}.stacks.{capability}")
            if capability in PLAIN_PACKAGES:
                allowed.append(PLAIN_PACKAGES[capability])
        elif module in shared:
            allowed = []
        else:
            continue
        for target in sorted(targets):
            if target in shared or target in PACKAGE_HELPERS or any(is_within(target, p) for p in allowed):
                continue
            violations.append(f"{module} -> {target}")
    return violations


# ------------------------------------------------------------------------------------------ the package's layout


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(REPO_ROOT / PACKAGE, PACKAGE)


def test_no_import_cycles_in_the_package(graph: dict[str, set[str]]) -> None:
    assert find_cycles(graph) == []


def test_constructs_and_stacks_hold_one_subpackage_per_capability() -> None:
    for layer in LAYERS:
        directory = REPO_ROOT / PACKAGE / layer
        subpackages = {path.parent.name for path in directory.glob("*/__init__.py")}
        folders = {path.name for path in directory.iterdir() if path.is_dir() and path.name != "__pycache__"}
        assert folders == subpackages, f"{layer}/: folders without __init__.py: {sorted(folders - subpackages)}"
        assert subpackages <= CAPABILITIES, f"{layer}/: not a capability: {sorted(subpackages - CAPABILITIES)}"
        modules = {path.stem for path in directory.glob("*.py")} - {"__init__"}
        if layer == "stacks":
            assert modules == set(), f"stacks/ holds only capability subpackages, found {sorted(modules)}"
    assert {path.parent.name for path in (REPO_ROOT / PACKAGE / "constructs").glob("*/__init__.py")} == CAPABILITIES


def test_capabilities_import_no_other_capability_except_through_shared_modules(
    graph: dict[str, set[str]],
) -> None:
    assert layering_violations(graph) == []


def test_capability_subpackages_reexport_what_the_top_packages_export() -> None:
    """The top packages re-export from the capability subpackages only (never from a module path)."""
    for layer in LAYERS:
        path = REPO_ROOT / PACKAGE / layer / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
                assert node.module.count(".") == 2, f"{layer}/__init__.py imports {node.module}"
                assert node.module.rsplit(".", 1)[1] in CAPABILITIES, f"{layer}/__init__.py imports {node.module}"


# --------------------------------------------------------------------------------------- the checker on examples


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_graph_follows_every_import_form_including_type_checking_and_function_bodies(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\nfrom .sub.c import C\n",
            "b.py": "import pkg.sub.c\nimport os\n",
            "sub/__init__.py": "from .c import C\n",
            "sub/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n"
                "def f():\n    from .. import b\n"
            ),
        },
    )
    graph = import_graph(root, "pkg")
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b", "pkg.sub.c"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": {"pkg.sub.c"},
        "pkg.sub.c": {"pkg.a", "pkg.b"},
    }
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_layering_flags_an_import_of_another_capability_and_of_the_reexporting_package() -> None:
    graph = {
        f"{PACKAGE}.constructs": {f"{PACKAGE}.constructs.tenants"},
        f"{PACKAGE}.constructs.key_policies": set(),
        f"{PACKAGE}.constructs.tenants": {f"{PACKAGE}.constructs.tenants.table"},
        f"{PACKAGE}.constructs.tenants.table": {
            f"{PACKAGE}.constructs.key_policies",
            f"{PACKAGE}.constructs.observability.coverage",
            f"{PACKAGE}.constructs",
        },
        f"{PACKAGE}.constructs.observability.coverage": {f"{PACKAGE}.stacks.observability.guru"},
        f"{PACKAGE}.stacks.observability.guru": {f"{PACKAGE}.constructs.observability.coverage"},
    }
    assert layering_violations(graph) == [
        f"{PACKAGE}.constructs.observability.coverage -> {PACKAGE}.stacks.observability.guru",
        f"{PACKAGE}.constructs.tenants.table -> {PACKAGE}.constructs",
        f"{PACKAGE}.constructs.tenants.table -> {PACKAGE}.constructs.observability.coverage",
    ]

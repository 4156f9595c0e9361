"""Locate the asset trees (``lambda_src/``, ``batch_job/``) in a checkout or in the installed wheel.

In a checkout they sit beside the package; in a wheel the build hook (``setup.py``) copies them to
``devops_blueprints/_assets/``. The checkout wins so that an editable install always uses live sources.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATE_ROOTS = (_PACKAGE_DIR.parent, _PACKAGE_DIR / "_assets")


class AssetNotFoundError(FileNotFoundError):
    """An asset tree or one of its entries is missing from both the checkout and the wheel."""


@cache
def _tree(name: str) -> Path:
    for root in _CANDIDATE_ROOTS:
        candidate = root / name
        # A checkout's lambda_src/ holds handler folders; the marker avoids picking up an unrelated folder
        # of the same name next to an installed package in site-packages.
        if candidate.is_dir() and ((candidate / "Dockerfile").is_file() or any(candidate.glob("*/index.py"))):
            return candidate
    searched = ", ".join(str(root / name) for root in _CANDIDATE_ROOTS)
    raise AssetNotFoundError(f"asset tree {name}/ not found (searched {searched}); reinstall devops-blueprints")


def lambda_src_dir() -> Path:
    """The folder that holds one sub-folder per Lambda function."""
    return _tree("lambda_src")


def lambda_handler_dir(function: str) -> Path:
    """The code folder of one Lambda function (``lambda_src/<function>/``, with ``index.py``)."""
    path = lambda_src_dir() / function
    if not (path / "index.py").is_file():
        raise AssetNotFoundError(f"Lambda function {function!r} has no index.py under {lambda_src_dir()}")
    return path


def batch_job_dir() -> Path:
    """The Batch job's Docker build context (``batch_job/``, with its Dockerfile)."""
    return _tree("batch_job")


def load_lambda_module(function: str, module: str = "index", *, siblings_importable: bool = False) -> ModuleType:
    """Import ``lambda_src/<function>/<module>.py`` (``lambda_src`` is not a package) once per process.

    The module is registered in ``sys.modules`` under a private name (dataclasses and exceptions resolve
    their module there), so every caller shares one copy. ``siblings_importable`` puts the function's
    folder on ``sys.path`` the way the Lambda runtime does, for handlers that import their sibling files.
    """
    name = f"_lambda_src__{function}__{module}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    directory = lambda_handler_dir(function) if module == "index" else lambda_src_dir() / function
    path = directory / f"{module}.py"
    if not path.is_file():
        raise AssetNotFoundError(f"{path} not found; reinstall devops-blueprints")
    if siblings_importable and str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise AssetNotFoundError(f"cannot load {path}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except BaseException:
        del sys.modules[name]
        raise
    return loaded

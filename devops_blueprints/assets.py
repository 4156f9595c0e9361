"""Locate the asset trees (``lambda_src/``, ``batch_job/``) in a checkout or in the installed wheel.

In a checkout they sit beside the package; in a wheel the build hook (``setup.py``) copies them to
``devops_blueprints/_assets/``. The checkout wins so that an editable install always uses live sources.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

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

"""Build hook: copy the top-level lambda_src/ and batch_job/ trees into the wheel.

They stay top-level in the repository (Lambda assets and the Batch container build context) and are
shipped as ``devops_blueprints/_assets/{lambda_src,batch_job}`` so that an installed library can
still point CDK assets at them. ``devops_blueprints.assets`` resolves both locations.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ASSET_TREES = ("lambda_src", "batch_job")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", "build", "*.onnx")


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "devops_blueprints" / "_assets"
        for tree in ASSET_TREES:
            source = ROOT / tree
            if not source.is_dir():
                raise SystemExit(f"asset tree {tree}/ is missing from {ROOT}")
            destination = target / tree
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(source, destination, ignore=IGNORED)


setup(cmdclass={"build_py": BuildPyWithAssets})

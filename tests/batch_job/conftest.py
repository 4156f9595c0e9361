"""Fixtures for the Batch job tests: one random-weight ResNet-18 exported per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_job.engine import Embedder
from batch_job.resnet import export_model


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "resnet18-random.onnx"
    export_model(path, random=True)
    return path


@pytest.fixture(scope="session")
def embedder(model_path: Path) -> Embedder:
    return Embedder(model_path)

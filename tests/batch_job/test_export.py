"""``python -m batch_job export-model``: ResNet-18 with torchvision's names, 512-d output, dynamic batch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from batch_job.cli import main
from batch_job.engine import Embedder, usable_cpus
from batch_job.resnet import build_resnet18


def test_module_names_and_shapes_are_torchvisions() -> None:
    # torchvision's resnet18().state_dict() has 122 entries with these names and shapes.
    state = build_resnet18().state_dict()
    assert len(state) == 122
    shapes = {name: tuple(tensor.shape) for name, tensor in state.items()}
    assert shapes["conv1.weight"] == (64, 3, 7, 7)
    assert shapes["layer1.1.conv2.weight"] == (64, 64, 3, 3)
    assert shapes["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert shapes["layer4.0.downsample.1.running_var"] == (512,)
    assert shapes["layer4.1.bn2.num_batches_tracked"] == ()
    assert shapes["fc.weight"] == (1000, 512) and shapes["fc.bias"] == (1000,)
    assert not any("downsample" in name for name in state if name.startswith(("layer1.", "layer2.1", "layer3.1")))


def test_dynamic_batch_gives_the_same_vectors_per_image(embedder: Embedder) -> None:
    rng = np.random.default_rng(0)
    batch = rng.standard_normal((5, 3, 224, 224), dtype=np.float32)
    together = embedder.embed(batch)
    alone = np.concatenate([embedder.embed(batch[i : i + 1]) for i in range(5)])
    assert together.shape == (5, 512) and embedder.dimension == 512
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


def test_export_from_a_state_dict_file(tmp_path: Path, embedder: Embedder, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a torchvision-layout state_dict on disk (what the Docker build stage can also use offline)
    torch.manual_seed(42)
    weights = tmp_path / "my-weights.pt"
    torch.save(build_resnet18().state_dict(), weights)
    out = tmp_path / "model.onnx"
    # WHEN it is exported
    assert main(["export-model", "--out", str(out), "--weights", str(weights)]) == 0
    # THEN the model carries those weights, under a name derived from the file
    model = Embedder(out)
    assert model.name == "resnet18-my-weights" and model.dimension == 512
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224), dtype=np.float32)
    assert not np.allclose(model.embed(x), embedder.embed(x))
    assert f"wrote {out} (resnet18-my-weights" in capsys.readouterr().out


def test_weights_that_are_not_resnet18_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "other.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, weights)
    assert main(["export-model", "--out", str(tmp_path / "m.onnx"), "--weights", str(weights)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: weights do not fit ResNet-18 (torchvision layout expected)")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "100000 100000\n"}, 1),  # cgroup v2: one CPU
        ({"cpu.max": "150000 100000\n"}, 1),  # 1.5 CPUs: one thread per whole CPU
        ({"cpu.max": "max 100000\n"}, None),  # unlimited
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # cgroup v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_threads_follow_the_container_cpu_quota(tmp_path: Path, files: dict[str, str], expected: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(tmp_path) == (min(affinity, expected) if expected else affinity)


def test_missing_weights_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.pth"
    assert main(["export-model", "--out", str(tmp_path / "m.onnx"), "--weights", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --weights {missing}: no such file (expected a ResNet-18 state_dict saved by torch)"]


def test_gpu_provider_is_preferred_and_cpu_is_the_fallback(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an onnxruntime that claims CUDA (as onnxruntime-gpu does) on a machine where CUDA cannot start
    import onnxruntime as ort

    requested: list[list[str]] = []
    real_session = ort.InferenceSession

    def spy(path: str, options: object, providers: list[str]) -> object:
        requested.append(list(providers))
        return real_session(path, options, providers=[p for p in providers if p != "CUDAExecutionProvider"])

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", spy)
    # WHEN the model is loaded
    model = Embedder(model_path)
    # THEN CUDA was asked for first, CPU is what runs, and the job reports the provider actually in use
    assert requested == [["CUDAExecutionProvider", "CPUExecutionProvider"]]
    assert model.providers == ["CPUExecutionProvider"]
    assert model.embed(np.zeros((1, 3, 224, 224), np.float32)).shape == (1, 512)


def test_out_that_is_the_weights_file_or_a_device_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "w.pt"
    torch.save(build_resnet18().state_dict(), weights)
    before = weights.read_bytes()
    for out in (weights, Path("/dev/null"), tmp_path):
        assert main(["export-model", "--out", str(out), "--weights", str(weights)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --out {out}: "), err
    assert weights.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]


def test_a_failed_export_leaves_no_partial_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy

    out = tmp_path / "new" / "m.onnx"
    monkeypatch.setattr(numpy, "allclose", lambda *a, **k: False)  # the check against PyTorch fails
    assert main(["export-model", "--out", str(out), "--random"]) == 1
    assert "disagrees with PyTorch" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()

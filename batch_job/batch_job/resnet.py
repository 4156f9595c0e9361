"""ResNet-18 in plain PyTorch and its export to ONNX (the ``export-model`` command).

The module and parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0``, ``fc``...), so torchvision's published ImageNet state_dict loads into it with
``strict=True`` — no torchvision needed (its PyPI build is CUDA-only here). The exported graph returns the
512-d pooled features before ``fc``: input ``images`` (N, 3, 224, 224) float32, output ``embeddings``
(N, 512) float32, batch axis dynamic.

PyTorch is imported inside the functions: the runtime image has no torch and never imports this module.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from batch_job.errors import EXIT_USAGE, JobError

EMBEDDING_DIM = 512
INPUT_NAME = "images"
OUTPUT_NAME = "embeddings"
# torchvision's ResNet18_Weights.IMAGENET1K_V1 checkpoint; the 8 hex digits in the name are the start of its
# SHA-256, which torch.hub checks after the download.
PRETRAINED_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
PRETRAINED_NAME = "resnet18-imagenet1k-v1"
RANDOM_NAME = "resnet18-random"
OPSET = 17


def build_resnet18() -> Any:
    """A ResNet-18 ``torch.nn.Module`` whose ``forward`` returns the pooled 512-d features (no ``fc``)."""
    from torch import Tensor, nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample: nn.Module | None = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(
                    nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
                )

        def forward(self, x: Tensor) -> Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
            self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
            self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
            self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            # Kept so that torchvision's state_dict loads strictly; forward() stops before it.
            self.fc = nn.Linear(512, 1000)
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

        def forward(self, x: Tensor) -> Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.avgpool(x).flatten(1)

    return ResNet18()


def load_weights(model: Any, *, random: bool, weights: Path | None) -> str:
    """Put weights into ``model``; returns the model name recorded in the ONNX metadata."""
    import torch

    if random:
        torch.manual_seed(0)
        # Fresh BatchNorm running stats are mean 0 / var 1: give them plausible values so activations
        # neither vanish nor explode through 8 blocks (a more useful stand-in for benchmarks and tests).
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d) and module.running_var is not None:
                module.running_var.fill_(4.0)
        return RANDOM_NAME
    if weights is not None:
        if not weights.is_file():
            raise JobError(
                f"--weights {weights}: no such file (expected a ResNet-18 state_dict saved by torch)", EXIT_USAGE
            )
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise JobError(f"--weights {weights}: not a torch state_dict ({exc})", EXIT_USAGE) from exc
        name = PRETRAINED_NAME if weights.name.startswith("resnet18-f37072fd") else f"resnet18-{weights.stem}"
    else:
        try:
            state = torch.hub.load_state_dict_from_url(PRETRAINED_URL, map_location="cpu", check_hash=True)
        except Exception as exc:
            raise JobError(
                f"cannot download pretrained weights from {PRETRAINED_URL} ({exc}); pass --weights FILE or --random"
            ) from exc
        name = PRETRAINED_NAME
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise JobError(f"weights do not fit ResNet-18 (torchvision layout expected): {first}", EXIT_USAGE) from exc
    return name


def export_model(out: Path, *, random: bool = False, weights: Path | None = None) -> str:
    """Export ResNet-18 features to ``out`` (ONNX) and check it against PyTorch; returns the model name."""
    import numpy as np
    import onnx
    import torch

    model = build_resnet18()
    name = load_weights(model, random=random, weights=weights)
    model.eval()
    example = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter works offline with no extra package (the dynamo exporter needs
        # onnxscript); torch flags it as legacy, which is not news to the user.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            buffer,  # type: ignore[arg-type]  # the TorchScript exporter accepts file objects
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto)
    for key, value in {
        "model": name,
        "dimension": str(EMBEDDING_DIM),
        "preprocessing": "imagenet-224",
    }.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    # The exported graph must compute what PyTorch computes (catches exporter regressions at build time);
    # the file replaces ``out`` only once it has passed.
    import onnxruntime as ort

    from batch_job.outputs import staged

    with staged([out]) as (staged_out,):
        onnx.save(proto, str(staged_out))
        session = ort.InferenceSession(str(staged_out), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            expected = model(example).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: example.numpy()})[0]
        if got.shape != (2, EMBEDDING_DIM) or not np.allclose(got, expected, rtol=1e-3, atol=1e-4):
            diff = np.abs(got - expected).max()
            raise JobError(f"exported model {out} disagrees with PyTorch (max abs diff {diff})")
    return name

"""A tiny ONNX image model (Conv 32x32/32 -> ReLU -> global average pool), built with onnx.helper.

It takes what the job's models take, (N, 3, 224, 224) float32, and quantizes in well under a second, so
tests of ``quantize`` on many inputs stay fast; ``input_shape`` and ``external`` make broken variants.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_model(
    path: Path,
    *,
    input_shape: tuple[int | str, ...] = ("N", 3, 224, 224),
    external: str | None = None,
    scale: float = 0.05,
    bias: float = 0.1,
    name: str = "tiny",
) -> Path:
    """Write the model to ``path``; ``external`` stores the conv weights "outside" it, at that location."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    channels = int(input_shape[1]) if isinstance(input_shape[1], int) else 3
    weights = numpy_helper.from_array((rng.standard_normal((8, channels, 32, 32)) * scale).astype(np.float32), "w")
    if external is not None:
        weights.ClearField("raw_data")
        weights.data_location = TensorProto.EXTERNAL
        entry = weights.external_data.add()
        entry.key, entry.value = "location", external
    bias = numpy_helper.from_array(np.full(8, bias, np.float32), "b")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[32, 32]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
        [weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "model", name
    onnx.save(model, str(path))
    return path

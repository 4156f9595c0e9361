"""(e) of the embeddings benchmark: Ray Data doing the job's work, run with ``.venv-bench``'s Python.

``python -m benchmarks.ray_data_peer --images DIR --model M.onnx --threads N --batch-size B --rounds R``
prints one JSON line ``{"images_per_second", "rows", "seconds", "ray"}`` (the best of R rounds). What a user
would write: ``ray.data.read_binary_files`` over the folder, the job's own ``preprocess`` (the same decode,
draft JPEG decoding included) in ``map_batches`` tasks, the same ONNX model in a ``map_batches`` actor whose
session has the same intra-op threads (reserving no CPU, so decode tasks may use every core, as the job's
decoders do), the vectors written to Parquet. Ray starts once, on this machine's
CPUs (``ray.init(num_cpus=...)``), before the rounds; the first round also starts the workers and the actor.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


class _Embed:
    def __init__(self, model: str, threads: int) -> None:
        from batch_job.engine import Embedder

        self.embedder = Embedder(Path(model), threads=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        tensors = np.stack(list(batch["tensor"])).astype(np.float32, copy=False)
        return {"image_id": batch["path"], "vector": list(self.embedder.embed(tensors))}


def _decode(batch: dict[str, np.ndarray]) -> dict[str, Any]:
    from batch_job.preprocess import preprocess

    return {"path": batch["path"], "tensor": [preprocess(bytes(data)) for data in batch["bytes"]]}


def main(argv: list[str]) -> int:
    import ray

    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_data_peer")
    parser.add_argument("--images", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    from batch_job.engine import usable_cpus

    ray.init(num_cpus=usable_cpus(), include_dashboard=False, log_to_driver=False)
    best, rows = 0.0, 0
    for _ in range(max(1, args.rounds)):
        with tempfile.TemporaryDirectory(prefix="ray-peer-") as out:
            start = time.perf_counter()
            dataset = ray.data.read_binary_files(args.images, include_paths=True)
            tensors = dataset.map_batches(_decode, batch_size=8)
            vectors = tensors.map_batches(
                _Embed,
                fn_constructor_kwargs={"model": args.model, "threads": args.threads},
                batch_size=args.batch_size,
                concurrency=1,
                # Reserve no CPU for the actor: its session's intra-op threads share the cores with the decode
                # tasks, as the job's inference threads share them with its decoders (otherwise Ray would
                # leave one of two CPUs to decoding).
                num_cpus=0,
            )
            vectors.write_parquet(out)
            seconds = time.perf_counter() - start
            import pyarrow.parquet as pq

            rows = pq.read_table(out).num_rows
        best = max(best, rows / seconds)
    print(json.dumps({"images_per_second": best, "rows": rows, "seconds": rows / best, "ray": ray.__version__}))
    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

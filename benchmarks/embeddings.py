"""Image embeddings at real photo sizes: the streaming job against the article's one-image-at-a-time design.

For each size (640x480, 1920x1080, 4032x3024 photo-like JPEGs: colour regions, stripe texture, sensor noise)
and each model (the random-weight ResNet-18 in fp32, and its int8 copy made by ``python -m batch_job quantize``),
in one run on the same ONNX Runtime sessions:

(a) pure batched inference (preprocessed tensors already in memory): the ceiling for (b) and (c);
(b) ``local`` end to end: list, read, decode (JPEG drafted at a DCT scale), preprocess, batched inference, Parquet;
(c) ``run`` end to end against moto S3 + DynamoDB (``moto_server`` in its own process);
(d) the article's design on the same engine and the same moto: for each image GetObject, full decode,
    batch-1 inference, one PutItem;
(c') and (d'): (c) and (d) through ``benchmarks.latency_proxy`` (its own process) in front of the same moto,
    which delays every S3 request 50 ms and every DynamoDB request 10 ms (AWS's published figures, cited there);
(e) Ray Data, the peer a user would pick instead: ``read_binary_files`` over the same folder, the same decode in
    ``map_batches``, the same ONNX model in an actor with the same threads (``benchmarks.ray_data_peer``, run
    with ``.venv-bench``'s Python: ``ray[data]`` is a benchmark-only dependency, see requirements-bench.in);
and the peak RSS of (b) and (c) with the default settings (fp32, each in a fresh ``python -m batch_job``).

The ceiling on (b)/(a), from CPU times measured in the same run: the job's own ``preprocess()`` per image on one
thread (``time.thread_time``; drafted, plus its sampled full-decode check) and ONNX Runtime's process CPU
seconds per image at batch 32 during (a). Decode and inference share the same CPUs, so (b) cannot exceed
CPUs / (decode_cpu + inference_cpu), and (b)/(a) cannot exceed inference_cpu / (inference_cpu + decode_cpu)
(scaled by CPUs / the CPUs (a) kept busy, when inference alone left some idle): printed beside each (b)/(a)
goal and for every size and precision (see :func:`_bound`).

Goals (printed met or MISSED): 4032x3024 fp32 (b)/(a) >= 0.70 and (b)/(d) >= 4, int8 (b)/(d) >= 6;
640x480 fp32 (b)/(a) >= 0.85; (c')/(d') >= 5 at 640x480 fp32; peak RSS of (b) at 4032x3024 < 1.5 GiB;
(b) >= 1.2 x (e) at every size and precision. Rounds alternate the designs and the best round counts, since
other processes on a shared machine only slow rounds down. (d) and (d') embed the first
``BENCH_EMBEDDINGS_SERIAL`` (32) images of a size: a serial design's rate does not depend on how many follow.

Environment: ``BENCH_EMBEDDINGS_SIZES`` (``640x480,1920x1080,4032x3024``), ``BENCH_EMBEDDINGS_IMAGES`` (images
per size; default 256, 128, 64 by size), ``BENCH_EMBEDDINGS_ROUNDS`` (2), ``BENCH_EMBEDDINGS_INT8`` (1),
``BENCH_EMBEDDINGS_RAY`` (1), ``BENCH_EMBEDDINGS_PROXY`` (1). Quick look:
``BENCH_EMBEDDINGS_SIZES=640x480 BENCH_EMBEDDINGS_IMAGES=64 BENCH_EMBEDDINGS_ROUNDS=1 python -m benchmarks embeddings``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SIZES = [
    (int(w), int(h))
    for w, h in (
        part.split("x") for part in os.environ.get("BENCH_EMBEDDINGS_SIZES", "640x480,1920x1080,4032x3024").split(",")
    )
]
DEFAULT_IMAGES = {(640, 480): 256, (1920, 1080): 128, (4032, 3024): 64}
IMAGES = os.environ.get("BENCH_EMBEDDINGS_IMAGES")
SERIAL = int(os.environ.get("BENCH_EMBEDDINGS_SERIAL", "32"))
BATCH = 32
ROUNDS = int(os.environ.get("BENCH_EMBEDDINGS_ROUNDS", "2"))
INT8 = os.environ.get("BENCH_EMBEDDINGS_INT8", "1") == "1"
RAY = os.environ.get("BENCH_EMBEDDINGS_RAY", "1") == "1"
PROXY = os.environ.get("BENCH_EMBEDDINGS_PROXY", "1") == "1"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
CALIBRATION = 64
BUCKET = "bench-embeddings"
TABLE = "bench-embeddings-results"
GIB = 1024**3
# Distinct pictures per size; every other file is one of them shifted by a few pixels (then encoded anew), so
# generating 64 12-MP photos does not take minutes.
DISTINCT = 6
# JPEGs of a size whose decode CPU time is measured (the bound on (b)/(a)).
DECODE_SAMPLE = 12


def images_for(size: tuple[int, int]) -> int:
    return int(IMAGES) if IMAGES else DEFAULT_IMAGES.get(size, 128)


def _picture(width: int, height: int, seed: int) -> np.ndarray:
    """Photo-like detail at every scale: smooth colour regions, a warped 3-20 px stripe texture, noise."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((height // 64 + 2, width // 64 + 2, 3)) * 255).astype(np.uint8))
    pixels = np.asarray(base.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels += (18 * np.sin(x / 3.1 + 3 * np.sin(y / 17.0)) + 10 * np.sin(y / (2 + seed % 3) + x / 40.0))[..., None]
    pixels += rng.normal(0, 4, (height, width, 3)).astype(np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _generate_jpegs(folder: Path, size: tuple[int, int], count: int) -> list[str]:
    """``count`` JPEGs (quality 88, 4:2:0, as phones write them) in ten subfolders; sorted names."""
    width, height = size
    pictures = [_picture(width, height, seed) for seed in range(min(DISTINCT, count))]
    names = []
    for n in range(count):
        shifted = np.roll(pictures[n % len(pictures)], shift=(n // len(pictures)) * 3, axis=1)
        name = f"set-{n % 10}/img-{n:05d}.jpg"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(shifted).save(folder / name, "JPEG", quality=88)
        names.append(name)
    return sorted(names)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(process: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it listened on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 60 s")


def _measure_inference(embedder: Any, tensors: np.ndarray, batch: int) -> tuple[float, float]:
    """(images/s, process CPU seconds per image) of embedder.embed over ``tensors`` in batches of ``batch``
    (one warm-up call first). Nothing else runs in this process meanwhile (moto and the proxy are processes
    of their own), so the process's CPU time is ONNX Runtime's: its intra-op threads and the calling thread."""
    embedder.embed(tensors[:batch])
    cpu, start = time.process_time(), time.perf_counter()
    for offset in range(0, len(tensors), batch):
        embedder.embed(tensors[offset : offset + batch])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(tensors) / wall, cpu / len(tensors)


@dataclass
class _DecodeCost:
    """Single-thread CPU seconds per image of the job's ``preprocess()`` on one size's JPEGs."""

    preprocess: float  # what the job pays per image: drafted when the size is drafted, plus the sampled check
    drafted: float | None  # preprocess(draft=True) alone; None when the size is never drafted
    full: float  # preprocess(draft=False): a full decode, what (d) pays
    scale: int


def _decode_cost(folder: Path, keys: list[str]) -> _DecodeCost:
    """CPU time (``time.thread_time``: this thread only, so other processes on the machine do not count) of
    the job's own ``preprocess()`` per image, over up to ``DECODE_SAMPLE`` of the size's JPEGs (one warm-up).

    The job decodes each image on one thread (Pillow's JPEG decoder is single-threaded). A drafted size also
    pays the sampled fidelity check: one image in ``DRAFT_CHECK_EVERY`` is decoded in full as well."""
    from batch_job.preprocess import DRAFT_CHECK_EVERY, decode_scaled, preprocess

    blobs = [(folder / key).read_bytes() for key in keys[:DECODE_SAMPLE]]
    scale = decode_scaled(blobs[0]).scale

    def per_image(draft: bool) -> float:
        preprocess(blobs[0], draft=draft)
        start = time.thread_time()
        for data in blobs:
            preprocess(data, draft=draft)
        return (time.thread_time() - start) / len(blobs)

    full = per_image(False)
    if scale == 1:
        return _DecodeCost(full, None, full, scale)
    drafted = per_image(True)
    return _DecodeCost(drafted + full / DRAFT_CHECK_EVERY, drafted, full, scale)


def _bound(inference_cpu: float, decode_cpu: float, rate_a: float, cpus: int) -> tuple[float, float, float]:
    """The most (b)/(a) can be on ``cpus`` CPUs: (simple bound, bound, CPUs (a) kept busy).

    The job runs decode (``cpus`` threads) and inference (``cpus`` intra-op threads) on the same ``cpus``
    CPUs, so every image costs ``decode_cpu + inference_cpu`` of CPU time and (b) <= cpus / (decode_cpu +
    inference_cpu). (a) = busy / inference_cpu, where busy (<= cpus) is how many CPUs inference alone kept
    busy; so (b)/(a) <= cpus / busy x inference_cpu / (inference_cpu + decode_cpu), and the simple bound
    inference_cpu / (inference_cpu + decode_cpu) when inference alone keeps every CPU busy. What inference
    leaves idle decode can use, hence the factor. Reading, batching and writing cost CPU too, so the real
    ceiling is lower still."""
    busy = rate_a * inference_cpu
    simple = inference_cpu / (inference_cpu + decode_cpu)
    return simple, min(1.0, cpus / (rate_a * (inference_cpu + decode_cpu))), busy


def _article_baseline(embedder: Any, s3: Any, dynamodb: Any, keys: list[str], table: str) -> float:
    """The original design: one image at a time, GetObject -> full decode -> batch-1 inference -> PutItem."""
    from batch_job.preprocess import preprocess
    from batch_job.sinks import results_item, utc_now

    start = time.perf_counter()
    for key in keys:
        data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        vector = embedder.embed(preprocess(data, draft=False)[None])[0]
        dynamodb.put_item(TableName=table, Item=results_item(key, vector, embedder.name, utc_now()))
    return len(keys) / (time.perf_counter() - start)


class _Services:
    """moto_server and the latency proxy in front of it, each in its own process; env restored on close."""

    VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")

    def __init__(self) -> None:
        import boto3

        self.saved = {name: os.environ.get(name) for name in self.VARIABLES}
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's dummy credentials
            AWS_DEFAULT_REGION="us-east-1",
        )
        port = _free_port()
        moto = [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)]
        self.moto = subprocess.Popen(moto, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_listening(self.moto, port, "moto_server")
        self.direct = f"http://127.0.0.1:{port}"
        os.environ["AWS_ENDPOINT_URL"] = self.direct
        self.proxy: subprocess.Popen[bytes] | None = None
        self.delayed = ""
        if PROXY:
            proxy_port = _free_port()
            command = [sys.executable, "-m", "benchmarks.latency_proxy", "--upstream", self.direct]
            self.proxy = subprocess.Popen(
                [*command, "--port", str(proxy_port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _wait_listening(self.proxy, proxy_port, "latency proxy")
            self.delayed = f"http://127.0.0.1:{proxy_port}"
        self.s3, self.dynamodb = boto3.client("s3"), boto3.client("dynamodb")
        self.s3.create_bucket(Bucket=BUCKET)

    def clients(self, endpoint: str) -> tuple[Any, Any]:
        import boto3

        return boto3.client("s3", endpoint_url=endpoint), boto3.client("dynamodb", endpoint_url=endpoint)

    def upload(self, folder: Path, keys: list[str], prefix: str) -> str:
        for key in keys:
            self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{key}", Body=(folder / key).read_bytes())
        manifest = f"manifests/bench-{prefix}/manifest.txt"
        self.s3.put_object(Bucket=BUCKET, Key=manifest, Body="\n".join(f"{prefix}/{k}" for k in keys).encode())
        return manifest

    def fresh_table(self, name: str) -> None:
        if name in self.dynamodb.list_tables()["TableNames"]:
            self.dynamodb.delete_table(TableName=name)
        self.dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "ImageId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "ImageId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def count(self, name: str) -> int:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=name, Select="COUNT")
        return sum(int(page["Count"]) for page in pages)

    def close(self) -> None:
        for process in (self.proxy, self.moto):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class _SizeSet:
    size: tuple[int, int]
    folder: Path
    keys: list[str]
    manifest: str
    prefix: str
    tensors: np.ndarray
    megabytes: float


def _run_job(services: _Services, embedder: Any, data: _SizeSet, endpoint: str, table: str) -> float:
    from batch_job.aws import run as run_job

    services.fresh_table(table)
    env = {
        "IMAGES_BUCKET": BUCKET,
        "RESULTS_TABLE": table,
        "MANIFEST_KEY": data.manifest,
        "CHUNK_SIZE": str(len(data.keys)),
        "AWS_ENDPOINT_URL": endpoint,
    }
    os.environ["AWS_ENDPOINT_URL"] = endpoint  # the job's own clients
    try:
        start = time.perf_counter()
        summary, failures = run_job(env, model=embedder, batch_size=BATCH, progress_every=10**9)
        rate = len(data.keys) / (time.perf_counter() - start)
    finally:
        os.environ["AWS_ENDPOINT_URL"] = services.direct
    assert summary.embedded == len(data.keys) and not failures, summary.line()
    assert services.count(table) == len(data.keys)
    return rate


def _round(embedder: Any, data: _SizeSet, services: _Services) -> dict[str, float]:
    """(a), batch-1 inference, (b), (c), (d), (c'), (d') once, for one model at one size."""
    from batch_job.local import run_local

    rate_a, inference_cpu = _measure_inference(embedder, data.tensors, BATCH)
    figures = {
        "a": rate_a,
        "batch1": _measure_inference(embedder, data.tensors[: min(64, len(data.tensors))], 1)[0],
        "inference_cpu": inference_cpu,
    }
    out = data.folder.parent / f"out-{data.prefix}.parquet"
    cpu, start = time.process_time(), time.perf_counter()
    summary, failures = run_local(data.folder, out, embedder, batch_size=BATCH, progress_every=10**9)
    figures["b"] = len(data.keys) / (time.perf_counter() - start)
    figures["b_cpu"] = (time.process_time() - cpu) / len(data.keys)  # all the job's threads, per image
    assert summary.embedded == len(data.keys) and not failures, summary.line()
    out.unlink()
    out.with_name(out.name + ".failures.jsonl").unlink()

    figures["c"] = _run_job(services, embedder, data, services.direct, TABLE)
    serial = [f"{data.prefix}/{key}" for key in data.keys[:SERIAL]]
    article = TABLE + "-article"
    services.fresh_table(article)
    figures["d"] = _article_baseline(embedder, services.s3, services.dynamodb, serial, article)
    assert services.count(article) == len(serial)
    if services.delayed:
        figures["c_proxy"] = _run_job(services, embedder, data, services.delayed, TABLE + "-proxy")
        services.fresh_table(article)
        s3, dynamodb = services.clients(services.delayed)
        figures["d_proxy"] = _article_baseline(embedder, s3, dynamodb, serial, article)
    return figures


def _peak_rss(command: list[str], env: dict[str, str]) -> float:
    """Peak RSS in bytes of one fresh process running ``python -m <module> ...`` (``command``), as the process
    itself measured it (``benchmarks.peak_rss`` says why ``os.wait4`` cannot)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "peak-rss"
        wrapped = [command[0], "-m", "benchmarks.peak_rss", str(report), *command[2:]]
        completed = subprocess.run(wrapped, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if completed.returncode != 0:
            error = completed.stderr.decode(errors="replace")
            raise RuntimeError(f"{command[2:4]} exited {completed.returncode}: {error[-500:]}")
        return float(report.read_text())


def _rss(data: _SizeSet, model: Path, services: _Services) -> dict[str, float]:
    """Peak RSS of `local` (b) and `run` (c) with the default settings, fp32."""
    env = dict(os.environ)
    out = data.folder.parent / f"rss-{data.prefix}.parquet"
    job = [sys.executable, "-m", "batch_job"]
    local_rss = _peak_rss([*job, "local", "--images", str(data.folder), "--out", str(out), "--model", str(model)], env)
    table = TABLE + "-rss"
    services.fresh_table(table)
    env.update(
        IMAGES_BUCKET=BUCKET,
        RESULTS_TABLE=table,
        MANIFEST_KEY=data.manifest,
        CHUNK_SIZE=str(len(data.keys)),
        EMBEDDING_MODEL=str(model),
        AWS_ENDPOINT_URL=services.direct,
    )
    run_rss = _peak_rss([*job, "run"], env)
    return {"rss_b": local_rss, "rss_c": run_rss}


def _ray(data: _SizeSet, model: Path, threads: int) -> float | str:
    """(e): images/s of Ray Data over the same folder and model, or why it was not measured."""
    if not RAY:
        return "skipped (BENCH_EMBEDDINGS_RAY=0)"
    if not BENCH_PYTHON.exists():
        return "not measured: .venv-bench is missing (make bench-setup installs ray[data] from requirements-bench.txt)"
    command = [str(BENCH_PYTHON), "-m", "benchmarks.ray_data_peer", "--images", str(data.folder), "--model", str(model)]
    command += ["--threads", str(threads), "--batch-size", str(BATCH), "--rounds", str(ROUNDS)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return f"failed (exit {done.returncode}): {(done.stderr.strip().splitlines() or ['no output'])[-1][:200]}"
    result = json.loads(lines[-1])
    if int(result["rows"]) != len(data.keys):
        return f"failed: Ray Data embedded {result['rows']} of {len(data.keys)} images"
    return float(result["images_per_second"])


def run() -> dict[str, Any]:
    from batch_job.engine import Embedder, usable_cpus
    from batch_job.preprocess import DRAFT_CHECK, preprocess
    from batch_job.quantize import cosine_rows, quantize_model
    from batch_job.resnet import export_model

    started = time.perf_counter()
    results: dict[str, Any] = {"load_average_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-embeddings-") as tmp:
        root = Path(tmp)
        services = _Services()
        try:
            sets = []
            for size in SIZES:
                prefix = f"{size[0]}x{size[1]}"
                folder = root / prefix
                keys = _generate_jpegs(folder, size, images_for(size))
                tensors = np.stack([preprocess((folder / key).read_bytes()) for key in keys])
                megabytes = sum((folder / key).stat().st_size for key in keys) / len(keys) / 1e6
                sets.append(
                    _SizeSet(size, folder, keys, services.upload(folder, keys, prefix), prefix, tensors, megabytes)
                )
            models = {"fp32": root / "resnet18-random.onnx"}
            export_model(models["fp32"], random=True)
            if INT8:
                models["int8"] = root / "resnet18-random-int8.onnx"
                quantize_model(models["fp32"], sets[0].folder, models["int8"], calibration=CALIBRATION, check=2)
            embedders = {name: Embedder(path) for name, path in models.items()}
            fp32 = embedders["fp32"]
            print(
                f"embeddings: sizes {', '.join(s.prefix for s in sets)} ({', '.join(str(len(s.keys)) for s in sets)} "
                f"JPEGs, {', '.join(f'{s.megabytes:.2f}' for s in sets)} MB each), random-weight ResNet-18 "
                f"({', '.join(models)}), ONNX Runtime {fp32.providers[0]} x {fp32.threads} threads, batch {BATCH}, "
                f"best of {ROUNDS} rounds",
                flush=True,
            )
            if "int8" in embedders:
                unseen = sets[0].tensors[CALIBRATION:] if len(sets[0].tensors) > CALIBRATION else sets[0].tensors
                vectors = [
                    np.concatenate([e.embed(unseen[i : i + BATCH]) for i in range(0, len(unseen), BATCH)])
                    for e in (fp32, embedders["int8"])
                ]
                cosines = cosine_rows(vectors[0], vectors[1])
                results["int8_cosine_min"] = float(cosines.min())
            cpus = usable_cpus()
            results["cpus"] = cpus
            for data in sets:
                cost = _decode_cost(data.folder, data.keys)
                results[f"{data.prefix}_decode_cpu"] = cost.preprocess
                results[f"{data.prefix}_decode_full_cpu"] = cost.full
                results[f"{data.prefix}_decode_scale"] = cost.scale
                drafted = f", drafted at 1/{cost.scale} {cost.drafted * 1000:.1f} ms" if cost.drafted else " (in full)"
                print(
                    f"  {data.prefix}: decode (preprocess, one thread) {cost.preprocess * 1000:.1f} ms CPU/image"
                    f"{drafted}, full decode {cost.full * 1000:.1f} ms",
                    flush=True,
                )
                samples: dict[str, list[float]] = {}
                for round_number in range(1, ROUNDS + 1):
                    for name, embedder in embedders.items():
                        figures = _round(embedder, data, services)
                        for key, value in figures.items():
                            samples.setdefault(f"{data.prefix}_{name}_{key}", []).append(value)
                        shown = ", ".join(f"{k}={v:.1f}" for k, v in figures.items() if not k.endswith("_cpu"))
                        print(
                            f"  {data.prefix} round {round_number}/{ROUNDS} {name}: {shown} images/s; CPU/image: "
                            f"inference {figures['inference_cpu'] * 1000:.1f} ms at batch {BATCH}, (b) "
                            f"{figures['b_cpu'] * 1000:.1f} ms",
                            flush=True,
                        )
                results.update({key: max(values) for key, values in samples.items() if not key.endswith("_cpu")})
                for name in embedders:
                    prefix = f"{data.prefix}_{name}"
                    inference_cpu = _of_best_round(samples, f"{prefix}_a", f"{prefix}_inference_cpu")
                    simple, bound, busy = _bound(inference_cpu, cost.preprocess, max(samples[f"{prefix}_a"]), cpus)
                    b_cpu = _of_best_round(samples, f"{prefix}_b", f"{prefix}_b_cpu")
                    results[f"{prefix}_b_cpu"] = b_cpu
                    results[f"{prefix}_inference_cpu"] = inference_cpu
                    results[f"{prefix}_bound_simple"] = simple
                    results[f"{prefix}_bound"] = bound
                    results[f"{prefix}_a_busy"] = busy
                for key, value in _rss(data, models["fp32"], services).items():
                    results[f"{data.prefix}_fp32_{key}"] = value
                for name, path in models.items():
                    results[f"{data.prefix}_{name}_e"] = _ray(data, path, fp32.threads)
                print(
                    f"  {data.prefix}: peak RSS (b) {results[f'{data.prefix}_fp32_rss_b'] / GIB:.2f} GiB, "
                    f"(c) {results[f'{data.prefix}_fp32_rss_c'] / GIB:.2f} GiB; (e) Ray Data "
                    + ", ".join(f"{name} {_shown(results[f'{data.prefix}_{name}_e'])}" for name in models),
                    flush=True,
                )
            results["draft_checks"] = DRAFT_CHECK.checked
            results["draft_worst_psnr"] = DRAFT_CHECK.worst_psnr
            results["draft_enabled"] = DRAFT_CHECK.enabled
        finally:
            services.close()
    results["load_average_end"] = os.getloadavg()[0]
    results["seconds"] = time.perf_counter() - started
    _report(results, [s.prefix for s in sets], list(models))
    return results


def _of_best_round(samples: dict[str, list[float]], rate: str, cpu: str) -> float:
    """The CPU time per image of the round whose ``rate`` counts (the best), so a rate and its CPU time come
    from one measurement."""
    rates = samples[rate]
    return samples[cpu][rates.index(max(rates))]


def _bound_line(results: dict[str, Any], size: str, name: str) -> str:
    """The ceiling on (b)/(a) from this run's CPU times (see :func:`_bound`)."""
    simple, bound = results[f"{size}_{name}_bound_simple"], results[f"{size}_{name}_bound"]
    line = f"(b)/(a) cannot exceed inference_cpu / (inference_cpu + decode_cpu) = {simple:.2f}"
    busy, cpus = results[f"{size}_{name}_a_busy"], results["cpus"]
    if abs(bound - simple) >= 0.005:
        # On a shared machine the CPU time (a) left is mostly other processes', not free for decode.
        line += (
            f" (with (a) keeping all {cpus} CPUs busy; it kept {busy:.2f}: if the rest was idle, not other "
            f"processes', decode could use it, up to {bound:.2f})"
        )
    return line


def _cost_line(results: dict[str, Any], size: str, name: str) -> str:
    decode, full = results[f"{size}_decode_cpu"] * 1000, results[f"{size}_decode_full_cpu"] * 1000
    scale = results[f"{size}_decode_scale"]
    how = f"drafted at 1/{scale}, full {full:.1f} ms" if scale > 1 else "decoded in full"
    inference, b_cpu = results[f"{size}_{name}_inference_cpu"] * 1000, results[f"{size}_{name}_b_cpu"] * 1000
    b_busy = results[f"{size}_{name}_b"] * b_cpu / 1000
    return (
        f"decode_cpu {decode:.1f} ms/image ({how}), inference_cpu {inference:.1f} ms/image at batch {BATCH} x "
        f"{results['cpus']} threads; (b) used {b_cpu:.1f} ms CPU/image ({b_cpu / (decode + inference):.2f} x "
        f"decode + inference) and kept {b_busy:.2f} of {results['cpus']} CPUs busy"
    )


def _shown(value: float | str) -> str:
    return f"{value:.1f} images/s" if isinstance(value, float) else value


def goals(results: dict[str, Any], sizes: list[str], models: list[str]) -> list[tuple[str, float | None, float]]:
    """(goal, measured ratio or None when not measured, target) for each goal of issue 16 that was run."""
    out: list[tuple[str, float | None, float]] = []

    def r(key: str) -> float | None:
        value = results.get(key)
        return value if isinstance(value, float) else None

    def ratio(top: str, bottom: str) -> float | None:
        a, b = r(top), r(bottom)
        return a / b if a is not None and b else None

    if "4032x3024" in sizes:
        out.append(("4032x3024 fp32 (b)/(a)", ratio("4032x3024_fp32_b", "4032x3024_fp32_a"), 0.70))
        out.append(("4032x3024 fp32 (b)/(d)", ratio("4032x3024_fp32_b", "4032x3024_fp32_d"), 4.0))
        if "int8" in models:
            out.append(("4032x3024 int8 (b)/(d)", ratio("4032x3024_int8_b", "4032x3024_int8_d"), 6.0))
    if "640x480" in sizes:
        out.append(("640x480 fp32 (b)/(a)", ratio("640x480_fp32_b", "640x480_fp32_a"), 0.85))
        if PROXY:
            out.append(
                ("640x480 fp32 (c')/(d') latency proxy", ratio("640x480_fp32_c_proxy", "640x480_fp32_d_proxy"), 5.0)
            )
    if "4032x3024" in sizes:
        rss = r("4032x3024_fp32_rss_b")
        # Expressed as headroom: 1.5 GiB / peak RSS >= 1 means "under 1.5 GiB".
        out.append(("4032x3024 peak RSS (b) under 1.5 GiB (1.5 GiB / RSS)", 1.5 * GIB / rss if rss else None, 1.0))
    for size in sizes:
        for name in models:
            out.append((f"{size} {name} (b)/(e) Ray Data", ratio(f"{size}_{name}_b", f"{size}_{name}_e"), 1.2))
    return out


def _report(results: dict[str, Any], sizes: list[str], models: list[str]) -> None:
    columns = ["a", "batch1", "b", "c", "d", "c_proxy", "d_proxy", "e"]
    titles = ["(a) batched", "batch-1", "(b) local", "(c) run", "(d) article", "(c') proxy", "(d') proxy", "(e) Ray"]
    print("  images/s " + " | ".join(f"{t:>11}" for t in titles) + " | RSS (b) | RSS (c)")
    for size in sizes:
        for name in models:
            cells = []
            for column in columns:
                value = results.get(f"{size}_{name}_{column}")
                cells.append(f"{value:11.1f}" if isinstance(value, float) else f"{'-':>11}")
            rss = [results.get(f"{size}_fp32_rss_{k}") if name == "fp32" else None for k in "bc"]
            shown = [f"{v / GIB:6.2f}G" if isinstance(v, float) else f"{'-':>7}" for v in rss]
            print(f"  {size:>9} {name}: " + " | ".join(cells) + " | " + " | ".join(shown))
    for size in sizes:
        for name in models:
            value = results.get(f"{size}_{name}_e")
            if isinstance(value, str):
                print(f"  (e) {size} {name}: {value}")
    for goal, value, target in goals(results, sizes, models):
        verdict = "not measured" if value is None else ("met" if value >= target else "MISSED")
        figure = "-" if value is None else f"{value:.2f}"
        goal_size, goal_model, what = [*goal.split(" ", 2), "", ""][:3]
        bound = results.get(f"{goal_size}_{goal_model}_bound") if what == "(b)/(a)" else None
        beside = f"; {_bound_line(results, goal_size, goal_model)}" if isinstance(bound, float) else ""
        print(f"  goal {goal} >= {target}: {figure} ({verdict}){beside}")
    for size in sizes:
        for name in models:
            if isinstance(results.get(f"{size}_{name}_bound"), float):
                print(f"  bound {size} {name}: {_cost_line(results, size, name)}; {_bound_line(results, size, name)}")
    if "int8_cosine_min" in results:
        print(f"  int8 vs fp32 cosine, min over unseen images: {results['int8_cosine_min']:.4f}")
    print(
        f"  draft decode: {results['draft_checks']} sampled checks against full decode, worst PSNR "
        f"{results['draft_worst_psnr']:.1f} dB, drafting {'on' if results['draft_enabled'] else 'turned OFF'} at the end"
    )
    print(
        f"embeddings: done in {results['seconds']:.0f} s; load average {results['load_average_start']:.1f} at start, "
        f"{results['load_average_end']:.1f} at end (2 CPUs; figures are best of {ROUNDS} rounds)"
    )

"""Reads in flight adapt to latency (ReadLimit) and image bytes in flight stay under a cap, in run and local."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from batch_job.engine import Embedder
from batch_job.errors import JobError
from batch_job.local import run_local
from batch_job.pipeline import ByteBudget, Failure, ReadLimit, Reserve, embed_stream
from numpy.typing import NDArray

from tests.batch_job import images
from tests.batch_job.tiny_model import tiny_model


class ListSink:
    def __init__(self) -> None:
        self.ids: list[str] = []

    def write(self, image_ids: list[str], vectors: NDArray[np.float32]) -> list[Failure]:
        self.ids.extend(image_ids)
        return []

    def close(self) -> list[Failure]:
        return []


class SlowReader:
    """Serves in-memory images after ``delay`` seconds (a network's first byte), counting reads in flight."""

    def __init__(self, data: dict[str, bytes], delay: float) -> None:
        self.data, self.delay = data, delay
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, image_id: str, reserve: Reserve) -> bytes:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            reserve(len(self.data[image_id]))
            if self.delay:
                time.sleep(self.delay)
            return self.data[image_id]
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder(tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.onnx"))


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    picture = images.jpeg(images.photo(640, 480, seed=4))
    return {f"img-{n:03d}.jpg": picture for n in range(120)}


def test_limit_follows_littles_law_between_its_bounds() -> None:
    # GIVEN two decoders taking 3 ms an image
    limit = ReadLimit(64, 2, alpha=1.0)
    assert limit.limit == 4  # before anything is measured
    limit.decoded(0.003)
    # WHEN reads take 50 ms THEN 2 x 50 / 3 = 34 reads (+2) keep both decoders busy
    limit.acquire()
    limit.release(0.050)
    assert limit.limit == 36
    # a 500 ms read would want 336: capped at 64
    limit.acquire()
    limit.release(0.5)
    assert limit.limit == 64
    # reads from the page cache (50 us) need no more than one per decoder (+1)
    limit.acquire()
    limit.release(0.00005)
    assert limit.limit == 3 and limit.in_flight == 0 and limit.peak == 1


def test_reads_in_flight_grow_with_latency(tiny: Embedder, photos: dict[str, bytes]) -> None:
    # GIVEN reads with a 50 ms first byte, two decoders and room for 64 reads
    slow = SlowReader(photos, 0.05)
    reads = ReadLimit(64, 2)
    summary, failures = embed_stream(
        sorted(photos), slow, tiny, ListSink(), batch_size=16, workers=64, decoders=2, reads=reads
    )
    # THEN everything is embedded, and far more reads than decoders were in flight (the old fixed pool had 8)
    assert summary.embedded == len(photos) and not failures
    assert reads.peak > 8 and slow.peak == reads.peak <= 64
    assert reads.limit > 8


def test_reads_in_flight_stay_few_without_latency(tiny: Embedder, photos: dict[str, bytes]) -> None:
    # GIVEN reads from memory (no waiting) WHEN the same images are embedded with room for 64 reads
    fast = SlowReader(photos, 0.0)
    reads = ReadLimit(64, 2)
    summary, _ = embed_stream(
        sorted(photos), fast, tiny, ListSink(), batch_size=16, workers=64, decoders=2, reads=reads
    )
    # THEN about one read per decoder sufficed: the pool did not open 64 reads (and hold their bytes)
    assert summary.embedded == len(photos)
    assert reads.peak <= 4 and reads.limit <= 4


def test_local_keeps_image_bytes_in_flight_under_the_cap(tmp_path: Path, tiny: Embedder) -> None:
    # GIVEN 16 detailed 1200x900 JPEGs (about 0.3 MB each) and a cap of three of them on bytes in flight
    folder = tmp_path / "photos"
    folder.mkdir()
    sizes = []
    pictures = [images.detailed_photo(1200, 900, seed=seed) for seed in range(2)]
    for n in range(16):
        data = images.encode(pictures[n % 2].rotate(n), "JPEG", quality=85)
        (folder / f"p{n:02d}.jpg").write_bytes(data)
        sizes.append(len(data))
    cap = 3 * max(sizes)
    budget = ByteBudget(cap)
    reads = ReadLimit(16, 2)
    # WHEN local embeds them with 16 reads allowed
    summary, failures = run_local(folder, tmp_path / "out.parquet", tiny, workers=16, budget=budget, reads=reads)
    # THEN all are embedded and never more than the cap was held
    assert summary.embedded == 16 and not failures
    assert max(sizes) <= budget.peak <= cap and budget.in_flight == 0
    assert budget.peak < sum(sizes)


def test_local_refuses_a_byte_cap_below_the_file_limit(tmp_path: Path, tiny: Embedder) -> None:
    with pytest.raises(JobError, match=r"--max-bytes-in-flight \(1000\) must be at least the 67108864-byte file limit"):
        run_local(tmp_path, tmp_path / "out.parquet", tiny, max_bytes_in_flight=1000)

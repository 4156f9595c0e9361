"""The streaming pipeline shared by ``run`` and ``local``.

    read (thread pool) -> decode + preprocess (same threads) -> batch -> ONNX Runtime (calling thread)
        -> sink (one writer thread: Parquet or DynamoDB)

Reads and decodes overlap inference: ONNX Runtime and Pillow's decoders release the GIL, and the pool keeps a
window of up to two batches in flight, so the next batch is being decoded while the current one is embedded.
Every listed image ends as exactly one of: written by the sink, or a :class:`Failure` with a reason.

Reads in flight adapt to latency (:class:`ReadLimit`): by Little's law, keeping ``decoders`` threads busy
takes ``decoders x read latency / decode time`` reads in flight, so the limit follows the measured averages
of both, between ``decoders`` and ``workers`` (the thread pool's size). A 50 ms S3 first byte against a
3 ms decode asks for about 35 reads in flight on two cores; files in the page cache, about two.

Bytes in flight: a reader calls ``reserve(size)`` with the image's size before it downloads anything, and
the image's bytes count against a :class:`ByteBudget` until they are decoded (or the image has failed), so
the raw bytes held at once stay under the budget however large the images are, not only the number of reads.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import numpy as np
from numpy.typing import NDArray

from batch_job.engine import Embedder, usable_cpus
from batch_job.errors import ImageError, SourceError
from batch_job.preprocess import CROP, preprocess

# reader(image_id, reserve) -> the image's bytes. A reader that knows the size before reading calls
# reserve(size) first (at most once), and then returns at most that many bytes.
Reserve = Callable[[int], None]
# Default of --max-bytes-in-flight (run and local): image bytes read (or being read) and not yet decoded, at
# once. Four of the largest allowed images (64 MiB); about a hundred 12-MP JPEGs of 2.5 MB.
MAX_BYTES_IN_FLIGHT = 256 * 1024 * 1024
Reader = Callable[[str, Reserve], bytes]


class ByteBudget:
    """Bytes that may be in flight at once (reserved, downloaded, not yet decoded); first come, first served.

    ``acquire(n)`` waits until ``n`` more bytes fit under ``limit`` and every earlier waiter has been served
    (so a large image is not starved by a stream of small ones). ``peak`` is the most ever held at once.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self.waited = 0  # acquisitions that had to wait for room
        self._condition = threading.Condition()
        self._tickets = 0
        self._serving = 0

    def acquire(self, size: int) -> None:
        if not 0 <= size <= self.limit:
            raise ValueError(f"cannot reserve {size} bytes of a {self.limit}-byte budget")
        with self._condition:
            ticket = self._tickets
            self._tickets += 1
            if ticket != self._serving or self.in_flight + size > self.limit:
                self.waited += 1
            self._condition.wait_for(lambda: ticket == self._serving and self.in_flight + size <= self.limit)
            self._serving += 1
            self.in_flight += size
            self.peak = max(self.peak, self.in_flight)
            self._condition.notify_all()

    def release(self, size: int) -> None:
        with self._condition:
            self.in_flight -= size
            self._condition.notify_all()


class ReadLimit:
    """How many reads may be in flight at once, adapted to the measured read latency and decode time.

    ``limit = ceil(decoders x read seconds / decode seconds) + decoders``, kept between ``low`` (the number
    of decoders) and ``high``; both times are exponentially weighted moving averages (``alpha``) of what
    readers report. It starts at ``2 x decoders`` (or ``high``) until both have been measured. ``peak`` is
    the most reads ever in flight at once. A read's time includes any wait for room in the byte budget, so a
    budget-bound job may open more reads than it can use; they wait, holding no bytes, and ``high`` bounds them.
    """

    def __init__(self, high: int, decoders: int, *, alpha: float = 0.2) -> None:
        if high < 1 or decoders < 1:
            raise ValueError(f"high and decoders must be >= 1, got {high} and {decoders}")
        self.high, self.decoders, self.alpha = high, decoders, alpha
        self.low = min(high, decoders)
        self.limit = min(high, 2 * decoders)
        self.in_flight = 0
        self.peak = 0
        self.read_seconds: float | None = None
        self.decode_seconds: float | None = None
        self._condition = threading.Condition()

    def acquire(self) -> None:
        with self._condition:
            self._condition.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def release(self, seconds: float) -> None:
        """One read ended (successfully or not) after ``seconds``."""
        with self._condition:
            self.in_flight -= 1
            self.read_seconds = self._average(self.read_seconds, seconds)
            self._adapt()
            self._condition.notify_all()

    def decoded(self, seconds: float) -> None:
        """One image was decoded and preprocessed in ``seconds``."""
        with self._condition:
            self.decode_seconds = self._average(self.decode_seconds, seconds)
            self._adapt()
            self._condition.notify_all()

    def _average(self, current: float | None, sample: float) -> float:
        return sample if current is None else current + self.alpha * (sample - current)

    def _adapt(self) -> None:
        if self.read_seconds is None or self.decode_seconds is None:
            return
        wanted = math.ceil(self.decoders * self.read_seconds / max(self.decode_seconds, 1e-4)) + self.decoders
        self.limit = max(self.low, min(self.high, wanted))


@dataclass(frozen=True)
class Failure:
    """One image that was not embedded, and why."""

    image_id: str
    error: str
    # True when the environment (network, permissions, throttling) is to blame, not the image.
    infrastructure: bool = False

    def record(self) -> dict[str, str]:
        """The failures-file line (interface): ``{"image_id", "error"}``."""
        return {"image_id": self.image_id, "error": self.error}


class Sink(Protocol):
    """Where vectors go. ``write`` runs on the writer thread; both may raise JobError for systemic faults."""

    def write(self, image_ids: list[str], vectors: NDArray[np.float32]) -> list[Failure]:
        """Store one batch; returns the images that could not be stored (with the reason)."""
        ...

    def close(self) -> list[Failure]:
        """Flush what is buffered; returns the images that could not be stored."""
        ...


@dataclass
class Summary:
    listed: int
    embedded: int
    failed: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.listed / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"summary: images={self.listed} embedded={self.embedded} failed={self.failed} "
            f"seconds={self.seconds:.2f} images/s={self.images_per_second:.1f}"
        )


class Progress:
    """Progress on stderr: a bar with rate and ETA (tqdm) on a terminal; otherwise a plain line every
    ``every`` images (and at the end) with the rate and ETA, which logs (CloudWatch, CI) keep readable.

    ``tty`` forces one or the other (default: whether ``stream`` is a terminal). :meth:`close` ends the bar.
    """

    def __init__(self, total: int, *, every: int = 200, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.total, self.every, self.stream = total, max(1, every), stream or sys.stderr
        self.start = time.perf_counter()
        self._next = self.every
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self._bar: Any = None
        if tty:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                file=self.stream,
                unit="img",
                desc="embedding",
                dynamic_ncols=True,
                mininterval=0.25,
                smoothing=0.1,
            )

    def update(self, done: int, failed: int) -> None:
        if self._bar is not None:
            if done > self._bar.n:
                self._bar.set_postfix_str(f"{failed} failed", refresh=False)
                self._bar.update(done - self._bar.n)
            return
        if done < self._next and done != self.total:
            return
        self._next = done + self.every
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = done / elapsed
        eta = f", ETA {_duration((self.total - done) / rate)}" if rate > 0 and done < self.total else ""
        print(
            f"progress: {done}/{self.total} images ({failed} failed), {rate:.1f} images/s{eta}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _load(
    image_id: str, read: Reader, decode_slots: threading.Semaphore, budget: ByteBudget | None, reads: ReadLimit
) -> tuple[str, NDArray[np.float32] | Failure]:
    held = 0

    def reserve(size: int) -> None:
        nonlocal held
        if held or budget is None:
            return
        budget.acquire(size)
        held = size

    try:
        reads.acquire()
        started = time.perf_counter()
        try:
            data = read(image_id, reserve)
        finally:
            reads.release(time.perf_counter() - started)
        if budget is not None and len(data) > held:
            raise SourceError(f"read {len(data)} bytes, more than the {held} it declared", infrastructure=False)
        # Reads may wait on the network in parallel; decoding is CPU work, so only a few threads do it at
        # once and the inference threads keep their cores.
        with decode_slots:
            started = time.perf_counter()
            tensor = preprocess(data)
            reads.decoded(time.perf_counter() - started)
            return image_id, tensor
    except ImageError as exc:
        return image_id, Failure(image_id, str(exc))
    except SourceError as exc:
        return image_id, Failure(image_id, str(exc), infrastructure=exc.infrastructure)
    except Exception as exc:  # never let one image stop the job
        return image_id, Failure(image_id, f"unexpected {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        if held and budget is not None:
            budget.release(held)


class _Writer:
    """Runs the sink on one background thread so writes overlap inference; re-raises its errors."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.failures: list[Failure] = []
        self.given = 0  # vectors handed to the sink; written = given - failures once closed
        self._queue: queue.Queue[tuple[list[str], NDArray[np.float32]] | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="batch-job-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain after a systemic error; the main thread re-raises it
            ids, vectors = item
            try:
                self.failures.extend(self.sink.write(ids, vectors))
                self.given += len(ids)
            except BaseException as exc:
                self._error = exc

    def put(self, ids: list[str], vectors: NDArray[np.float32]) -> None:
        self._raise_if_failed()
        self._queue.put((ids, vectors))

    def close(self) -> None:
        """Wait for every queued batch, then let the sink flush; raises the writer's error if any."""
        self.stop()
        self._raise_if_failed()
        self.failures.extend(self.sink.close())

    def stop(self) -> None:
        """End the writer thread after what is queued (the sink is not closed)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


def embed_stream(
    image_ids: Sequence[str],
    read: Reader,
    embedder: Embedder,
    sink: Sink,
    *,
    batch_size: int = 32,
    workers: int = 4,
    decoders: int | None = None,
    progress: Progress | None = None,
    budget: ByteBudget | None = None,
    reads: ReadLimit | None = None,
) -> tuple[Summary, list[Failure]]:
    """Embed every image in ``image_ids`` (read with ``read``) into ``sink``; returns summary and failures.

    Up to ``workers`` threads read concurrently, as many as :class:`ReadLimit` (``reads``; default: one
    with ``workers`` as its ceiling) finds the latency needs; at most ``decoders`` of them decode at once
    (default: one per usable CPU), so a wide read pool never floods the cores that inference needs. With a
    ``budget``, the bytes of images read but not yet decoded stay within it (readers must reserve each
    image's size before reading it, see :data:`Reader`).
    """
    decoders = decoders or usable_cpus()
    decode_slots = threading.Semaphore(decoders)
    reads = reads or ReadLimit(workers, decoders)
    workers = max(workers, reads.high)
    start = time.perf_counter()
    failures: list[Failure] = []
    batch = np.empty((batch_size, 3, CROP, CROP), dtype=np.float32)
    batch_ids: list[str] = []
    window = 2 * batch_size + workers
    next_index = 0
    done_count = 0
    pending: set[Future[tuple[str, NDArray[np.float32] | Failure]]] = set()
    writer = _Writer(sink)

    def flush() -> None:
        if batch_ids:
            vectors = embedder.embed(batch[: len(batch_ids)])
            writer.put(list(batch_ids), vectors)
            batch_ids.clear()

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch-job-read") as pool:
            while pending or next_index < len(image_ids):
                while len(pending) < window and next_index < len(image_ids):
                    pending.add(pool.submit(_load, image_ids[next_index], read, decode_slots, budget, reads))
                    next_index += 1
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.discard(future)
                    image_id, result = future.result()
                    done_count += 1
                    if isinstance(result, Failure):
                        failures.append(result)
                        continue
                    batch[len(batch_ids)] = result
                    batch_ids.append(image_id)
                    if len(batch_ids) == batch_size:
                        # Keep the pool busy with the next window while this batch is embedded.
                        while len(pending) < window and next_index < len(image_ids):
                            pending.add(pool.submit(_load, image_ids[next_index], read, decode_slots, budget, reads))
                            next_index += 1
                        flush()
                if progress is not None:
                    progress.update(done_count, len(failures))
            flush()
    except BaseException:
        writer.stop()
        raise
    finally:
        if progress is not None:
            progress.close()
    writer.close()
    failures.extend(writer.failures)
    seconds = time.perf_counter() - start
    embedded = writer.given - len(writer.failures)
    return Summary(len(image_ids), embedded, len(failures), seconds), failures

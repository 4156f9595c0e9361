"""Error types: per-image failures (the job goes on) versus job-level errors (the job stops)."""

from __future__ import annotations

# Exit codes of ``python -m batch_job``.
EXIT_OK = 0
EXIT_SYSTEMIC = 1  # the job could not do its work (no model, manifest or table; every image failed on AWS)
EXIT_USAGE = 2  # bad arguments or environment


class JobError(Exception):
    """A job-level error: printed as one line, then the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_SYSTEMIC) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ImageError(Exception):
    """One image cannot be embedded (corrupt, truncated, not an image, too many pixels...)."""


class SourceError(Exception):
    """One image cannot be read from where it is stored (missing object, access denied, network)."""

    def __init__(self, message: str, *, infrastructure: bool) -> None:
        super().__init__(message)
        # True when the cause is the environment (network, throttling, permissions), not the image itself.
        self.infrastructure = infrastructure


def printable(text: str, limit: int = 300) -> str:
    """``text`` safe to quote in a one-line message: characters that are not printable (newlines, ANSI
    escapes, format characters, lone surrogates) written as Python escapes; at most ``limit`` characters of
    ``text`` are kept (then ``...``)."""
    kept = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[:limit])
    return kept if len(text) <= limit else kept + "..."

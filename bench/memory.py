"""Retained memory (tracemalloc, allocated blocks) and the abandoned-stream check.

Retained memory is measured after a warm-up (first-call caches, lazily built SDK models, interned strings are
not leaks), with the batch processors drained and a full garbage collection before every reading, so what is
left is what the calls keep alive. We read at the start, half-way and at the end: a per-call leak grows in the
second half as much as in the first, one-off growth does not.

Two measures: ``tracemalloc`` bytes (one frame per allocation; tracing makes an SDK call ~5x slower, so it is
used where the issue asks for bytes) and ``sys.getallocatedblocks()`` (the interpreter's count of live memory
blocks: free to read, so the uninstrumented baseline uses it too). Where bytes are retained, a short second run
with deep tracebacks names the allocation sites.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

SITE_FRAMES = 12  # enough to get from a stdlib allocation up to the code that asked for it
ZERO_BYTES = 1.0  # "zero retained per call": less than one byte per call cannot be a structure kept per call


@dataclass
class Retained:
    label: str
    calls: int
    traced: bool
    total_bytes: int = 0  # traced memory after all calls minus before them (traced runs only)
    second_half_bytes: int = 0
    total_blocks: int = 0  # allocated blocks after all calls minus before them
    second_half_blocks: int = 0
    top: list[tuple[str, int]] = field(default_factory=list)  # allocation site → bytes still held

    @property
    def per_call(self) -> float:
        return self.total_bytes / self.calls if self.calls else 0.0

    @property
    def second_half_per_call(self) -> float:
        half = self.calls - self.calls // 2
        return self.second_half_bytes / half if half else 0.0

    @property
    def blocks_per_call(self) -> float:
        return self.total_blocks / self.calls if self.calls else 0.0


def _settle(flush: Callable[[], None]) -> tuple[int, int]:
    flush()
    gc.collect()
    flush()  # spans ended by finalisers during the collection
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    return traced, sys.getallocatedblocks()


def retained(
    label: str, call: Callable[[], None], calls: int, warmup: int, flush: Callable[[], None], *, traced: bool
) -> Retained:
    """Memory still held after ``calls`` calls of ``call`` (after ``warmup`` calls that are not counted)."""
    for _ in range(warmup):
        call()
    _settle(flush)
    if traced:
        tracemalloc.start(1)
    try:
        start = _settle(flush)
        half = calls // 2
        for _ in range(half):
            call()
        middle = _settle(flush)
        for _ in range(calls - half):
            call()
        end = _settle(flush)
    finally:
        if traced:
            tracemalloc.stop()
    return Retained(
        label,
        calls,
        traced,
        total_bytes=end[0] - start[0],
        second_half_bytes=end[0] - middle[0],
        total_blocks=end[1] - start[1],
        second_half_blocks=end[1] - middle[1],
    )


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _site(stat: tracemalloc.StatisticDiff) -> str:
    """The innermost frame outside the standard library: where ours, the OTel SDK or openai allocated."""
    frames = list(stat.traceback)  # oldest first
    for frame in reversed(frames):
        if "site-packages" in frame.filename or "llmtel" in frame.filename or "/bench/" in frame.filename:
            return f"{_short(frame.filename)}:{frame.lineno}"
    return f"{_short(frames[-1].filename)}:{frames[-1].lineno}"


def sites(call: Callable[[], None], calls: int, flush: Callable[[], None], top: int = 3) -> list[tuple[str, int]]:
    """Where the memory that ``calls`` more calls leave behind was allocated (deep tracebacks; slow)."""
    _settle(flush)
    tracemalloc.start(SITE_FRAMES)
    try:
        _settle(flush)
        before = tracemalloc.take_snapshot()
        for _ in range(calls):
            call()
        _settle(flush)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    found: dict[str, int] = {}
    for stat in after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback"):
        if stat.size_diff > 0:
            site = _site(stat)
            found[site] = found.get(site, 0) + stat.size_diff
    return sorted(found.items(), key=lambda item: -item[1])[:top]


@dataclass
class Abandoned:
    streams: int
    chunks_read: int
    started: int
    ended_without_gc: int  # ended as soon as the app dropped the stream (reference counting)
    ended: int  # after a full collection
    exported: int  # GenAI spans the exporter received
    memory: Retained

    @property
    def open(self) -> int:
        return self.started - self.ended

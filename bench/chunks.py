"""Per-chunk cost, isolated: the SDK's stream iterating chunks it has already parsed.

End to end, one chunk costs the SDK ~100x what it costs the instrumentation (SSE or event-stream decoding, JSON,
pydantic), so a per-chunk overhead of a microsecond drowns in the run-to-run noise of the SDK's own work. Here the
SDK's real stream object (behind our proxy, the floor's generator, or nothing) yields real chunk objects parsed
beforehand (a 200-chunk scenario's, its middle chunks repeated for the long stream), so only the per-chunk work of
the instrumentation differs between configurations: openai's and anthropic's ``Stream``, botocore's
``EventStream`` and google-genai's ``generate_content_stream`` generator, each fed where the SDK itself gets its
parsed chunks from (:attr:`bench.scenarios.Api.feed`: patched on the SDK's class, below whatever the
instrumentation wraps, for the length of one stream).
Each stream is timed from its first ``next()`` to its end, at two lengths; the slope between them is the cost
per chunk, with every per-stream cost (span start and end, end-of-stream metrics) cancelled out.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from collections.abc import Iterable, Iterator
from typing import Any

from .floor import Floor
from .scenarios import Scenario

SHORT, LONG = 200, 2000


def lengthen(chunks: list[Any], total: int, frame: tuple[int, int]) -> list[Any]:
    """The same stream with ``total`` chunks: its middle repeated between the ``frame`` = (head, tail) chunks that
    open and close it (e.g. a role chunk; the finish-reason and usage chunks). Reading a chunk does not change it,
    so sharing is harmless."""
    head_n, tail_n = frame
    head, body, tail = chunks[:head_n], chunks[head_n : len(chunks) - tail_n], chunks[len(chunks) - tail_n :]
    need = total - len(head) - len(tail)
    return [*head, *(body[i % len(body)] for i in range(need)), *tail]


def lengths(scenario: Scenario, total: int = LONG) -> tuple[list[Any], list[Any]]:
    """The scenario's stream as parsed chunks, at both lengths (``total`` the long one; one uninstrumented call)."""
    frame = scenario.spec.frame
    assert frame is not None, scenario.name
    short = scenario.parsed_chunks()
    long = lengthen(short, total, frame)
    assert len(short) == SHORT and len(long) == total, (scenario.name, len(short), len(long))
    return short, long


@contextlib.contextmanager
def fed(scenario: Scenario, chunks: list[Any], floor: Floor | None) -> Iterator[tuple[Any, Iterable[Any]]]:
    """(the stream, what to iterate) of one stream call whose SDK stream yields ``chunks``: the call (instrumented
    or not) happens here; iterating, inside the block, is the work measured. The stream is closed after."""
    with scenario.feeding(chunks):
        stream = scenario.make_stream()
        try:
            yield stream, (floor.stream(lambda: stream) if floor is not None else stream)
        finally:
            stream.close()


def time_iteration(scenario: Scenario, chunks: list[Any], floor: Floor | None) -> int:
    """Nanoseconds to iterate one stream whose SDK stream yields ``chunks``."""
    with fed(scenario, chunks, floor) as (_, iterable):
        t0 = time.perf_counter_ns()
        for _ in iterable:
            pass
        return time.perf_counter_ns() - t0


def slope_us(scenario: Scenario, short: list[Any], long: list[Any], floor: Floor | None, reps: int) -> float:
    """Microseconds per chunk: (median time of the long stream - of the short one) / extra chunks."""
    gc.collect()
    shorts: list[int] = []
    longs: list[int] = []
    for _ in range(reps):  # alternate, so a drift hits both lengths alike
        shorts.append(time_iteration(scenario, short, floor))
        longs.append(time_iteration(scenario, long, floor))
    return (statistics.median(longs) - statistics.median(shorts)) / (len(long) - len(short)) / 1e3

"""Per-chunk cost, isolated: the SDK's ``Stream`` iterating chunks it has already parsed.

End to end, one chunk costs the SDK ~100x what it costs the instrumentation (SSE decoding, JSON, pydantic), so
a per-chunk overhead of a microsecond drowns in the run-to-run noise of the SDK's own work. Here the real
``openai.Stream`` (behind our proxy, the floor's generator, or nothing) yields real ``ChatCompletionChunk``
objects parsed beforehand (the 200-chunk scenario's, its content chunks repeated for the long stream), so only
the per-chunk work of the instrumentation differs between configurations.
Each stream is timed from its first ``next()`` to its end, at two lengths; the slope between them is the cost
per chunk, with every per-stream cost (span start and end, end-of-stream metrics) cancelled out.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from .floor import Floor

SHORT, LONG = 200, 2000


def lengthen(chunks: list[Any], total: int) -> list[Any]:
    """The same stream with ``total`` chunks: the content chunks repeated between the first and the last two
    (role chunk; finish-reason and usage chunks). Reading a chunk does not change it, so sharing is harmless."""
    head, body, tail = chunks[:1], chunks[1:-2], chunks[-2:]
    need = total - len(head) - len(tail)
    return [*head, *(body[i % len(body)] for i in range(need)), *tail]


def time_iteration(make_stream: Callable[[], Any], chunks: list[Any], floor: Floor | None) -> int:
    """Nanoseconds to iterate one stream whose SDK iterator yields ``chunks``."""
    stream = make_stream()  # the SDK call (instrumented or not) happens here, untimed
    stream._iterator = iter(chunks)  # the SDK's Stream reads its items from here (forwarded by our proxy)
    iterable: Iterable[Any] = floor.stream(lambda: stream) if floor is not None else stream
    t0 = time.perf_counter_ns()
    for _ in iterable:
        pass
    elapsed = time.perf_counter_ns() - t0
    stream.close()
    return elapsed


def slope_us(
    make_stream: Callable[[], Any], short: list[Any], long: list[Any], floor: Floor | None, reps: int
) -> float:
    """Microseconds per chunk: (median time of the long stream - of the short one) / extra chunks."""
    gc.collect()
    shorts: list[int] = []
    longs: list[int] = []
    for _ in range(reps):  # alternate, so a drift hits both lengths alike
        shorts.append(time_iteration(make_stream, short, floor))
        longs.append(time_iteration(make_stream, long, floor))
    return (statistics.median(longs) - statistics.median(shorts)) / (len(long) - len(short)) / 1e3

"""Memory probes in fresh interpreters: ``python -m bench.probe {base|ours} REPLIES CALLS STREAMS WARMUP SITES``.

``tracemalloc`` makes an SDK call several times slower, so the traced runs happen in two processes side by
side while the benchmark waits (none of this is timed): one uninstrumented, one instrumented by us. Each runs
chat calls, then abandoned chat streams (read for two chunks, then dropped: no ``close()``, no ``with``, not
exhausted), and prints one JSON object on stdout. The replies come from the parent (a JSON file), so the
probes replay exactly what the timed part did.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import memory, transport
from .floor import OURS as OURS_SCOPE
from .pipeline import Instrumentation, Pipeline
from .scenarios import BASE, Scenario, scenarios

KINDS = ("base", "ours")
CHUNKS_READ = 2


def _scenario(name: str, replies: dict[str, transport.Reply]) -> Scenario:
    scenario = next(s for s in scenarios() if s.name == name)
    scenario.bind(replies[name])
    return scenario


def _chat(instrumented: bool, scenario: Scenario, calls: int, warmup: int, site_calls: int) -> dict[str, Any]:
    pipeline, instrumentation = Pipeline(), Instrumentation()
    instrumentation.set(pipeline if instrumented else None)
    batch = scenario.batch(BASE, asyncio.new_event_loop())  # BASE: the plain call; instrumentation set above

    def call() -> None:
        batch(1)

    label = f"chat (non-stream), {'ours' if instrumented else 'base'}"
    found = memory.retained(label, call, calls, warmup, pipeline.flush, traced=True)
    if found.per_call >= memory.ZERO_BYTES:
        found.top = memory.sites(call, site_calls, pipeline.flush)
    instrumentation.set(None)
    pipeline.shutdown()
    return {"retained": dataclasses.asdict(found)}


def _abandoned(instrumented: bool, scenario: Scenario, streams: int, warmup: int, site_calls: int) -> dict[str, Any]:
    pipeline, instrumentation = Pipeline(count_open_spans=True), Instrumentation()
    counter = pipeline.open_spans
    assert counter is not None
    instrumentation.set(pipeline if instrumented else None)
    client, kwargs = scenario.client, scenario.kwargs
    immediate = [0]

    def abandon() -> None:
        ended = counter.ended
        stream = client.chat.completions.create(**kwargs)
        for _ in range(CHUNKS_READ):
            next(stream)
        del stream  # the app loses interest
        if counter.ended > ended:
            immediate[0] += 1

    for _ in range(warmup):
        abandon()
    pipeline.flush()
    started, ended = counter.started, counter.ended
    exported = pipeline.span_exporter.genai[OURS_SCOPE]
    immediate[0] = 0
    label = f"{streams:,} abandoned chat streams, {'ours' if instrumented else 'base'}"
    found = memory.retained(label, abandon, streams, 0, pipeline.flush, traced=True)  # collects garbage at the end
    result = memory.Abandoned(
        streams=streams,
        chunks_read=CHUNKS_READ,
        started=counter.started - started,
        ended_without_gc=immediate[0],
        ended=counter.ended - ended,
        exported=pipeline.span_exporter.genai[OURS_SCOPE] - exported,
        memory=found,
    )
    if found.per_call >= memory.ZERO_BYTES:
        found.top = memory.sites(abandon, site_calls, pipeline.flush)
    instrumentation.set(None)
    pipeline.shutdown()
    return {"abandoned": dataclasses.asdict(result)}


def probe(kind: str, replies: dict[str, transport.Reply], calls: int, streams: int, warmup: int, sites: int) -> Any:
    instrumented = kind == "ours"
    chat = _chat(instrumented, _scenario("chat", replies), calls, warmup, sites)
    abandoned = _abandoned(instrumented, _scenario("chat_stream", replies), streams, max(1, warmup // 4), sites)
    return {**chat, **abandoned}


class Probes:
    """Both probes, started side by side, each in its own interpreter."""

    def __init__(
        self, replies: dict[str, transport.Reply], calls: int, streams: int, warmup: int, site_calls: int
    ) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self._tmp = tempfile.TemporaryDirectory(prefix="llmtel-bench-")
        path = Path(self._tmp.name) / "replies.json"
        path.write_text(json.dumps({name: reply.to_json() for name, reply in replies.items()}), encoding="utf-8")
        self._procs: dict[str, subprocess.Popen[str]] = {}
        for kind in KINDS:
            args = [kind, str(path), str(calls), str(streams), str(warmup), str(site_calls)]
            self._procs[kind] = subprocess.Popen(
                [sys.executable, "-m", "bench.probe", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=root,
                env=env,
            )

    def results(self) -> dict[str, dict[str, Any]]:
        """Wait for both; kind → its JSON result."""
        found: dict[str, dict[str, Any]] = {}
        for kind, proc in self._procs.items():
            out, err = proc.communicate(timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"memory probe {kind} failed:\n{err[-3000:]}")
            found[kind] = json.loads(out.strip().splitlines()[-1])
        return found

    def close(self) -> None:
        """Stop the probes this object started (if still running) and remove the replies file. Idempotent."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self._tmp.cleanup()


def retained_from(data: dict[str, Any]) -> memory.Retained:
    fields = dict(data)
    fields["top"] = [(str(site), int(size)) for site, size in fields.get("top", [])]
    return memory.Retained(**fields)


def abandoned_from(data: dict[str, Any]) -> memory.Abandoned:
    fields = dict(data)
    fields["memory"] = retained_from(fields["memory"])
    return memory.Abandoned(**fields)


def main(argv: list[str]) -> int:
    kind, path = argv[0], Path(argv[1])
    calls, streams, warmup, sites = (int(a) for a in argv[2:6])
    if kind not in KINDS:
        raise SystemExit(f"unknown probe {kind!r}; one of {', '.join(KINDS)}")
    data = json.loads(path.read_text(encoding="utf-8"))
    replies = {name: transport.Reply.from_json(value) for name, value in data.items()}
    print(json.dumps(probe(kind, replies, calls, streams, warmup, sites)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

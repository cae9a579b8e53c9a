"""Instructions per call, counted by callgrind: the same comparison as the timed rounds, without the host's noise.

On a shared machine one SDK call's time wanders by more than the whole overhead being measured (bench/RESULTS.md,
*Host stability*). ``valgrind --tool=callgrind`` counts the instructions the CPU executes instead: the same code
on the same input gives the same count whatever else the machine is doing. So the per-call overheads, their
ratios to the floor and the per-chunk cost are counted as well as timed. Instructions are not time (a cache miss
costs more than an add), so the timed figures stay; the counts say how much work each configuration does.

How: one child interpreter (``python -m bench.instructions child ...``) runs under callgrind with collection off.
Each measured batch of calls runs inside ``operator.call(batch, n)``, and callgrind is told to collect only
inside CPython's C function behind ``operator.call`` (``--toggle-collect=_operator_call``) and to write one
profile when it leaves it (``--dump-after``). Nothing else in the SDKs or OpenTelemetry calls ``operator.call``,
so profile *k* holds exactly the *k*-th batch: the calls, our instrumentation and the OpenTelemetry SDK, but not
the interpreter's start-up, the set-up, or the batch span processor's export thread. The child writes which batch
was which; the parent reads the profiles' totals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import operator
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import chunks, transport
from .floor import Calibration, Floor
from .pipeline import Instrumentation, Pipeline
from .scenarios import BASE, FLOOR, OURS, Config, Scenario, scenarios

MARKER = "_operator_call"  # the C function of operator.call in CPython 3.10+
CHUNK_CONFIGS = (BASE, FLOOR, OURS)


@dataclass
class Counts:
    """What the child counted: instructions per call and per chunk."""

    calls: int = 0  # calls per batch (non-stream scenarios)
    reps: int = 0  # batches per configuration
    per_call: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # scenario → config → per batch
    per_chunk: dict[str, float] = field(default_factory=dict)  # config → instructions per chunk (isolated)
    seconds: float = 0.0
    skipped: str = ""  # why nothing was counted (no valgrind, ...)

    def median(self, scenario: str, config: str) -> float:
        values = self.per_call.get(scenario, {}).get(config, [])
        return statistics.median(values) if values else float("nan")

    def overhead(self, scenario: str, config: str) -> float:
        return self.median(scenario, config) - self.median(scenario, BASE.name)

    def ratio(self, scenario: str, config: str) -> float:
        floor = self.overhead(scenario, FLOOR.name)
        return self.overhead(scenario, config) / floor if floor > 0 else float("nan")

    def chunk_overhead(self, config: str) -> float:
        base = self.per_chunk.get(BASE.name)
        value = self.per_chunk.get(config)
        return value - base if value is not None and base is not None else float("nan")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def unavailable() -> str:
    """Why instructions cannot be counted here ('' when they can)."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian: apt-get install valgrind)"
    if sys.implementation.name != "cpython":
        return f"callgrind's marker is CPython's {MARKER}; this is {sys.implementation.name}"
    return ""


# -- the parent -------------------------------------------------------------------------------------------------


def _totals(directory: Path, stem: str) -> list[int]:
    """The instruction totals of the numbered profiles ``stem.1``, ``stem.2`` … in order."""
    found: list[tuple[int, int]] = []
    for path in directory.glob(f"{stem}.*"):
        suffix = path.name[len(stem) + 1 :]
        if not suffix.isdigit():
            continue  # the final profile (program end) or a thread's
        match = re.search(r"^(?:summary|totals):\s*(\d+)", path.read_text(encoding="utf-8", errors="replace"), re.M)
        found.append((int(suffix), int(match.group(1)) if match else 0))
    return [total for _, total in sorted(found)]


def measure(replies: dict[str, transport.Reply], calls: int, reps: int, names: tuple[str, ...]) -> Counts:
    """Count instructions in a child under callgrind (see the module docstring). ``names``: the scenarios."""
    reason = unavailable()
    if reason:
        return Counts(calls=calls, reps=reps, skipped=reason)
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p),
        "PYTHONHASHSEED": "0",  # the same dict layouts in every run: the same counts
    }
    with tempfile.TemporaryDirectory(prefix="llmtel-callgrind-") as tmp:
        directory = Path(tmp)
        replies_path, plan_path = directory / "replies.json", directory / "plan.json"
        replies_path.write_text(json.dumps({n: r.to_json() for n, r in replies.items()}), encoding="utf-8")
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={MARKER}",
            f"--dump-after={MARKER}",
            f"--callgrind-out-file={directory / 'cg'}",
            sys.executable,
            "-m",
            "bench.instructions",
            "child",
            str(replies_path),
            str(plan_path),
            str(calls),
            str(reps),
            ",".join(names),
        ]
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=root, env=env, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
        totals = _totals(directory, "cg")
        if len(totals) != len(plan):
            raise RuntimeError(f"callgrind wrote {len(totals)} profiles for {len(plan)} batches: marker not found?")
        return _counts(plan, totals, calls, reps, time.perf_counter() - started)


def _counts(plan: list[list[Any]], totals: list[int], calls: int, reps: int, seconds: float) -> Counts:
    counts = Counts(calls=calls, reps=reps, seconds=seconds)
    lengths: dict[str, dict[int, list[int]]] = {}
    for (kind, scenario, config, n), total in zip(plan, totals, strict=True):
        if kind == "calls":
            counts.per_call.setdefault(scenario, {}).setdefault(config, []).append(total / n)
        else:  # one stream of n chunks
            lengths.setdefault(config, {}).setdefault(n, []).append(total)
    for config, by_length in lengths.items():
        short, long = min(by_length), max(by_length)
        slope = (statistics.median(by_length[long]) - statistics.median(by_length[short])) / (long - short)
        counts.per_chunk[config] = slope
    return counts


# -- the child --------------------------------------------------------------------------------------------------


def _prepare(
    replies: dict[str, transport.Reply],
    names: set[str],
    pipeline: Pipeline,
    instrumentation: Instrumentation,
    loop: asyncio.AbstractEventLoop,
) -> list[Scenario]:
    """The runner's set-up, for the named scenarios: bind, warm up, calibrate the floor."""
    chosen = [s for s in scenarios() if s.name in names]
    for scenario in chosen:
        scenario.bind(replies[scenario.name])
        scenario.batch(BASE, loop)(2)
        calibration = Calibration()
        instrumentation.set(calibration)
        scenario.batch(OURS, loop)(1)
        instrumentation.set(None)
        scenario.shape = calibration.shape()
        scenario.floor = Floor(pipeline, scenario.shape)
        calibration.shutdown()
    return chosen


def _configure(instrumentation: Instrumentation, pipeline: Pipeline, config: Config) -> None:
    instrumentation.set(pipeline if config.instrumented else None, config.env)


def child(replies_path: Path, plan_path: Path, calls: int, reps: int, names: set[str]) -> None:
    data = json.loads(replies_path.read_text(encoding="utf-8"))
    replies = {name: transport.Reply.from_json(value) for name, value in data.items()}
    pipeline, instrumentation, loop = Pipeline(), Instrumentation(), asyncio.new_event_loop()
    chosen = _prepare(replies, names | {"chat_stream"}, pipeline, instrumentation, loop)
    plan: list[list[Any]] = []
    for scenario in chosen:
        if scenario.stream:
            continue
        for config in scenario.configs:
            _configure(instrumentation, pipeline, config)
            batch = scenario.batch(config, loop)
            batch(max(3, calls // 2))  # warm-up: caches, free lists, exemplar reservoirs
            for _ in range(reps):
                pipeline.flush()
                gc.collect()
                operator.call(batch, calls)
                plan.append(["calls", scenario.name, config.name, calls])
    plan += _chunk_batches(instrumentation, pipeline, next(s for s in chosen if s.name == "chat_stream"), reps)
    instrumentation.set(None)
    pipeline.shutdown()
    plan_path.write_text(json.dumps(plan), encoding="utf-8")


def _chunk_batches(instrumentation: Instrumentation, pipeline: Pipeline, scenario: Scenario, reps: int) -> list[Any]:
    """Per chunk, isolated (as bench.chunks): the SDK's Stream over pre-parsed chunks, 200 and 2,000 of them."""
    instrumentation.set(None)
    short = list(scenario.client.chat.completions.create(**scenario.kwargs))
    long = chunks.lengthen(short, chunks.LONG)
    plan: list[Any] = []
    for config in CHUNK_CONFIGS:
        _configure(instrumentation, pipeline, config)
        floor = scenario.floor if config.floor else None
        chunks.time_iteration(lambda: scenario.client.chat.completions.create(**scenario.kwargs), short, floor)
        for _ in range(reps):
            for items in (short, long):
                stream = scenario.client.chat.completions.create(**scenario.kwargs)  # the call itself: not counted
                stream._iterator = iter(items)
                iterable = floor.stream(lambda s=stream: s) if floor is not None else stream
                gc.collect()
                operator.call(_drain, iterable)
                stream.close()
                plan.append(["chunks", scenario.name, config.name, len(items)])
    pipeline.flush()
    return plan


def _drain(iterable: Any) -> None:
    for _ in iterable:
        pass


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "child":
        raise SystemExit("usage: python -m bench.instructions child REPLIES PLAN CALLS REPS SCENARIOS")
    child(Path(argv[1]), Path(argv[2]), int(argv[3]), int(argv[4]), set(argv[5].split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

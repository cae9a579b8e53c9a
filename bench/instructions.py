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
from .pipeline import Instrumentation, Pipeline
from .scenarios import BASE, FLOOR, OURS, Config, Scenario, scenarios

MARKER = "_operator_call"  # the C function of operator.call in CPython 3.10+
CHUNK_CONFIGS = (BASE, FLOOR, OURS)
COUNTED_LONG = 600  # chunks of the long isolated stream here: a count has no noise to average out, so a slope
# between 200 and 600 chunks is as exact as one to 2,000 (bench.chunks.LONG, for the timed slope), at a third of
# the cost under callgrind


@dataclass
class Counts:
    """What the children counted: instructions per call and per chunk."""

    calls: int = 0  # calls per batch (non-stream scenarios)
    reps: int = 0  # batches per configuration
    per_call: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # scenario → config → per batch
    per_chunk: dict[str, dict[str, float]] = field(default_factory=dict)  # stream → config → per chunk (isolated)
    seconds: float = 0.0
    skipped: str = ""  # why nothing was counted (no valgrind, ...)
    errors: dict[str, str] = field(default_factory=dict)  # scenario → why it was not counted (the rest was)

    def median(self, scenario: str, config: str) -> float:
        values = self.per_call.get(scenario, {}).get(config, [])
        return statistics.median(values) if values else float("nan")

    def overhead(self, scenario: str, config: str) -> float:
        return self.median(scenario, config) - self.median(scenario, BASE.name)

    def ratio(self, scenario: str, config: str) -> float:
        floor = self.overhead(scenario, FLOOR.name)
        return self.overhead(scenario, config) / floor if floor > 0 else float("nan")

    def chunk_overhead(self, scenario: str, config: str) -> float:
        found = self.per_chunk.get(scenario, {})
        base, value = found.get(BASE.name), found.get(config)
        return value - base if value is not None and base is not None else float("nan")

    def beyond_floor(self, scenario: str) -> float:
        """Instructions per chunk ours adds beyond the floor (isolated)."""
        return self.chunk_overhead(scenario, OURS.name) - self.chunk_overhead(scenario, FLOOR.name)

    def merge(self, other: Counts) -> None:
        self.per_call.update(other.per_call)
        self.per_chunk.update(other.per_chunk)
        self.errors.update(other.errors)

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


def _load(scenario: Scenario) -> float:
    """A scenario's counted work, roughly: an isolated stream (streams of up to 600 chunks at ~100,000 instructions
    each, per configuration) as much as two non-stream scenarios of three configurations."""
    if scenario.stream:
        return 2.0
    return len(scenario.configs) / 3 / scenario.weight


def share(names: tuple[str, ...], jobs: int) -> list[tuple[str, ...]]:
    """``names`` shared out over ``jobs`` children, by SDK, about equal work each. Under callgrind, importing an
    SDK costs a child as much as counting a scenario or two, so each SDK is imported in one child only."""
    by_sdk: dict[str, list[Scenario]] = {}
    for scenario in scenarios():
        if scenario.name in names:
            by_sdk.setdefault(scenario.sdk, []).append(scenario)
    groups: list[list[str]] = [[] for _ in range(max(1, min(jobs, len(by_sdk))))]
    load = [0.0] * len(groups)
    for members in sorted(by_sdk.values(), key=lambda m: -sum(map(_load, m))):  # the heavy ones first
        k = load.index(min(load))
        groups[k] += [s.name for s in members]
        load[k] += sum(map(_load, members))
    return [tuple(g) for g in groups if g]


def measure(
    replies: dict[str, transport.Reply], calls: int, reps: int, names: tuple[str, ...], jobs: int = 1
) -> Counts:
    """Count instructions in children under callgrind (see the module docstring), ``jobs`` of them side by side
    (a count does not depend on what else runs). ``names``: the scenarios (streams: counted per chunk)."""
    reason = unavailable()
    if reason:
        return Counts(calls=calls, reps=reps, skipped=reason)
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p),
        "PYTHONHASHSEED": "0",  # the same dict layouts in every run: the same counts
    }
    started = time.perf_counter()
    counts = Counts(calls=calls, reps=reps)
    with tempfile.TemporaryDirectory(prefix="llmtel-callgrind-") as tmp:
        directory = Path(tmp)
        replies_path = directory / "replies.json"
        replies_path.write_text(json.dumps({n: r.to_json() for n, r in replies.items()}), encoding="utf-8")
        children: list[tuple[Path, str, subprocess.Popen[str]]] = []
        for k, group in enumerate(share(names, jobs)):
            plan_path, stem = directory / f"plan{k}.json", f"cg{k}"
            command = [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--toggle-collect={MARKER}",
                f"--dump-after={MARKER}",
                f"--callgrind-out-file={directory / stem}",
                sys.executable,
                "-m",
                "bench.instructions",
                "child",
                str(replies_path),
                str(plan_path),
                str(calls),
                str(reps),
                ",".join(group),
            ]
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root, env=env
            )
            children.append((plan_path, stem, proc))
        try:
            for plan_path, stem, proc in children:
                _, err = proc.communicate(timeout=3600)
                if proc.returncode != 0:
                    raise RuntimeError(f"callgrind child failed ({proc.returncode}):\n{err[-3000:]}")
                plan = json.loads(plan_path.read_text(encoding="utf-8"))
                totals = _totals(directory, stem)
                counted = [entry for entry in plan if entry[0] != "error"]
                if len(totals) != len(counted):
                    raise RuntimeError(
                        f"callgrind wrote {len(totals)} profiles for {len(counted)} batches: marker not found?"
                    )
                counts.merge(_counts(plan, totals, calls, reps, 0.0))
        finally:
            for _, _, proc in children:  # the ones this call started, if still running after a failure
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
    counts.seconds = time.perf_counter() - started
    return counts


def _counts(plan: list[list[Any]], totals: list[int], calls: int, reps: int, seconds: float) -> Counts:
    counts = Counts(calls=calls, reps=reps, seconds=seconds)
    lengths: dict[str, dict[str, dict[int, list[int]]]] = {}
    counted = iter(totals)
    for kind, scenario, config, n in plan:
        if kind == "error":  # no batch ran: n is why
            counts.errors[scenario] = str(n)
            continue
        total = next(counted)
        if kind == "failed":  # the batch raised inside the marker: its profile is there, but means nothing
            counts.errors.setdefault(scenario, f"a {config} batch failed (see the child's log)")
        elif kind == "calls":
            counts.per_call.setdefault(scenario, {}).setdefault(config, []).append(total / n)
        else:  # one stream of n chunks
            lengths.setdefault(scenario, {}).setdefault(config, {}).setdefault(n, []).append(total)
    for scenario, by_config in lengths.items():
        if scenario in counts.errors:
            continue
        for config, by_length in by_config.items():
            short, long = min(by_length), max(by_length)
            slope = (statistics.median(by_length[long]) - statistics.median(by_length[short])) / (long - short)
            counts.per_chunk.setdefault(scenario, {})[config] = slope
    for scenario in counts.errors:
        counts.per_call.pop(scenario, None)
    return counts


# -- the child --------------------------------------------------------------------------------------------------


def _configure(instrumentation: Instrumentation, pipeline: Pipeline, config: Config) -> None:
    instrumentation.set(pipeline if config.instrumented else None, config.env)


def _counted(plan: list[list[Any]], entry: list[Any], fn: Any, arg: Any) -> None:
    """Run ``fn(arg)`` inside the marker (one profile); the plan says what it was, or that it failed."""
    try:
        operator.call(fn, arg)
    except Exception as exc:
        print(f"{entry[1]} {entry[2]}: {type(exc).__name__}: {exc}", file=sys.stderr)
        entry = ["failed", *entry[1:]]
    plan.append(entry)


def child(replies_path: Path, plan_path: Path, calls: int, reps: int, names: set[str]) -> None:
    data = json.loads(replies_path.read_text(encoding="utf-8"))
    replies = {name: transport.Reply.from_json(value) for name, value in data.items()}
    pipeline, instrumentation, loop = Pipeline(), Instrumentation(), asyncio.new_event_loop()
    plan: list[list[Any]] = []
    chosen = [s for s in scenarios() if s.name in names]
    for scenario in chosen:  # the runner's set-up: bind, first calls, calibrate the floor
        if scenario.name not in replies:
            scenario.error = "no recorded reply"
        else:
            scenario.setup(replies[scenario.name], instrumentation, pipeline, loop)
        if scenario.error:
            plan.append(["error", scenario.name, "", scenario.error])
    for scenario in chosen:
        if scenario.error:
            continue
        if scenario.stream:
            plan += _chunk_batches(instrumentation, pipeline, scenario, reps)
            continue
        n = scenario.calls(calls)  # fewer for the other providers' scenarios, as timed (a count needs no more)
        for config in scenario.configs:
            _configure(instrumentation, pipeline, config)
            batch = scenario.batch(config, loop)
            batch(max(3, calls // 2))  # warm-up (as many for every scenario): caches, free lists, exemplar reservoirs
            for _ in range(reps):
                pipeline.flush()
                gc.collect()
                _counted(plan, ["calls", scenario.name, config.name, n], batch, n)
    instrumentation.set(None)
    pipeline.shutdown()
    plan_path.write_text(json.dumps(plan), encoding="utf-8")


def _chunk_batches(instrumentation: Instrumentation, pipeline: Pipeline, scenario: Scenario, reps: int) -> list[Any]:
    """Per chunk, isolated (as bench.chunks): the SDK's stream over pre-parsed chunks, 200 and 600 of them."""
    instrumentation.set(None)
    plan: list[Any] = []
    try:
        short, long = chunks.lengths(scenario, COUNTED_LONG)
    except Exception as exc:
        return [["error", scenario.name, "", f"feeding its stream parsed chunks failed ({type(exc).__name__}: {exc})"]]
    for config in CHUNK_CONFIGS:
        _configure(instrumentation, pipeline, config)
        floor = scenario.floor if config.floor else None
        chunks.time_iteration(scenario, short, floor)  # warm-up
        for _ in range(reps):
            for items in (short, long):
                with chunks.fed(scenario, items, floor) as (_, iterable):  # the call itself: not counted
                    gc.collect()
                    _counted(plan, ["chunks", scenario.name, config.name, len(items)], _drain, iterable)
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

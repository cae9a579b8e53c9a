"""Runs the whole benchmark: record replies, calibrate the floor, timed rounds, per-chunk, memory, start-up."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import gc
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from . import chunks, instructions, probe, startup, transport
from .floor import OURS as OURS_SCOPE
from .floor import SCOPE as FLOOR_SCOPE
from .instructions import Counts
from .memory import Abandoned, Retained
from .pipeline import Instrumentation, Pipeline, changed, sdk_methods
from .scenarios import BASE, FLOOR, OURS, Config, Scenario, scenarios

T = TypeVar("T")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True)
class Settings:
    rounds: int = 15
    calls: int = 100  # per configuration, scenario and round, non-stream (streams: calls // 25)
    block: int = 5  # calls per timed block (streams: one stream per block)
    warmup: int = 1  # untimed calls after every switch, before every block (non-stream scenarios)
    chunk_rounds: int = 5  # isolated per-chunk: rounds (every stream scenario that can be fed; the counts judge)
    chunk_reps: int = 5  # isolated per-chunk: streams per length, configuration and round
    memory_calls: int = 10_000
    memory_warmup: int = 1_000  # untraced calls first: caches, free lists and exemplar reservoirs fill up
    site_calls: int = 100  # only when memory is retained: calls traced with deep tracebacks to name the sites
    abandoned: int = 1_000
    startup_runs: int = 5
    startup_importtime: bool = True  # one more child per case under -X importtime, to name the slow imports
    switch_repeats: int = 20
    overlap: bool = False  # subprocesses alongside the timed phases: only for smoke runs (spoils every timing)
    instructions: bool = True  # count instructions under callgrind too (bench.instructions; needs valgrind)
    instruction_calls: int = 20  # calls per counted batch
    instruction_reps: int = 2  # counted batches per configuration (a count barely varies: two show that it does not)
    instruction_jobs: int = 2  # callgrind children side by side, the scenarios shared out (counts do not change)
    output: Path = DEFAULT_OUTPUT
    command: str = "python -m bench"

    @classmethod
    def quick(cls, **overrides: Any) -> Settings:
        base = cls(
            rounds=5, calls=50, chunk_rounds=2, chunk_reps=3, memory_calls=1_000, memory_warmup=200, abandoned=200
        )
        base = replace(base, instruction_calls=6, instruction_reps=1)
        return replace(base, startup_runs=3, switch_repeats=5, **overrides)


@dataclass
class RestoreCheck:
    methods: int  # method-like attributes of the SDK's classes compared
    wrapped: list[str]  # replaced while instrumented
    not_restored: list[str]  # different after uninstrument() from before instrument()


@dataclass
class Results:
    settings: Settings
    scenarios: list[Scenario]
    started: datetime.datetime
    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # (scenario, config) → µs/call/round
    spans: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (scenario, config) → [spans, calls]
    duration_points: tuple[int, int] = (0, 0)  # (points recorded by ours, calls made by ours)
    chunk_slopes: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # scenario → config → µs/round
    memory: list[Retained] = field(default_factory=list)
    abandoned: Abandoned | None = None
    abandoned_base: Retained | None = None  # the same abandoned streams, uninstrumented
    startup: list[startup.StartupCase] = field(default_factory=list)
    instrument_ms: list[float] = field(default_factory=list)
    uninstrument_ms: list[float] = field(default_factory=list)
    restore: RestoreCheck | None = None
    instructions: Counts | None = None
    seconds: float = 0.0


def _rotate(items: Sequence[T], by: int) -> list[T]:
    if not items:
        return []
    k = by % len(items)
    return [*items[k:], *items[:k]]


_T0 = time.perf_counter()


def _log(message: str) -> None:
    # CPU seconds beside the wall clock (ours and our finished children's): on a busy host they say what a run
    # would take on an idle one
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() + children.ru_utime + children.ru_stime
    print(f"[bench {time.perf_counter() - _T0:6.1f}s, cpu {cpu:6.1f}s] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.pipeline = Pipeline()
        self.instrumentation = Instrumentation()
        self.scenarios = scenarios()
        self.by_name = {s.name: s for s in self.scenarios}
        self.results = Results(settings, self.scenarios, datetime.datetime.now(datetime.timezone.utc))
        self._before: dict[str, int] = {}  # the SDK's methods before we ever instrumented
        self.replies: dict[str, transport.Reply] = {}

    # -- set-up ----------------------------------------------------------------------------------------------

    @property
    def active(self) -> list[Scenario]:
        """The scenarios still measured (one that failed says why in its ``error`` and is left out from then on)."""
        return [s for s in self.scenarios if not s.error]

    def _failed(self, scenario: Scenario, what: str, exc: BaseException) -> None:
        scenario.error = f"{what} failed ({type(exc).__name__}: {exc})"
        _log(f"{scenario.name}: {scenario.error}; measuring the others")

    def prepare(self) -> None:
        _log("recording replies from the demo server")
        errors: dict[str, str] = {}
        self.replies = transport.record({s.name: s.record_request() for s in self.scenarios}, errors)
        _log("first calls; calibrating the floor against our own telemetry")
        for scenario in self.scenarios:
            scenario.error = errors.get(scenario.name, "")
            if not scenario.error:
                scenario.setup(self.replies[scenario.name], self.instrumentation, self.pipeline, self.loop)
            if scenario.error:
                _log(f"{scenario.name}: {scenario.error}; measuring the others")

    def check_switching(self) -> None:
        self.instrumentation.set(None)
        before = self._before = sdk_methods()
        self.instrumentation.set(self.pipeline)
        during = sdk_methods()
        self.instrumentation.set(None)
        after = sdk_methods()
        self.results.restore = RestoreCheck(len(before), changed(before, during), changed(before, after))
        ins, unins = self.instrumentation.switch_cost_ms(self.pipeline, self.settings.switch_repeats)
        self.results.instrument_ms, self.results.uninstrument_ms = ins, unins

    # -- timed rounds ----------------------------------------------------------------------------------------

    def _configure(self, config: Config) -> None:
        self.instrumentation.set(self.pipeline if config.instrumented else None, config.env)

    def _spans(self, config: Config) -> int:
        if config.instrumented:
            return self.pipeline.span_exporter.genai[OURS_SCOPE]
        if config.floor:
            return self.pipeline.span_exporter.genai[FLOOR_SCOPE]
        return sum(self.pipeline.span_exporter.genai.values())

    def timed_rounds(self) -> None:
        """Every round: each scenario, its configurations in short blocks, in rotated order and back again.

        The host this runs on may change speed for seconds at a time (shared machines do). So configurations are
        not compared batch against batch: each scenario's calls are cut into blocks of a few calls, and the
        blocks of all its configurations alternate, mirrored (A B C C B A, repeated), within a few hundred
        milliseconds. A slow spell then weighs on every configuration alike. Instrumentation is switched
        before every block (untimed, like the warm-up call after it and the draining of the batch processors).
        """
        s = self.settings
        for r in range(s.rounds):
            _log(f"round {r + 1}/{s.rounds}")
            for scenario in _rotate(self.active, r):
                try:
                    self._round(scenario, r)
                except Exception as exc:
                    self.instrumentation.set(None)
                    for key in [k for k in (*self.results.times, *self.results.spans) if k[0] == scenario.name]:
                        self.results.times.pop(key, None)
                        self.results.spans.pop(key, None)
                    self._failed(scenario, f"timed round {r + 1}", exc)
        self.instrumentation.set(None)
        points = self.pipeline.histogram_points(OURS_SCOPE).get("gen_ai.client.operation.duration", [])
        calls = sum(calls for (_, config), (_, calls) in self.results.spans.items() if config.startswith("ours"))
        self.results.duration_points = (sum(p.count for p in points), calls)

    def _round(self, scenario: Scenario, r: int) -> None:
        """One round of one scenario: its configurations in blocks, A B C C B A."""
        s = self.settings
        per_config = scenario.calls(s.calls)
        block = 1 if scenario.stream else max(1, min(s.block, per_config))
        order = _rotate(scenario.configs, r)
        totals = dict.fromkeys((c.name for c in order), 0)
        counts = dict.fromkeys((c.name for c in order), 0)
        self.pipeline.flush()
        gc.collect()
        for _ in range(max(1, per_config // (2 * block))):
            for config in [*order, *reversed(order)]:
                self._configure(config)
                batch = scenario.batch(config, self.loop)
                spans_before = self._spans(config)
                warmup = 0 if scenario.stream else s.warmup
                batch(warmup)
                self.pipeline.flush()
                totals[config.name] += batch(block)
                counts[config.name] += block
                self.pipeline.flush()
                counted = self.results.spans.setdefault((scenario.name, config.name), [0, 0])
                counted[0] += self._spans(config) - spans_before
                counted[1] += warmup + block
        for name, total in totals.items():
            self.results.times.setdefault((scenario.name, name), []).append(total / counts[name] / 1e3)

    def per_chunk(self) -> None:
        """Isolated per-chunk cost of each configuration, for every stream that can be fed (see bench.chunks)."""
        s = self.settings
        self.instrumentation.set(None)
        streams: list[tuple[Scenario, list[Any], list[Any]]] = []
        for scenario in self.active:
            if scenario.isolated:
                try:
                    streams.append((scenario, *chunks.lengths(scenario)))
                except Exception as exc:
                    self._failed(scenario, "feeding its stream parsed chunks", exc)
        for r in range(s.chunk_rounds):
            for scenario, short, long in _rotate(streams, r):
                if scenario.error:
                    continue
                slopes = self.results.chunk_slopes.setdefault(scenario.name, {})
                try:
                    for config in _rotate((BASE, FLOOR, OURS), r):
                        self._configure(config)
                        floor = scenario.floor if config.floor else None
                        slope = chunks.slope_us(scenario, short, long, floor, s.chunk_reps)
                        slopes.setdefault(config.name, []).append(slope)
                except Exception as exc:
                    self.results.chunk_slopes.pop(scenario.name, None)
                    self._failed(scenario, "the isolated per-chunk measurement", exc)
        self.instrumentation.set(None)
        self.pipeline.flush()

    def count_instructions(self) -> None:
        s = self.settings
        names = tuple(sc.name for sc in self.active if not sc.stream or sc.isolated)
        reason = instructions.unavailable()
        if reason:
            _log(f"instructions: not counted ({reason})")
        else:
            _log(
                f"instructions ({s.instruction_jobs} children under callgrind, {s.instruction_calls} calls x "
                f"{s.instruction_reps} batches; streams: {chunks.SHORT} and {instructions.COUNTED_LONG} parsed chunks)"
            )
        try:
            counts = instructions.measure(
                self.replies, s.instruction_calls, s.instruction_reps, names, s.instruction_jobs
            )
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:  # keep the rest of the run's results
            _log(f"instructions: a callgrind child failed: {exc}")
            counts = instructions.Counts(skipped=f"a callgrind child failed ({type(exc).__name__}; see the log)")
        for name, why in counts.errors.items():
            _log(f"instructions: {name} not counted: {why}")
        self.results.instructions = counts

    # -- memory ----------------------------------------------------------------------------------------------

    def start_memory(self) -> probe.Probes:
        """Retained memory and abandoned streams: traced probes in fresh interpreters (see bench.probe)."""
        s = self.settings
        _log(
            f"memory probes (tracemalloc, two processes): {s.memory_calls:,} chat calls and {s.abandoned:,} "
            "abandoned streams, uninstrumented and instrumented"
        )
        return probe.Probes(self.replies, s.memory_calls, s.abandoned, s.memory_warmup, s.site_calls)

    def finish_memory(self, probes: probe.Probes) -> None:
        try:
            found = probes.results()
        finally:
            probes.close()
        self.results.memory = [probe.retained_from(found[k]["retained"]) for k in ("base", "ours")]
        self.results.abandoned = probe.abandoned_from(found["ours"]["abandoned"])
        self.results.abandoned_base = probe.abandoned_from(found["base"]["abandoned"]).memory

    # -- all -------------------------------------------------------------------------------------------------

    def run(self) -> Results:
        s, t0 = self.settings, time.perf_counter()
        probes: probe.Probes | None = None
        pool = concurrent.futures.ThreadPoolExecutor(1) if s.overlap else None
        try:
            # Smoke runs only (overlap): every subprocess starts early and runs alongside the timed phases.
            startup_cases = pool.submit(startup.measure, s.startup_runs, s.startup_importtime, True) if pool else None
            self.prepare()
            if s.overlap:
                probes = self.start_memory()
            self.check_switching()
            self.timed_rounds()
            _log("isolated per-chunk cost")
            self.per_chunk()
            if s.instructions:
                self.count_instructions()
            if startup_cases is None:
                _log("start-up (subprocesses)")
                self.results.startup = startup.measure(s.startup_runs, s.startup_importtime)
            else:
                self.results.startup = startup_cases.result()
            self.finish_memory(probes or self.start_memory())
            self.instrumentation.set(None)
            if self.results.restore is not None:  # after every switch of the whole run, too
                late = changed(self._before, sdk_methods())
                self.results.restore.not_restored = sorted({*self.results.restore.not_restored, *late})
        finally:
            if probes is not None:
                probes.close()
            if pool is not None:
                pool.shutdown(wait=True)
            self.instrumentation.set(None)
            self.pipeline.shutdown()
            self.loop.close()
        self.results.seconds = time.perf_counter() - t0
        return self.results


def run(settings: Settings) -> Results:
    return Bench(settings).run()


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Per-call overhead of llmtel over the uninstrumented openai SDK, as a ratio to the floor.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls (about a minute)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 15; quick 5)")
    parser.add_argument(
        "--calls", type=int, help="calls per configuration, scenario and round (default 100; quick 50; streams / 25)"
    )
    parser.add_argument("--output", type=Path, help=f"results file (default {DEFAULT_OUTPUT})")
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip the instruction counts under callgrind (a few minutes)"
    )
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.rounds is not None:
        overrides["rounds"] = max(1, args.rounds)
    if args.calls is not None:
        overrides["calls"] = max(1, args.calls)
    if args.output is not None:
        overrides["output"] = args.output
    if args.no_instructions:
        overrides["instructions"] = False
    overrides["command"] = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    return Settings.quick(**overrides) if args.quick else Settings(**overrides)


def write(results: Results) -> Path:
    """Write the results file the settings name, and print the targets."""
    from . import report  # report imports this module

    output = results.settings.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.render(results), encoding="utf-8")
    print(report.summary(results))
    print(f"written to {output}")
    return output


def main(argv: Sequence[str] | None = None) -> int:
    write(run(parse_args(argv)))
    return 0

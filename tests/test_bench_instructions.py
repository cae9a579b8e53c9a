"""The benchmark's instruction counts (bench/instructions.py): callgrind's marker on this interpreter, the child's
batches, reading the profiles, and how the counts judge the targets. The full count runs in ``python -m bench``
(minutes under callgrind); here each part runs on its own, small."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import instructions, report, runner, transport
from bench.instructions import Counts
from bench.scenarios import BASE, FLOOR, OURS, OURS_EVENT_CONTENT, OURS_SPAN_CONTENT, scenarios

ROOT = Path(__file__).resolve().parent.parent
NON_STREAM = ("chat", "embeddings", "responses", "async_chat", "chat_2k", "anthropic", "bedrock", "gemini")
ISOLATED = ("chat_stream", "anthropic_stream", "bedrock_stream", "gemini_stream")


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_callgrind_counts_exactly_what_runs_inside_operator_call(tmp_path: Path) -> None:
    """One profile per ``operator.call``, holding only its own work: a loop 100x longer counts ~100x more."""
    script = (
        "import operator\n"
        "def spin(n):\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        total += i\n"
        "    return total\n"
        "spin(200_000)\n"  # outside any marker: not counted
        "operator.call(spin, 1_000)\n"
        "operator.call(spin, 100_000)\n"
    )
    command = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={instructions.MARKER}",
        f"--dump-after={instructions.MARKER}",
        f"--callgrind-out-file={tmp_path / 'cg'}",
        sys.executable,
        "-c",
        script,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    small, large = instructions._totals(tmp_path, "cg")
    assert 0 < small < large
    assert 80 < large / small < 120


def test_profiles_are_read_in_batch_order(tmp_path: Path) -> None:
    for name, total in (("cg.1", 500), ("cg.2", 700), ("cg.10", 900), ("cg", 123456)):
        (tmp_path / name).write_text(f"# callgrind format\nevents: Ir\nsummary: {total}\n", encoding="utf-8")
    assert instructions._totals(tmp_path, "cg") == [500, 700, 900]  # numeric order; the final profile left out


def test_the_child_runs_every_batch_natively(tmp_path: Path) -> None:
    """Without valgrind the child's batches run all the same (the marker is a plain call): its plan names them.
    One OpenAI and one other provider's scenario of each kind: calls, and streams fed parsed chunks."""
    names = ("chat", "bedrock", "chat_stream", "gemini_stream")
    chosen = [s for s in scenarios() if s.name in names]
    replies = transport.record({s.name: s.record_request() for s in chosen})
    replies_path, plan_path = tmp_path / "replies.json", tmp_path / "plan.json"
    replies_path.write_text(json.dumps({n: r.to_json() for n, r in replies.items()}), encoding="utf-8")
    command = [
        *(sys.executable, "-m", "bench.instructions", "child", str(replies_path), str(plan_path), "2", "1"),
        ",".join(names),
    ]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=300)
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    configs = ("base", "floor", "ours")
    assert plan == [
        *(["calls", "chat", config, 2] for config in configs),
        *(["chunks", "chat_stream", config, length] for config in configs for length in (200, 600)),
        *(["calls", "bedrock", config, 1] for config in configs),  # half the calls: PROVIDER_WEIGHT
        *(["chunks", "gemini_stream", config, length] for config in configs for length in (200, 600)),
    ]


def test_work_is_shared_out_over_the_children_by_sdk() -> None:
    names = tuple(s.name for s in scenarios() if s.name != "responses_stream")  # what the runner counts
    groups = instructions.share(names, 2)
    assert sorted(n for g in groups for n in g) == sorted(names)
    assert groups == [
        ("chat", "chat_stream", "embeddings", "responses", "async_chat", "chat_2k"),
        ("anthropic", "anthropic_stream", "bedrock", "bedrock_stream", "gemini", "gemini_stream"),
    ]
    assert instructions.share(("chat", "embeddings"), 2) == [("chat", "embeddings")]  # one SDK: one child


def _counts() -> Counts:
    """Counts as the child's plan and callgrind's totals give them (two batches per configuration)."""
    per_call = {BASE.name: 1000, FLOOR.name: 1100, OURS.name: 1120, OURS_SPAN_CONTENT.name: 1150}
    per_call[OURS_EVENT_CONTENT.name] = 1190
    plan: list[list[object]] = []
    totals: list[int] = []
    for scenario in NON_STREAM:
        configs = per_call if scenario == "chat_2k" else {k: per_call[k] for k in ("base", "floor", "ours")}
        for config, value in configs.items():
            for rep in range(2):
                plan.append(["calls", scenario, config, 10])
                totals.append(value * 10 + rep * 10)  # the second batch 1 instruction more per call
    for stream in ISOLATED:
        for config, per_chunk in ((BASE.name, 300), (FLOOR.name, 100_300), (OURS.name, 103_300)):
            for length in (200, 2000):
                plan.append(["chunks", stream, config, length])
                totals.append(50_000 + per_chunk * length)
    return instructions._counts(plan, totals, 10, 2, 12.0)


def test_counts_give_overheads_ratios_and_the_per_chunk_slope() -> None:
    counts = _counts()
    assert counts.per_call["chat"]["ours"] == [1120.0, 1121.0]
    assert counts.overhead("chat", OURS.name) == 120.0
    assert counts.ratio("chat", OURS.name) == pytest.approx(1.2)
    assert counts.ratio("chat_2k", OURS_EVENT_CONTENT.name) == pytest.approx(1.9)
    assert counts.per_chunk["gemini_stream"] == {"base": 300.0, "floor": 100_300.0, "ours": 103_300.0}
    assert counts.chunk_overhead("gemini_stream", OURS.name) == 103_000.0
    assert counts.beyond_floor("gemini_stream") == 3000.0
    assert counts.errors == {}


def test_a_scenario_that_failed_in_the_child_is_named_and_the_rest_counted() -> None:
    plan: list[list[object]] = [["error", "gemini", "", "calibrating the floor failed (RuntimeError: no span)"]]
    totals: list[int] = []
    for config in ("base", "floor", "ours"):
        plan.append(["calls", "chat", config, 10])
        totals.append(10_000)
    plan.append(["failed", "bedrock", "ours", 10])  # raised inside the marker: a profile, no figure
    totals.append(123)
    counts = instructions._counts(plan, totals, 10, 1, 1.0)
    assert counts.errors == {
        "gemini": "calibrating the floor failed (RuntimeError: no span)",
        "bedrock": "a ours batch failed (see the child's log)",
    }
    assert set(counts.per_call) == {"chat"}


def test_targets_are_judged_on_the_counts_with_the_timed_verdict_beside() -> None:
    results = runner.Results(runner.Settings(), scenarios(), datetime.datetime.now(datetime.timezone.utc))
    results.instructions = _counts()
    # timed isolated per chunk: the floor adds 15.00 µs, ours 15.50
    slopes = {BASE.name: [0.04], FLOOR.name: [15.04], OURS.name: [15.54]}
    results.chunk_slopes = {stream: slopes for stream in ISOLATED}
    found = {t.name: t for t in report.targets(results)}

    non_stream = found[f"non-streaming overhead ≤ {report.NON_STREAM_RATIO} x floor"]
    assert non_stream.met and non_stream.by_time is False  # no timed rounds here: NaN, not met
    assert non_stream.status == "met (instructions); by time: not met"
    assert non_stream.measured.startswith("instructions: chat 1.20x, embeddings 1.20x")
    assert "anthropic 1.20x, bedrock 1.20x, gemini 1.20x; time:" in non_stream.measured

    chunk = found[report.PER_CHUNK_NAME]
    # 3,000 instructions beyond the floor, at the floor loop's 15 µs per 100,000 instructions: 0.45 µs
    for stream in ISOLATED:
        assert f"{stream} 0.45 µs counted (3,000 instructions), 0.50 timed" in chunk.measured
    assert chunk.met and chunk.by_time is True

    event = next(t for name, t in found.items() if "SPAN_AND_EVENT" in name)
    assert event.met and event.measured.startswith("instructions: chat_2k 1.90x")

    section = "\n".join(report._instruction_section(results))
    assert "| chat (non-stream) | ours | 1,000 | 120 | 1.20x |" in section
    assert (
        "| Gemini generate_content_stream, 200 chunks | 300 | 100,000 | 103,000 | **3,000** | 0.45 | 0.50 |" in section
    )


def test_no_valgrind_means_no_counts_and_time_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    counts = instructions.measure({}, 5, 1, NON_STREAM)
    assert counts.skipped.startswith("valgrind is not installed")
    results = runner.Results(runner.Settings(), scenarios(), datetime.datetime.now(datetime.timezone.utc))
    results.instructions = counts
    assert all(t.by_time is None for t in report.targets(results))
    assert "Not counted in this run: valgrind is not installed" in "\n".join(report._instruction_section(results))

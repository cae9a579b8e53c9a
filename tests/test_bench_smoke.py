"""A tiny run of the overhead benchmark (``python -m bench``), so it never rots. No timing is asserted: only that
every part runs, every row of the results file is there, and the telemetry it measured was real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import report, runner
from bench.scenarios import BASE, FLOOR, OURS, OURS_EVENT_CONTENT, OURS_SPAN_CONTENT

PROVIDER_NAMES = {"openai": "openai", "anthropic": "anthropic", "bedrock": "aws.bedrock", "gemini": "gcp.gemini"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[runner.Results]:
    settings = runner.Settings(
        rounds=1,
        calls=2,
        chunk_rounds=1,
        chunk_reps=1,
        memory_calls=10,
        memory_warmup=3,
        site_calls=2,
        abandoned=10,
        startup_runs=1,
        startup_importtime=False,
        switch_repeats=1,
        overlap=True,
        instructions=False,  # a callgrind child takes minutes: tests/test_bench_instructions.py covers it
        output=tmp_path_factory.mktemp("bench") / "RESULTS.md",
        command="pytest tests/test_bench_smoke.py",
    )
    yield runner.run(settings)


def test_results_file_has_every_row(results: runner.Results) -> None:
    path = runner.write(results)
    text = path.read_text(encoding="utf-8")
    assert text == report.render(results)
    assert "- Command: `pytest tests/test_bench_smoke.py`" in text
    for needle in ("Versions: Python", "openai ", "opentelemetry-sdk ", "llmtel ", "Machine: ", "cpu_count"):
        assert needle in text
    for scenario in results.scenarios:
        assert f"| {scenario.title} | 1 span (" in text
    for scenario in results.scenarios:
        if scenario.stream:
            assert f"| {scenario.title}, end to end |" in text
        if scenario.isolated:
            assert f"| {scenario.title}, isolated (pre-parsed chunks) |" in text
    assert "Not (fully) measured" not in text
    for config in (OURS, OURS_SPAN_CONTENT, OURS_EVENT_CONTENT, FLOOR):
        assert f"| {config.name} |" in text
    for row in ("chat (non-stream), base", "chat (non-stream), ours", "abandoned chat streams, ours"):
        assert row in text
    for case in results.startup:
        assert f"| {case.label} |" in text
    targets = report.targets(results)
    assert len(targets) == 9
    for target in targets:
        assert f"| {target.name} |" in text
        assert target.status in ("met", "**NOT met**")  # no instruction counts: judged on time alone
    assert "## Instructions (callgrind)\n\nNot counted in this run (`--no-instructions`)." in text


def test_every_configuration_was_timed_in_every_round(results: runner.Results) -> None:
    for scenario in results.scenarios:
        for config in scenario.configs:
            times = results.times[(scenario.name, config.name)]
            assert len(times) == results.settings.rounds
            assert all(t > 0 for t in times)
    isolated = {s.name for s in results.scenarios if s.isolated}
    assert isolated == {"chat_stream", "anthropic_stream", "bedrock_stream", "gemini_stream"}
    assert set(results.chunk_slopes) == isolated
    for slopes in results.chunk_slopes.values():
        for config in (BASE, FLOOR, OURS):
            assert len(slopes[config.name]) == results.settings.chunk_rounds


def test_instrumented_calls_produced_genai_spans_and_metrics(results: runner.Results) -> None:
    assert {s.sdk for s in results.scenarios} == {"openai", "anthropic", "bedrock", "gemini"}
    for scenario in results.scenarios:
        assert scenario.error == ""
        assert scenario.shape is not None
        assert scenario.shape.span_name == f"{scenario.spec.operation} {scenario.model}"
        assert scenario.shape.request["gen_ai.provider.name"] == PROVIDER_NAMES[scenario.sdk]
        for config in scenario.configs:
            spans, calls = results.spans[(scenario.name, config.name)]
            assert calls > 0
            # one GenAI span per call from ours and from the floor; none while uninstrumented
            assert spans == (0 if config is BASE else calls), (scenario.name, config.name, spans, calls)
        if scenario.stream:
            assert scenario.chunks == 200
            assert scenario.shape.ttfc is not None and scenario.shape.tpoc_points == 199
    points, calls = results.duration_points
    assert points == calls > 0


def test_abandoned_streams_are_all_ended_and_exported(results: runner.Results) -> None:
    abandoned = results.abandoned
    assert abandoned is not None
    assert abandoned.started == abandoned.streams == 10
    assert abandoned.open == 0
    assert abandoned.exported == abandoned.streams
    assert results.abandoned_base is not None
    assert [m.calls for m in results.memory] == [10, 10]


def test_instrumentation_is_switched_and_restored_exactly(results: runner.Results) -> None:
    restore = results.restore
    assert restore is not None
    assert restore.wrapped, "instrument() replaced nothing"
    # every provider's entry points were wrapped (and restored)
    for method in (
        "openai.resources.chat.completions.completions.Completions.create",
        "anthropic.resources.messages.messages.Messages.create",
        "botocore.client.BaseClient._make_api_call",
        "google.genai.models.Models.generate_content_stream",
    ):
        assert method in restore.wrapped
    assert restore.not_restored == []
    assert results.instrument_ms and results.uninstrument_ms


def test_start_up_cases(results: runner.Results) -> None:
    assert [case.app_imports_openai for case in results.startup] == [True, False]
    for case in results.startup:
        assert len(case.runs_ms) == 1 and case.runs_ms[0] > 0


def test_command_line_options(tmp_path: Path) -> None:
    settings = runner.parse_args(["--quick", "--rounds", "2", "--calls", "9", "--output", str(tmp_path / "r.md")])
    assert (settings.rounds, settings.calls, settings.output) == (2, 9, tmp_path / "r.md")
    assert settings.memory_calls < runner.Settings().memory_calls  # quick
    assert settings.command == f"python -m bench --quick --rounds 2 --calls 9 --output {tmp_path / 'r.md'}"
    default = runner.parse_args([])
    assert (default.rounds, default.memory_calls, default.abandoned) == (15, 10_000, 1_000)
    assert default.instructions and not runner.parse_args(["--no-instructions"]).instructions

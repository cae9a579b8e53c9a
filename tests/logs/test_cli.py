"""``llmtel logs``: wired into an argparse parser as the lead's cli.py will, every flag on a file source, real
subprocesses for the table, summary, export and import, and the collector's OTLP JSON lines files."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import openai
import pytest

from llmtel.logs.cli import main
from llmtel.logs.command import register
from llmtel.logs.record import iso
from tests.conftest import Otel
from tests.logs.conftest import CORPUS, run_cli, write_jsonl
from tests.logs.test_receiver import otlp_json
from tests.logs.test_record import MESSAGES, records_of


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def json_ids(text: str) -> list[int]:
    return [int(json.loads(line)["span_id"], 16) - 1 for line in text.splitlines()]


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "records.jsonl", CORPUS)


def test_register_hands_every_word_to_logs(corpus_file: Path) -> None:
    parser = argparse.ArgumentParser(prog="llmtel")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["logs", "--help"])
    assert args.logs_words == ["--help"]
    args = parser.parse_args(["logs", str(corpus_file), "--json", "--agent", "coder", "--limit", "2"])
    assert args.logs_words == [str(corpus_file), "--json", "--agent", "coder", "--limit", "2"]
    assert args.handler(args) == 0
    assert parser.parse_args(["logs"]).logs_words == []


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], list(reversed(range(30)))),
        (["--agent", "coder"], [i for i in reversed(range(30)) if CORPUS[i]["agent"] == "coder"]),
        (["--model", "gpt-4o-mini"], [i for i in reversed(range(30)) if i % 3 == 0]),
        (["--provider", "gcp.gemini"], [i for i in reversed(range(30)) if i % 3 == 2]),
        (["--conversation", "conv-2"], [i for i in reversed(range(30)) if i % 4 == 2]),
        (["--trace", f"{8:032x}"], [15, 14]),
        (["--since", "2026-05-28T20:52:40Z"], [29, 28, 27, 26]),
        (["--until", "2026-05-28T20:27:40Z"], [1, 0]),
        (["--search", "zebra"], [i for i in reversed(range(30)) if i % 6 == 1]),
        (["--errors"], [28, 21, 14, 7, 0]),
        (["--slow", "2850"], [29, 28]),
        (["--limit", "2"], [29, 28]),
        (["--errors", "--provider", "anthropic"], [28, 7]),
    ],
)
def test_every_filter_on_a_file(corpus_file: Path, flags: list[str], expected: list[int]) -> None:
    assert cli(str(corpus_file), "--json", *flags) == (0, "".join(json.dumps(CORPUS[i]) + "\n" for i in expected))


def test_table_summary_export_import_in_subprocesses(tmp_path: Path, corpus_file: Path) -> None:
    store = tmp_path / "store"
    imported = run_cli("import", str(corpus_file), "--dir", str(store))
    assert (imported.returncode, imported.stdout) == (0, f"imported 30 new record(s) into {store}\n")

    listed = run_cli(str(store), "--errors", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["TIME", "(UTC)", "ID", "AGENT", "PROVIDER/MODEL", "TOKENS", "IN/OUT", "COST",
                              "LATENCY", "ERROR"]  # fmt: skip
    assert [row.split() for row in rows] == [
        ["2026-05-28", "20:54:40", "000000000000001d", "coder", "anthropic/claude-sonnet-4-5-2026", "-", "-",
         "2.90s", "429"],
        ["2026-05-28", "20:47:40", "0000000000000016", "planner", "openai/gpt-4o-mini-2026", "-", "-", "2.20s",
         "429"],
    ]  # fmt: skip

    summary = run_cli("summary", str(store), "--by", "provider", "--json")
    groups = [json.loads(line) for line in summary.stdout.splitlines()]
    anthropic = [r for r in CORPUS if r["provider"] == "anthropic"]
    assert groups[0] == {
        "provider": "anthropic",
        "calls": 10,
        "errors": 2,
        "input_tokens": sum(r["input_tokens"] or 0 for r in anthropic),
        "output_tokens": sum(r["output_tokens"] or 0 for r in anthropic),
        "total_tokens": sum(r["total_tokens"] or 0 for r in anthropic),
        "cost_usd": None,
        "p50_ms": 1400.0,
        "p95_ms": 2900.0,
    }
    table = run_cli("summary", str(store), "--by", "provider").stdout.splitlines()
    assert table[0].split() == ["PROVIDER", "CALLS", "ERRORS", "TOKENS", "IN", "TOKENS", "OUT", "COST", "P50", "P95"]
    assert table[1].split()[:3] == ["anthropic", "10", "2"] and table[1].split()[-2:] == ["1.40s", "2.90s"]

    exported = run_cli("export", str(store), "-o", str(tmp_path / "out.jsonl"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out.jsonl").read_text() == corpus_file.read_text()  # oldest first: the corpus order


def test_usage_errors(tmp_path: Path, corpus_file: Path) -> None:
    bad = run_cli(str(corpus_file), "--since", "someday")
    assert (bad.returncode, bad.stderr) == (
        2,
        "llmtel logs: since: not an ISO time or an age like 10m, 2h, 7d: 'someday'\n",
    )
    missing = run_cli(str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr
    assert cli("show", "ffff", "--source", str(corpus_file))[0] == 1
    assert cli("summary", "--by", "colour", str(corpus_file))[0] == 2
    assert cli("--help")[0] == 0


def test_collector_files(tmp_path: Path, otel: Otel, client: openai.OpenAI) -> None:
    """OTLP JSON lines as the collector's file exporter writes them: the logs file of deploy/ (details events
    only), and a traces file; together they make the same records as in process."""
    otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    spans, logs = otlp_json(otel)
    logs_file = tmp_path / "completions.jsonl"
    logs_file.write_text(json.dumps(logs) + "\n\n" + "not json\n")
    traces_file = tmp_path / "traces.jsonl"
    traces_file.write_text(json.dumps(spans) + "\n")
    (expected,) = records_of(otel)

    status, text = cli(str(logs_file), "--json")
    assert status == 0
    (from_event,) = [json.loads(line) for line in text.splitlines()]
    # the event alone: no start or duration (its time is the event's, the call's end); the rest is there
    log_record = otel.logs()[0].log_record
    assert from_event == {**expected, "time": iso(log_record.timestamp), "duration_ms": None, "stream": None}
    assert cli(str(logs_file), str(traces_file), "--json") == (0, json.dumps(expected) + "\n")


def test_show_renders_a_tool_round_trip(tmp_path: Path) -> None:
    record: dict[str, Any] = dict(
        CORPUS[1],
        system_instructions=[{"type": "text", "content": "Be brief."}],
        input_messages=[
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather",
                                             "arguments": {"city": "Paris"}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}]},
        ],
        tool_definitions=[{"type": "function", "name": "get_weather"}],
    )  # fmt: skip
    status, text = cli("show", record["span_id"], "--source", str(write_jsonl(tmp_path / "one.jsonl", [record])))
    assert status == 0
    assert text.splitlines()[0] == "chat anthropic/claude-sonnet-4-5-2026  2026-05-28T20:27:40.000000Z"
    body = text[text.index("system instructions:") :]
    assert body == (
        "system instructions:\n"
        "  Be brief.\n"
        "tools: get_weather\n"
        "input:\n"
        "  user:\n"
        "    Weather in Paris?\n"
        "  assistant:\n"
        '    → tool call get_weather({"city": "Paris"}) id=c1\n'
        "  tool:\n"
        "    ← tool result id=c1: rainy\n"
        "output:\n"
        "  assistant (finish: stop):\n"
        "    zebra crossing\n"
    )


def test_a_server_url_is_a_source(tmp_path: Path, serve: tuple[str, Path, Any]) -> None:
    """``llmtel logs URL``: a running ``llmtel logs serve`` (on another machine, say) read through its API."""
    import subprocess
    import sys
    import time

    from tests.logs.conftest import Lines, clean_env

    url, served_dir, _ = serve
    now = time.time_ns()
    recent = [dict(r, time=iso(now - (30 - i) * 60 * 10**9)) for i, r in enumerate(CORPUS)]
    imported = run_cli("import", str(write_jsonl(tmp_path / "a.jsonl", recent[:29])), "--dir", str(served_dir))
    assert imported.returncode == 0, imported.stderr
    coder = [r for r in reversed(recent[:29]) if r["agent"] == "coder"]
    listed = run_cli(url, "--json", "--agent", "coder")
    assert listed.stdout == "".join(json.dumps(r) + "\n" for r in coder), listed.stderr
    summary = run_cli("summary", url, "--by", "agent", "--json", "--errors")
    assert [(g["agent"], g["calls"]) for g in map(json.loads, summary.stdout.splitlines())] == [
        (None, 2),
        ("coder", 2),
        ("planner", 1),
    ]
    follow = subprocess.Popen(
        [sys.executable, "-m", "llmtel.logs", "--follow", "--json", url, "--model", "gpt-4o-mini", "--limit", "1"],
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        tail = Lines(follow)
        tail.wait(lambda line: json.loads(line)["span_id"] == recent[27]["span_id"])  # the newest gpt-4o-mini
        live = dict(recent[27], span_id=f"{255:016x}", time=iso(now))
        others = [dict(r, span_id=f"{256 + i:016x}", time=iso(now)) for i, r in enumerate(recent[28:30])]  # not 4o
        run_cli("import", str(write_jsonl(tmp_path / "b.jsonl", [*others, live])), "--dir", str(served_dir))
        tail.wait(lambda line: json.loads(line)["span_id"] == live["span_id"])  # then the live one
        assert [json.loads(line) for _, line in tail.lines] == [recent[27], live]
    finally:
        follow.terminate()
        follow.wait(10)
    unreachable = run_cli("http://127.0.0.1:9/", "--json")
    assert unreachable.returncode == 2 and unreachable.stderr.startswith("llmtel logs: cannot read http://127.0.0.1:9")


def test_registering_imports_nothing_heavy() -> None:
    """Building the llmtel parser must work on a minimal install: no OpenTelemetry SDK, no protobuf."""
    import subprocess
    import sys

    code = (
        "import argparse, sys\n"
        "from llmtel.logs.command import register\n"
        "register(argparse.ArgumentParser().add_subparsers())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'google', 'sqlite3', 'llmtel.logs'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "['llmtel.logs', 'llmtel.logs.command']", out.stderr

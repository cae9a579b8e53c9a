"""Shared by the completion-log tests: a generated corpus with known answers, subprocess helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmtel.logs.record import FIELDS, Record, iso

BASE_NS = 1_780_000_000_000_000_000  # 2026-05-28T20:26:40Z: fixed, so ages are computed against a known "now"
MINUTE = 60 * 10**9
AGENTS = ("planner", "coder", None)
MODELS = ("gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash")
PROVIDERS = {"gpt-4o-mini": "openai", "claude-sonnet-4-5": "anthropic", "gemini-2.5-flash": "gcp.gemini"}
API_KEY = "sk-test-NEVER-IN-A-RECORD-31337"


def corpus_record(i: int) -> Record:
    """Record ``i`` of the corpus: every field derived from ``i`` so each filter's answer is known."""
    model = MODELS[i % 3]
    error = i % 7 == 0
    record: Record = dict.fromkeys(FIELDS)
    record.update(
        time=iso(BASE_NS + i * MINUTE),
        trace_id=f"{i // 2 + 1:032x}",
        span_id=f"{i + 1:016x}",
        service="corpus",
        agent=AGENTS[i % 3 if i % 5 else 2],
        conversation_id=f"conv-{i % 4}",
        provider=PROVIDERS[model],
        operation="chat",
        request_model=model,
        response_model=f"{model}-2026",
        stream=i % 2 == 0,
        duration_ms=float(100 * (i + 1)),
        input_tokens=None if error else 10 + i,
        output_tokens=None if error else 2 * i,
        total_tokens=None if error else 10 + 3 * i,
        finish_reasons=None if error else ["stop"],
        error_type="429" if error else None,
        error_message="Rate limit reached" if error else None,
        server_address="api.example.com",
        input_messages=[{"role": "user", "parts": [{"type": "text", "content": f"question {i} about {model}"}]}],
        output_messages=[
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "zebra crossing" if i % 6 == 1 else f"answer {i}"}],
                "finish_reason": "stop",
            }
        ],
    )
    return record


CORPUS = [corpus_record(i) for i in range(30)]


def write_jsonl(path: Path, records: list[Record]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "LLMTEL_"))}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``llmtel logs ARGS`` in a real subprocess (``python -m llmtel.logs``: the lead wires ``llmtel logs``)."""
    return subprocess.run(
        [sys.executable, "-m", "llmtel.logs", *args],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Lines:
    """A subprocess's stdout lines, read by a thread (with the time each arrived) so tests can wait on them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import time

        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append((time.time(), line.rstrip("\n")))
                self._cond.notify_all()

    def wait(self, predicate: Any, timeout: float = 15) -> tuple[float, str]:
        with self._cond:
            found = self._cond.wait_for(lambda: next((x for x in self.lines if predicate(x[1])), None), timeout)
        assert found, [line for _, line in self.lines]
        return found


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[str, Path, Lines]]:
    """``llmtel logs serve --port 0`` in its own process: (its URL, its store directory, its stdout)."""
    store = tmp_path / "served"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmtel.logs", "serve", "--port", "0", "--dir", str(store)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = Lines(proc)
    try:
        _, first = lines.wait(lambda line: "OTLP/HTTP and API on" in line)
        url = first.split(" on ")[1].split(",")[0]
        yield url, store, lines
    finally:
        proc.terminate()  # SIGTERM, as docker stop sends: a clean exit, the store closed
        status = proc.wait(10)
        assert proc.stderr is not None
        errors = proc.stderr.read()
        assert "Traceback" not in errors, errors
        assert status == 0, errors
        assert not (store / "records.db-wal").exists()  # the last connection closed: WAL folded in

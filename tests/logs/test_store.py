"""The SQLite store: every filter against a corpus with known answers, merging, retention, size, concurrent
writers, a kill -9 mid-write, an unwritable directory."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmtel.logs.exporter import LlmtelLogsSpanExporter
from llmtel.logs.record import Entry, clean, iso
from llmtel.logs.store import Query, Store, StoreError, percentile, query_from
from tests.logs.conftest import BASE_NS, CORPUS, MINUTE, clean_env

NOW = BASE_NS + 30 * MINUTE  # one minute after the newest record


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [int(r["span_id"], 16) - 1 for r in records]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store", max_age_s=None)
    s.write([Entry(dict(r), None, from_span=True) for r in CORPUS])
    return s


def newest_first(pred: Any) -> list[int]:
    return [i for i in reversed(range(len(CORPUS))) if pred(i, CORPUS[i])]


@pytest.mark.parametrize(
    ("params", "pred"),
    [
        ({}, lambda i, r: True),
        ({"agent": "planner"}, lambda i, r: r["agent"] == "planner"),
        ({"model": "claude-sonnet-4-5"}, lambda i, r: i % 3 == 1),
        ({"model": "gemini-2.5-flash-2026"}, lambda i, r: i % 3 == 2),  # the response model matches too
        ({"provider": "openai"}, lambda i, r: i % 3 == 0),
        ({"conversation": "conv-1"}, lambda i, r: i % 4 == 1),
        ({"trace": f"{3:032X}"}, lambda i, r: i in (4, 5)),  # trace ids in either case
        ({"since": "10m"}, lambda i, r: i >= 20),
        ({"until": "2026-05-28T20:31:40Z"}, lambda i, r: i <= 5),
        ({"since": "2026-05-28T20:28:40", "until": "2026-05-28T20:30:40Z"}, lambda i, r: 2 <= i <= 4),
        ({"search": "zebra"}, lambda i, r: i % 6 == 1),
        ({"search": "ZEBRA crossing"}, lambda i, r: i % 6 == 1),  # every word, any case
        ({"search": "question 12"}, lambda i, r: i == 12),
        ({"search": 'rate "limit'}, lambda i, r: i % 7 == 0),  # a quote is a character, not FTS syntax
        ({"has_error": "true"}, lambda i, r: i % 7 == 0),
        ({"slow": "2500"}, lambda i, r: 100 * (i + 1) >= 2500),
        ({"limit": "3"}, lambda i, r: i >= 27),
        ({"agent": "coder", "has_error": "true"}, lambda i, r: r["agent"] == "coder" and i % 7 == 0),
    ],
)
def test_filters(store: Store, params: dict[str, str], pred: Any) -> None:
    assert ids(store.query(query_from(params, now_ns=NOW))) == newest_first(pred)


def test_bad_filter_values_say_which() -> None:
    for params, message in (
        ({"since": "soon"}, "since"),
        ({"slow": "fast"}, "slow"),
        ({"limit": "-1"}, "limit"),
        ({"has_error": "maybe"}, "has_error"),
    ):
        with pytest.raises(ValueError, match=message):
            query_from(params)


def test_get_and_prefix(store: Store) -> None:
    assert store.get(f"{13:016x}") == CORPUS[12]
    assert store.get("000000000000000d") == CORPUS[12]
    assert store.get("00000000000000") is None  # a prefix of several
    assert store.get("nope") is None


def test_summary(store: Store) -> None:
    groups = store.summary("model")
    by_model = {g["model"]: g for g in groups}
    openai_rows = [r for r in CORPUS if r["request_model"] == "gpt-4o-mini"]
    durations = sorted(r["duration_ms"] for r in openai_rows)
    assert by_model["gpt-4o-mini"] == {
        "model": "gpt-4o-mini",
        "calls": 10,
        "errors": sum(1 for r in openai_rows if r["error_type"]),
        "input_tokens": sum(r["input_tokens"] or 0 for r in openai_rows),
        "output_tokens": sum(r["output_tokens"] or 0 for r in openai_rows),
        "total_tokens": sum(r["total_tokens"] or 0 for r in openai_rows),
        "cost_usd": None,  # no price table yet: unknown, not 0
        "p50_ms": durations[4],
        "p95_ms": durations[9],
    }
    assert [g["calls"] for g in store.summary("provider")] == [10, 10, 10]
    days = store.summary("day")
    assert [(g["day"], g["calls"]) for g in days] == [("2026-05-28", 30)]
    agents = {g["agent"]: g["calls"] for g in store.summary("agent", Query(errors=True))}
    assert agents == {"planner": 1, None: 2, "coder": 2}  # errors are records 0, 7, 14, 21, 28


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0], 0.95) == 1.0
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0


def test_span_and_event_make_one_record_in_either_order(tmp_path: Path) -> None:
    span_record = dict(CORPUS[3], input_messages=None, output_messages=None)
    event_record = dict(CORPUS[3], duration_ms=None, time="2026-05-28T20:29:40.400000Z")
    for order in ((span_record, True), (event_record, False)), ((event_record, False), (span_record, True)):
        with Store(tmp_path / f"s{order[0][1]}", max_age_s=None) as s:
            for record, from_span in order:
                s.write([Entry(dict(record), None, from_span)])
            assert s.query() == [CORPUS[3]]
            assert s.query(Query(search="question")) == [CORPUS[3]]  # the search text follows the merge


def test_agent_from_the_parent_whichever_comes_first(tmp_path: Path) -> None:
    from llmtel.logs.record import AgentLink

    call = dict(CORPUS[1], agent=None, conversation_id=None)
    link = AgentLink(call["trace_id"], "ee" * 8, "reviewer", "conv-x", BASE_NS)
    with Store(tmp_path / "a", max_age_s=None) as s:
        s.write([Entry(dict(call), "ee" * 8, True)])
        s.write(links=[link])
        assert [(r["agent"], r["conversation_id"]) for r in s.query()] == [("reviewer", "conv-x")]
        assert ids(s.query(Query(agent="reviewer"))) == [1]
    with Store(tmp_path / "b", max_age_s=None) as s:
        s.write(links=[link])
        s.write([Entry(dict(call), "ee" * 8, True)])
        assert [(r["agent"], r["conversation_id"]) for r in s.query()] == [("reviewer", "conv-x")]


def test_retention_by_age(tmp_path: Path) -> None:
    with Store(tmp_path / "s", max_age_s=600, maintain_every_s=3600) as s:
        s.write([Entry(dict(r), None, True) for r in CORPUS])
        assert s.maintain(now_ns=NOW) == 20  # records 0..19 started more than 10 minutes before NOW
        assert ids(s.query()) == list(reversed(range(20, 30)))  # record 20 is exactly 10 minutes old: kept
        assert ids(s.query(Query(search="question"))) == list(reversed(range(20, 30)))


def test_size_limit_drops_oldest_and_returns_space(tmp_path: Path) -> None:
    big = "lorem ipsum " * 2000  # ~24 kB a record
    records = [
        dict(
            CORPUS[i % 30],
            span_id=f"{i + 1:016x}",
            time=iso(BASE_NS + i * MINUTE),
            output_messages=[{"role": "assistant", "parts": [{"type": "text", "content": f"{i} {big}"}]}],
        )
        for i in range(60)
    ]
    limit = 1_500_000
    with Store(tmp_path / "s", max_age_s=None, max_bytes=limit, maintain_every_s=0) as s:
        for start in range(0, 60, 5):
            s.write([Entry(r, None, True) for r in records[start : start + 5]])
        assert s.used_bytes() <= limit
        kept = s.query(oldest_first=True)
        assert 5 <= len(kept) < 60
        # the newest survive, oldest gone, nothing in between missing
        assert [r["span_id"] for r in kept] == [r["span_id"] for r in records[60 - len(kept) :]]
        assert len(s.query(Query(search="lorem"))) == len(kept)
    size = (tmp_path / "s" / "records.db").stat().st_size
    assert size <= limit * 1.5, size  # freed pages went back to the filesystem


WRITER = """
import sys
from llmtel.logs.store import Store
from llmtel.logs.record import Entry
from tests.logs.conftest import corpus_record
worker, count, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = Store(sys.argv[1], max_age_s=None)
print("ready", flush=True)
for start in range(0, count, batch):
    entries = []
    for i in range(start, min(start + batch, count)):
        r = corpus_record(i % 30)
        r["span_id"] = f"{worker:04x}{i:012x}"
        entries.append(Entry(r, None, True))
    store.write(entries)
print("done", flush=True)
"""


def _writer(directory: Path, worker: int, count: int, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(directory), str(worker), str(count), str(batch)],
        env=clean_env(PYTHONPATH=str(Path(__file__).resolve().parents[2])),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_writers(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    procs = [_writer(directory, w, 200, 10) for w in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.split() == ["ready", "done"]
    with Store(directory, create=False) as s:  # as the reader opens it: no retention run
        assert s.count() == 600
        assert s.used_bytes() > 0
        for w in range(3):
            assert len([r for r in s.query() if r["span_id"].startswith(f"{w:04x}")]) == 200


def test_kill_9_mid_write_loses_at_most_the_open_batch(tmp_path: Path) -> None:
    directory = tmp_path / "crash"
    proc = _writer(directory, 7, 1_000_000, 50)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Store(directory, create=False) as s:
            if s.count() >= 500:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    db = sqlite3.connect(directory / "records.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with Store(directory, max_age_s=None) as s:
        count = s.count()
        assert count >= 500 and count % 50 == 0  # whole batches only: a transaction is all or nothing
        for r in s.query(Query(limit=100)):
            assert clean(r) == r
        s.write([Entry(dict(CORPUS[0]), None, True)])  # and the store goes on
        assert s.count() == count + 1


def test_unwritable_directory_warns_once_and_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # unusable even for root, unlike a chmod
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(LlmtelLogsSpanExporter(blocker / "logs")))
    tracer = provider.get_tracer("t")
    with caplog.at_level(logging.DEBUG, logger="llmtel.logs"):
        for _ in range(3):
            with tracer.start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat"}) as span:
                pass
    assert span.is_recording() is False  # the app's spans ended normally
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("llmtel logs: records are not written: cannot use ")
    provider.shutdown()


def test_limits_from_flags_and_environment(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from llmtel.logs.exporter import limits

    assert limits() == (50 * 1024 * 1024, 7 * 86400)
    monkeypatch.setenv("LLMTEL_LOG_MAX_MB", "0.5")
    monkeypatch.setenv("LLMTEL_LOG_MAX_DAYS", "0")  # 0: no age limit
    assert limits() == (524288, None)
    assert limits("2", "1") == (2 * 1024 * 1024, 86400.0)  # flags win
    with caplog.at_level(logging.WARNING, logger="llmtel.logs"):
        assert limits("lots", "-1") == (50 * 1024 * 1024, 7 * 86400)
    assert [r.getMessage() for r in caplog.records] == [
        "llmtel logs: LLMTEL_LOG_MAX_MB='lots' is not a number >= 0; using the default",
        "llmtel logs: LLMTEL_LOG_MAX_DAYS='-1' is not a number >= 0; using the default",
    ]


def test_a_forked_worker_opens_its_own_connection(tmp_path: Path) -> None:
    """gunicorn-style: the parent exported (its store is open), then forks; the child's records still land."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(LlmtelLogsSpanExporter(tmp_path / "forked")))
    tracer = provider.get_tracer("t")
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "parent"}
    with tracer.start_as_current_span("chat parent", attributes=attrs):
        pass
    pid = os.fork()
    if pid == 0:  # the child: export, then leave without running the parent's cleanup
        try:
            with tracer.start_as_current_span("chat child", attributes={**attrs, "gen_ai.request.model": "child"}):
                pass
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    with tracer.start_as_current_span("chat parent", attributes=attrs):
        pass
    provider.shutdown()
    with Store(tmp_path / "forked", create=False) as s:
        assert sorted(r["request_model"] for r in s.query()) == ["child", "parent", "parent"]


def test_a_reader_never_waits_for_a_writer(store: Store) -> None:
    """WAL: while another process holds the write lock, a reader opens the store and queries at once."""
    writer = sqlite3.connect(store.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with Store(Path(store.path).parent, create=False) as reader:
            assert ids(reader.query(Query(limit=2))) == [29, 28]
        assert time.monotonic() - started < 1.0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_reader_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "records.db").write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(StoreError, match="not an llmtel log store"):
        Store(tmp_path, create=False)
    with pytest.raises(StoreError, match="no llmtel log store in"):
        Store(tmp_path / "empty", create=False)

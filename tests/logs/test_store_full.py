"""A full disk mid-write: SQLite's "database or disk is full" (the same error either way; here the database is
capped with ``max_page_count`` so no real disk has to fill). The batch is lost whole, the store stays
consistent (records, bodies and the full-text index agree), the exporter warns once and never raises, and
writing goes on once there is room again."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from llmtel.logs.exporter import _Sink
from llmtel.logs.record import Entry, Record
from llmtel.logs.store import Query, Store
from tests.logs.conftest import CORPUS

BIG = "lorem ipsum dolor " * 400  # ~7 kB a record: a few batches fill the capped database


def big(i: int) -> Record:
    r = dict(CORPUS[i % 30], span_id=f"{i + 1:016x}")
    r["output_messages"] = [{"role": "assistant", "parts": [{"type": "text", "content": f"n{i} {BIG}"}]}]
    return r


def fill(store: Store) -> int:
    """Write batches of 10 until the disk is "full"; how many records made it."""
    store._rows("PRAGMA max_page_count = 200", ())  # 800 kB with 4 kB pages
    for start in range(0, 10_000, 10):
        try:
            store.write([Entry(big(i), None, True) for i in range(start, start + 10)])
        except sqlite3.OperationalError as exc:
            assert str(exc) == "database or disk is full"
            return start
    raise AssertionError("the capped database never filled")


def consistent(store: Store) -> tuple[int, int, int]:
    return (
        store.count(),
        store._rows("SELECT COUNT(*) FROM bodies", ())[0][0],
        store.count(Query(search="lorem")),
    )


def test_a_full_disk_loses_the_batch_whole_and_writing_goes_on(tmp_path: Path) -> None:
    with Store(tmp_path, max_age_s=None, max_bytes=None) as s:
        kept = fill(s)
        assert kept >= 10 and kept % 10 == 0
        assert consistent(s) == (kept, kept, kept)  # the failed batch left nothing behind
        s._rows("INSERT INTO records_fts (records_fts, rank) VALUES ('integrity-check', 0)", ())
        s._rows("PRAGMA max_page_count = 1000000", ())  # room again
        s.write([Entry(big(i), None, True) for i in range(kept, kept + 10)])
        assert consistent(s) == (kept + 10, kept + 10, kept + 10)
    db = sqlite3.connect(tmp_path / "records.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_the_exporter_warns_once_when_the_disk_is_full(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sink = _Sink.for_directory(str(tmp_path))
    try:
        store = sink.store()
        assert store is not None
        store._rows("PRAGMA max_page_count = 200", ())
        with caplog.at_level(logging.DEBUG, logger="llmtel.logs"):
            for start in range(0, 2000, 10):
                sink.write([Entry(big(i), None, True) for i in range(start, start + 10)], ())
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert warnings == ["llmtel logs: a batch of records was not written: database or disk is full"]
        assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) > 1  # the rest at debug
    finally:
        sink.release()

"""A store written by schema 1 (llmtel before the million-record work: the JSON body in ``records``, the FTS5
text stored a second time; written here by that version's own code) opens and works: migrated in place, once,
by the first process that opens it, a reader included; every record, search, summary and ``seq`` kept."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from llmtel.logs.record import AgentLink, Entry
from llmtel.logs.store import Query, Store, StoreError
from tests.logs.conftest import CORPUS, clean_env

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_1_COMMIT = "8ba5b0fb3698ed36ada493505dcf8b902c1babe2"  # the last change of store.py with schema 1


@pytest.fixture(scope="module")
def store_1() -> Any:
    """Schema 1's own code (store.py as that commit has it, from this checkout's history), to write an old store
    exactly as it was written: its pragmas, tables, merges and full-text rows."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{SCHEMA_1_COMMIT}:src/llmtel/logs/store.py"],
        capture_output=True,
        text=True,
        check=True,
    )
    module = types.ModuleType("llmtel_store_schema_1")
    sys.modules[module.__name__] = module  # dataclasses looks the module up while the class is made
    try:
        exec(compile(found.stdout, "store.py@schema-1", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    assert module.SCHEMA_VERSION == 1
    return module


def write_schema_1(store_1: Any, directory: Path, records: list[dict[str, Any]]) -> None:
    with store_1.Store(directory, max_age_s=None) as old:
        old.write(links=[AgentLink("ff" * 16, "ee" * 8, "reviewer", "conv-x", 1)])
        for r in records:
            old.write([Entry(dict(r), None, True)])
        assert old.count() == len(records)


def answers(s: Store) -> dict[str, Any]:
    """What a reader sees: every record, a search, a summary, a get, the change feed's position."""
    return {
        "records": s.query(),
        "zebra": [r["span_id"] for r in s.query(Query(search="zebra"))],
        "rate limit": s.count(Query(search="rate limit")),
        "summary": s.summary("model"),
        "days": s.summary("day"),
        "get": s.get(CORPUS[12]["span_id"]),
        "seq": s.last_seq(),
        "errors": s.count(Query(errors=True)),
    }


@pytest.fixture(scope="module")
def today(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same records written by this version: what the migrated store must answer."""
    with Store(tmp_path_factory.mktemp("v2"), max_age_s=None) as s:
        s.write(links=[AgentLink("ff" * 16, "ee" * 8, "reviewer", "conv-x", 1)])
        for r in CORPUS:
            s.write([Entry(dict(r), None, True)])  # one write each, as schema 1's store was written
        return answers(s)


def tables(path: Path) -> list[str]:
    db = sqlite3.connect(path / "records.db")
    try:
        return [n for (n,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
    finally:
        db.close()


@pytest.mark.parametrize("create", [False, True], ids=["reader", "writer"])
def test_a_schema_1_store_is_migrated_on_open(
    store_1: Any, tmp_path: Path, today: dict[str, Any], create: bool
) -> None:
    directory = tmp_path / "old"
    write_schema_1(store_1, directory, CORPUS)
    with Store(directory, create=create, max_age_s=None) as s:
        assert answers(s) == today
        assert s._rows("SELECT value FROM meta WHERE key = 'schema_version'", ()) == [("2",)]
        assert s._rows("SELECT * FROM agent_spans", ()) == [("ee" * 8, "ff" * 16, "reviewer", "conv-x", 1)]
        s._rows("INSERT INTO records_fts (records_fts, rank) VALUES ('integrity-check', 0)", ())
    assert "records_v1" not in tables(directory)
    assert "bodies" in tables(directory)
    with Store(directory, create=False) as s:  # opened again: already schema 2, nothing to do
        assert answers(s) == today
    with Store(directory, max_age_s=None) as s:  # and it goes on: a record merged, one added
        s.write([Entry(dict(CORPUS[3], output_messages=None, input_messages=None), None, False)])
        s.write([Entry(dict(CORPUS[0], span_id="ab" * 8), None, True)])
        assert s.count() == 31
        assert s.get(CORPUS[3]["span_id"]) == CORPUS[3]


MIGRATE = """
import sys
from llmtel.logs.store import Store
with Store(sys.argv[1], max_age_s=None) as s:
    print(s.count())
"""


def test_two_processes_opening_a_schema_1_store_migrate_it_once(
    store_1: Any, tmp_path: Path, today: dict[str, Any]
) -> None:
    directory = tmp_path / "old"
    write_schema_1(store_1, directory, CORPUS)
    env = clean_env(PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    procs = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, str(directory)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    assert [p.communicate(timeout=60)[0] for p in procs] == ["30\n", "30\n"]
    assert [p.returncode for p in procs] == [0, 0]
    with Store(directory, create=False) as s:
        assert answers(s) == today


def test_a_newer_schema_is_refused_with_one_clear_message(tmp_path: Path) -> None:
    with Store(tmp_path / "s", max_age_s=None):
        pass
    db = sqlite3.connect(tmp_path / "s" / "records.db", isolation_level=None)
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(StoreError, match=r"has schema 3, newer than this llmtel \(2\)$"):
        Store(tmp_path / "s")
    with pytest.raises(StoreError, match=r"has schema 3; this llmtel reads up to 2$"):
        Store(tmp_path / "s", create=False)

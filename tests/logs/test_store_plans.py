"""The query plans the store's speed at a million records relies on (bench/logs.py measures it): each filter
query reads through the index named here, never the whole table, and the summary reads its covering index
alone. Not timed: EXPLAIN QUERY PLAN is the same on 30 rows as on a million (no ANALYZE statistics are kept),
so a change of schema or SQL that loses an index fails here at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmtel.logs.record import Entry
from llmtel.logs.store import SUMMARY_KEYS, Query, Store
from tests.logs.conftest import CORPUS


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store(Path(tmp_path_factory.mktemp("plans")), max_age_s=None, max_bytes=None)
    s.write([Entry(dict(r), None, from_span=True) for r in CORPUS])
    return s


def plan(store: Store, sql: str, params: list[object]) -> list[str]:
    return [row[3] for row in store._rows(f"EXPLAIN QUERY PLAN {sql}", params)]


def listing(store: Store, query: Query, *, by_time: bool = False) -> list[str]:
    """The plan of :meth:`Store.query`'s statement (newest first, with its limit)."""
    where, params = query.where(search_by_time=by_time)
    return plan(store, f"SELECT id FROM records{where} ORDER BY time_ns DESC, id DESC LIMIT 50", params)


def counting(store: Store, query: Query, *, by_time: bool = False) -> list[str]:
    where, params = query.where(search_by_time=by_time)
    return plan(store, f"SELECT COUNT(*) FROM records{where}", params)


BLOCK_SORT = "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"  # only rows of equal time_ns sorted: LIMIT still stops early
FTS = ["LIST SUBQUERY 1", "SCAN records_fts VIRTUAL TABLE INDEX 0:M1"]
AGENT_MODEL_TIME = Query(agent="coder", model="gpt-4o-mini", since_ns=1, until_ns=2)


@pytest.mark.parametrize(
    ("query", "by_time", "list_plan", "count_plan"),
    [
        (  # the reader's default: the newest 50, straight down the time index
            Query(),
            False,
            ["SCAN records USING COVERING INDEX records_time"],
            ["SCAN records USING COVERING INDEX records_seq"],
        ),
        (  # the benchmark's filter: agent + model + time range, counted from the index alone (it holds the models)
            AGENT_MODEL_TIME,
            False,
            ["SEARCH records USING COVERING INDEX records_agent (agent=? AND time_ns>? AND time_ns<?)", BLOCK_SORT],
            ["SEARCH records USING COVERING INDEX records_agent (agent=? AND time_ns>? AND time_ns<?)"],
        ),
        (
            Query(agent="coder"),
            False,
            ["SEARCH records USING COVERING INDEX records_agent (agent=?)", BLOCK_SORT],
            ["SEARCH records USING COVERING INDEX records_by_agent (agent=?)"],
        ),
        (
            Query(provider="openai"),
            False,
            ["SEARCH records USING COVERING INDEX records_provider (provider=?)"],
            ["SEARCH records USING COVERING INDEX records_provider (provider=?)"],
        ),
        (
            Query(conversation="conv-1"),
            False,
            ["SEARCH records USING COVERING INDEX records_conversation (conversation_id=?)"],
            ["SEARCH records USING COVERING INDEX records_conversation (conversation_id=?)"],
        ),
        (
            Query(trace="ab" * 16),
            False,
            ["SEARCH records USING INDEX records_trace (trace_id=?)", "USE TEMP B-TREE FOR ORDER BY"],
            ["SEARCH records USING COVERING INDEX records_trace (trace_id=?)"],
        ),
        (
            Query(since_ns=1),
            False,
            ["SEARCH records USING COVERING INDEX records_time (time_ns>?)"],
            ["SEARCH records USING COVERING INDEX records_time (time_ns>?)"],
        ),
        (  # --errors: the partial index of failed calls only, which holds `error` too
            Query(errors=True),
            False,
            ["SCAN records USING COVERING INDEX records_errors", BLOCK_SORT],
            ["SCAN records USING COVERING INDEX records_errors"],
        ),
        (  # a model alone: both model columns' indexes (a model may match the requested or the answered one)
            Query(model="gpt-4o-mini"),
            False,
            [
                "MULTI-INDEX OR",
                "INDEX 1",
                "SEARCH records USING INDEX records_request_model (request_model=?)",
                "INDEX 2",
                "SEARCH records USING INDEX records_response_model (response_model=?)",
                "USE TEMP B-TREE FOR ORDER BY",
            ],
            [
                "MULTI-INDEX OR",
                "INDEX 1",
                "SEARCH records USING INDEX records_request_model (request_model=?)",
                "INDEX 2",
                "SEARCH records USING INDEX records_response_model (response_model=?)",
            ],
        ),
        (  # a rare word: from its hits, each looked up by rowid
            Query(search="zebra"),
            False,
            ["SEARCH records USING INTEGER PRIMARY KEY (rowid=?)", *FTS, "USE TEMP B-TREE FOR ORDER BY"],
            ["SEARCH records USING INTEGER PRIMARY KEY (rowid=?)", *FTS],
        ),
        (  # a common word: down the time index, no sort, stopping at the limit
            Query(search="zebra"),
            True,
            ["SCAN records USING COVERING INDEX records_time", *FTS],
            ["SCAN records USING COVERING INDEX records_seq", *FTS],
        ),
    ],
)
def test_filter_plans(store: Store, query: Query, by_time: bool, list_plan: list[str], count_plan: list[str]) -> None:
    assert listing(store, query, by_time=by_time) == list_plan
    assert counting(store, query, by_time=by_time) == count_plan


@pytest.mark.parametrize("by", list(SUMMARY_KEYS))
def test_summary_plans(store: Store, by: str) -> None:
    """The summary's totals from one ordered pass over its covering index (no sort, no table), and each
    percentile one OFFSET into the same index."""
    key = SUMMARY_KEYS[by]
    totals = (
        f"SELECT {key} AS g, COUNT(*), SUM(error), SUM(input_tokens), SUM(output_tokens), SUM(total_tokens),"
        f" SUM(cost_usd), COUNT(duration_ms) FROM records INDEXED BY records_by_{by} GROUP BY g ORDER BY g"
    )
    assert plan(store, totals, []) == [f"SCAN records USING COVERING INDEX records_by_{by}"]
    rank = (
        f"SELECT duration_ms FROM records INDEXED BY records_by_{by} WHERE {key} IS ? AND duration_ms IS NOT NULL"
        " ORDER BY duration_ms LIMIT 1 OFFSET ?"
    )
    assert plan(store, rank, ["x", 3]) == [
        f"SEARCH records USING COVERING INDEX records_by_{by} ({key}=? AND duration_ms>?)"
    ]


def test_get_and_changes_plans(store: Store) -> None:
    assert plan(store, "SELECT id FROM records WHERE span_id = ?", ["x"]) == [
        "SEARCH records USING COVERING INDEX sqlite_autoindex_records_1 (span_id=?)"
    ]
    assert plan(store, "SELECT id FROM records WHERE seq > ? AND seq <= ? ORDER BY seq", [1, 2]) == [
        "SEARCH records USING COVERING INDEX records_seq (seq>? AND seq<?)"
    ]
    # retention by age: a range of the time index, never a scan
    assert plan(store, "SELECT id FROM records WHERE time_ns < ?", [1]) == [
        "SEARCH records USING COVERING INDEX records_time (time_ns<?)"
    ]

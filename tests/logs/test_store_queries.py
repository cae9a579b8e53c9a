"""The store's fast paths give the answers of the plain ones: summary percentiles exact against Python over a
random corpus (every grouping, with and without filters), counts, limits and newest-first order, both plans of a
search, and the contentless full-text index staying right through merges, deletes and reused row ids."""

from __future__ import annotations

import math
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from llmtel.logs import store as store_module
from llmtel.logs.record import FIELDS, Entry, Record, iso, parse_iso
from llmtel.logs.store import Query, Store, _day

DAY_NS = 86400 * 10**9
BASE_NS = 1_793_491_200_000_000_000  # 2026-11-01T00:00:00Z
MODELS = ("gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash", None)
AGENTS = ("planner", "coder", None)


def random_corpus(n: int, seed: int = 7) -> list[Record]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        model = rng.choice(MODELS)
        failed = rng.random() < 0.1
        record: Record = dict.fromkeys(FIELDS)
        record.update(
            time=iso(BASE_NS + rng.randrange(3 * DAY_NS)),
            trace_id=f"{i + 1:032x}",
            span_id=f"{i + 1:016x}",
            agent=rng.choice(AGENTS),
            provider="p" if model is None else model.split("-")[0],
            request_model=model,
            response_model=None if model is None and rng.random() < 0.5 else f"{model or 'answered'}-v2",
            # ties and unknowns on purpose: nearest rank must pick among equal values and skip the unknown
            duration_ms=None if rng.random() < 0.05 else float(rng.choice(range(1, 60)) * 10),
            input_tokens=None if failed else rng.randrange(1000),
            output_tokens=None if failed else rng.randrange(500),
            total_tokens=None,
            cost_usd=None if rng.random() < 0.5 else rng.randrange(100) / 1000,
            error_type="429" if failed else None,
            input_messages=[
                {"role": "user", "parts": [{"type": "text", "content": "common " * (i % 3 != 0) + f"word{i % 50}"}]}
            ],
        )
        out.append(record)
    return out


CORPUS = random_corpus(600)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store(Path(tmp_path_factory.mktemp("q")), max_age_s=None, max_bytes=None)
    for start in range(0, len(CORPUS), 100):
        s.write([Entry(dict(r), None, True) for r in CORPUS[start : start + 100]])
    return s


def start(r: Record) -> int:
    found = parse_iso(r["time"])
    assert found is not None
    return found


def group_of(r: Record, by: str) -> Any:
    if by == "model":
        return r["request_model"] if r["request_model"] is not None else r["response_model"]
    if by == "day":
        return r["time"][:10]
    return r[by]


def nearest_rank(values: list[float], fraction: float) -> float | None:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1] if ordered else None


def total(values: list[Any]) -> Any:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def expected_summary(records: list[Record], by: str) -> list[dict[str, Any]]:
    groups: dict[Any, list[Record]] = {}
    for r in records:
        groups.setdefault(group_of(r, by), []).append(r)
    out = []
    for key, rows in groups.items():
        durations = [r["duration_ms"] for r in rows if r["duration_ms"] is not None]
        costs = total([r["cost_usd"] for r in rows])
        out.append(
            {
                by: key,
                "calls": len(rows),
                "errors": sum(1 for r in rows if r["error_type"] is not None),
                "input_tokens": total([r["input_tokens"] for r in rows]),
                "output_tokens": total([r["output_tokens"] for r in rows]),
                "total_tokens": None,
                "cost_usd": costs,
                "p50_ms": nearest_rank(durations, 0.5),
                "p95_ms": nearest_rank(durations, 0.95),
            }
        )
    return sorted(out, key=lambda g: (-g["calls"], str(g[by])))


def approx_costs(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # SQLite and Python add the same floats in different orders: the cost compared to 1e-9, the rest exactly
    return [{**g, "cost_usd": round(g["cost_usd"], 9) if g["cost_usd"] is not None else None} for g in groups]


@pytest.mark.parametrize("by", ["model", "agent", "provider", "day"])
@pytest.mark.parametrize(
    ("query", "pred"),
    [
        (None, lambda r: True),  # the covering-index path: totals in one pass, percentiles by OFFSET
        (Query(errors=True), lambda r: r["error_type"] is not None),  # the filtered path
        (
            Query(agent="coder", since_ns=BASE_NS + DAY_NS),
            lambda r: r["agent"] == "coder" and start(r) >= BASE_NS + DAY_NS,
        ),
    ],
)
def test_summary_is_exact(store: Store, by: str, query: Query | None, pred: Any) -> None:
    got = store.summary(by, query)
    assert approx_costs(got) == approx_costs(expected_summary([r for r in CORPUS if pred(r)], by))


def test_summary_of_an_empty_store(tmp_path: Path) -> None:
    with Store(tmp_path, max_age_s=None) as s:
        assert s.summary("model") == []
        s.write([Entry(dict(CORPUS[0], duration_ms=None), None, True)])
        assert [(g["calls"], g["p50_ms"], g["p95_ms"]) for g in s.summary("day")] == [(1, None, None)]


def newest_first(records: list[Record]) -> list[str]:
    return [r["span_id"] for r in sorted(records, key=lambda r: (start(r), int(r["span_id"], 16)), reverse=True)]


FILTERS: list[tuple[Query, Any]] = [
    (Query(), lambda r: True),
    (
        Query(agent="coder", model="gpt-4o-mini-v2"),
        lambda r: r["agent"] == "coder" and r["response_model"] == "gpt-4o-mini-v2",
    ),
    (Query(model="gpt-4o-mini"), lambda r: r["request_model"] == "gpt-4o-mini"),
    (Query(errors=True), lambda r: r["error_type"] is not None),
    (
        Query(since_ns=BASE_NS + DAY_NS, until_ns=BASE_NS + 2 * DAY_NS),
        lambda r: BASE_NS + DAY_NS <= start(r) <= BASE_NS + 2 * DAY_NS,
    ),
    (Query(search="common"), lambda r: int(r["span_id"], 16) % 3 != 1),  # two thirds: down the time index
    (Query(search="word7"), lambda r: (int(r["span_id"], 16) - 1) % 50 == 7),  # 12 records: from the hits
    (
        Query(search="common word7", agent="planner"),
        lambda r: r["agent"] == "planner" and (int(r["span_id"], 16) - 1) % 50 == 7 and int(r["span_id"], 16) % 3 != 1,
    ),
    (Query(search="absent"), lambda r: False),
]


@pytest.mark.parametrize(("query", "pred"), FILTERS)
def test_count_limit_and_order(store: Store, query: Query, pred: Any) -> None:
    want = newest_first([r for r in CORPUS if pred(r)])
    assert store.count(query) == len(want)
    assert [r["span_id"] for r in store.query(query)] == want
    assert [r["span_id"] for r in store.query(query, oldest_first=True)] == list(reversed(want))
    for limit in (0, 1, 5, 50, 1000):
        limited = Query(**{**query.__dict__, "limit": limit})
        assert [r["span_id"] for r in store.query(limited)] == want[:limit]


def test_both_search_plans_are_taken(store: Store) -> None:
    """The heuristic of Store.query: a word in most records walks the time index, a rare one starts from its hits
    (test_count_limit_and_order checks that both give the same answers)."""
    top = len(CORPUS)
    common = sum(1 for r in CORPUS if int(r["span_id"], 16) % 3 != 1)
    assert common * common > 5 * top  # "common" with limit 5: by time
    assert 50 * top > 12 * 12  # "word7" with limit 50: from the hits
    assert store.count(Query(search="common")) == common
    assert store.count(Query(search="word7")) == 12


def test_full_text_index_follows_merges_deletes_and_reused_ids(tmp_path: Path) -> None:
    def record(i: int, words: str, **extra: Any) -> Record:
        r = dict(CORPUS[i], span_id=f"{i + 1:016x}", time=iso(BASE_NS + i * 10**9), **extra)
        r["input_messages"] = [{"role": "user", "parts": [{"type": "text", "content": words}]}]
        return r

    def found(s: Store, words: str) -> list[str]:
        return [r["span_id"] for r in s.query(Query(search=words))]

    with Store(tmp_path, max_age_s=None, max_bytes=None) as s:
        s.write([Entry(record(0, "alpha beta", duration_ms=None), None, from_span=False)])  # the event first
        s.write([Entry(record(0, "gamma"), None, from_span=True)])  # then its span: its content wins
        assert (found(s, "alpha"), found(s, "gamma")) == ([], [f"{1:016x}"])
        s.max_age_s = 0.0
        assert s.maintain(now_ns=BASE_NS + 10**12) == 1  # every record gone
        s.max_age_s = None
        # SQLite reuses the highest deleted rowid: the old words must not come back with the new record
        s.write([Entry(record(5, "delta"), None, True)])
        assert (found(s, "gamma"), found(s, "alpha"), found(s, "delta")) == ([], [], [f"{6:016x}"])
        assert s._rows("SELECT id FROM records", ()) == [(1,)]
        # the FTS5 index's own check: its structure and the row counts it keeps agree
        s._rows("INSERT INTO records_fts (records_fts, rank) VALUES ('integrity-check', 0)", ())


@pytest.mark.parametrize(
    "ns", [0, 1, 10**9 - 1, 10**9, DAY_NS - 1, DAY_NS, BASE_NS, BASE_NS + DAY_NS - 1, -1, -(10**9), -DAY_NS - 1]
)
def test_day_is_what_sqlite_said(ns: int) -> None:
    """Schema 1 grouped on ``date(time_ns / 1000000000, 'unixepoch')`` and the migration computes it so: the
    column written by Python must agree, at the edges of days and before 1970 too."""
    sql = sqlite3.connect(":memory:").execute("SELECT date(? / 1000000000, 'unixepoch')", (ns,)).fetchone()[0]
    assert _day(ns) == sql


def test_the_limits_delete_in_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleting by age and by size in rounds of _DELETE_ROUND records (one transaction each, so other writers
    get in between) deletes exactly what one round would have: the oldest, and their full-text entries."""
    monkeypatch.setattr(store_module, "_DELETE_ROUND", 7)
    ordered = sorted(CORPUS, key=start)
    with Store(tmp_path / "age", max_age_s=DAY_NS / 1e9, max_bytes=None, maintain_every_s=3600) as s:
        s.write([Entry(dict(r), None, True) for r in CORPUS])
        cutoff = BASE_NS + 2 * DAY_NS
        old = [r for r in ordered if start(r) < BASE_NS + DAY_NS]
        assert len(old) > 3 * 7
        assert s.maintain(now_ns=cutoff) == len(old)
        assert s.count() == len(CORPUS) - len(old)
        assert s.count(Query(search="common")) == sum(1 for r in ordered[len(old) :] if int(r["span_id"], 16) % 3 != 1)
    with Store(tmp_path / "size", max_age_s=None, max_bytes=None) as s:
        s.write([Entry(dict(r), None, True) for r in CORPUS])
        used = s.used_bytes()
        s.max_bytes = used // 2
        deleted = s.maintain()
        assert deleted == math.ceil(len(CORPUS) * (1 - 0.8 * (used // 2) / used))
        assert [r["span_id"] for r in s.query(oldest_first=True)] == [r["span_id"] for r in ordered[deleted:]]

"""The record store: one SQLite database (``records.db``) in the log directory.

Why SQLite: several processes (the app's exporter, ``llmtel logs serve``, a reader) use the same directory at
once, a crash mid-write must lose at most the batch being written, and queries must stay fast on a million
records. WAL mode lets readers run while one writer commits; every write is one short ``BEGIN IMMEDIATE``
transaction (one exported batch), and a busy timeout makes concurrent writers wait for each other instead of
failing. JSONL stays the interchange format (``llmtel logs export`` / ``import``).

Tables (schema version in ``meta``):

- ``records``: one row per call, keyed by ``span_id``; ``body`` is the record's JSON, the other columns copy
  the fields that filters and the summary use, each with an index where a filter needs one.
- ``records_fts``: FTS5 over the record's text (content, error, models, agent), rowid = ``records.id``.
- ``agent_spans``: agent and tool spans (their agent name and conversation), so a call's record gets the
  ``agent`` of its parent span whichever of the two is written first.

"Rotation" with SQLite: there are no files to rotate. When the live data (pages in use) passes the size limit
(default 50 MB) the oldest records are deleted until it is back under 80% of the limit, and the freed pages go
back to the filesystem (incremental vacuum), so the file stays about the limit's size. Records older than the
age limit (default 7 days) are deleted too. Both run at most once a minute per writer, after a commit.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmtel.core.values import text
from llmtel.logs.record import AgentLink, Entry, Record, merge, parse_iso, search_text, time_ns

SCHEMA_VERSION = 1
DB_NAME = "records.db"
DEFAULT_MAX_AGE_S = 7 * 24 * 3600
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    span_id TEXT NOT NULL UNIQUE,
    trace_id TEXT NOT NULL,
    parent_span_id TEXT,
    seq INTEGER NOT NULL,
    from_span INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    agent TEXT,
    conversation_id TEXT,
    provider TEXT,
    request_model TEXT,
    response_model TEXT,
    duration_ms REAL,
    error INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    total_tokens INTEGER,
    cost_usd REAL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records (time_ns);
CREATE INDEX IF NOT EXISTS records_seq ON records (seq);
CREATE INDEX IF NOT EXISTS records_agent ON records (agent, time_ns);
CREATE INDEX IF NOT EXISTS records_request_model ON records (request_model, time_ns);
CREATE INDEX IF NOT EXISTS records_response_model ON records (response_model, time_ns);
CREATE INDEX IF NOT EXISTS records_provider ON records (provider, time_ns);
CREATE INDEX IF NOT EXISTS records_conversation ON records (conversation_id, time_ns);
CREATE INDEX IF NOT EXISTS records_trace ON records (trace_id);
CREATE INDEX IF NOT EXISTS records_errors ON records (time_ns) WHERE error = 1;
CREATE INDEX IF NOT EXISTS records_parent ON records (parent_span_id);
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5 (text);
CREATE TABLE IF NOT EXISTS agent_spans (
    span_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    agent TEXT,
    conversation_id TEXT,
    time_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_spans_time ON agent_spans (time_ns);
"""


class StoreError(Exception):
    """The directory cannot hold a store (not writable, not a directory, a newer schema)."""


@dataclass
class Query:
    """The reader's filters; None means "any". Times are ns since the epoch."""

    agent: str | None = None
    model: str | None = None
    provider: str | None = None
    conversation: str | None = None
    trace: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    search: str | None = None
    errors: bool = False
    slow_ms: float | None = None
    limit: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("agent", self.agent),
            ("provider", self.provider),
            ("conversation_id", self.conversation),
            ("trace_id", self.trace and self.trace.lower()),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.model is not None:
            clauses.append("(request_model = ? OR response_model = ?)")
            params += [self.model, self.model]
        if self.since_ns is not None:
            clauses.append("time_ns >= ?")
            params.append(self.since_ns)
        if self.until_ns is not None:
            clauses.append("time_ns <= ?")
            params.append(self.until_ns)
        if self.errors:
            clauses.append("error = 1")
        if self.slow_ms is not None:
            clauses.append("duration_ms >= ?")
            params.append(self.slow_ms)
        if self.search:
            clauses.append("id IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?)")
            params.append(fts_query(self.search))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def fts_query(search: str) -> str:
    """The user's words as an FTS5 query: every word must appear (each quoted, so no FTS syntax leaks in)."""
    words = [w.replace('"', '""') for w in search.split()]
    return " ".join(f'"{w}"' for w in words) or '""'


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None for no values)."""
    if not sorted_values:
        return None
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


SUMMARY_KEYS = {
    "model": "COALESCE(request_model, response_model)",
    "agent": "agent",
    "provider": "provider",
    "day": "date(time_ns / 1000000000, 'unixepoch')",
}


class Store:
    """A connection to one store; thread-safe (one lock around the connection), several per directory fine.

    ``path`` None is an in-memory store (the reader loads files into one to filter them like a store).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        max_age_s: float | None = DEFAULT_MAX_AGE_S,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        maintain_every_s: float = 60.0,
        create: bool = True,
    ) -> None:
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self.maintain_every_s = maintain_every_s
        self._lock = threading.Lock()
        self._last_maintenance = 0.0
        if path is None:
            self.path = ":memory:"
        else:
            directory = Path(path)
            try:
                if create:
                    directory.mkdir(parents=True, exist_ok=True)
                elif not (directory / DB_NAME).exists():
                    raise StoreError(f"no llmtel log store in {directory}")
            except OSError as exc:
                raise StoreError(f"cannot use {directory} for llmtel logs: {exc}") from exc
            self.path = str(directory / DB_NAME)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            if create or path is None:
                self._setup()
            else:
                self._check()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        if create and path is not None:
            # A writer applies the limits when it starts, then at most once a minute (a short-lived app prunes too).
            self._last_maintenance = time.monotonic()
            try:
                self.maintain()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot use {self.path}: {exc}") from exc

    def _setup(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            # Set before the first table exists (it cannot change afterwards without a VACUUM): lets the size
            # limit hand freed pages back to the filesystem.
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a crash of the process loses nothing committed; a power cut may lose the last
            # batches, never corrupt the file.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA journal_size_limit = 4194304")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema {row[0]}, newer than this llmtel ({SCHEMA_VERSION})")

    def _check(self) -> None:
        """A reader's open: no write at all (no lock taken, so a busy writer never delays it), only the schema
        version checked."""
        self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path} is not an llmtel log store: {exc}") from exc
        if row is None or not str(row[0]).isdigit() or int(row[0]) > SCHEMA_VERSION:
            found = row[0] if row is not None else "none"
            raise StoreError(f"{self.path} has schema {found}; this llmtel reads up to {SCHEMA_VERSION}")

    class _Tx:
        def __init__(self, store: Store) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            try:
                self.store._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
            return self.store._db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            try:
                self.store._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()

    def _transaction(self) -> Store._Tx:
        return Store._Tx(self)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ------------------------------------------------------------------------------------------------

    def write(self, entries: Sequence[Entry] = (), links: Sequence[AgentLink] = ()) -> None:
        """Add records and agent links in one transaction (a record already there is merged with the new one)."""
        if not entries and not links:
            return
        with self._transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]
            for link in links:
                db.execute(
                    "INSERT OR REPLACE INTO agent_spans VALUES (?, ?, ?, ?, ?)",
                    (link.span_id, link.trace_id, link.agent, link.conversation_id, link.time_ns),
                )
                seq += 1
                self._adopt(db, link, seq)
            for entry in entries:
                seq += 1
                self._put(db, entry, seq)
        self._maybe_maintain()

    def _adopt(self, db: sqlite3.Connection, link: AgentLink, seq: int) -> None:
        """Give the calls made directly under an agent or tool span the agent (and conversation) they lack."""
        rows = db.execute(
            "SELECT id, body FROM records WHERE parent_span_id = ? AND trace_id = ?",
            (link.span_id, link.trace_id),
        ).fetchall()
        for row_id, body in rows:
            record = json.loads(body)
            changed = False
            for key, value in (("agent", link.agent), ("conversation_id", link.conversation_id)):
                if record.get(key) is None and value is not None:
                    record[key] = value
                    changed = True
            if changed:
                self._update_row(db, row_id, record, seq)

    def _put(self, db: sqlite3.Connection, entry: Entry, seq: int) -> None:
        record = entry.record
        row = db.execute(
            "SELECT id, body, from_span, parent_span_id FROM records WHERE span_id = ?", (record["span_id"],)
        ).fetchone()
        parent = entry.parent_span_id
        if row is not None:
            _, body, _, old_parent = row
            old = json.loads(body)
            # The span's values win over its event's, whichever was written first.
            record = merge(old, record, new_from_span=entry.from_span)
            parent = parent or old_parent
        if parent is not None and (record["agent"] is None or record["conversation_id"] is None):
            link = db.execute(
                "SELECT agent, conversation_id FROM agent_spans WHERE span_id = ? AND trace_id = ?",
                (parent, record["trace_id"]),
            ).fetchone()
            if link is not None:
                record["agent"] = record["agent"] or link[0]
                record["conversation_id"] = record["conversation_id"] or link[1]
        from_span = entry.from_span or bool(row is not None and row[2])
        if row is None:
            cursor = db.execute(
                "INSERT INTO records (span_id, trace_id, parent_span_id, seq, from_span, time_ns, agent,"
                " conversation_id, provider, request_model, response_model, duration_ms, error, input_tokens,"
                " output_tokens, total_tokens, cost_usd, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record["span_id"], record["trace_id"], parent, seq, int(from_span), *self._columns(record)),
            )
            db.execute("INSERT INTO records_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, search_text(record)))
        else:
            db.execute(
                "UPDATE records SET parent_span_id = ?, from_span = ? WHERE id = ?", (parent, int(from_span), row[0])
            )
            self._update_row(db, row[0], record, seq)

    @staticmethod
    def _columns(record: Record) -> tuple[Any, ...]:
        return (
            time_ns(record),
            record["agent"],
            record["conversation_id"],
            record["provider"],
            record["request_model"],
            record["response_model"],
            record["duration_ms"],
            int(record["error_type"] is not None or record["error_message"] is not None),
            record["input_tokens"],
            record["output_tokens"],
            record["total_tokens"],
            record["cost_usd"],
            _dumps(record),
        )

    def _update_row(self, db: sqlite3.Connection, row_id: int, record: Record, seq: int) -> None:
        db.execute(
            "UPDATE records SET seq = ?, time_ns = ?, agent = ?, conversation_id = ?, provider = ?, request_model = ?,"
            " response_model = ?, duration_ms = ?, error = ?, input_tokens = ?, output_tokens = ?, total_tokens = ?,"
            " cost_usd = ?, body = ? WHERE id = ?",
            (seq, *self._columns(record), row_id),
        )
        db.execute("UPDATE records_fts SET text = ? WHERE rowid = ?", (search_text(record), row_id))

    # -- retention ----------------------------------------------------------------------------------------------

    def _maybe_maintain(self) -> None:
        now = time.monotonic()
        if now - self._last_maintenance >= self.maintain_every_s:
            self._last_maintenance = now
            self.maintain()

    def maintain(self, now_ns: int | None = None) -> int:
        """Apply the age and size limits; return how many records were deleted."""
        deleted = 0
        if self.max_age_s is not None:
            cutoff = (now_ns if now_ns is not None else time.time_ns()) - int(self.max_age_s * 1e9)
            with self._transaction() as db:
                deleted += self._delete(db, "time_ns < ?", (cutoff,))
                db.execute("DELETE FROM agent_spans WHERE time_ns < ?", (cutoff,))
        if self.max_bytes is not None and self.path != ":memory:":
            used = self.used_bytes()
            if used > self.max_bytes:
                # One round, sized from the overshoot: deleting until the page count drops would overshoot,
                # since FTS5 frees a deleted row's index space only when it merges segments.
                with self._transaction() as db:
                    count = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
                    n = max(1, math.ceil(count * (1 - 0.8 * self.max_bytes / used)))
                    deleted += self._delete(db, "id IN (SELECT id FROM records ORDER BY time_ns, id LIMIT ?)", (n,))
                    db.execute("INSERT INTO records_fts (records_fts, rank) VALUES ('merge', 64)")
                with self._lock:
                    self._db.execute("PRAGMA incremental_vacuum")
        return deleted

    @staticmethod
    def _delete(db: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> int:
        db.execute(f"DELETE FROM records_fts WHERE rowid IN (SELECT id FROM records WHERE {where})", params)
        return db.execute(f"DELETE FROM records WHERE {where}", params).rowcount

    def used_bytes(self) -> int:
        """Bytes of the database in use (pages not on the free list): what the size limit counts."""
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    # -- reading ------------------------------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def query(self, query: Query | None = None, *, oldest_first: bool = False) -> list[Record]:
        """Records matching the filters, newest first (by call start)."""
        query = query or Query()
        where, params = query.where()
        order = "ASC" if oldest_first else "DESC"
        sql = f"SELECT body FROM records{where} ORDER BY time_ns {order}, id {order}"
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        return [json.loads(body) for (body,) in self._rows(sql, params)]

    def changes(self, after_seq: int, query: Query | None = None) -> tuple[int, list[Record]]:
        """Records added or changed since ``after_seq`` (oldest change first), and the sequence number reached."""
        where, params = (query or Query(limit=None)).where()
        glue = " AND " if where else " WHERE "
        # The end of the window first, then the rows up to it: a commit between the two reads is caught next
        # time, never skipped (the filter may match none of the rows before it).
        top = max(self.last_seq(), after_seq)
        rows = self._rows(
            f"SELECT body FROM records{where}{glue}seq > ? AND seq <= ? ORDER BY seq", [*params, after_seq, top]
        )
        return top, [json.loads(body) for (body,) in rows]

    def last_seq(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(seq), 0) FROM records", ())[0][0])

    def get(self, span_id: str) -> Record | None:
        """The record of this span id, or of the one span id starting with this prefix."""
        key = span_id.strip().lower()
        rows = self._rows("SELECT body FROM records WHERE span_id = ?", (key,))
        if not rows and key and not key.strip("0123456789abcdef") and len(key) < 16:
            rows = self._rows("SELECT body FROM records WHERE span_id >= ? AND span_id < ? LIMIT 2", (key, key + "g"))
        return json.loads(rows[0][0]) if len(rows) == 1 else None

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM records", ())[0][0])

    def summary(self, by: str = "model", query: Query | None = None) -> list[dict[str, Any]]:
        """Per group: calls, errors, token sums, cost and p50/p95 latency; groups by calls, most first.

        SQLite sums (``SUM`` of no values is NULL: unknown stays null, never 0); the percentiles from each
        group's durations, sorted by SQLite, so Python only picks two values out of each list.
        """
        key = SUMMARY_KEYS[by]
        where, params = (query or Query()).where()
        totals = self._rows(
            f"SELECT {key} AS g, COUNT(*), SUM(error), SUM(input_tokens), SUM(output_tokens), SUM(total_tokens),"
            f" SUM(cost_usd) FROM records{where} GROUP BY g",
            params,
        )
        durations: dict[Any, list[float]] = {}
        glue = " AND " if where else " WHERE "
        for group, duration in self._rows(
            f"SELECT {key} AS g, duration_ms FROM records{where}{glue}duration_ms IS NOT NULL ORDER BY g, duration_ms",
            params,
        ):
            durations.setdefault(group, []).append(duration)
        groups = []
        for group, calls, errors, inputs, outputs, total, cost in totals:
            values = durations.get(group, [])
            groups.append(
                {
                    by: group,
                    "calls": calls,
                    "errors": errors,
                    "input_tokens": inputs,
                    "output_tokens": outputs,
                    "total_tokens": total,
                    "cost_usd": cost,
                    "p50_ms": percentile(values, 0.5),
                    "p95_ms": percentile(values, 0.95),
                }
            )
        return sorted(groups, key=lambda r: (-r["calls"], str(r[by])))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dumps(record: Record) -> str:
    # Lone surrogates from a JSON source would make the row unwritable: repaired on the whole text at once.
    return text(json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str))


def read_jsonl(lines: Iterable[str]) -> Iterator[Any]:
    """JSON values of a JSON-lines text; a line that is not JSON is skipped."""
    for line in lines:
        line = line.strip()
        if line:
            try:
                yield json.loads(line)
            except ValueError:
                continue


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(value: str, now_ns: int | None = None) -> int | None:
    """A time filter's value as ns since the epoch: ISO 8601, or an age such as ``10m``, ``2h``, ``7d``."""
    value = value.strip()
    unit = _UNITS.get(value[-1:].lower())
    if unit is not None and value[:-1].replace(".", "", 1).isdigit():
        now = now_ns if now_ns is not None else time.time_ns()
        return now - int(float(value[:-1]) * unit * 1e9)
    return parse_iso(value)


FILTER_PARAMS = (
    "agent",
    "model",
    "provider",
    "conversation",
    "trace",
    "since",
    "until",
    "search",
    "has_error",
    "slow",
    "limit",
)
"""The filters, named as in ``GET /api/logs?...`` (the CLI's flags map onto the same names)."""


def query_from(params: Mapping[str, str | None], now_ns: int | None = None) -> Query:
    """A :class:`Query` from filter parameters given as text; a bad value raises ``ValueError`` saying which."""
    query = Query()
    for key in ("agent", "model", "provider", "conversation", "trace", "search"):
        value = params.get(key)
        if value:
            setattr(query, key, value)
    for key, attr in (("since", "since_ns"), ("until", "until_ns")):
        value = params.get(key)
        if value:
            found = parse_when(value, now_ns)
            if found is None:
                raise ValueError(f"{key}: not an ISO time or an age like 10m, 2h, 7d: {value!r}")
            setattr(query, attr, found)
    flag = params.get("has_error")
    if flag:
        if flag.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError(f"has_error: true or false, not {flag!r}")
        query.errors = flag.lower() in ("1", "true", "yes")
    slow = params.get("slow")
    if slow:
        try:
            query.slow_ms = float(slow)
        except ValueError:
            raise ValueError(f"slow: a number of milliseconds, not {slow!r}") from None
    limit = params.get("limit")
    if limit:
        if not limit.isdigit():
            raise ValueError(f"limit: a whole number, not {limit!r}")
        query.limit = int(limit)
    return query

"""The record store: one SQLite database (``records.db``) in the log directory.

Why SQLite: several processes (the app's exporter, ``llmtel logs serve``, a reader) use the same directory at
once, a crash mid-write must lose at most the batch being written, and queries must stay fast on a million
records. WAL mode lets readers run while one writer commits; every write is one short ``BEGIN IMMEDIATE``
transaction (one exported batch), and a busy timeout makes concurrent writers wait for each other instead of
failing. JSONL stays the interchange format (``llmtel logs export`` / ``import``).

Tables (schema version in ``meta``):

- ``records``: one row per call, keyed by ``span_id``: the fields that filters and the summary use, each with
  an index where a filter needs one. Narrow on purpose (about 200 bytes a row): a query that has to look at
  many rows reads these, never the content.
- ``bodies``: the record's JSON (``body``), same ``id``; read only for the rows a query returns.
- ``records_fts``: contentless FTS5 over the record's text (content, error, models, agent), rowid =
  ``records.id``. Contentless, so the text is not stored a second time (it is most of a record); a row's
  text is recomputed from its body when it is deleted or replaced (FTS5 needs the old text to remove it).
- ``agent_spans``: agent and tool spans (their agent name and conversation), so a call's record gets the
  ``agent`` of its parent span whichever of the two is written first.

"Rotation" with SQLite: there are no files to rotate. When the live data (pages in use) passes the size limit
(default 50 MB) the oldest records are deleted until it is back under 80% of the limit, and the freed pages go
back to the filesystem (incremental vacuum), so the file stays about the limit's size. Records older than the
age limit (default 7 days) are deleted too. Both run at most once a minute per writer, after a commit, and both
go through indexes (no full scan), so they stay cheap at a million records with the size limit raised.

Speed at a million records (bench/logs.py measures it): a filter stops at its ``LIMIT`` by walking an index in
time order; the agent index also holds the models, so an agent + model + time count reads the index alone; the
summary reads one covering index per grouping (``model``, ``agent``, ``provider``, ``day``), its totals in one
ordered pass and each exact percentile as one ``OFFSET`` into that group's durations, which the index keeps
sorted. Schema 1 (the content in ``records``, the FTS5 text stored twice) is migrated in place when opened.
"""

from __future__ import annotations

import contextlib
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

SCHEMA_VERSION = 2
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
    model TEXT,
    day TEXT
);
CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_time ON records (time_ns);
CREATE INDEX IF NOT EXISTS records_seq ON records (seq);
CREATE INDEX IF NOT EXISTS records_agent ON records (agent, time_ns, request_model, response_model);
CREATE INDEX IF NOT EXISTS records_request_model ON records (request_model, time_ns);
CREATE INDEX IF NOT EXISTS records_response_model ON records (response_model, time_ns);
CREATE INDEX IF NOT EXISTS records_provider ON records (provider, time_ns);
CREATE INDEX IF NOT EXISTS records_conversation ON records (conversation_id, time_ns);
CREATE INDEX IF NOT EXISTS records_trace ON records (trace_id);
CREATE INDEX IF NOT EXISTS records_errors ON records (time_ns, error) WHERE error = 1;
CREATE INDEX IF NOT EXISTS records_parent ON records (parent_span_id);
CREATE INDEX IF NOT EXISTS records_by_model ON records (model, duration_ms, {sums});
CREATE INDEX IF NOT EXISTS records_by_agent ON records (agent, duration_ms, {sums});
CREATE INDEX IF NOT EXISTS records_by_provider ON records (provider, duration_ms, {sums});
CREATE INDEX IF NOT EXISTS records_by_day ON records (day, duration_ms, {sums});
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5 (text, content='');
CREATE TABLE IF NOT EXISTS agent_spans (
    span_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    agent TEXT,
    conversation_id TEXT,
    time_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_spans_time ON agent_spans (time_ns);
""".format(sums="error, input_tokens, output_tokens, total_tokens, cost_usd")
# ``model`` (the requested model, else the answered one) and ``day`` (UTC date of the start) are what the summary
# groups on, written with the row: plain columns, not generated ones, since SQLite (3.40) reads the table for a
# generated column even when an index holds it, and the summary's indexes must be covering. Those indexes:
# the grouping key, then the duration (each group's durations in order: a percentile is an OFFSET), then every
# column the totals sum (the summary never reads the table). ``records_errors`` holds ``error`` for the same
# reason (a count of errors reads that small index alone).

_COLUMNS = (
    "span_id, trace_id, parent_span_id, seq, from_span, time_ns, agent, conversation_id, provider, request_model,"
    " response_model, duration_ms, error, input_tokens, output_tokens, total_tokens, cost_usd, model, day"
)
_V1_COLUMNS = _COLUMNS.replace(
    ", model, day", ", COALESCE(request_model, response_model), date(time_ns / 1000000000, 'unixepoch')"
)
_V1_INDEXES = (
    "records_time",
    "records_seq",
    "records_agent",
    "records_request_model",
    "records_response_model",
    "records_provider",
    "records_conversation",
    "records_trace",
    "records_errors",
    "records_parent",
)


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

    def where(self, *, search_by_time: bool = False) -> tuple[str, list[Any]]:
        """The SQL ``WHERE`` of the filters and its parameters. ``search_by_time``: the search's rowid set is only
        checked against (``+id`` keeps SQLite from driving the query from it), so a newest-first query with a
        LIMIT walks the time index and stops at the limit (see :meth:`Store.query`)."""
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
            column = "+id" if search_by_time else "id"
            clauses.append(f"{column} IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?)")
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


SUMMARY_KEYS = {"model": "model", "agent": "agent", "provider": "provider", "day": "day"}
"""``summary --by`` → the column grouped on (``model`` and ``day`` are generated columns, each with its index)."""

_PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95))
_FETCH_CHUNK = 500  # ids per look-up of bodies (under SQLite's limit on bound parameters)
_DELETE_ROUND = 5000  # records deleted per transaction by the limits


def _day(ns: int) -> str:
    """The UTC date of ``ns`` as SQLite's ``date(ns / 1000000000, 'unixepoch')`` gives it (the division
    truncates toward zero), which schema 1 grouped on and the migration computes."""
    seconds = abs(ns) // 10**9
    return time.strftime("%Y-%m-%d", time.gmtime(seconds if ns >= 0 else -seconds))


def _fts_text(body: str) -> str:
    """The FTS5 text of a stored body: computed from the stored JSON both when a row is indexed and when it is
    removed, so the two always match (a contentless FTS5 table removes exactly the tokens it is given)."""
    return search_text(json.loads(body))


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
            self._db.create_function("llmtel_fts_text", 1, _fts_text, deterministic=True)
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

    def _tune(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        # Reading a million rows: a 64 MB page cache per connection and the file mapped (the OS shares those
        # pages between processes), temporary b-trees (a search's rowid set) in memory.
        db.execute("PRAGMA cache_size = -65536")
        db.execute("PRAGMA temp_store = MEMORY")
        if self.path != ":memory:":
            db.execute("PRAGMA mmap_size = 1073741824")

    def _setup(self) -> None:
        db = self._db
        self._tune()
        if self.path != ":memory:":
            # Set before the first table exists (it cannot change afterwards without a VACUUM): lets the size
            # limit hand freed pages back to the filesystem.
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a crash of the process loses nothing committed; a power cut may lose the last
            # batches, never corrupt the file.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA journal_size_limit = 4194304")
        migrated = False
        with self._transaction():
            # The version first, in the write transaction: two processes opening an old store at once migrate
            # it once (the second waits for the first, then finds the new version).
            found = self._version()
            if found is not None and found > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema {found}, newer than this llmtel ({SCHEMA_VERSION})")
            if found == 1:
                self._migrate_from_1()
                migrated = True
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if found is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif migrated:
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        if migrated:
            with self._lock:
                self._db.execute("PRAGMA incremental_vacuum")  # the content is no longer stored twice

    def _version(self) -> int | None:
        """The schema version in ``meta`` (None: no store yet); raises StoreError for what is not a store."""
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise StoreError(f"{self.path} is not an llmtel log store: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path} is not an llmtel log store: {exc}") from exc
        if row is None or not str(row[0]).isdigit():
            raise StoreError(f"{self.path} has schema {row[0] if row else 'none'}; not an llmtel log store")
        return int(row[0])

    def _migrate_from_1(self) -> None:
        """Schema 1 → 2 in the open transaction: the bodies move to their own table, the records keep their ids
        (and so their order and ``seq``), the FTS5 table is rebuilt contentless from the bodies."""
        db = self._db
        for index in _V1_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {index}")
        db.execute("ALTER TABLE records RENAME TO records_v1")
        db.execute("DROP TABLE IF EXISTS records_fts")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"INSERT INTO records (id, {_COLUMNS}) SELECT id, {_V1_COLUMNS} FROM records_v1")
        db.execute("INSERT INTO bodies (id, body) SELECT id, body FROM records_v1")
        db.execute("INSERT INTO records_fts (rowid, text) SELECT id, llmtel_fts_text(body) FROM bodies")
        db.execute("DROP TABLE records_v1")

    def _check(self) -> None:
        """A reader's open: no write (no lock taken, so a busy writer never delays it), only the schema version
        checked. A schema-1 store is the exception: it is migrated once (that takes the write lock)."""
        found = self._version()
        self._tune()
        if found is None or found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema {found if found is not None else 'none'}; this llmtel reads up to"
                f" {SCHEMA_VERSION}"
            )
        if found < SCHEMA_VERSION:
            try:
                self._setup()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{self.path} has schema {found} and could not be upgraded to {SCHEMA_VERSION}"
                    f" (open it once where it is writable): {exc}"
                ) from exc

    class _Tx:
        def __init__(self, store: Store, mode: str = "IMMEDIATE") -> None:
            self.store = store
            self.mode = mode

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            try:
                self.store._db.execute(f"BEGIN {self.mode}")
            except BaseException:
                self.store._lock.release()
                raise
            return self.store._db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            db = self.store._db
            try:
                if exc_type is None:
                    try:
                        db.execute("COMMIT")
                    except BaseException:
                        self._abandon()  # a COMMIT that failed (a full disk) must not leave the transaction open
                        raise
                else:
                    self._abandon()
            finally:
                self.store._lock.release()

        def _abandon(self) -> None:
            db = self.store._db
            # After a full disk SQLite may have rolled back already: a ROLLBACK then raises "no transaction is
            # active" in place of the error that says what happened.
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")

    def _transaction(self) -> Store._Tx:
        return Store._Tx(self)

    def _snapshot(self) -> Store._Tx:
        """A read transaction: several statements see one state of the store (a writer commits meanwhile)."""
        return Store._Tx(self, "DEFERRED")

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
            "SELECT r.id, b.body FROM records r JOIN bodies b ON b.id = r.id"
            " WHERE r.parent_span_id = ? AND r.trace_id = ?",
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
                self._update_row(db, row_id, body, record, seq)

    def _put(self, db: sqlite3.Connection, entry: Entry, seq: int) -> None:
        record = entry.record
        row = db.execute(
            "SELECT r.id, b.body, r.from_span, r.parent_span_id FROM records r JOIN bodies b ON b.id = r.id"
            " WHERE r.span_id = ?",
            (record["span_id"],),
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
            body = _dumps(record)
            cursor = db.execute(
                f"INSERT INTO records ({_COLUMNS}) VALUES ({', '.join('?' * 19)})",
                (record["span_id"], record["trace_id"], parent, seq, int(from_span), *self._columns(record)),
            )
            db.execute("INSERT INTO bodies (id, body) VALUES (?, ?)", (cursor.lastrowid, body))
            db.execute("INSERT INTO records_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, _fts_text(body)))
        else:
            db.execute(
                "UPDATE records SET parent_span_id = ?, from_span = ? WHERE id = ?", (parent, int(from_span), row[0])
            )
            self._update_row(db, row[0], row[1], record, seq)

    @staticmethod
    def _columns(record: Record) -> tuple[Any, ...]:
        start = time_ns(record)
        return (
            start,
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
            record["request_model"] if record["request_model"] is not None else record["response_model"],
            _day(start),
        )

    def _update_row(self, db: sqlite3.Connection, row_id: int, old_body: str, record: Record, seq: int) -> None:
        body = _dumps(record)
        db.execute(
            "UPDATE records SET seq = ?, time_ns = ?, agent = ?, conversation_id = ?, provider = ?, request_model = ?,"
            " response_model = ?, duration_ms = ?, error = ?, input_tokens = ?, output_tokens = ?, total_tokens = ?,"
            " cost_usd = ?, model = ?, day = ? WHERE id = ?",
            (seq, *self._columns(record), row_id),
        )
        db.execute("UPDATE bodies SET body = ? WHERE id = ?", (body, row_id))
        db.execute(
            "INSERT INTO records_fts (records_fts, rowid, text) VALUES ('delete', ?, ?)", (row_id, _fts_text(old_body))
        )
        db.execute("INSERT INTO records_fts (rowid, text) VALUES (?, ?)", (row_id, _fts_text(body)))

    # -- retention ----------------------------------------------------------------------------------------------

    def _maybe_maintain(self) -> None:
        now = time.monotonic()
        if now - self._last_maintenance >= self.maintain_every_s:
            self._last_maintenance = now
            self.maintain()

    def maintain(self, now_ns: int | None = None) -> int:
        """Apply the age and size limits; return how many records were deleted.

        Every step goes through an index: the age limit is a range of ``records_time``, the size check reads
        three pragmas, and only when over the limit are the rows counted (the smallest index) and the oldest
        deleted. Deleting runs in transactions of at most :data:`_DELETE_ROUND` records: at a raised limit
        (a gigabyte) one round can be a hundred thousand records, each one's full-text entry recomputed to
        remove it, and other writers must not wait for all of it (their busy timeout is 10 s).
        """
        deleted = 0
        if self.max_age_s is not None:
            cutoff = (now_ns if now_ns is not None else time.time_ns()) - int(self.max_age_s * 1e9)
            while True:
                with self._transaction() as db:
                    got = self._delete(
                        db,
                        "id IN (SELECT id FROM records WHERE time_ns < ? ORDER BY time_ns LIMIT ?)",
                        (cutoff, _DELETE_ROUND),
                    )
                    db.execute("DELETE FROM agent_spans WHERE time_ns < ?", (cutoff,))
                deleted += got
                if got < _DELETE_ROUND:
                    break
        if self.max_bytes is not None and self.path != ":memory:":
            used = self.used_bytes()
            if used > self.max_bytes:
                # Sized from the overshoot once: deleting until the page count drops would overshoot, since
                # FTS5 frees a deleted row's index space only when it merges segments.
                count = self._rows("SELECT COUNT(*) FROM records", ())[0][0]
                left = max(1, math.ceil(count * (1 - 0.8 * self.max_bytes / used)))
                while left > 0:
                    with self._transaction() as db:
                        got = self._delete(
                            db,
                            "id IN (SELECT id FROM records ORDER BY time_ns, id LIMIT ?)",
                            (min(left, _DELETE_ROUND),),
                        )
                    deleted += got
                    left = left - got if got else 0
                with self._transaction() as db:
                    db.execute("INSERT INTO records_fts (records_fts, rank) VALUES ('merge', 64)")
                with self._lock:
                    self._db.execute("PRAGMA incremental_vacuum")
        return deleted

    @staticmethod
    def _delete(db: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> int:
        ids = [row_id for (row_id,) in db.execute(f"SELECT id FROM records WHERE {where}", params)]
        for start in range(0, len(ids), _FETCH_CHUNK):
            chunk = ids[start : start + _FETCH_CHUNK]
            marks = ",".join("?" * len(chunk))
            db.execute(
                "INSERT INTO records_fts (records_fts, rowid, text)"
                f" SELECT 'delete', id, llmtel_fts_text(body) FROM bodies WHERE id IN ({marks})",
                chunk,
            )
            db.execute(f"DELETE FROM bodies WHERE id IN ({marks})", chunk)
            db.execute(f"DELETE FROM records WHERE id IN ({marks})", chunk)
        return len(ids)

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

    def _bodies(self, sql: str, params: Sequence[Any]) -> list[Record]:
        """The records of the ids ``sql`` selects, in its order: the ids first (from the narrow table and its
        indexes, so a LIMIT stops early), then only those bodies, in one read transaction."""
        with self._snapshot() as db:
            ids = [row_id for (row_id,) in db.execute(sql, params)]
            found: dict[int, str] = {}
            for start in range(0, len(ids), _FETCH_CHUNK):
                chunk = ids[start : start + _FETCH_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(db.execute(f"SELECT id, body FROM bodies WHERE id IN ({marks})", chunk).fetchall())
        return [json.loads(found[row_id]) for row_id in ids if row_id in found]

    def query(self, query: Query | None = None, *, oldest_first: bool = False) -> list[Record]:
        """Records matching the filters, newest first (by call start).

        A search with a limit has two plans, chosen by how many records hold the words: from the search's
        hits (each looked up, then sorted by time: cheap for a rare word), or down the time index, each row
        checked against the hits, stopping at the limit (cheap for a common word: about limit * records / hits
        rows walked). The second is taken when it walks fewer rows than the first looks up.
        """
        query = query or Query()
        by_time = False
        if query.search and query.limit is not None:
            hits, top = self._rows(
                "SELECT (SELECT COUNT(*) FROM records_fts WHERE records_fts MATCH ?), (SELECT MAX(id) FROM records)",
                (fts_query(query.search),),
            )[0]
            by_time = bool(hits) and hits * hits > query.limit * (top or 0)
        where, params = query.where(search_by_time=by_time)
        order = "ASC" if oldest_first else "DESC"
        sql = f"SELECT id FROM records{where} ORDER BY time_ns {order}, id {order}"
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        return self._bodies(sql, params)

    def changes(self, after_seq: int, query: Query | None = None) -> tuple[int, list[Record]]:
        """Records added or changed since ``after_seq`` (oldest change first), and the sequence number reached."""
        where, params = (query or Query(limit=None)).where()
        glue = " AND " if where else " WHERE "
        # The end of the window first, then the rows up to it: a commit between the two reads is caught next
        # time, never skipped (the filter may match none of the rows before it).
        top = max(self.last_seq(), after_seq)
        records = self._bodies(
            f"SELECT id FROM records{where}{glue}seq > ? AND seq <= ? ORDER BY seq", [*params, after_seq, top]
        )
        return top, records

    def last_seq(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(seq), 0) FROM records", ())[0][0])

    def get(self, span_id: str) -> Record | None:
        """The record of this span id, or of the one span id starting with this prefix."""
        key = span_id.strip().lower()
        found = self._bodies("SELECT id FROM records WHERE span_id = ?", (key,))
        if not found and key and not key.strip("0123456789abcdef") and len(key) < 16:
            found = self._bodies("SELECT id FROM records WHERE span_id >= ? AND span_id < ? LIMIT 2", (key, key + "g"))
        return found[0] if len(found) == 1 else None

    def count(self, query: Query | None = None) -> int:
        """How many records match the filters (all of them without a query; ``limit`` is ignored)."""
        where, params = (query or Query()).where()
        return int(self._rows(f"SELECT COUNT(*) FROM records{where}", params)[0][0])

    def summary(self, by: str = "model", query: Query | None = None) -> list[dict[str, Any]]:
        """Per group: calls, errors, token sums, cost and p50/p95 latency; groups by calls, most first.

        SQLite sums (``SUM`` of no values is NULL: unknown stays null, never 0). Percentiles are exact
        (nearest rank over the group's known durations). With no filter, the totals come from one ordered pass
        over the grouping's covering index, and each percentile is the duration at its rank in the group,
        found with ``OFFSET`` in that same index (its durations are in order): no table row is read and no
        duration leaves SQLite but the answer. With filters, the matching durations are read sorted and picked
        from in Python (the rows matched are what it costs).
        """
        key = SUMMARY_KEYS[by]
        where, params = (query or Query()).where()
        glue = " AND " if where else " WHERE "
        with self._snapshot() as db:
            totals = db.execute(
                f"SELECT {key} AS g, COUNT(*), SUM(error), SUM(input_tokens), SUM(output_tokens), SUM(total_tokens),"
                f" SUM(cost_usd), COUNT(duration_ms) FROM records INDEXED BY records_by_{by}{where}"
                f" GROUP BY g ORDER BY g",
                params,
            ).fetchall()
            picked: dict[Any, dict[str, float | None]] = {}
            if where:
                durations: dict[Any, list[float]] = {}
                for group, duration in db.execute(
                    f"SELECT {key} AS g, duration_ms FROM records{where}{glue}duration_ms IS NOT NULL"
                    " ORDER BY g, duration_ms",
                    params,
                ):
                    durations.setdefault(group, []).append(duration)
                for group, values in durations.items():
                    picked[group] = {name: percentile(values, fraction) for name, fraction in _PERCENTILES}
            else:
                for group, *_, known in totals:
                    picked[group] = {}
                    for name, fraction in _PERCENTILES:
                        rank = max(math.ceil(fraction * known), 1)
                        row = db.execute(
                            f"SELECT duration_ms FROM records INDEXED BY records_by_{by}"
                            f" WHERE {key} IS ? AND duration_ms IS NOT NULL ORDER BY duration_ms LIMIT 1 OFFSET ?",
                            (group, rank - 1),
                        ).fetchone()
                        picked[group][name] = row[0] if row is not None and known else None
        groups = []
        for group, calls, errors, inputs, outputs, total, cost, _ in totals:
            found = picked.get(group, {})
            groups.append(
                {
                    by: group,
                    "calls": calls,
                    "errors": errors,
                    "input_tokens": inputs,
                    "output_tokens": outputs,
                    "total_tokens": total,
                    "cost_usd": cost,
                    "p50_ms": found.get("p50_ms"),
                    "p95_ms": found.get("p95_ms"),
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

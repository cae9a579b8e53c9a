"""``llmtel logs``: list, search, tail, show, thread and summarise completion records; serve; export, import.

``llmtel logs [SOURCE...] [filters]`` lists calls; ``show``, ``conversation``, ``summary``, ``export``,
``import`` and ``serve`` are sub-commands. A SOURCE is a store directory (default ``$LLMTEL_LOG_DIR`` or
``./llmtel-logs``), a JSONL file of records (``llmtel logs export`` writes them), or an OTLP JSON lines file
(the collector's file exporter: one export request per line, traces or logs). Files are loaded into an
in-memory store, so every filter works the same on them.

The ``logs`` command is handed its words untouched (:func:`llmtel.logs.command.register`) and parses them
here: listing takes SOURCE words where sub-commands take their own, which one argparse parser cannot express.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from llmtel.logs import otlp
from llmtel.logs.exporter import limits, log_dir, span_entries
from llmtel.logs.record import Entry, Record, clean, from_event
from llmtel.logs.store import SUMMARY_KEYS, Query, Store, StoreError, query_from, read_jsonl

JAEGER_ENV = "LLMTEL_JAEGER_URL"
TABLE_LIMIT = 50
FOLLOW_POLL_S = 0.2

_DESCRIPTION = """\
List the LLM calls recorded by llmtel, newest first.

sub-commands:
  llmtel logs show ID             one call in full (ID: its span id, or a unique prefix)
  llmtel logs conversation ID     a conversation's calls in order, as a thread
  llmtel logs summary [--by model|agent|provider|day] [--json]
  llmtel logs export [SOURCE...] [filters] [-o FILE]   records as JSONL
  llmtel logs import FILE... [--dir DIR]               JSONL records into a store
  llmtel logs serve [--host H] [--port P] [--dir DIR]  OTLP/HTTP receiver + API
                    [--forward URL]                  ... passing everything on to a collector

SOURCE: a store directory (default $LLMTEL_LOG_DIR, else ./llmtel-logs), a JSONL
file of records, or an OTLP JSON lines file written by the collector.
"""


class _Usage(Exception):
    """A bad command line: exit status 2, the message on stderr."""


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", help="only this agent's calls")
    parser.add_argument("--model", help="only calls to this model (requested or answered)")
    parser.add_argument("--provider", help="only this provider (openai, anthropic, aws.bedrock, gcp.gemini …)")
    parser.add_argument("--conversation", metavar="ID", help="only this conversation")
    parser.add_argument("--trace", metavar="TRACE_ID", help="only this trace")
    parser.add_argument("--since", metavar="WHEN", help="calls from this time: ISO 8601, or an age: 10m, 2h, 7d")
    parser.add_argument("--until", metavar="WHEN", help="calls up to this time (same forms)")
    parser.add_argument("--search", metavar="TEXT", help="calls whose content or error has every word of TEXT")
    parser.add_argument("--errors", action="store_true", help="only failed calls")
    parser.add_argument("--slow", metavar="MS", help="only calls that took at least MS milliseconds")
    parser.add_argument("--limit", metavar="N", help="at most N calls (default: 50 in the table, all with --json)")


def _sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="store directory, records JSONL, OTLP JSON lines")


def _params(args: argparse.Namespace) -> dict[str, str | None]:
    """The filter flags under the API's parameter names (one parser for both: :func:`query_from`)."""
    return {
        "agent": args.agent,
        "model": args.model,
        "provider": args.provider,
        "conversation": args.conversation,
        "trace": args.trace,
        "since": args.since,
        "until": args.until,
        "search": args.search,
        "has_error": "true" if args.errors else None,
        "slow": args.slow,
        "limit": args.limit,
    }


def _query(params: dict[str, str | None]) -> Query:
    try:
        return query_from(params)
    except ValueError as exc:
        raise _Usage(str(exc)) from None


# -- sources ----------------------------------------------------------------------------------------------------


def load_file(store: Store, path: Path) -> int:
    """Records from a JSONL file (ours) or OTLP JSON lines (the collector's) into ``store``; how many lines."""
    lines = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for value in read_jsonl(handle):
            lines += 1
            if not isinstance(value, dict):
                continue
            if "resourceSpans" in value:
                entries, links = span_entries(list(otlp.spans(value)))
                store.write(entries, links)
            elif "resourceLogs" in value:
                store.write([e for e in map(from_event, otlp.events(value)) if e is not None])
            else:
                record = clean(value)
                if record is not None:
                    store.write([Entry(record, None, from_span=record["duration_ms"] is not None)])
    return lines


def is_url(name: str) -> bool:
    return name.startswith(("http://", "https://"))


def _fetch(url: str, timeout: float | None = 30) -> Any:
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except (OSError, ValueError) as exc:
        raise _Usage(f"cannot read {url}: {exc}") from None


def _api_url(base: str, path: str, params: dict[str, str | None]) -> str:
    given = {k: v for k, v in params.items() if v}
    return f"{base.rstrip('/')}{path}" + (f"?{urllib.parse.urlencode(given)}" if given else "")


def open_sources(sources: Sequence[str], params: dict[str, str | None] | None = None) -> Store:
    """One store to query: the store directory itself when that is the only source, else an in-memory copy.

    A URL is a running ``llmtel logs serve``: the records matching ``params`` are read from its API (and
    checked like any JSONL record: the server is not trusted more than a file).
    """
    names = list(sources) or [log_dir()]
    if len(names) == 1 and Path(names[0]).is_dir():
        try:
            return Store(names[0], create=False)
        except StoreError as exc:
            raise _Usage(str(exc)) from None
    memory = Store(None, max_age_s=None, max_bytes=None)
    for name in names:
        path = Path(name)
        if is_url(name):
            with _fetch(_api_url(name, "/api/logs", params or {})) as response:
                try:
                    found = json.loads(response.read()).get("records")
                except (ValueError, AttributeError):
                    raise _Usage(f"{name}: not an llmtel logs server") from None
            records = [r for r in map(clean, found if isinstance(found, list) else []) if r is not None]
            memory.write([Entry(r, None, r["duration_ms"] is not None) for r in records])
        elif path.is_dir():
            try:
                with Store(path, create=False) as other:
                    memory.write([Entry(r, None, r["duration_ms"] is not None) for r in other.query(oldest_first=True)])
            except StoreError as exc:
                raise _Usage(str(exc)) from None
        elif path.is_file():
            load_file(memory, path)
        else:
            raise _Usage(f"{name}: no such file or directory (no records there yet? see llmtel logs serve)")
    return memory


def _polled(store: Store, query: Query) -> Iterator[list[Record]]:
    """A store's changes, as they are committed (by any process)."""
    seq = store.last_seq()
    while True:
        seq, records = store.changes(seq, query)
        yield records
        time.sleep(FOLLOW_POLL_S)


def _streamed(url: str, params: dict[str, str | None]) -> Iterator[list[Record]]:
    """A server's live feed (server-sent events), one record at a time."""
    with _fetch(_api_url(url, "/api/stream", {**params, "limit": None}), timeout=None) as response:
        for line in response:
            if line.startswith(b"data: "):
                try:
                    record = clean(json.loads(line[len(b"data: ") :]))
                except ValueError:
                    continue
                if record is not None:
                    yield [record]


# -- rendering --------------------------------------------------------------------------------------------------


def _num(value: Any) -> str:
    return "-" if value is None else str(value)


def _latency(ms: Any) -> str:
    if not isinstance(ms, (int, float)):
        return "-"
    return f"{ms / 1000:.2f}s" if ms >= 1000 else f"{ms:.0f}ms"


def _cost(value: Any) -> str:
    return f"${value:.4f}" if isinstance(value, (int, float)) else "-"


def _tokens(record: Record) -> str:
    inputs, outputs = record.get("input_tokens"), record.get("output_tokens")
    if inputs is None and outputs is None:
        return "-"
    return f"{_num(inputs)}/{_num(outputs)}"


def _model(record: Record) -> str:
    return f"{record.get('provider') or '?'}/{record.get('response_model') or record.get('request_model') or '?'}"


_COLUMNS = ("TIME (UTC)", "ID", "AGENT", "PROVIDER/MODEL", "TOKENS IN/OUT", "COST", "LATENCY", "ERROR")


def row(record: Record) -> list[str]:
    time_text = str(record.get("time") or "")[:19].replace("T", " ")
    return [
        time_text,
        str(record.get("span_id") or ""),
        record.get("agent") or "-",
        _model(record),
        _tokens(record),
        _cost(record.get("cost_usd")),
        _latency(record.get("duration_ms")),
        record.get("error_type") or "",
    ]


def table(rows: list[list[str]], out: TextIO, header: Sequence[str] = _COLUMNS) -> None:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    for cells in (list(header), *rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")


def _part(part: Any) -> str:
    if not isinstance(part, dict):
        return json.dumps(part, ensure_ascii=False)
    kind = part.get("type")
    if kind in ("text", "reasoning"):
        prefix = "(reasoning) " if kind == "reasoning" else ""
        return prefix + str(part.get("content", ""))
    if kind == "tool_call":
        arguments = json.dumps(part.get("arguments"), ensure_ascii=False)
        return f"→ tool call {part.get('name')}({arguments}) id={part.get('id')}"
    if kind == "tool_call_response":
        response = part.get("response")
        shown = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
        return f"← tool result id={part.get('id')}: {shown}"
    return f"[{kind}] " + json.dumps({k: v for k, v in part.items() if k != "type"}, ensure_ascii=False)


def messages(value: Any, out: TextIO, indent: str = "  ") -> None:
    for message in value if isinstance(value, list) else ():
        if not isinstance(message, dict):
            continue
        role = message.get("role", "?")
        finish = f" (finish: {message['finish_reason']})" if message.get("finish_reason") else ""
        out.write(f"{indent}{role}{finish}:\n")
        for part in message.get("parts") or ():
            for line in _part(part).splitlines() or [""]:
                out.write(f"{indent}  {line}\n")


def show(record: Record, out: TextIO) -> None:
    out.write(f"{record['operation'] or 'call'} {_model(record)}  {record['time']}\n")
    facts = [
        ("span", record["span_id"]),
        ("trace", record["trace_id"]),
        ("service", record["service"]),
        ("agent", record["agent"]),
        ("conversation", record["conversation_id"]),
        ("request model", record["request_model"]),
        ("response model", record["response_model"]),
        ("server", record["server_address"]),
        ("stream", record["stream"]),
        ("duration", _latency(record["duration_ms"]) if record["duration_ms"] is not None else None),
        ("first chunk", _latency(record["time_to_first_chunk_ms"]) if record["time_to_first_chunk_ms"] else None),
        (
            "tokens in/out/total",
            f"{_num(record['input_tokens'])}/{_num(record['output_tokens'])}/{_num(record['total_tokens'])}",
        ),
        ("cache read/write", f"{_num(record['cache_read_tokens'])}/{_num(record['cache_write_tokens'])}"),
        ("reasoning tokens", record["reasoning_tokens"]),
        ("cost", _cost(record["cost_usd"]) if record["cost_usd"] is not None else None),
        ("finish reasons", ", ".join(record["finish_reasons"]) if record["finish_reasons"] else None),
        ("error", record["error_type"]),
        ("error message", record["error_message"]),
    ]
    for label, value in facts:
        if value is not None:
            out.write(f"  {label + ':':<21}{value}\n")
    jaeger = os.environ.get(JAEGER_ENV)
    if jaeger:
        out.write(f"  {'trace in Jaeger:':<21}{jaeger.rstrip('/')}/trace/{record['trace_id']}\n")
    if record["system_instructions"]:
        out.write("system instructions:\n")
        for part in record["system_instructions"]:
            out.write(f"  {_part(part)}\n")
    if record["tool_definitions"]:
        names = [str(t.get("name")) for t in record["tool_definitions"] if isinstance(t, dict)]
        out.write(f"tools: {', '.join(names)}\n")
    if record["input_messages"]:
        out.write("input:\n")
        messages(record["input_messages"], out)
    if record["output_messages"]:
        out.write("output:\n")
        messages(record["output_messages"], out)
    if not any(record[k] for k in ("input_messages", "output_messages", "system_instructions")):
        out.write("(no content: capture was off; OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turns it on)\n")


def _dump(record: Record) -> str:
    return json.dumps(record, ensure_ascii=False)


# -- commands ---------------------------------------------------------------------------------------------------


def _list(argv: list[str], out: TextIO) -> int:
    parser = argparse.ArgumentParser(
        prog="llmtel logs", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _sources(parser)
    _filters(parser)
    parser.add_argument("--json", action="store_true", help="one JSON record per line (the documented schema)")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing calls as they are recorded")
    args = parser.parse_intermixed_args(argv)
    params = _params(args)
    query = _query(params)
    store = open_sources(args.sources, params)
    with store:
        if not args.json and query.limit is None:
            query.limit = TABLE_LIMIT
        if args.follow:
            remote = [name for name in args.sources if is_url(name)]
            if len(remote) > 1 or (remote and len(args.sources) > 1):
                raise _Usage("--follow follows one source: a store directory or one server URL")
            recent = list(reversed(store.query(query)))
            query.limit = None
            updates = _streamed(remote[0], params) if remote else _polled(store, query)
            return _follow(recent, updates, args.json, out)
        records = store.query(query)
        if args.json:
            for record in records:
                out.write(_dump(record) + "\n")
        else:
            table([row(r) for r in records], out)
    return 0


def _follow(recent: list[Record], updates: Iterator[list[Record]], as_json: bool, out: TextIO) -> int:
    """The latest calls oldest first, then every call as it is recorded (a record completed later, when its
    span or its details event arrives second, is printed again only if what is shown changed)."""
    shown: dict[str, str] = {}

    def emit(record: Record) -> None:
        line = _dump(record) if as_json else "  ".join(row(record))
        if shown.get(record["span_id"]) == line:
            return
        shown[record["span_id"]] = line
        out.write(line + "\n")
        out.flush()

    if not as_json:
        out.write("  ".join(_COLUMNS) + "\n")
    for record in recent:
        emit(record)
    try:
        for records in updates:
            for record in records:
                emit(record)
    except KeyboardInterrupt:
        pass
    return 0


def _one_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="where to read (repeatable; default: $LLMTEL_LOG_DIR or ./llmtel-logs)",
    )


def _by_id(argv: list[str], command: str, description: str, id_help: str, json_help: str) -> argparse.Namespace:
    """The command line of ``show`` and ``conversation``: an ID, sources, ``--json``."""
    parser = argparse.ArgumentParser(prog=f"llmtel logs {command}", description=description)
    parser.add_argument("id", metavar="ID", help=id_help)
    _one_source(parser)
    parser.add_argument("--json", action="store_true", help=json_help)
    return parser.parse_intermixed_args(argv)


def _show(argv: list[str], out: TextIO) -> int:
    args = _by_id(argv, "show", "One call in full.", "span id, or a unique prefix of one", "the record as JSON")
    with open_sources(args.source) as store:
        record = store.get(args.id)
    if record is None:
        sys.stderr.write(f"llmtel logs show: no record {args.id!r} (or the prefix matches several)\n")
        return 1
    if args.json:
        out.write(_dump(record) + "\n")
    else:
        show(record, out)
    return 0


def _conversation(argv: list[str], out: TextIO) -> int:
    args = _by_id(
        argv,
        "conversation",
        "A conversation's calls as a thread.",
        "the conversation id (gen_ai.conversation.id)",
        "its records, oldest first, one JSON per line",
    )
    with open_sources(args.source, {"conversation": args.id}) as store:
        records = store.query(Query(conversation=args.id), oldest_first=True)
    if not records:
        sys.stderr.write(f"llmtel logs conversation: no calls in conversation {args.id!r}\n")
        return 1
    if args.json:
        for record in records:
            out.write(_dump(record) + "\n")
        return 0
    out.write(f"conversation {args.id}: {len(records)} call(s)\n")
    seen = 0
    for number, record in enumerate(records, 1):
        out.write(f"\n#{number} {'  '.join(row(record))}\n")
        inputs = record["input_messages"] or []
        # Each call resends the history: show only the messages the thread has not shown yet.
        messages(inputs[seen:] if len(inputs) >= seen else inputs, out)
        messages(record["output_messages"], out)
        seen = len(inputs) + len(record["output_messages"] or [])
    return 0


def _summary(argv: list[str], out: TextIO) -> int:
    parser = argparse.ArgumentParser(prog="llmtel logs summary", description="Calls, errors, tokens, cost, latency.")
    _sources(parser)
    _filters(parser)
    parser.add_argument("--by", choices=list(SUMMARY_KEYS), default="model", help="group by (default: model)")
    parser.add_argument("--json", action="store_true", help="one JSON object per group")
    args = parser.parse_intermixed_args(argv)
    params = {**_params(args), "limit": None}
    query = _query(params)
    with open_sources(args.sources, params) as store:
        groups = store.summary(args.by, query)
    if args.json:
        for group in groups:
            out.write(json.dumps(group, ensure_ascii=False) + "\n")
        return 0
    header = (args.by.upper(), "CALLS", "ERRORS", "TOKENS IN", "TOKENS OUT", "COST", "P50", "P95")
    rows = [
        [
            str(g[args.by] if g[args.by] is not None else "-"),
            str(g["calls"]),
            str(g["errors"]),
            _num(g["input_tokens"]),
            _num(g["output_tokens"]),
            _cost(g["cost_usd"]),
            _latency(g["p50_ms"]),
            _latency(g["p95_ms"]),
        ]
        for g in groups
    ]
    table(rows, out, header)
    return 0


def _export(argv: list[str], out: TextIO) -> int:
    parser = argparse.ArgumentParser(prog="llmtel logs export", description="Records as JSONL, oldest first.")
    _sources(parser)
    _filters(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    args = parser.parse_intermixed_args(argv)
    params = _params(args)
    query = _query(params)
    with open_sources(args.sources, params) as store:
        records = store.query(query, oldest_first=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            _write_lines(records, handle)
    else:
        _write_lines(records, out)
    return 0


def _write_lines(records: list[Record], out: TextIO) -> None:
    for record in records:
        out.write(_dump(record) + "\n")


def _import(argv: list[str], out: TextIO) -> int:
    parser = argparse.ArgumentParser(
        prog="llmtel logs import", description="JSONL records (or OTLP JSON lines) into a store."
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--dir", help="the store (default: $LLMTEL_LOG_DIR or ./llmtel-logs)")
    args = parser.parse_intermixed_args(argv)
    try:
        store = Store(log_dir(args.dir), max_age_s=None)
    except StoreError as exc:
        raise _Usage(str(exc)) from None
    with store:
        before = store.count()
        for name in args.files:
            path = Path(name)
            if not path.is_file():
                raise _Usage(f"{name}: no such file")
            load_file(store, path)
        out.write(f"imported {store.count() - before} new record(s) into {log_dir(args.dir)}\n")
    return 0


def _serve(argv: list[str], out: TextIO) -> int:
    from llmtel.logs import forward
    from llmtel.logs.receiver import serve

    parser = argparse.ArgumentParser(
        prog="llmtel logs serve",
        description="OTLP/HTTP receiver: GenAI calls "
        "become records in the store; API at /api/logs, /api/summary, /api/stream.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4318, help="port (default: 4318, OTLP/HTTP's)")
    parser.add_argument("--dir", help="the store (default: $LLMTEL_LOG_DIR or ./llmtel-logs)")
    parser.add_argument("--max-mb", metavar="MB", help="size limit of the store (default: $LLMTEL_LOG_MAX_MB or 50)")
    parser.add_argument("--max-days", metavar="DAYS", help="age limit (default: $LLMTEL_LOG_MAX_DAYS or 7)")
    parser.add_argument(
        "--forward",
        metavar="URL",
        help="also pass every OTLP request received (traces, logs, metrics) on to this collector, unchanged "
        "(URL + /v1/traces …)",
    )
    parser.add_argument(
        "--forward-header",
        metavar="K=V",
        action="append",
        default=[],
        help=f"a header for the collector (repeatable); a secret is better in ${forward.HEADERS_ENV} "
        "(K=V,K2=V2, as OTEL_EXPORTER_OTLP_HEADERS), which ps does not show",
    )
    args = parser.parse_args(argv)
    max_bytes, max_age_s = limits(args.max_mb, args.max_days)
    if args.forward_header and not args.forward:
        raise _Usage("--forward-header needs --forward URL")
    try:
        forwarder = forward.configured(args.forward, args.forward_header, os.environ)
    except ValueError as exc:
        raise _Usage(str(exc)) from None
    try:
        store = Store(log_dir(args.dir), max_bytes=max_bytes, max_age_s=max_age_s)
    except StoreError as exc:
        if forwarder is not None:
            forwarder.close(0)
        raise _Usage(str(exc)) from None

    def ready(url: str) -> None:
        out.write(f"llmtel logs serve: OTLP/HTTP and API on {url}, store {log_dir(args.dir)}\n")
        out.write(f"  apps: OTEL_EXPORTER_OTLP_ENDPOINT={url}  (Docker: http://host.docker.internal:{args.port})\n")
        if forwarder is not None:  # header names only: their values are secrets
            names = ", ".join(forwarder.header_names) or "none"
            out.write(f"  forwarding to {forwarder.url} (headers: {names})\n")
        out.flush()

    with store:
        try:
            serve(store, args.host, args.port, ready, forwarder)
        except OSError as exc:
            raise _Usage(f"cannot listen on {args.host}:{args.port}: {exc}") from None
        finally:
            if forwarder is not None:
                stats = forwarder.close()
                out.write(f"llmtel logs serve: forwarded {stats.forwarded} request(s), dropped {stats.dropped}\n")
                out.flush()
    return 0


COMMANDS: dict[str, Callable[[list[str], TextIO], int]] = {
    "show": _show,
    "conversation": _conversation,
    "summary": _summary,
    "export": _export,
    "import": _import,
    "serve": _serve,
}


def main(argv: Sequence[str], out: TextIO | None = None) -> int:
    """``llmtel logs ARGS``; returns the exit status (2 for bad usage)."""
    words = list(argv)
    out = out or sys.stdout
    command = COMMANDS.get(words[0]) if words else None
    try:
        if command is not None:
            return command(words[1:], out)
        return _list(words, out)
    except SystemExit as exc:  # argparse: --help, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except _Usage as exc:
        sys.stderr.write(f"llmtel logs: {exc}\n")
        return 2
    except BrokenPipeError:
        return 0  # | head

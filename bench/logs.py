"""``python -m bench.logs [--records N] [--output FILE] [--reps R]``: the completion-log store at scale.

A generated corpus (default 1,000,000 records, about 1 KB of content each) is written into a store and, the same
records, into a JSONL file; both are cached under ``/tmp/llmtel-bench-logs/`` keyed by N and
:data:`CORPUS_VERSION` (the store also by the store's schema and its tables and indexes, so a changed layout is
rebuilt, the corpus not). Then, each several times (median [min … max]):

- queries through the Store API (one reader connection, warmed once) and through ``llmtel logs`` end to end
  (a new process each time: interpreter start and imports included), beside ``grep -c`` over the JSONL;
- ingest: records/s into ``llmtel logs serve`` from the OpenTelemetry SDK's OTLP/HTTP exporter (protobuf,
  batches of 512: the BatchSpanProcessor's default), and from parallel writer processes;
- the cost on the calling thread of a span with the in-process exporter (``LlmtelLogsSpanExporter`` behind a
  ``BatchSpanProcessor``) on and off, timed and counted by callgrind on that thread only.

The figures go into the "Completion-log store" section of ``bench/RESULTS.md`` (between markers; the rest of
the file is left as it is: ``python -m bench`` writes it). The machine is shared: time figures are noisy, so
each is a median with its range; the corpus answers are checked (counts and exact percentiles) before timing.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import hashlib
import itertools
import json
import math
import operator
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmtel.logs import store as store_module
from llmtel.logs.record import FIELDS, Entry, Record, iso
from llmtel.logs.store import Query, Store

from .report import Spread

CORPUS_VERSION = 2
CACHE = Path(tempfile.gettempdir()) / "llmtel-bench-logs"
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN = "<!-- bench/logs.py: begin -->"
END = "<!-- bench/logs.py: end -->"

BASE_NS = 1_793_491_200_000_000_000  # 2026-11-01T00:00:00Z
LOAD_AT_START = os.getloadavg()[0]
SPAN_NS = 6 * 86400 * 10**9  # the corpus covers six days
BATCH = 512  # records per write: the BatchSpanProcessor's default max_export_batch_size

AGENTS: tuple[tuple[str | None, int], ...] = (
    ("planner", 30),
    ("coder", 25),
    ("reviewer", 15),
    ("researcher", 10),
    ("support-bot", 10),
    (None, 10),
)
MODELS: tuple[tuple[str, str, int, float], ...] = (  # provider, model, weight, median latency (ms)
    ("openai", "gpt-4o-mini", 30, 700.0),
    ("openai", "gpt-4.1", 10, 1800.0),
    ("anthropic", "claude-sonnet-4-5", 20, 2400.0),
    ("anthropic", "claude-haiku-4-5", 10, 900.0),
    ("aws.bedrock", "amazon.nova-pro-v1:0", 10, 1500.0),
    ("gcp.gemini", "gemini-2.5-flash", 15, 800.0),
    ("gcp.gemini", "gemini-2.5-pro", 5, 3500.0),
)
ERRORS = (("429", "Rate limit reached for requests"), ("500", "Internal server error"), ("timeout", "Read timed out"))
ERROR_RATE = 0.02
COMMON = "latency"  # in every 4th record's question: a quarter of the corpus
RARE = "quokka"  # in every 10,007th record's answer
RARE_EVERY = 10_007
COMMON_EVERY = 4
# The filter query: one agent, one model, the middle two days.
FILTER_AGENT, FILTER_MODEL = "coder", "claude-sonnet-4-5"
FILTER_SINCE, FILTER_UNTIL = BASE_NS + 2 * 86400 * 10**9, BASE_NS + 4 * 86400 * 10**9


# -- the corpus -------------------------------------------------------------------------------------------------


def _vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    """Made-up words from syllables (never one of the marker words), most frequent first."""
    syllables = [a + b for a in "bdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "is", "on")]
    words: list[str] = []
    seen = {COMMON, RARE}
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _sentences(rng: random.Random, count: int = 20_000) -> list[str]:
    """A pool of sentences whose words follow a Zipf distribution (s = 1.1) over the vocabulary."""
    words = _vocabulary(rng)
    cumulative = list(itertools.accumulate(1 / (rank**1.1) for rank in range(1, len(words) + 1)))
    total = cumulative[-1]
    out = []
    for _ in range(count):
        n = rng.randint(8, 16)
        picked = [words[bisect.bisect_left(cumulative, rng.random() * total)] for _ in range(n)]
        out.append(" ".join(picked).capitalize() + ".")
    return out


SYSTEMS = (
    "You are a careful planning assistant. Break the task into steps and say which tool each step needs.",
    "You write Python. Answer with code first, then a short explanation.",
    "You review pull requests. List problems by severity; be specific about lines.",
    "You research questions and cite sources. Say when you are unsure.",
    "You are a friendly support agent for an online shop. Never promise refunds.",
)


def corpus(n: int) -> Iterator[Record]:
    """The ``n`` records, oldest first, the same for the same ``n`` and :data:`CORPUS_VERSION`."""
    rng = random.Random(f"llmtel-bench-logs-{CORPUS_VERSION}")
    pool = _sentences(rng)
    agents = [a for a, _ in AGENTS]
    agent_weights = [w for _, w in AGENTS]
    models = list(range(len(MODELS)))
    model_weights = [m[2] for m in MODELS]
    step = SPAN_NS // max(n, 1)
    i = 0
    conversation = 0
    while i < n:
        agent = rng.choices(agents, agent_weights)[0]
        provider, model, _, median = MODELS[rng.choices(models, model_weights)[0]]
        system = rng.choice(SYSTEMS)
        turns = rng.randint(1, 8)
        conversation += 1
        previous: dict[str, Any] | None = None
        for _ in range(turns):
            if i >= n:
                break
            # The marker words only in this call's own question and answer, not in the history resent later,
            # so each search's answer is known: exactly the records of its rule.
            plain_question = " ".join(rng.choices(pool, k=rng.randint(2, 4)))
            plain_answer = " ".join(rng.choices(pool, k=rng.randint(1, 3)))
            question, answer = plain_question, plain_answer
            if i % COMMON_EVERY == 0:
                question += f" What about the {COMMON} of this?"
            if i % RARE_EVERY == 0:
                answer += f" A {RARE} is not a kind of cache."
            failed = rng.random() < ERROR_RATE
            inputs = 40 + len(question) // 4
            outputs = len(answer) // 4
            user = {"role": "user", "parts": [{"type": "text", "content": question}]}
            record: Record = dict.fromkeys(FIELDS)
            record.update(
                time=iso(BASE_NS + i * step + rng.randrange(step)),
                trace_id=f"{rng.getrandbits(128):032x}",
                span_id=f"{i + 1:08x}{rng.getrandbits(32):08x}",
                service="bench-app",
                agent=agent,
                conversation_id=f"conv-{conversation:07d}",
                provider=provider,
                operation="chat",
                request_model=model,
                response_model=f"{model}-2026-09" if provider == "openai" else model,
                stream=rng.random() < 0.3,
                duration_ms=round(median * math.exp(rng.gauss(0, 0.5)), 3),
                input_tokens=None if failed else inputs,
                output_tokens=None if failed else outputs,
                total_tokens=None if failed else inputs + outputs,
                finish_reasons=None if failed else ["stop"],
                server_address="api.example.com",
                system_instructions=[{"type": "text", "content": system}],
                # The previous answer resent (an app resends the history; bounded here to keep ~1 KB a record).
                input_messages=[previous, user] if previous is not None else [user],
            )
            if failed:
                record["error_type"], record["error_message"] = rng.choice(ERRORS)
            else:
                reply = {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}
                record["output_messages"] = [reply]
                previous = {"role": "assistant", "parts": [{"type": "text", "content": plain_answer}]}
            yield record
            i += 1


@dataclass
class Answers:
    """What the queries must return, computed from the corpus in Python while it is written."""

    records: int = 0
    jsonl_bytes: int = 0
    filter_count: int = 0
    errors: int = 0
    common: int = 0
    rare: int = 0
    by_model: dict[str, dict[str, Any]] | None = None
    by_day: dict[str, dict[str, Any]] | None = None
    get_id: str = ""
    newest_filter_ids: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _groups(rows: dict[str, list[tuple[float, bool]]]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, values in rows.items():
        durations = sorted(d for d, _ in values)
        out[key] = {
            "calls": len(values),
            "errors": sum(1 for _, e in values if e),
            "p50_ms": store_module.percentile(durations, 0.5),
            "p95_ms": store_module.percentile(durations, 0.95),
        }
    return out


def build(n: int, log: Callable[[str], None]) -> tuple[Path, Path, Answers, float]:
    """The cached store directory, the JSONL file, the answers, and the Store API's write rate when it was
    built (records/s; 0.0 when it came from the cache)."""
    corpus_dir = CACHE / f"v{CORPUS_VERSION}-n{n}"
    # The store is rebuilt when its layout changes (schema version, tables, indexes), not for a change of code.
    layout = store_module._SCHEMA.encode()
    key = f"s{store_module.SCHEMA_VERSION}-{hashlib.sha1(layout).hexdigest()[:10]}"
    store_dir = corpus_dir / f"store-{key}"
    jsonl = corpus_dir / "corpus.jsonl"
    answers_path = corpus_dir / "answers.json"
    rate_path = store_dir / "built.json"
    if answers_path.exists() and (store_dir / "records.db").exists() and rate_path.exists():
        log(f"corpus of {n:,} records from the cache: {corpus_dir}")
        return store_dir, jsonl, Answers(**json.loads(answers_path.read_text())), 0.0
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for old in corpus_dir.glob("store-*"):
        shutil.rmtree(old)  # an older store's: its schema or code changed
    write_jsonl = not answers_path.exists()
    answers = Answers()
    by_model: dict[str, list[tuple[float, bool]]] = {}
    by_day: dict[str, list[tuple[float, bool]]] = {}
    newest: list[str] = []
    log(f"building the corpus of {n:,} records into {store_dir} (cached for the next run)")
    started = time.perf_counter()
    written = 0.0
    with Store(store_dir, max_age_s=None, max_bytes=None) as store:
        handle = jsonl.open("w", encoding="utf-8") if write_jsonl else None
        try:
            batch: list[Entry] = []
            for i, record in enumerate(corpus(n)):
                if handle is not None:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                failed = record["error_type"] is not None
                answers.errors += failed
                answers.common += i % COMMON_EVERY == 0
                answers.rare += i % RARE_EVERY == 0 and not failed  # a failed call has no answer to hold it
                if record["agent"] == FILTER_AGENT and FILTER_MODEL in (
                    record["request_model"],
                    record["response_model"],
                ):
                    t = store_module.parse_iso(record["time"]) or 0
                    if FILTER_SINCE <= t <= FILTER_UNTIL:
                        answers.filter_count += 1
                        newest.append(record["span_id"])
                        del newest[:-50]
                by_model.setdefault(record["request_model"], []).append((record["duration_ms"], failed))
                by_day.setdefault(record["time"][:10], []).append((record["duration_ms"], failed))
                if i == n // 2:
                    answers.get_id = record["span_id"]
                batch.append(Entry(record, None, from_span=True))
                if len(batch) == BATCH:
                    t0 = time.perf_counter()
                    store.write(batch)
                    written += time.perf_counter() - t0
                    batch = []
                if i and i % 100_000 == 0:
                    log(f"  {i:,} records ({time.perf_counter() - started:.0f} s)")
            t0 = time.perf_counter()
            store.write(batch)
            written += time.perf_counter() - t0
        finally:
            if handle is not None:
                handle.close()
    answers.records = n
    answers.jsonl_bytes = jsonl.stat().st_size
    answers.by_model = _groups(by_model)
    answers.by_day = _groups(by_day)
    answers.newest_filter_ids = list(reversed(newest))
    if write_jsonl:
        answers_path.write_text(json.dumps(answers.to_json()))
    else:
        answers = Answers(**json.loads(answers_path.read_text()))
    rate = n / written if written else 0.0
    rate_path.write_text(json.dumps({"write_rate": rate}))
    log(f"built in {time.perf_counter() - started:.0f} s; Store.write {rate:,.0f} records/s (batches of {BATCH})")
    return store_dir, jsonl, answers, rate


# -- measuring --------------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], reps: int) -> tuple[Spread, Any]:
    """ms per call of ``fn`` over ``reps`` calls (after one untimed warm-up), and its last result."""
    result = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return Spread.of(times), result


def grep(pattern: str, path: Path, *flags: str) -> Callable[[], int]:
    def run() -> int:
        done = subprocess.run(
            ["grep", "-c", *flags, pattern, str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
        return int(done.stdout.strip() or 0)

    return run


def cli(*args: str) -> Callable[[], str]:
    llmtel = Path(sys.executable).with_name("llmtel")

    def run() -> str:
        done = subprocess.run([str(llmtel), "logs", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"llmtel logs {' '.join(args)}: {done.returncode}\n{done.stderr[-2000:]}")
        return done.stdout

    return run


@dataclass
class Row:
    name: str
    api: Spread | None
    cli: Spread | None
    grep: Spread | None
    grep_what: str
    answer: str
    target_ms: float | None = None


def _check(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def _summary_answers(groups: list[dict[str, Any]], by: str) -> dict[str, dict[str, Any]]:
    return {
        str(g[by]): {"calls": g["calls"], "errors": g["errors"], "p50_ms": g["p50_ms"], "p95_ms": g["p95_ms"]}
        for g in groups
    }


def queries(store_dir: Path, jsonl: Path, answers: Answers, reps: int, log: Callable[[str], None]) -> list[Row]:
    rows: list[Row] = []
    since, until = iso(FILTER_SINCE), iso(FILTER_UNTIL)
    filt = Query(agent=FILTER_AGENT, model=FILTER_MODEL, since_ns=FILTER_SINCE, until_ns=FILTER_UNTIL)
    cli_reps = max(3, reps // 2)
    d = str(store_dir)
    with Store(store_dir, create=False) as store:
        log("queries: filter")
        api, found = timed(lambda: store.query(Query(**{**filt.__dict__, "limit": 50})), reps)
        _check("filter, newest 50", [r["span_id"] for r in found], answers.newest_filter_ids)
        g, n = timed(grep(f'"agent": "{FILTER_AGENT}".*"request_model": "{FILTER_MODEL}"', jsonl, "-E"), reps)
        c, _ = timed(
            cli(d, "--agent", FILTER_AGENT, "--model", FILTER_MODEL, "--since", since, "--until", until), cli_reps
        )
        rows.append(
            Row("filter: agent + model + 2 days, newest 50", api, c, g, f"agent+model, all days: {n:,}", "50", 100)
        )
        api, count = timed(lambda: store.count(filt), reps)
        _check("filter count", count, answers.filter_count)
        rows.append(Row("filter, count (`Store.count`)", api, None, None, "", f"{count:,}", 100))

        log("queries: errors")
        api, found = timed(lambda: store.query(Query(errors=True, limit=50)), reps)
        _check("errors, 50", len(found), 50)
        g, n = timed(grep('"error_type": "', jsonl, "-F"), reps)
        _check("grep errors", n, answers.errors)
        c, _ = timed(cli(d, "--errors"), cli_reps)
        rows.append(Row("`--errors`, newest 50", api, c, g, f"{n:,}", "50", 100))
        api, count = timed(lambda: store.count(Query(errors=True)), reps)
        _check("errors count", count, answers.errors)
        rows.append(Row("`--errors`, count", api, None, None, "", f"{count:,}", 100))

        for word, want in ((COMMON, answers.common), (RARE, answers.rare)):
            log(f"queries: search {word}")
            api, found = timed(lambda w=word: store.query(Query(search=w, limit=50)), reps)  # type: ignore[misc]
            _check(f"search {word}", len(found), min(50, want))
            g, n = timed(grep(word, jsonl, "-w", "-F"), reps)
            _check(f"grep {word}", n, want)
            c, _ = timed(cli(d, "--search", word), cli_reps)
            rows.append(Row(f"`--search {word}`, newest 50", api, c, g, f"{n:,}", f"{len(found)}", 500))
            api, count = timed(lambda w=word: store.count(Query(search=w)), reps)  # type: ignore[misc]
            _check(f"search {word} count", count, want)
            rows.append(Row(f"`--search {word}`, count", api, None, None, "", f"{count:,}", 500))

        for by, want in (("model", answers.by_model), ("day", answers.by_day)):
            log(f"queries: summary --by {by}")
            api, groups = timed(lambda b=by: store.summary(b), reps)  # type: ignore[misc]
            _check(f"summary by {by} (exact p50/p95)", _summary_answers(groups, by), want)
            pattern = '"request_model": "gpt-4o-mini"' if by == "model" else '"time": "2026-11-03'
            g, n = timed(grep(pattern, jsonl, "-F"), reps)
            c, _ = timed(cli("summary", d, "--by", by), cli_reps)
            what = f"one {by}'s calls: {n:,}"
            rows.append(Row(f"`summary --by {by}`", api, c, g, what, f"{len(groups)} groups", 1000))

        log("queries: get")
        api, record = timed(lambda: store.get(answers.get_id), reps)
        _check("get", record and record["span_id"], answers.get_id)
        g, n = timed(grep(f'"span_id": "{answers.get_id}"', jsonl, "-F"), reps)
        c, _ = timed(cli("show", answers.get_id, "--source", d), cli_reps)
        rows.append(Row("`get` / `show` by span id", api, c, g, f"{n}", "1"))
    log("queries: process start")
    c, _ = timed(cli("--help"), cli_reps)
    rows.append(Row("`llmtel logs --help` (process start only)", None, c, None, "", ""))
    return rows


# -- ingest -----------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _span_attributes(record: Record) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": record["provider"],
        "gen_ai.request.model": record["request_model"],
        "gen_ai.response.model": record["response_model"],
        "gen_ai.conversation.id": record["conversation_id"],
        "server.address": "api.example.com",
        "gen_ai.system_instructions": json.dumps(record["system_instructions"]),
        "gen_ai.input.messages": json.dumps(record["input_messages"]),
    }
    if record["agent"]:
        attrs["gen_ai.agent.name"] = record["agent"]
    if record["output_messages"]:
        attrs["gen_ai.output.messages"] = json.dumps(record["output_messages"])
        attrs["gen_ai.usage.input_tokens"] = record["input_tokens"]
        attrs["gen_ai.usage.output_tokens"] = record["output_tokens"]
        attrs["gen_ai.response.finish_reasons"] = ("stop",)
    else:
        attrs["error.type"] = record["error_type"]
    return attrs


def _spans(count: int) -> list[Any]:
    """``count`` finished SDK spans of GenAI calls (content as JSON attributes, as llmtel puts it on spans)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("llmtel")
    for record in corpus(count):
        with tracer.start_as_current_span(f"chat {record['request_model']}", attributes=_span_attributes(record)):
            pass
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans


def _count_when(directory: Path, want: int, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (directory / "records.db").exists():
            with Store(directory, create=False) as s:
                if s.count() >= want:
                    return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError(f"{directory}: fewer than {want} records after {timeout} s")


def ingest_serve(spans_per_rep: int, reps: int, log: Callable[[str], None]) -> Spread:
    """Records/s into ``llmtel logs serve`` from the SDK's OTLP/HTTP span exporter, batch after batch."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    spans = _spans(spans_per_rep * reps)
    rates = []
    with tempfile.TemporaryDirectory(prefix="llmtel-bench-serve-") as tmp:
        port = _free_port()
        env = {**os.environ, "LLMTEL_LOG_MAX_MB": "4096"}
        llmtel = Path(sys.executable).with_name("llmtel")
        server = subprocess.Popen(
            [str(llmtel), "logs", "serve", "--port", str(port), "--dir", tmp],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/logs?limit=1", timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("llmtel logs serve did not start") from None
                    time.sleep(0.1)
            exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
            for rep in range(reps):
                part = spans[rep * spans_per_rep : (rep + 1) * spans_per_rep]
                t0 = time.perf_counter()
                for start in range(0, len(part), BATCH):
                    if exporter.export(part[start : start + BATCH]) is not SpanExportResult.SUCCESS:
                        raise RuntimeError("the OTLP export failed")
                t1 = _count_when(Path(tmp), (rep + 1) * spans_per_rep)
                rates.append(len(part) / (t1 - t0))
                log(f"  serve: {rates[-1]:,.0f} records/s")
            exporter.shutdown()
        finally:
            server.terminate()
            server.communicate(timeout=30)
    return Spread.of(rates)


WRITER_CHILD = "writer"


def _writer_child(directory: str, worker: int, count: int) -> None:
    """A writer process: ``count`` records in batches of 512 once told to go (a line on stdin)."""
    entries = []
    for i, record in enumerate(corpus(count)):
        record["span_id"] = f"{worker:04x}{i:012x}"
        entries.append(Entry(record, None, True))
    store = Store(directory, max_age_s=None, max_bytes=None)
    print("ready", flush=True)
    sys.stdin.readline()
    for start in range(0, count, BATCH):
        store.write(entries[start : start + BATCH])
    store.close()
    print("done", flush=True)


def ingest_writers(processes: int, per_process: int, reps: int) -> Spread:
    """Records/s, all processes together, from the go signal to the last commit."""
    rates = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory(prefix="llmtel-bench-writers-") as tmp:
            Store(tmp, max_age_s=None, max_bytes=None).close()
            children = [
                subprocess.Popen(
                    [sys.executable, "-m", "bench.logs", WRITER_CHILD, tmp, str(w), str(per_process)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                )
                for w in range(processes)
            ]
            for child in children:
                assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            t0 = time.perf_counter()
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            for child in children:
                assert child.stdout is not None
                _check("writer", child.stdout.readline().strip(), "done")
                child.wait(60)
            rates.append(processes * per_process / (time.perf_counter() - t0))
            with Store(tmp, create=False) as s:
                _check("records written by the writers", s.count(), processes * per_process)
    return Spread.of(rates)


# -- the calling thread -----------------------------------------------------------------------------------------

APP_CHILD = "appcall"
APP_MODES = ("off", "noop", "on", "busy")
"""off: no span processor; noop: BatchSpanProcessor + an exporter that does nothing; on: BatchSpanProcessor +
LlmtelLogsSpanExporter (the store written on the processor's thread); busy: noop's, whose export burns ~50 M
instructions (a control: if callgrind counted the export thread it would show)."""


def _app_child(mode: str, calls: int, batches: int, out: str) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from llmtel.logs.exporter import LlmtelLogsSpanExporter

    class Noop(SpanExporter):
        def __init__(self, burn: int = 0) -> None:
            self.burn = burn

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            total = 0
            for k in range(self.burn):
                total += k
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    tmp = tempfile.mkdtemp(prefix="llmtel-bench-app-")
    if mode == "on":
        provider.add_span_processor(BatchSpanProcessor(LlmtelLogsSpanExporter(tmp)))
    elif mode in ("noop", "busy"):
        provider.add_span_processor(BatchSpanProcessor(Noop(2_000_000 if mode == "busy" else 0)))
    tracer = provider.get_tracer("llmtel")
    attributes = [_span_attributes(r) for r in corpus(calls)]

    def batch(n: int) -> None:
        for attrs in attributes[:n]:
            with tracer.start_as_current_span("chat", attributes=attrs):
                pass

    batch(calls)  # warm-up (the store is created on the first export, off this thread)
    provider.force_flush()
    # Garbage collections run on whichever thread allocates when the (process-wide) counts pass the thresholds:
    # counted per generation when it is the calling thread.
    app_thread = threading.current_thread()
    collections = [0, 0, 0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and threading.current_thread() is app_thread:
            collections[info["generation"]] += 1

    gc.callbacks.append(collected)
    times = []
    for _ in range(batches):
        t0 = time.perf_counter()
        operator.call(batch, calls)  # callgrind counts inside operator.call only, on this thread
        times.append((time.perf_counter() - t0) * 1e6 / calls)
        provider.force_flush()  # the queue (2,048 spans) empty before the next batch: no span dropped
    gc.callbacks.remove(collected)
    provider.force_flush()
    provider.shutdown()
    written = 0
    if mode == "on":
        with Store(tmp, create=False) as s:
            written = s.count()
    shutil.rmtree(tmp, ignore_errors=True)
    Path(out).write_text(json.dumps({"us_per_call": times, "written": written, "collections": collections}))


def app_thread(
    calls: int, batches: int, counted: bool, log: Callable[[str], None], counted_calls: int = 300
) -> dict[str, dict[str, Any]]:
    """Per mode: µs per call (timed, ``batches`` batches of ``calls``) and instructions per call on the calling
    thread (3 batches of ``counted_calls`` under callgrind: a count has no noise to average out)."""
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="llmtel-bench-app-") as tmp:
        for mode in APP_MODES:
            path = Path(tmp) / f"{mode}.json"
            subprocess.run(
                [sys.executable, "-m", "bench.logs", APP_CHILD, mode, str(calls), str(batches), str(path)],
                check=True,
                cwd=ROOT,
            )
            found = json.loads(path.read_text())
            out[mode] = {
                "us": Spread.of(found["us_per_call"]),
                "written": found["written"],
                "instructions": None,
                "collections": found["collections"],
                "calls": calls * batches,
            }
            if mode == "on":
                _check("records written by the in-process exporter", found["written"], calls * (batches + 1))
            log(f"  {mode}: {out[mode]['us'].fmt(2)} µs per call")
        if counted and shutil.which("valgrind"):
            for mode in APP_MODES:
                stem = Path(tmp) / f"cg-{mode}"
                cg_batches = 3
                subprocess.run(
                    [
                        "valgrind",
                        "--tool=callgrind",
                        "--collect-atstart=no",
                        "--toggle-collect=_operator_call",
                        "--dump-after=_operator_call",
                        f"--callgrind-out-file={stem}",
                        sys.executable,
                        "-m",
                        "bench.logs",
                        APP_CHILD,
                        mode,
                        str(counted_calls),
                        str(cg_batches),
                        str(Path(tmp) / f"cg-{mode}.json"),
                    ],
                    check=True,
                    cwd=ROOT,
                    capture_output=True,
                )
                totals = []
                for profile in sorted(Path(tmp).glob(f"cg-{mode}.*")):
                    suffix = profile.name[len(stem.name) + 1 :]
                    if suffix.isdigit():
                        text = profile.read_text(encoding="utf-8", errors="replace")
                        match = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
                        totals.append(int(match.group(1)) / counted_calls if match else 0.0)
                out[mode]["instructions"] = Spread.of(totals) if totals else None
                log(f"  {mode}: {out[mode]['instructions'].fmt(0) if totals else '-'} instructions per call")
    return out


# -- the report -------------------------------------------------------------------------------------------------


def _ms(spread: Spread | None) -> str:
    if spread is None:
        return "-"
    return spread.fmt(1 if spread.median < 100 else 0)


def parts(db: Path) -> str:
    """Where the store's bytes are (SQLite's dbstat table), largest first: bodies, full-text index, the rest."""
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error:
        return ""
    finally:
        con.close()
    kinds: dict[str, int] = {}
    for name, size in rows:
        kind = "bodies" if name == "bodies" else "records table" if name == "records" else "other"
        if name.startswith("records_fts"):
            kind = "full-text index"
        elif name.startswith(("records_", "sqlite_autoindex_records")):
            kind = "indexes"
        kinds[kind] = kinds.get(kind, 0) + int(size)
    return ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v > 1e7)


def report(
    n: int,
    answers: Answers,
    store_dir: Path,
    build_rate: float,
    rows: list[Row],
    serve: Spread | None,
    writers: dict[int, Spread],
    app: dict[str, dict[str, Any]],
    settings: str,
) -> str:
    db = store_dir / "records.db"
    size = db.stat().st_size
    lines = [
        BEGIN,
        "## Completion-log store",
        "",
        f"Written by `python -m bench.logs` ({settings}) on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC,"
        f" llmtel store schema {store_module.SCHEMA_VERSION}, SQLite {__import__('sqlite3').sqlite_version},"
        f" Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, shared with other jobs (load average"
        f" {LOAD_AT_START:.1f} at the start, {os.getloadavg()[0]:.1f} at the end): every time is a median"
        " [min … max], and the ranges are wide when another job ran.",
        "",
        f"Corpus: {n:,} generated records (bench/logs.py `corpus`, version {CORPUS_VERSION}): six days, six agents"
        f" (one unnamed), seven models of four providers, conversations of 1-8 turns, errors {answers.errors:,}"
        f" ({answers.errors / n:.1%}), content about 1 KB a record (system instructions, the previous answer"
        f" resent, the question, the answer; Zipf-distributed made-up words). `{COMMON}` is in every"
        f" {COMMON_EVERY}th record ({answers.common:,}), `{RARE}` in every {RARE_EVERY:,}th's answer"
        f" ({answers.rare:,}: failed calls have none). Store file {size / 1e9:.2f} GB ({parts(db)}; 4 KB pages"
        " hold two ~1.6 KB bodies each); the same records as JSONL (`llmtel logs export` format)"
        f" {answers.jsonl_bytes / 1e9:.2f} GB."
        " Every answer is checked against the corpus before it is timed (counts, the newest 50 ids, each summary"
        " group's calls, errors and exact p50/p95).",
        "",
        "### Queries (ms)",
        "",
        "API: `Store` methods on one reader connection (warmed by one untimed run). CLI: `llmtel logs …` as a new"
        " process each time, interpreter start and imports included (the last row is that start alone), output to"
        " a pipe. grep: `LC_ALL=C grep -c` over the JSONL file (page cache warm), the nearest thing grep can count:"
        " it has no time range, no newest-first order and no percentiles.",
        "",
        "| query | target | API | CLI (process included) | `grep -c` | grep counted | answer |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        target = f"≤ {row.target_ms:g}" if row.target_ms else ""
        if row.target_ms and row.api:
            target += " ✅" if row.api.median <= row.target_ms else " ❌"
        lines.append(
            f"| {row.name} | {target} | {_ms(row.api)} | {_ms(row.cli)} | {_ms(row.grep)} | {row.grep_what} |"
            f" {row.answer} |"
        )
    lines += [
        "",
        "### Ingest (records/s)",
        "",
    ]
    if serve is not None:
        lines.append(
            f"- `llmtel logs serve` from the SDK's `OTLPSpanExporter` (HTTP, protobuf, uncompressed), batches of"
            f" {BATCH} one after another as one BatchSpanProcessor sends them, chat spans with content attributes"
            f" (~1 KB): **{serve.fmt(0)}** records/s, until every record is committed and visible to a reader."
        )
    for procs, spread in sorted(writers.items()):
        lines.append(
            f"- {procs} writer process{'es' if procs > 1 else ''} (`Store.write`, batches of {BATCH}, one"
            f" transaction each) into one store: **{spread.fmt(0)}** records/s together."
        )
    if build_rate:
        lines.append(
            f"- Building the {n:,}-record store (one process, batches of {BATCH}, the store growing from 0 to"
            f" {n:,}): {build_rate:,.0f} records/s."
        )
    lines += [
        "",
        "### The calling thread with the in-process exporter",
        "",
        "A span like an instrumented call's (GenAI attributes with ~1 KB of content), started and ended on the app"
        " thread, with: *off* no span processor; *noop* a `BatchSpanProcessor` and an exporter that does nothing;"
        " *on* a `BatchSpanProcessor` and `LlmtelLogsSpanExporter` (the SQLite store written on the processor's"
        " own thread); *busy* noop's exporter burning ~2 M loop iterations per export, a control: callgrind counts"
        " the calling thread only (collection toggled inside `operator.call` on that thread), so *busy* must count"
        " as *noop*. Time is wall time on the calling thread, so it includes the export thread taking the GIL.",
        "",
        "| mode | µs per call | instructions per call (calling thread) | GC runs on the calling thread, gen 0/1/2 |",
        "| --- | --- | --- | --- |",
    ]
    for mode in APP_MODES:
        found = app.get(mode)
        if found is None:
            continue
        instr = found["instructions"]
        gens = "/".join(str(c) for c in found["collections"])
        lines.append(
            f"| {mode} | {found['us'].fmt(2)} | {instr.fmt(0) if instr else '-'} | {gens} in {found['calls']:,} calls |"
        )
    if "on" in app and "noop" in app and app["on"]["instructions"] and app["noop"]["instructions"]:
        on, noop, off = (app[m]["instructions"].median for m in ("on", "noop", "off"))
        lines += [
            "",
            f"On the calling thread the in-process exporter adds {on - noop:+,.0f} instructions per call to the"
            f" batch processor's own {noop - off:+,.0f} (medians). Not the record path, which runs on the"
            " processor's thread, but the garbage collector: the export thread's allocations count toward the"
            " process-wide thresholds, and a collection runs on whichever thread allocates next, often the"
            " calling one (last column, timed run; *busy* holds the GIL as long without allocating, and counts"
            " as *noop*). A batch with a generation-2 collection shows as the maximum.",
        ]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write_results(section: str, path: Path = RESULTS) -> None:
    """``section`` in place of the previous one (or at the end); the rest of the file as it was."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == [WRITER_CHILD]:
        _writer_child(args_list[1], int(args_list[2]), int(args_list[3]))
        return 0
    if args_list[:1] == [APP_CHILD]:
        _app_child(args_list[1], int(args_list[2]), int(args_list[3]), args_list[4])
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.logs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="corpus size (default 1,000,000)")
    parser.add_argument("--reps", type=int, default=7, help="timed runs of each query (default 7)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the RESULTS.md to update")
    parser.add_argument("--no-ingest", action="store_true", help="queries only")
    parser.add_argument("--no-callgrind", action="store_true", help="the calling thread timed only")
    args = parser.parse_args(args_list)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[bench.logs {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    store_dir, jsonl, answers, build_rate = build(args.records, log)
    rows = queries(store_dir, jsonl, answers, args.reps, log)
    serve: Spread | None = None
    writers: dict[int, Spread] = {}
    app: dict[str, dict[str, Any]] = {}
    if not args.no_ingest:
        log("ingest: llmtel logs serve")
        serve = ingest_serve(10 * BATCH, 3, log)
        for procs in (1, 2, 4):
            log(f"ingest: {procs} writer processes")
            writers[procs] = ingest_writers(procs, 10 * BATCH, 3)
        log("the calling thread")
        app = app_thread(1000, 7, not args.no_callgrind, log)
    settings = f"--records {args.records} --reps {args.reps}"
    write_results(
        report(args.records, answers, store_dir, build_rate, rows, serve, writers, app, settings), args.output
    )
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``llmtel logs serve --forward URL``: every accepted OTLP request reaches the collector byte for byte, from a
background queue, so a slow, failing or absent collector never delays the app's export nor loses a record."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult
from opentelemetry.sdk.trace.export import SpanExportResult

from llmtel.logs import forward
from llmtel.logs.cli import main
from llmtel.logs.forward import Forwarder, Stats
from llmtel.logs.receiver import Receiver
from llmtel.logs.store import Store
from tests.conftest import Otel
from tests.logs.conftest import Lines, clean_env
from tests.logs.test_receiver import otlp_json, post
from tests.logs.test_record import MESSAGES, records_of

FAST: dict[str, Any] = {"retries": 2, "backoff_s": 0.01, "timeout_s": 2.0}
"""Retry pauses of 10 and 20 ms: the retry logic runs as in production, the tests stay quick."""


@dataclass
class Received:
    path: str
    content_type: str | None
    content_encoding: str | None
    body: bytes
    headers: dict[str, str] = field(repr=False, compare=False)


class Collector(ThreadingHTTPServer):
    """A stand-in collector that records each request as it came and answers with the statuses it is given
    (then 200), after ``delay`` seconds, or once ``release`` is set when ``hold`` is on."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, statuses: tuple[int, ...] = (), delay: float = 0.0) -> None:
        self.received: list[Received] = []
        self.answered: list[int] = []
        self.statuses = list(statuses)
        self.delay = delay
        self.hold = False
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)
        super().__init__(("127.0.0.1", port), _CollectorHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _CollectorHandler(BaseHTTPRequestHandler):
    server: Collector
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(
            Received(
                self.path,
                self.headers["Content-Type"],
                self.headers["Content-Encoding"],
                body,
                dict(self.headers.items()),
            )
        )
        self.server.arrived.release()
        if self.server.hold:
            self.server.release.wait(10)
        time.sleep(self.server.delay)
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.server.answered.append(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    yield server
    server.stop()


def closed_port() -> int:
    """A port nothing listens on (just freed): connecting is refused, as to a collector that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Forwarding:
    """A receiver with a forwarder, on its own thread, and its store."""

    def __init__(self, tmp_path: Path, forwarder: Forwarder) -> None:
        self.store = Store(tmp_path / f"store-{id(self)}", max_age_s=None)
        self.forwarder = forwarder
        self.server = Receiver(self.store, "127.0.0.1", 0, forwarder)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> Stats:
        self.server.shutdown()
        self.server.server_close()
        stats = self.forwarder.close(2)
        self.store.close()
        return stats


@pytest.fixture
def forwarding(tmp_path: Path) -> Iterator[Any]:
    made: list[Forwarding] = []

    def make(url: str, **options: Any) -> Forwarding:
        made.append(Forwarding(tmp_path, Forwarder(url, **{**FAST, **options})))
        return made[-1]

    yield make
    for each in made:
        each.close()


def recording_session() -> tuple[requests.Session, list[bytes]]:
    """A requests session that keeps the body of every request it sent: the exporter's bytes, as sent."""
    session = requests.Session()
    sent: list[bytes] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request.body))
    return session, sent


def exporters(url: str, session: requests.Session) -> tuple[OTLPSpanExporter, OTLPLogExporter, OTLPMetricExporter]:
    return (
        OTLPSpanExporter(f"{url}/v1/traces", compression=Compression.Gzip, session=session),
        OTLPLogExporter(f"{url}/v1/logs", session=session),  # plain protobuf, no Content-Encoding
        OTLPMetricExporter(f"{url}/v1/metrics", compression=Compression.Gzip, session=session),
    )


def test_every_signal_reaches_the_collector_byte_for_byte(
    forwarding: Any, collector: Collector, otel: Otel, client: openai.OpenAI
) -> None:
    """The SDK's own exporters (protobuf, gzip or plain) and OTLP/JSON bodies: the collector gets the same
    path, bytes, Content-Type and Content-Encoding; the records are kept locally all the same."""
    served = forwarding(collector.url)
    otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    session, sent = recording_session()
    spans, logs, metrics = exporters(served.url, session)
    assert spans.export(otel.span_exporter.get_finished_spans()) is SpanExportResult.SUCCESS
    assert logs.export(otel.logs()) is LogRecordExportResult.SUCCESS
    assert metrics.export(otel.metrics_data()) is MetricExportResult.SUCCESS
    json_spans, json_logs = otlp_json(otel)
    json_bodies = [json.dumps(json_spans).encode(), gzip.compress(json.dumps(json_logs).encode())]
    assert post(f"{served.url}/v1/traces", json_bodies[0], "application/json")[0] == 200
    assert post(f"{served.url}/v1/logs", json_bodies[1], "application/json", **{"Content-Encoding": "gzip"})[0] == 200
    assert post(f"{served.url}/v1/metrics", b"{}", "application/json")[0] == 200
    assert served.forwarder.drained(5)

    assert len(sent) == 3 and gzip.decompress(sent[0])  # the exporter did compress: the test checks gzip bytes
    assert collector.received == [
        Received("/v1/traces", "application/x-protobuf", "gzip", sent[0], {}),
        Received("/v1/logs", "application/x-protobuf", None, sent[1], {}),
        Received("/v1/metrics", "application/x-protobuf", "gzip", sent[2], {}),
        Received("/v1/traces", "application/json", None, json_bodies[0], {}),
        Received("/v1/logs", "application/json", "gzip", json_bodies[1], {}),
        Received("/v1/metrics", "application/json", None, b"{}", {}),
    ]
    assert served.store.query(oldest_first=True) == records_of(otel)
    assert served.forwarder.stats == Stats(forwarded=6, dropped=0, retried=0)


def test_a_receiver_behind_a_receiver_keeps_the_same_records(
    forwarding: Any, tmp_path: Path, otel: Otel, client: openai.OpenAI
) -> None:
    """One endpoint serves both: what the app exports once is kept by both the forwarding and the next hop."""
    with Store(tmp_path / "next", max_age_s=None) as next_store, Receiver(next_store, "127.0.0.1", 0) as next_hop:
        threading.Thread(target=next_hop.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        served = forwarding(next_hop.url)
        otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        spans, logs, _ = exporters(served.url, requests.Session())
        spans.export(otel.span_exporter.get_finished_spans())
        logs.export(otel.logs())
        assert served.forwarder.drained(5)
        next_hop.shutdown()
        assert next_store.query() == served.store.query() == records_of(otel)
        assert len(next_store.query()) == 1


def test_a_forward_back_to_itself_stops_after_one_lap(forwarding: Any, collector: Collector) -> None:
    """--forward at the receiver itself (or around a chain of them) would loop at full speed: the via header
    stops it; a chain of receivers to a collector still delivers, and says which receivers it went through."""
    first = forwarding(collector.url)
    second = forwarding(first.url)
    assert post(f"{second.url}/v1/metrics", b"{}", "application/json")[0] == 200
    assert second.forwarder.drained(5) and first.forwarder.drained(5)
    (received,) = collector.received
    assert received.headers[forward.VIA_HEADER] == f"{second.forwarder.id},{first.forwarder.id}"

    via = "not an id, 0123456789abcdef ," + "f" * 400
    assert post(f"{first.url}/v1/metrics", b"{}", "application/json", **{forward.VIA_HEADER: via})[0] == 200
    assert first.forwarder.drained(5)  # an untrusted header: only ids of our shape are passed on
    assert collector.received[-1].headers[forward.VIA_HEADER] == f"0123456789abcdef,{first.forwarder.id}"

    looped = forwarding(collector.url)  # now pointed at itself
    looped.forwarder.close(0)
    looped.forwarder = looped.server.forwarder = Forwarder(looped.url, **FAST)
    assert post(f"{looped.url}/v1/metrics", b"{}", "application/json")[0] == 200
    time.sleep(0.2)  # long enough for many laps, were they not stopped
    assert looped.forwarder.drained(5)
    assert looped.forwarder.stats == Stats(forwarded=1, dropped=0, retried=0)


def test_collector_down_the_app_is_answered_at_once_and_drops_are_counted(
    forwarding: Any, otel: Otel, client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    served = forwarding(f"http://127.0.0.1:{port}")
    otel.instrument("openai")
    caplog.set_level(logging.WARNING, logger="llmtel.logs.forward")
    session, _ = recording_session()
    spans = exporters(served.url, session)[0]
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        started = time.monotonic()
        assert spans.export(otel.span_exporter.get_finished_spans()[-1:]) is SpanExportResult.SUCCESS
        assert time.monotonic() - started < 2  # answered without waiting for the forward
    assert served.forwarder.drained(5)
    assert len(served.store.query()) == 3
    assert served.forwarder.stats == Stats(forwarded=0, dropped=3, retried=6)
    assert [r.getMessage() for r in caplog.records] == [  # one warning for the outage, not one per request
        f"llmtel logs serve: forwarding to http://127.0.0.1:{port}: request(s) dropped, it cannot be reached "
        "(ConnectionRefusedError); warned once until it recovers"
    ]

    back = Collector(port)  # the collector comes back on its port: delivered again, and said once
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        spans.export(otel.span_exporter.get_finished_spans()[-1:])
        assert served.forwarder.drained(5)
        assert [r.path for r in back.received] == ["/v1/traces"]
    finally:
        back.stop()
    assert served.forwarder.stats == Stats(forwarded=1, dropped=3, retried=6)
    assert caplog.records[-1].getMessage() == (
        f"llmtel logs serve: forwarding to http://127.0.0.1:{port} again; 3 request(s) were dropped"
    )


def test_a_slow_collector_never_delays_the_app(
    forwarding: Any, collector: Collector, otel: Otel, client: openai.OpenAI
) -> None:
    """The collector holds every request unanswered: the app's exports are answered all the same."""
    collector.hold = True
    served = forwarding(collector.url)
    otel.instrument("openai")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    spans = exporters(served.url, requests.Session())[0]
    for _ in range(3):
        assert spans.export(otel.span_exporter.get_finished_spans()) is SpanExportResult.SUCCESS
    assert collector.arrived.acquire(timeout=5)
    assert collector.answered == []  # all three exports done while the collector still sits on the first
    collector.release.set()
    assert served.forwarder.drained(5)
    assert (collector.answered, served.forwarder.stats) == ([200] * 3, Stats(forwarded=3, dropped=0, retried=0))


def test_503_then_200_is_delivered_once(forwarding: Any, collector: Collector) -> None:
    collector.statuses = [503]
    served = forwarding(collector.url)
    assert post(f"{served.url}/v1/metrics", b"{}", "application/json")[0] == 200
    assert served.forwarder.drained(5)
    assert collector.answered == [503, 200]
    assert [r.body for r in collector.received] == [b"{}", b"{}"]
    assert served.forwarder.stats == Stats(forwarded=1, dropped=0, retried=1)


@pytest.mark.parametrize(
    ("statuses", "answered", "stats"),
    [
        ((400,), [400], Stats(forwarded=0, dropped=1, retried=0)),  # final: a bad request stays bad
        ((429, 502, 504), [429, 502, 504], Stats(forwarded=0, dropped=1, retried=2)),  # retries exhausted
    ],
)
def test_final_answers_and_exhausted_retries_drop(
    forwarding: Any, collector: Collector, statuses: tuple[int, ...], answered: list[int], stats: Stats
) -> None:
    collector.statuses = list(statuses)
    served = forwarding(collector.url)
    post(f"{served.url}/v1/metrics", b"{}", "application/json")
    assert served.forwarder.drained(5)
    assert (collector.answered, served.forwarder.stats) == (answered, stats)


def test_requests_refused_by_the_receiver_are_not_forwarded(forwarding: Any, collector: Collector) -> None:
    served = forwarding(collector.url)
    assert post(f"{served.url}/v1/traces", b"{nope", "application/json")[0] == 400
    assert post(f"{served.url}/v1/traces", b"x", "text/plain")[0] == 415
    assert served.forwarder.drained(5)
    assert (collector.received, served.forwarder.stats) == ([], Stats())


def test_the_queue_is_bounded_by_count_and_bytes(collector: Collector) -> None:
    collector.hold = True
    forwarder = Forwarder(collector.url, max_items=2, max_bytes=10, **FAST)
    try:
        assert forwarder.submit("/v1/logs", b"first", "application/json", "")
        assert collector.arrived.acquire(timeout=5)  # the thread holds the first: the queue is empty again
        assert [forwarder.submit("/v1/logs", body, "application/json", "") for body in (b"a", b"b", b"c")] == [
            True,
            True,
            False,  # three would exceed max_items
        ]
        assert not forwarder.submit("/v1/logs", b"x" * 9, "application/json", "")  # 1 + 1 + 9 > max_bytes
        collector.release.set()
        assert forwarder.drained(5)
        assert [r.body for r in collector.received] == [b"first", b"a", b"b"]
        assert forwarder.stats == Stats(forwarded=3, dropped=2, retried=0)
    finally:
        forwarder.close(1)


def test_shutdown_flushes_the_queue_within_its_time_bound(collector: Collector) -> None:
    collector.delay = 0.05
    forwarder = Forwarder(collector.url, **FAST)
    for i in range(5):
        forwarder.submit("/v1/logs", b"%d" % i, "application/json", "")
    assert forwarder.close(5) == Stats(forwarded=5, dropped=0, retried=0)
    assert [r.body for r in collector.received] == [b"0", b"1", b"2", b"3", b"4"]

    collector.hold, collector.delay = True, 0.0  # now one that never answers: close gives up in time
    stuck = Forwarder(collector.url, **{**FAST, "timeout_s": 0.3})
    for i in range(3):
        stuck.submit("/v1/logs", b"%d" % i, "application/json", "")
    started = time.monotonic()
    assert stuck.close(0.2) == Stats(forwarded=0, dropped=3, retried=0)
    assert time.monotonic() - started < 3  # the bound: 0.2 s, then the in-flight request times out (0.3 s)


def test_headers(collector: Collector) -> None:
    assert forward.parse_headers(["Authorization=Bearer%20a%3Db, x-tenant = t1 ,"], separator=",") == {
        "Authorization": "Bearer a=b",
        "x-tenant": "t1",
    }
    assert forward.parse_headers(["api-key=k=v%20"]) == {"api-key": "k=v%20"}  # a word is taken as it is
    for bad, message in [
        (["Bad Name=x"], "not a header K=V: 'Bad Name'"),
        (["novalue"], "not a header K=V: 'novalue'"),
        (["=x"], "not a header K=V"),
        (["X-A=secret\r\nX-B: y"], "header X-A: a line break in its value"),
        (["Content-Type=text/plain"], "header Content-Type: set by the receiver itself"),
    ]:
        with pytest.raises(ValueError) as failure:
            forward.parse_headers(bad)
        assert str(failure.value) == message
    forwarder = Forwarder(collector.url, {"Authorization": "Bearer t0ken", "X-Scope": "a"}, **FAST)
    forwarder.submit("/v1/logs", b"{}", "application/json", "")
    forwarder.close(5)
    (received,) = collector.received
    assert (received.headers["Authorization"], received.headers["X-Scope"]) == ("Bearer t0ken", "a")
    assert forwarder.header_names == ["Authorization", "X-Scope"]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--forward", "ftp://collector"], {}, "--forward: an http(s)://host[:port][/prefix] URL, not 'ftp://collector'"),
        (["--forward", "http://u:pw@collector"], {}, "--forward: no credentials in the URL (use --forward-header or "
         "LLMTEL_FORWARD_HEADERS)"),
        (["--forward-header", "A=b"], {}, "--forward-header needs --forward URL"),
        (["--forward", "http://c", "--forward-header", "A b=c"], {}, "not a header K=V: 'A b'"),
        (["--forward", "http://c"], {"LLMTEL_FORWARD_HEADERS": "X=sec%0Aret"}, "header X: a line break in its value"),
    ],
)  # fmt: skip
def test_serve_usage_errors(
    args: list[str],
    env: dict[str, str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--port", "0", "--dir", str(tmp_path / "s"), *args]) == 2
    assert capsys.readouterr().err == f"llmtel logs: {message}\n"
    assert not (tmp_path / "s").exists()


def test_serve_forward_end_to_end(tmp_path: Path, collector: Collector, otel: Otel, client: openai.OpenAI) -> None:
    """The command line as a user runs it: headers from the environment and the flag, values never printed."""
    secret = "Bearer s3cret-forward-t0ken"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmtel.logs", "serve", "--port", "0", "--dir", str(tmp_path / "served"),
         "--forward", collector.url + "/", "--forward-header", "X-Scope-OrgID=tenant-1"],
        env=clean_env(LLMTEL_FORWARD_HEADERS="Authorization=" + secret.replace(" ", "%20")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    lines = Lines(proc)
    try:
        _, first = lines.wait(lambda line: "OTLP/HTTP and API on" in line)
        url = first.split(" on ")[1].split(",")[0]
        lines.wait(lambda line: line == f"  forwarding to {collector.url} (headers: Authorization, X-Scope-OrgID)")
        otel.instrument("openai")
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        session, sent = recording_session()
        spans = exporters(url, session)[0]
        assert spans.export(otel.span_exporter.get_finished_spans()) is SpanExportResult.SUCCESS
        assert collector.arrived.acquire(timeout=10)
    finally:
        proc.terminate()
        status = proc.wait(10)
    lines.wait(lambda line: line == "llmtel logs serve: forwarded 1 request(s), dropped 0")
    assert proc.stderr is not None
    errors = proc.stderr.read()
    assert (status, errors) == (0, "")
    (received,) = collector.received
    assert (received.path, received.content_encoding, received.body) == ("/v1/traces", "gzip", sent[0])
    assert (received.headers["Authorization"], received.headers["X-Scope-OrgID"]) == (secret, "tenant-1")
    assert not [line for _, line in lines.lines if "s3cret" in line]
    with Store(tmp_path / "served", max_age_s=None) as store:
        assert store.query() == records_of(otel)

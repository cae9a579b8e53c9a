"""API keys and auth headers never reach a span, a log record, a metric, a completion record or our own debug log.

Recognisable fake keys go where apps put them (each SDK's environment variables, auth headers as
``default_headers`` / ``extra_headers`` / the SDK's header options), with content capture fully on and the
``llmtel`` logger at DEBUG; every provider's calls (chat, stream, tools, embeddings, an error) run against the
local server; then every byte produced is searched for every key, raw, base64 (at each alignment, both
alphabets), percent- and JSON-escaped: the spans', logs' and metrics' OTLP encodings (protobuf and JSON), the
bytes the OTLP exporters sent, both completion-log stores (``records.db`` and its WAL, from the in-process
exporter and from ``llmtel logs serve``'s receiver), ``llmtel logs export`` JSONL and our debug output. The
positive control puts a key in a prompt (content is the user's own data: capturing it is the point) and sees
the search find it in each place content goes.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import requests
from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import llmtel
from llmtel import _internal
from llmtel.demo import providers as demo
from llmtel.demo.server import RATE_LIMITED, FakeOpenAIServer
from llmtel.logs.cli import main as logs_main
from llmtel.logs.exporter import LlmtelLogsLogExporter, LlmtelLogsSpanExporter
from llmtel.logs.receiver import Receiver
from llmtel.logs.store import Store
from tests.conftest import Otel
from tests.contract.test_faults import _boom, adapters

KEYS = {
    "OPENAI_API_KEY": "sk-proj-LEAKCHECKopenai7Q2xZ9vB4nM1kL8jH3gF6dS",
    "ANTHROPIC_API_KEY": "sk-ant-api03-LEAKCHECKanthropic5T1yU7iO9pA2sD4fG6hJ8k",
    "AWS_ACCESS_KEY_ID": "AKIALEAKCHECK7Q2X9VB4",
    "AWS_SECRET_ACCESS_KEY": "LeakCheckAwsSecret/7Q2xZ9vB4nM1+kL8jH3gF6dSa",
    "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjLEAKCHECKsessionToken/8jH3gF6dS+a7Q2xZ9vB4nM1kL==",
    "GOOGLE_API_KEY": "AIzaLEAKCHECKgoogle7Q2xZ9vB4nM1kL8jH3gF6dSaP",
    "GEMINI_API_KEY": "AIzaLEAKCHECKgemini5T1yU7iO9pA2sD4fG6hJ8kLzX",
}
HEADERS = {
    "Authorization": "Bearer LEAKCHECK-authorization-header-3gF6dSa7Q2",
    "api-key": "LEAKCHECK-azure-api-key-header-9vB4nM1kL8",
    "x-api-key": "LEAKCHECK-x-api-key-header-5T1yU7iO9p",
    "x-goog-api-key": "LEAKCHECK-x-goog-api-key-header-A2sD4fG6h",
}
URL_PASSWORD = "LEAKCHECK-url-password-7Q2xZ9vB4n"
"""A gateway's credentials in the client's base URL (``http://user:password@host``): httpx sends them as basic
auth; the span keeps the host only."""
SECRETS = {**KEYS, **{f"header {name}": value for name, value in HEADERS.items()}, "URL password": URL_PASSWORD}
SECRETS["header Authorization (token)"] = HEADERS["Authorization"].removeprefix("Bearer ")


def _base64_forms(secret: bytes) -> set[bytes]:
    """The secret's base64 as it appears inside any longer base64 text: for each of the 3 alignments, the
    characters that depend on the secret's bytes alone, in the standard and the URL-safe alphabet."""
    forms = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret)
        start = (shift * 4 + 2) // 3  # characters touched by the shift bytes
        end = (shift + len(secret)) // 3 * 4  # complete groups only: the last partial one depends on what follows
        forms.add(encoded[start:end])
    return forms | {f.replace(b"+", b"-").replace(b"/", b"_") for f in forms}


def forms_of(secret: str) -> dict[str, set[bytes]]:
    raw = secret.encode()
    return {
        "raw": {raw},
        "base64": _base64_forms(raw),
        "percent-encoded": {urllib.parse.quote(secret, safe="").encode(), urllib.parse.quote_plus(secret).encode()},
        "JSON-escaped": {json.dumps(secret)[1:-1].replace("/", "\\/").encode()},
    }


def found(blobs: dict[str, bytes], secrets: dict[str, str]) -> set[tuple[str, str, str]]:
    """(where, which secret, in what form) for every occurrence."""
    hits = set()
    for secret_name, secret in secrets.items():
        for form_name, forms in forms_of(secret).items():
            for where, blob in blobs.items():
                if any(form in blob for form in forms):
                    hits.add((where, secret_name, form_name))
    return hits


def test_the_search_finds_every_form() -> None:
    secret = KEYS["AWS_SECRET_ACCESS_KEY"]
    blobs = {f"b64 shift {n}": base64.b64encode(b"xyz"[:n] + secret.encode() + b"tail") for n in range(3)}
    blobs["urlsafe"] = base64.urlsafe_b64encode(b"?" + secret.encode())
    blobs["percent"] = f"q={urllib.parse.quote(secret, safe='')}".encode()
    blobs["json"] = json.dumps({"k": secret}).replace("/", "\\/").encode()
    blobs["clean"] = b"nothing here " + secret.encode()[:-1]
    assert found(blobs, {"aws": secret}) == {
        ("b64 shift 0", "aws", "base64"),
        ("b64 shift 1", "aws", "base64"),
        ("b64 shift 2", "aws", "base64"),
        ("urlsafe", "aws", "base64"),
        ("percent", "aws", "percent-encoded"),
        ("json", "aws", "JSON-escaped"),
    }


# -- producing everything ---------------------------------------------------------------------------------------


class Produced:
    """One pipeline's every output: the otel fixture's in-memory exporters, the in-process completion-log
    exporters (store A), the SDK's OTLP/HTTP exporters to a receiver (store B, the bytes they sent kept), and
    the ``llmtel`` logger at DEBUG."""

    def __init__(self, otel: Otel, tmp_path: Path) -> None:
        self.otel, self.tmp_path = otel, tmp_path
        self.store_a, self.store_b = tmp_path / "store-a", tmp_path / "store-b"
        self._closed = False
        self.receiver_store = Store(self.store_b, max_age_s=None)
        self.receiver = Receiver(self.receiver_store, "127.0.0.1", 0)
        threading.Thread(target=self.receiver.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.sent: list[bytes] = []
        session = requests.Session()
        session.hooks["response"].append(lambda response, *a, **k: self.sent.append(response.request.body))
        self.local = (LlmtelLogsSpanExporter(str(self.store_a)), LlmtelLogsLogExporter(str(self.store_a)))
        otel.tracer_provider.add_span_processor(SimpleSpanProcessor(self.local[0]))
        otel.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.local[1]))
        otel.tracer_provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(f"{self.receiver.url}/v1/traces", session=session))
        )
        otel.logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(f"{self.receiver.url}/v1/logs", session=session))
        )
        self.metric_exporter = OTLPMetricExporter(f"{self.receiver.url}/v1/metrics", session=session)
        self.debug = io.StringIO()
        self._handler = logging.StreamHandler(self.debug)
        self._handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))  # + any traceback
        self._logger = logging.getLogger("llmtel")
        self._level = self._logger.level
        self._logger.addHandler(self._handler)
        self._logger.setLevel(logging.DEBUG)

    def blobs(self) -> dict[str, bytes]:
        """Everything produced, by where it is; the stores read while open (WAL present) and once closed."""
        otel = self.otel
        metrics = otel.metrics_data()
        self.metric_exporter.export(metrics)
        messages: dict[str, Any] = {
            "spans": encode_spans(otel.span_exporter.get_finished_spans()),
            "logs": encode_logs(otel.logs()),
            "metrics": encode_metrics(metrics),
        }
        blobs = {f"{name} OTLP protobuf": m.SerializeToString() for name, m in messages.items()}
        blobs |= {f"{name} OTLP JSON": json_format.MessageToJson(m).encode() for name, m in messages.items()}
        blobs |= {f"OTLP/HTTP request {i}": body for i, body in enumerate(self.sent)}
        blobs |= self._files("open")
        export = self.tmp_path / "export.jsonl"
        assert logs_main(["export", str(self.store_a), str(self.store_b), "-o", str(export)]) == 0
        blobs["llmtel logs export"] = export.read_bytes()
        self.close()
        blobs |= self._files("closed")
        blobs["llmtel debug log"] = self.debug.getvalue().encode()
        return blobs

    def _files(self, when: str) -> dict[str, bytes]:
        return {
            f"{path.relative_to(self.tmp_path)} ({when})": path.read_bytes()
            for store in (self.store_a, self.store_b)
            for path in sorted(store.iterdir())
            if path.is_file()
        }

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._level)
        self.otel.uninstrument()
        for exporter in self.local:
            exporter.shutdown()
        if not self._closed:
            self._closed = True
            self.receiver.shutdown()
            self.receiver.server_close()
            self.receiver_store.close()


@pytest.fixture
def produced(otel: Otel, tmp_path: Path) -> Iterator[Produced]:
    outputs = Produced(otel, tmp_path)
    yield outputs
    outputs.close()


@pytest.fixture
def keys_in_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))  # the environment's keys, no profile
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def _headers_but(own: str) -> dict[str, str]:
    """Every auth header but the one the SDK sets from its key (which would replace the key on the wire)."""
    return {name: value for name, value in HEADERS.items() if name.lower() != own}


ERRORS: list[str] = []
"""The SDKs' own errors the error calls raised, by class name (checked: each call failed as meant)."""


def _expect_error(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception as exc:  # the SDK's own rate-limit error: our span records it, with its message
        ERRORS.append(type(exc).__name__)
    else:
        raise AssertionError("the error call succeeded")


PROMPTS = demo.Prompts(
    system="Be brief.",
    chat="Weather in Paris?",
    stream="Count to three.",
    tool="Weather in Oslo? Use the tool.",
    embeddings=("one", "two"),
    error="This one fails.",
)


def _openai_calls(server: FakeOpenAIServer) -> None:
    own = _headers_but("authorization")
    extra = {"x-goog-api-key": own.pop("x-goog-api-key")}
    with openai.OpenAI(base_url=server.base_url, default_headers=own, max_retries=0) as client:  # key: env
        messages: Any = [{"role": "user", "content": PROMPTS.chat}]
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, extra_headers=extra)
        with client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        ) as stream:
            for _ in stream:
                pass
        client.embeddings.create(model="text-embedding-3-small", input=list(PROMPTS.embeddings))
        client.responses.create(model="gpt-4o-mini", input=PROMPTS.chat, extra_headers=extra)
        _expect_error(lambda: client.chat.completions.create(model=RATE_LIMITED, messages=messages))
    gateway = server.base_url.replace("://", f"://gateway:{URL_PASSWORD}@", 1)
    with openai.OpenAI(base_url=gateway, max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPTS.chat}])


def _anthropic_calls(server: FakeOpenAIServer) -> None:
    import anthropic

    own = _headers_but("authorization")  # this SDK sends its key as a bearer token
    extra = {"x-goog-api-key": own.pop("x-goog-api-key")}
    with anthropic.Anthropic(base_url=server.root_url, default_headers=own, max_retries=0) as client:
        client.messages.create(
            model=demo.ANTHROPIC_MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": PROMPTS.chat}],
            extra_headers=extra,
        )
        _tour(client, "anthropic")


def _bedrock_calls(server: FakeOpenAIServer) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(  # keys and session token from the environment, as an app on AWS gets them
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.root_url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )

    def add_headers(request: Any, **kwargs: Any) -> None:
        for name, value in _headers_but("authorization").items():  # SigV4 writes Authorization itself
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-runtime.*", add_headers)
    _tour(client, "bedrock")


def _gemini_calls(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from google import genai
    from google.genai import types

    def client() -> Any:  # the key from the environment, auth headers as the app's http options
        options = types.HttpOptions(
            base_url=server.root_url,
            headers=_headers_but("x-goog-api-key"),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        return genai.Client(http_options=options)

    _tour(client(), "gemini")  # GOOGLE_API_KEY (it wins over GEMINI_API_KEY)
    monkeypatch.delenv("GOOGLE_API_KEY")
    second = client()  # GEMINI_API_KEY
    second.models.generate_content(model=demo.GEMINI_MODEL, contents=PROMPTS.chat)


def _tour(client: Any, provider: str) -> None:
    """The demo's steps for this provider: a call, a stream, a tool or embeddings call, an error."""
    for _label, call, expect_error in demo.STEPS[provider]:
        step = functools.partial(call, client, lambda text: None, PROMPTS)
        if expect_error:
            _expect_error(step)
        else:
            step()


def test_no_key_or_auth_header_anywhere(
    produced: Produced, server: FakeOpenAIServer, keys_in_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    produced.otel.instrument(
        "openai",
        "anthropic",
        "bedrock",
        "google_genai",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT",
    )
    ERRORS.clear()
    with llmtel.agent("leak-check", conversation_id="conv-leak"):
        _openai_calls(server)
        _anthropic_calls(server)
        _bedrock_calls(server)
        with llmtel.tool("lookup", arguments='{"q": "x"}') as execution:
            execution.set_result({"ok": True})
        _gemini_calls(server, monkeypatch)
        with monkeypatch.context() as faults:  # our own bug on a call with every secret: the debug log has it
            # each place logs its first error only (llmtel._internal.swallowed): earlier tests may have had it
            faults.setattr(_internal, "_reported", set())
            for cls in adapters("openai"):
                if "response" in vars(cls):
                    faults.setattr(cls, "response", _boom)
            _openai_calls(server)
    assert "llmtel: instrumentation error in" in produced.debug.getvalue()
    assert ERRORS == ["RateLimitError", "RateLimitError", "ThrottlingException", "ClientError", "RateLimitError"]
    # the keys did go out, to the server: the search below looks for the right strings
    sent = b"\n".join(json.dumps(r.headers).encode() for r in server.requests)
    on_the_wire = {secret for _, secret, form in found({"wire": sent}, SECRETS) if form in ("raw", "base64")}
    assert on_the_wire == set(SECRETS) - {"AWS_SECRET_ACCESS_KEY"}  # that one only signs (SigV4)

    spans = produced.otel.span_exporter.get_finished_spans()
    providers = {s.attributes.get("gen_ai.provider.name") for s in spans if s.attributes}
    assert providers == {"openai", "anthropic", "aws.bedrock", "gcp.gemini", None}  # None: the agent, the tool
    blobs = produced.blobs()
    records = [json.loads(line) for line in blobs["llmtel logs export"].splitlines()]
    # every call is a record (the agent's too), and content was captured: the search had it to look through
    assert (len(records), sum(1 for r in records if r["input_messages"])) == (26, 23)
    assert found(blobs, SECRETS) == set()


def test_positive_control_a_key_in_a_prompt_is_found(
    produced: Produced, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Content is the user's data: with capture on, a key the user typed into a prompt is recorded, and the
    search finds it in every place content goes (and not where it does not: metrics, our debug log)."""
    produced.otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT")
    key = KEYS["OPENAI_API_KEY"]
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Is {key} a valid key?"}]
    )
    where = {place for place, _, _ in found(produced.blobs(), {"key": key})}
    assert where == {
        "spans OTLP protobuf",
        "spans OTLP JSON",
        "logs OTLP protobuf",
        "logs OTLP JSON",
        "OTLP/HTTP request 0",
        "OTLP/HTTP request 1",
        "store-a/records.db-wal (open)",
        "store-b/records.db-wal (open)",
        "store-a/records.db (closed)",
        "store-b/records.db (closed)",
        "llmtel logs export",
    }

"""Failed calls: the SDK's exception reaches the app untouched, the span ends once with ``error.type`` and an error
status, and the duration point carries the same ``error.type``. On the call and on the stream path.

``error.type`` values this provider produces: the HTTP status of the SDK's ``APIError`` (``code``) as a string
("404", "429", "500" …, also for an error event inside a stream), else the core's rule (the exception's class,
e.g. ``httpx2.RemoteProtocolError`` for a connection cut mid-stream, ``httpx2.ConnectError``), with
``google.genai.<class>`` for the SDK's own exceptions without a status
(``google.genai.UnknownFunctionCallArgumentError``).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from google import genai
from google.genai import errors
from opentelemetry.trace import StatusCode

from llmtel import semconv as sc
from llmtel.demo.wire.gemini import BROKEN_STREAM, NOT_FOUND, RATE_LIMITED, SERVER_ERROR, STREAM_ERROR
from llmtel.providers.google_genai._common import Api
from tests.google_genai.conftest import http_options
from tests.google_genai.helpers import MODEL, PROMPT, SDK, drain, expected, run, stream_of

DURATION = "gen_ai.client.operation.duration"
IN_BAND_ERRORS = pytest.mark.skipif(SDK < (2, 0), reason="google-genai < 2 does not raise the in-band stream error")

STATUS = [
    (NOT_FOUND, errors.ClientError, "404"),
    (RATE_LIMITED, errors.ClientError, "429"),
    (SERVER_ERROR, errors.ServerError, "500"),
]


def error_attrs(server: Any, model: str, error_type: str, **extra: Any) -> dict[str, Any]:
    base = expected(server, 0, model)
    for key in (
        sc.GEN_AI_RESPONSE_ID,
        sc.GEN_AI_RESPONSE_MODEL,
        sc.GEN_AI_RESPONSE_FINISH_REASONS,
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    ):
        del base[key]
    return {**base, sc.ERROR_TYPE: error_type, **extra}


@pytest.mark.parametrize(("model", "cls", "error_type"), STATUS, ids=[s[0] for s in STATUS])
async def test_status_error(
    otel: Any, server: Any, models: Any, model: str, cls: type[errors.APIError], error_type: str
) -> None:
    otel.instrument("google_genai")
    with pytest.raises(cls) as raised:
        await run(models.generate_content(model=model, contents=PROMPT))
    assert str(raised.value.code) == error_type
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(raised.value)
    assert dict(span.attributes) == error_attrs(server, model, error_type)
    [point] = otel.points(DURATION)
    assert point.attributes[sc.ERROR_TYPE] == error_type


@pytest.mark.parametrize(("model", "cls", "error_type"), STATUS, ids=[s[0] for s in STATUS])
async def test_status_error_on_the_stream(
    otel: Any, server: Any, models: Any, model: str, cls: type, error_type: str
) -> None:
    """The request is made on the first read: the exception comes from the stream, so does the span's end."""
    otel.instrument("google_genai")
    stream = await run(models.generate_content_stream(model=model, contents=PROMPT))
    assert otel.spans() == []
    with pytest.raises(cls):
        await drain(stream)
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes) == error_attrs(server, model, error_type, **{sc.GEN_AI_REQUEST_STREAM: True})
    [point] = otel.points(DURATION)
    assert point.attributes[sc.ERROR_TYPE] == error_type


@IN_BAND_ERRORS
async def test_error_event_mid_stream(otel: Any, server: Any, models: Any) -> None:
    """Two chunks, then the service's in-band error: the SDK raises a ServerError (code 500) from the stream."""
    otel.instrument("google_genai")
    stream = await run(models.generate_content_stream(model=STREAM_ERROR, contents=PROMPT))
    seen: list[Any] = []
    with pytest.raises(errors.ServerError) as raised:
        if hasattr(stream, "__aiter__"):
            async for chunk in stream:
                seen.append(chunk)
        else:
            for chunk in stream:
                seen.append(chunk)
    assert raised.value.code == 500 and len(seen) == 2
    span = otel.span()
    attrs = dict(span.attributes)
    assert attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attrs == {
        **error_attrs(server, STREAM_ERROR, "500", **{sc.GEN_AI_REQUEST_STREAM: True}),
        sc.GEN_AI_RESPONSE_ID: f"resp-{len(server.requests)}",
        sc.GEN_AI_RESPONSE_MODEL: "stream-error-001",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("error",),  # the candidate never finished
        sc.GEN_AI_USAGE_INPUT_TOKENS: 5,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4,  # as of the last chunk
    }


def class_of(exc: BaseException) -> str:
    """The core's rule: ``<top-level package>.<class>`` (google-genai 3 uses httpx2, older versions httpx)."""
    return f"{type(exc).__module__.partition('.')[0]}.{type(exc).__qualname__}"


async def test_connection_cut_mid_stream(otel: Any, server: Any, models: Any) -> None:
    otel.instrument("google_genai")
    with pytest.raises(Exception, match="incomplete chunked read") as raised:
        await stream_of(models, model=BROKEN_STREAM, contents=PROMPT)
    assert type(raised.value).__name__ == "RemoteProtocolError"  # httpx2's (httpx's before google-genai 3)
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == class_of(raised.value)
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 4


@pytest.mark.parametrize("model", [BROKEN_STREAM, STREAM_ERROR])
async def test_stream_failure_models_fail_plain_calls_with_500(otel: Any, models: Any, model: str) -> None:
    otel.instrument("google_genai")
    with pytest.raises(errors.ServerError):
        await run(models.generate_content(model=model, contents=PROMPT))
    assert otel.span().attributes[sc.ERROR_TYPE] == "500"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused(otel: Any) -> None:
    otel.instrument("google_genai")
    port = free_port()
    client = genai.Client(api_key="k", http_options=http_options(f"http://127.0.0.1:{port}"))
    with pytest.raises(Exception, match="refused") as raised:
        client.models.generate_content(model=MODEL, contents=PROMPT)
    assert type(raised.value).__name__ == "ConnectError"
    span = otel.span()
    assert span.attributes[sc.ERROR_TYPE] == class_of(raised.value)
    assert span.attributes[sc.SERVER_PORT] == port


def test_error_type_rules() -> None:
    api = Api()
    assert api.error_type(errors.ClientError(403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}})) == "403"
    weird = errors.APIError(0, {"error": {"code": "x"}})  # no usable status: the class
    assert api.error_type(weird) == "google.genai.APIError"
    assert api.error_type(errors.UnknownFunctionCallArgumentError("x")) == (
        "google.genai.UnknownFunctionCallArgumentError"
    )
    assert api.error_type(ValueError("x")) is None  # the core's rule: "ValueError"

    class Closed(Exception):
        code = 404  # another library's code attribute is not taken for an HTTP status

    assert api.error_type(Closed()) is None
    big = errors.APIError(0, {"error": {"code": 10**30}})
    assert api.error_type(big) == "google.genai.APIError"

"""The core's call wrapper with an adapter of the test's own: error classification on the call and stream paths.

The "SDK" here is a plain class of the test (the core knows no SDK); OpenTelemetry is the real SDK with
in-memory exporters. The provider adapters' own classification is tested with their real SDKs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import wrapt

from llmtel import config as config_module
from llmtel import semconv as sc
from llmtel.core import call
from llmtel.core.adapter import Adapter
from llmtel.core.endpoints import Endpoint
from llmtel.core.install import NO_MARKER, Watch
from llmtel.core.invocation import Invocation, Telemetry
from llmtel.core.streams import stream_proxy
from tests.conftest import Otel

ENDPOINT = Endpoint("test.provider", "llm.test", 443)


class Throttled(Exception):
    """An SDK error that carries its code in-band (as botocore's ClientError or Gemini's APIError do)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Handler:
    def on_chunk(self, inv: Invocation, item: Any) -> bool:
        return False

    def on_end(self, inv: Invocation) -> None:
        pass


class Classifying(Adapter):
    operation = sc.GenAiOperationNameValues.CHAT

    def error_type(self, exc: BaseException) -> str | None:
        return exc.code if isinstance(exc, Throttled) else None

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> Handler:
        return Handler()


class Plain(Classifying):
    error_type = Adapter.error_type  # the core's rule


class BrokenClassifier(Classifying):
    def error_type(self, exc: BaseException) -> str | None:
        raise RuntimeError("a bug of ours")


def chunks(fail_with: BaseException) -> Iterator[str]:
    yield "a"
    raise fail_with


class Resource:
    """Stands for an SDK resource class: ``create`` raises, or returns a stream that fails after one chunk."""

    def create(self, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            return chunks(kwargs["error"])
        raise kwargs["error"]


def dispatch(inv: Invocation, adapter: Adapter, kwargs: Mapping[str, Any], result: Any, hide: bool) -> Any:
    return stream_proxy(result, inv, adapter.stream_handler(inv, kwargs, hide))


@pytest.fixture
def wrapped(otel: Otel, request: pytest.FixtureRequest) -> Iterator[Resource]:
    adapter = request.param()
    telemetry = Telemetry(config_module.Config(), otel.tracer_provider, otel.meter_provider, otel.logger_provider)
    watch = Watch(Resource, "create", NO_MARKER, lambda w: None)
    wrapper = call.sync_wrapper(telemetry, adapter, watch, lambda instance, t: ENDPOINT, dispatch)
    original = Resource.__dict__["create"]
    watch.mine = wrapt.wrap_function_wrapper(Resource, "create", wrapper)
    try:
        yield Resource()
    finally:
        Resource.create = original  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("wrapped", "error", "expected"),
    [
        (Classifying, Throttled("ThrottlingException"), "ThrottlingException"),
        (Classifying, ValueError("x"), "ValueError"),  # the adapter says None: the core's rule
        (Plain, Throttled("ThrottlingException"), "tests.Throttled"),
        (BrokenClassifier, Throttled("ThrottlingException"), "tests.Throttled"),  # our bug swallowed
    ],
    indirect=["wrapped"],
)
@pytest.mark.parametrize("stream", [False, True])
def test_error_type_from_the_adapter(
    otel: Otel, wrapped: Resource, error: BaseException, expected: str, stream: bool
) -> None:
    with pytest.raises(type(error)) as raised:
        result = wrapped.create(model="m", stream=stream, error=error)
        assert list(result) == ["never"]  # the stream fails after its first chunk
    assert raised.value is error  # the SDK's exception, untouched
    (span,) = otel.spans()
    assert span.attributes is not None and span.attributes[sc.ERROR_TYPE] == expected
    (point,) = [p for p in otel.points("gen_ai.client.operation.duration")]
    assert point.attributes is not None and point.attributes[sc.ERROR_TYPE] == expected

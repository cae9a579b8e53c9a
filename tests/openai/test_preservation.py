"""Behaviour preservation: every scenario runs once uninstrumented and once instrumented, and the app must not be
able to tell the difference (DESIGN.md principle 1). The server numbers ids by a request counter, so results are
compared with ids masked (``chatcmpl-7`` -> ``chatcmpl-N``); everything else must be equal.

Also: ``instrument()`` / ``uninstrument()`` restore the SDK exactly, and never double-wrap.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import openai
import pytest
import wrapt
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

import llmtel
from llmtel.core.install import resolve as _resolve
from llmtel.demo.server import NOT_FOUND, RATE_LIMITED, SERVER_ERROR
from llmtel.providers import openai as installer
from llmtel.providers.openai import _HOOKS, _TARGETS, OpenAIInstrumentor


def resolve(module_name: str, path: str) -> Any:
    """The place ``path`` in the module, imported here (the instrumentor itself imports nothing)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return _resolve(module, path)


MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the world"}]

_IDS = re.compile(r"\b(chatcmpl|cmpl|resp|msg|fc|call|req)([-_])\d+(_\d+)?\b")


def mask(value: Any) -> Any:
    """Replace the server's counter-based ids (also inside strings such as SSE lines)."""
    if isinstance(value, str):
        return _IDS.sub(r"\1\2N", value)
    if isinstance(value, bytes):
        return mask(value.decode())
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def dump(obj: Any) -> Any:
    # warnings off: base64 embeddings and parsed payloads do not match the declared field types, by design
    return mask(obj.model_dump(warnings=False))


@pytest.fixture(params=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "async")


@pytest.fixture
def make_llm(server: Any, is_async: bool) -> Callable[..., Any]:
    """A new client per run: the SDK caches ``with_raw_response`` resources per client, bound to the ``create``
    it found when first accessed, so a client reused across ``instrument()`` would keep the uninstrumented one."""

    def make(base_url: str = server.base_url) -> Any:
        # a new connection per run, and no TLS setup (the SDK's default HTTP client costs ~50 ms to make)
        if is_async:
            http: Any = openai.DefaultAsyncHttpxClient(verify=False)
            return openai.AsyncOpenAI(base_url=base_url, api_key="test-key", max_retries=0, http_client=http)
        http = openai.DefaultHttpxClient(verify=False)
        return openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0, http_client=http)

    return make


async def call(value: Any) -> Any:
    """Await the SDK's coroutine (async client) or take the sync result as it is."""
    return await value if isinstance(value, Awaitable) else value


async def both(
    otel: Any, make_llm: Callable[..., Any], scenario: Callable[[Any], Awaitable[Any]], **env: str
) -> tuple[Any, Any]:
    """(uninstrumented, instrumented) outcomes of one scenario, each with a new client; an exception is an
    outcome too."""

    async def outcome() -> Any:
        llm = make_llm()
        try:
            return await scenario(llm)
        except Exception as exc:
            return exc
        finally:
            await call(llm.close())

    plain = await outcome()
    assert otel.spans() == []
    otel.instrument(**env)
    instrumented = await outcome()
    return plain, instrumented


def headers(response: Any) -> dict[str, str]:
    return {k: mask(v) for k, v in response.headers.items() if k != "date"}


def same_exception(plain: Any, instrumented: Any) -> None:
    assert isinstance(plain, Exception), plain
    assert type(instrumented) is type(plain)
    assert str(instrumented) == str(plain)
    assert getattr(instrumented, "status_code", None) == getattr(plain, "status_code", None)
    assert getattr(instrumented, "body", None) == getattr(plain, "body", None)


async def read(stream: Any) -> list[Any]:
    if isinstance(stream, openai.AsyncStream):
        return [chunk async for chunk in stream]
    return list(stream)


# -- plain calls ------------------------------------------------------------------------------------------------


async def test_chat_completion(otel: Any, make_llm: Any) -> None:
    async def scenario(llm: Any) -> Any:
        return await call(llm.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.2))

    plain, instrumented = await both(otel, make_llm, scenario)
    assert type(instrumented) is type(plain) is ChatCompletion
    assert dump(instrumented) == dump(plain)
    assert instrumented.model_fields_set == plain.model_fields_set
    assert len(otel.spans()) == 1


async def test_completions_and_embeddings(otel: Any, make_llm: Any) -> None:
    async def scenario(llm: Any) -> Any:
        legacy = await call(llm.completions.create(model=MODEL, prompt="Say hello"))
        floats = await call(llm.embeddings.create(model="text-embedding-3-small", input=["a", "b c"]))
        b64 = await call(llm.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="base64"))
        return legacy, floats, b64

    plain, instrumented = await both(otel, make_llm, scenario)
    for p, i in zip(plain, instrumented, strict=True):
        assert type(i) is type(p)
        assert dump(i) == dump(p)
    assert isinstance(instrumented[2].data[0].embedding, str)  # base64 text, as the app asked
    assert isinstance(instrumented[1].data[0].embedding, list)  # the SDK decoded its own base64 request
    assert len(otel.spans()) == 3


@pytest.mark.parametrize("model", [NOT_FOUND, RATE_LIMITED, SERVER_ERROR])
async def test_status_errors(otel: Any, make_llm: Any, model: str) -> None:
    async def scenario(llm: Any) -> Any:
        return await call(llm.chat.completions.create(model=model, messages=MESSAGES))

    plain, instrumented = await both(otel, make_llm, scenario)
    same_exception(plain, instrumented)
    assert isinstance(instrumented, openai.APIStatusError)
    assert (otel.span().attributes or {})["error.type"] == str(plain.status_code)


async def test_connection_error(otel: Any, make_llm: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed_port = f"http://127.0.0.1:{port}/v1"  # nothing listens here any more

    async def scenario(llm: Any) -> Any:
        return await call(llm.chat.completions.create(model=MODEL, messages=MESSAGES))

    plain, instrumented = await both(otel, lambda: make_llm(closed_port), scenario)
    same_exception(plain, instrumented)
    assert type(instrumented) is openai.APIConnectionError
    assert type(instrumented.__cause__) is type(plain.__cause__)
    assert (otel.span().attributes or {})["error.type"] == "openai.APIConnectionError"


# -- streams ----------------------------------------------------------------------------------------------------


async def test_stream(otel: Any, make_llm: Any, is_async: bool) -> None:
    async def scenario(llm: Any) -> Any:
        stream = await call(llm.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
        assert isinstance(stream, openai.AsyncStream if is_async else openai.Stream)
        return stream.__class__, stream.response.status_code, [dump(c) for c in await read(stream)]

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    assert len(otel.spans()) == 1


async def test_stream_iteration_protocol(otel: Any, make_llm: Any, is_async: bool) -> None:
    """What ``for`` / ``async for`` get from the stream, and ``next()`` mixed with a loop, as the SDK does it: its
    ``__iter__`` / ``__aiter__`` hands out a new (async) generator over the one iterator ``__next__`` reads."""

    async def scenario(llm: Any) -> Any:
        stream = await call(
            llm.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, extra_body={"x_chunks": 4})
        )
        if is_async:
            first = await anext(stream)
            loop = aiter(stream)
            kind = (type(loop).__name__, loop is stream, aiter(stream) is loop)
            second = await anext(loop)
            rest = [chunk async for chunk in stream]
            again = [chunk async for chunk in stream]
        else:
            first = next(stream)
            loop = iter(stream)
            kind = (type(loop).__name__, loop is stream, iter(stream) is loop)
            second = next(loop)
            rest = list(stream)
            again = list(stream)
        return kind, [dump(c) for c in (first, second, *rest)], again

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    assert plain[0] == ("async_generator" if is_async else "generator", False, False)
    assert len(plain[1]) == 6 and plain[2] == []
    [span] = otel.spans()
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    [tpoc] = otel.points("gen_ai.client.operation.time_per_output_chunk")
    assert tpoc.count == 5


async def test_stream_helper_events(otel: Any, make_llm: Any, is_async: bool) -> None:
    async def scenario(llm: Any) -> Any:
        kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "stream_options": {"include_usage": True}}
        if is_async:
            async with llm.chat.completions.stream(**kwargs) as stream:
                events = [(e.type, mask(e.model_dump())) async for e in stream]
                final = await stream.get_final_completion()
        else:
            with llm.chat.completions.stream(**kwargs) as stream:
                events = [(e.type, mask(e.model_dump())) for e in stream]
                final = stream.get_final_completion()
        return events, dump(final)

    plain, instrumented = await both(otel, make_llm, scenario)
    assert [t for t, _ in instrumented[0]] == [t for t, _ in plain[0]]
    assert instrumented == plain
    assert len(otel.spans()) == 1


async def test_responses_create_and_stream(otel: Any, make_llm: Any, is_async: bool) -> None:
    async def scenario(llm: Any) -> Any:
        response = await call(llm.responses.create(model=MODEL, input="Say hello", instructions="Be brief"))
        stream = await call(llm.responses.create(model=MODEL, input="Say hello", stream=True))
        return dump(response), [dump(e) for e in await read(stream)]

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    assert len(otel.spans()) == 2


# -- structured outputs -----------------------------------------------------------------------------------------


class City(BaseModel):
    name: str
    population: int


async def test_chat_parse(otel: Any, make_llm: Any) -> None:
    async def scenario(llm: Any) -> Any:
        return await call(llm.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=City))

    plain, instrumented = await both(otel, make_llm, scenario)
    assert type(instrumented) is type(plain)
    parsed = instrumented.choices[0].message.parsed
    assert type(parsed) is City
    assert parsed == plain.choices[0].message.parsed == City(name="demo", population=1)
    assert dump(instrumented) == dump(plain)
    assert (otel.span().attributes or {})["gen_ai.output.type"] == "json"


async def test_responses_parse(otel: Any, make_llm: Any) -> None:
    async def scenario(llm: Any) -> Any:
        return await call(llm.responses.parse(model=MODEL, input="A city", text_format=City))

    plain, instrumented = await both(otel, make_llm, scenario)
    assert type(instrumented) is type(plain)
    assert type(instrumented.output_parsed) is City
    assert instrumented.output_parsed == plain.output_parsed == City(name="demo", population=1)
    assert dump(instrumented) == dump(plain)
    assert len(otel.spans()) == 1


# -- with_raw_response / with_streaming_response ---------------------------------------------------------------


async def test_raw_response(otel: Any, make_llm: Any) -> None:
    async def scenario(llm: Any) -> Any:
        raw = await call(llm.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES))
        assert raw.headers["x-request-id"].startswith("req_")
        first = raw.parse()
        assert type(first) is ChatCompletion
        assert raw.parse() is first
        return type(raw), raw.status_code, headers(raw), dump(first)

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    span = otel.span()
    assert (span.attributes or {})["gen_ai.response.finish_reasons"] == ("stop",)


async def test_raw_response_stream(otel: Any, make_llm: Any, is_async: bool) -> None:
    async def scenario(llm: Any) -> Any:
        raw = await call(llm.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, stream=True))
        assert "x-request-id" in raw.headers
        stream = raw.parse()
        assert isinstance(stream, openai.AsyncStream if is_async else openai.Stream)
        assert raw.parse() is stream
        return type(raw), [dump(c) for c in await read(stream)]

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    assert (otel.span().attributes or {})["gen_ai.response.finish_reasons"] == ("stop",)


async def test_streaming_response_lines(otel: Any, make_llm: Any, is_async: bool) -> None:
    async def scenario(llm: Any) -> Any:
        manager = llm.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES, stream=True)
        if is_async:
            async with manager as response:
                sent = headers(response)
                lines = [line async for line in response.iter_lines()]
        else:
            with manager as response:
                sent = headers(response)
                lines = list(response.iter_lines())
        assert response.is_closed
        return type(response), sent, mask(lines)

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    assert any(line.startswith("data: {") for line in instrumented[2])
    assert len(otel.spans()) == 1  # closing the unparsed response ended the span


async def test_streaming_response_parse(otel: Any, make_llm: Any, is_async: bool) -> None:
    async def scenario(llm: Any) -> Any:
        manager = llm.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES)
        if is_async:
            async with manager as response:
                assert "x-request-id" in response.headers
                parsed = await response.parse()
                again = await response.parse()
        else:
            with manager as response:
                assert "x-request-id" in response.headers
                parsed = response.parse()
                again = response.parse()
        assert again is parsed
        return type(response), type(parsed), dump(parsed)

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    assert (otel.span().attributes or {})["gen_ai.response.finish_reasons"] == ("stop",)


async def test_streaming_response_parse_stream(otel: Any, make_llm: Any, is_async: bool) -> None:
    async def scenario(llm: Any) -> Any:
        manager = llm.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES, stream=True)
        if is_async:
            async with manager as response:
                chunks = await read(await response.parse())
        else:
            with manager as response:
                chunks = await read(response.parse())
        return [dump(c) for c in chunks]

    plain, instrumented = await both(otel, make_llm, scenario)
    assert instrumented == plain
    assert len(otel.spans()) == 1


# -- instrument() / uninstrument() restore the SDK exactly -----------------------------------------------------


def sdk_methods() -> dict[tuple[Any, str], Any]:
    """Every wrapped place that exists in this SDK: (owner class, name) -> the object in the class dict."""
    found = {}
    for module_name, path, *_ in (*_TARGETS, *_HOOKS):
        resolved = resolve(module_name, path)
        if resolved is not None:
            owner, name, current = resolved
            found[(owner, name)] = current
    return found


@pytest.fixture
def originals() -> Iterator[dict[tuple[Any, str], Any]]:
    """The SDK's own functions; whatever a test does, they are put back (and the instrumentor reset) after it."""
    saved = sdk_methods()
    assert not any(isinstance(f, wrapt.FunctionWrapper) for f in saved.values()), "the SDK is still wrapped"
    # every target and hook exists in this SDK, except the beta parse methods openai 2.x removed
    missing = [f"{m}.{p}" for m, p, *_ in (*_TARGETS, *_HOOKS) if resolve(m, p) is None]
    assert all(name.startswith("openai.resources.beta.") for name in missing), missing
    try:
        yield saved
    finally:
        instrumentor = OpenAIInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        for (owner, name), function in saved.items():
            if owner.__dict__.get(name) is not function:
                setattr(owner, name, function)
        installer.uninstall()  # forget what it wrapped: the originals are back


def chat(client: openai.OpenAI) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES)


def test_uninstrument_restores_every_original(otel: Any, originals: dict[Any, Any], client: openai.OpenAI) -> None:
    otel.instrument()
    wrapped = sdk_methods()
    for key, function in wrapped.items():
        assert isinstance(function, wrapt.FunctionWrapper), key
        assert function.__wrapped__ is originals[key], key  # wrapped once, around the original
    chat(client)
    assert len(otel.spans()) == 1
    otel.uninstrument()
    for key, function in sdk_methods().items():
        assert function is originals[key], key
    chat(client)
    assert len(otel.spans()) == 1


def test_instrument_twice_does_not_double_wrap(otel: Any, originals: dict[Any, Any], client: openai.OpenAI) -> None:
    instrumentor = otel.instrument()
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        logger_provider=otel.logger_provider,
    )
    for key, function in sdk_methods().items():
        assert function.__wrapped__ is originals[key], key
    chat(client)
    assert len(otel.spans()) == 1
    otel.uninstrument()
    assert sdk_methods() == originals


def _public_instrument(otel: Any) -> None:
    llmtel.instrument(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        logger_provider=otel.logger_provider,
    )


def test_public_instrument_is_idempotent(otel: Any, originals: dict[Any, Any], client: openai.OpenAI) -> None:
    _public_instrument(otel)
    _public_instrument(otel)
    for key, function in sdk_methods().items():
        assert function.__wrapped__ is originals[key], key
    chat(client)
    chat(client)
    assert len(otel.spans()) == 2


def test_public_uninstrument_is_idempotent_without_instrument(originals: dict[Any, Any]) -> None:
    llmtel.uninstrument()
    llmtel.uninstrument()
    assert sdk_methods() == originals


def test_public_uninstrument_restores_the_sdk(otel: Any, originals: dict[Any, Any], client: openai.OpenAI) -> None:
    _public_instrument(otel)
    chat(client)
    assert len(otel.spans()) == 1
    llmtel.uninstrument()
    llmtel.uninstrument()
    chat(client)
    assert len(otel.spans()) == 1, "a call after uninstrument() still made a span"
    assert sdk_methods() == originals


# -- another instrumentation of the same methods ------------------------------------------------------------------
# The real ones (openai-v2, OpenLLMetry, OpenInference) are tested in tests/coexistence, in their own venv. Here a
# wrapper of this module plays an instrumentation llmtel does not know: how it is found, in either order, and that
# uninstall() never takes it away.

THIS_MODULE = __name__  # what the warning names for an unknown instrumentation: the module its wrapper is in


class Counting:
    """A pass-through wrapper that counts the calls it sees (it makes no span: the conventions check would
    reject one of this module's)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        self.calls += 1
        return wrapped(*args, **kwargs)


def respond(client: openai.OpenAI) -> None:
    client.responses.create(model=MODEL, input="Say hello")


def _completions() -> Any:
    from openai.resources.chat.completions import Completions

    return Completions


def test_a_wrapper_found_on_a_method_is_left_alone_there(
    otel: Any, originals: dict[Any, Any], client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    other = Counting()
    theirs = wrapt.wrap_function_wrapper(_completions(), "create", other)
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        otel.instrument()
    assert _completions().__dict__["create"] is theirs  # nothing of ours added on it
    chat(client)
    assert other.calls == 1
    assert otel.spans() == []  # its call, not ours
    respond(client)  # a method it did not wrap stays ours
    assert [s.instrumentation_scope.name for s in otel.spans()] == ["llmtel"]
    [warning] = [r.getMessage() for r in caplog.records if r.name == "llmtel"]
    assert warning == (
        f"llmtel: another instrumentation (module {THIS_MODULE}) also instruments the OpenAI SDK (it wrapped "
        "openai.resources.chat.completions.Completions.create, already when llmtel came to wrap it). One GenAI "
        f"span per call: for every call another instrumentation (module {THIS_MODULE}) instruments, its span is "
        "kept and llmtel makes none; llmtel goes on instrumenting the OpenAI calls it does not. llmtel records no "
        "prompt or completion content by default; check what that one records by default. To keep llmtel's spans "
        "instead, disable that one."
    )


def test_a_wrapper_put_over_ours_makes_ours_stand_down_and_survives_uninstall(
    otel: Any, originals: dict[Any, Any], client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    otel.instrument()
    ours = _completions().__dict__["create"]
    chat(client)
    assert len(otel.spans()) == 1
    other = Counting()
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        theirs = wrapt.wrap_function_wrapper(_completions(), "create", other)
        chat(client)
        chat(client)
    assert other.calls == 2
    assert len(otel.spans()) == 1, "llmtel still made a span under another instrumentation's"
    [warning] = [r.getMessage() for r in caplog.records if r.name == "llmtel"]  # once, not per call
    place = "openai.resources.chat.completions.Completions.create"
    assert f"(it wrapped {place}, over llmtel's wrapper, found at call time)" in warning
    respond(client)
    assert len(otel.spans()) == 2  # the methods it did not wrap stay ours

    otel.uninstrument()
    assert _completions().__dict__["create"] is theirs, "uninstall() took the other instrumentation's wrapper away"
    assert theirs.__wrapped__ is ours  # ours stays in its chain, disarmed
    chat(client)
    assert other.calls == 3
    assert len(otel.spans()) == 2
    setattr(_completions(), "create", theirs.__wrapped__)  # noqa: B010 - its own uninstrument: ours is back
    chat(client)
    assert len(otel.spans()) == 2, "a disarmed wrapper made a span"

    otel.instrument()  # takes the disarmed one out, wraps the SDK's own method anew
    now = _completions().__dict__["create"]
    assert now is not ours
    assert now.__wrapped__ is originals[(_completions(), "create")]
    chat(client)
    assert len(otel.spans()) == 3


@pytest.mark.parametrize("order", ["other first", "llmtel first"])
def test_a_replaced_client_request_is_found_in_either_order(
    otel: Any, originals: dict[Any, Any], client: openai.OpenAI, caplog: pytest.LogCaptureFixture, order: str
) -> None:
    """Under every resource method, the way OpenInference hooks in; here a plain function made with
    functools.wraps (it keeps the SDK function's __module__, so the globals tell whose it is)."""
    calls = []
    sdk_request = openai.OpenAI.request

    @functools.wraps(sdk_request)
    def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return sdk_request(self, *args, **kwargs)

    try:
        with caplog.at_level(logging.WARNING, logger="llmtel"):
            if order == "other first":
                openai.OpenAI.request = request  # type: ignore[method-assign]
                otel.instrument()
            else:
                otel.instrument()
                openai.OpenAI.request = request  # type: ignore[method-assign]
            chat(client)
            respond(client)
        assert len(calls) == 2
        assert otel.spans() == []
        [warning] = [r.getMessage() for r in caplog.records if r.name == "llmtel"]
        assert f"another instrumentation (module {THIS_MODULE}) also instruments the OpenAI SDK (it wrapped " in (
            warning
        )
        assert "openai.OpenAI.request" in warning
    finally:
        del openai.OpenAI.request
    chat(client)  # the client's request is the SDK's again: llmtel's wrapper, still in place, is back at work
    assert len(otel.spans()) == (1 if order == "llmtel first" else 0)


@pytest.mark.parametrize("then", ["call", "uninstall"])
def test_ours_is_ours_again_after_the_other_one_unwraps_itself(
    otel: Any, originals: dict[Any, Any], client: openai.OpenAI, then: str
) -> None:
    """The peers' uninstrument() uses opentelemetry's unwrap(), which reads the method through the class: over ours
    it puts back a wrapt bound wrapper of ours, not ours. That is still ours, for calls and for uninstall()."""
    from opentelemetry.instrumentation.utils import unwrap

    otel.instrument()
    ours = _completions().__dict__["create"]
    other = Counting()
    wrapt.wrap_function_wrapper(_completions(), "create", other)
    unwrap(_completions(), "create")
    assert _completions().__dict__["create"] is not ours
    if then == "call":
        chat(client)
        assert other.calls == 0
        assert len(otel.spans()) == 1
        assert _completions().__dict__["create"] is ours  # put back in place by the first call
    otel.uninstrument()
    assert sdk_methods() == originals

"""Behaviour preservation: each scenario runs uninstrumented, then instrumented (capture on, the most work), and
the app must not be able to tell (DESIGN.md principle 1). Results are compared as the SDK's own dumps, with the
server's counter-based ids and the HTTP date header left out. Faults injected into our own code (never into the
SDK) change nothing either. Install / uninstall restore the very SDK functions, for this provider only.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from google.genai import models as sdk_models
from google.genai import types
from opentelemetry.trace import StatusCode

from llmtel.core import content
from llmtel.core.invocation import Invocation
from llmtel.demo.wire.gemini import NOT_FOUND, RATE_LIMITED, SAFETY_BLOCKED, STREAM_ERROR
from llmtel.providers import google_genai as installer
from llmtel.providers.google_genai import _TARGETS, GoogleGenAIInstrumentor
from llmtel.providers.google_genai.embed import EmbedContentApi
from llmtel.providers.google_genai.generate import GenerateContentApi, GenerateStream
from tests.google_genai.helpers import CAPTURE, MODEL, PROMPT, SDK, drain, run

_IDS = re.compile(r"resp-\d+")
WEATHER = types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather")])


def mask(value: Any) -> Any:
    if isinstance(value, str):
        return _IDS.sub("resp-N", value)
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items() if k != "sdk_http_response"}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def dump(obj: Any) -> Any:
    return mask(obj.model_dump(mode="json"))


async def outcome(scenario: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await scenario()
    except Exception as exc:
        return type(exc), mask(str(exc))


def scenarios(models: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    async def generate() -> Any:
        config = {"temperature": 0.5, "system_instruction": "Be brief", "tools": [WEATHER]}
        return dump(await run(models.generate_content(model=MODEL, contents=PROMPT, config=config)))

    async def stream() -> Any:
        chunks = await drain(await run(models.generate_content_stream(model=MODEL, contents=PROMPT)))
        return [dump(c) for c in chunks]

    async def stream_error() -> Any:
        seen: list[Any] = []
        stream = await run(models.generate_content_stream(model=STREAM_ERROR, contents=PROMPT))
        try:
            if hasattr(stream, "__aiter__"):
                async for chunk in stream:
                    seen.append(dump(chunk))
            else:
                for chunk in stream:
                    seen.append(dump(chunk))
        except Exception as exc:
            return seen, type(exc), mask(str(exc)), getattr(exc, "code", None)
        return seen

    async def not_found() -> Any:
        return await run(models.generate_content(model=NOT_FOUND, contents=PROMPT))

    async def rate_limited_stream() -> Any:
        return await drain(await run(models.generate_content_stream(model=RATE_LIMITED, contents=PROMPT)))

    async def blocked() -> Any:
        return dump(await run(models.generate_content(model=SAFETY_BLOCKED, contents=PROMPT)))

    async def embed() -> Any:
        config = {"output_dimensionality": 4}
        return dump(await run(models.embed_content(model="text-embedding-004", contents=["a b", "c"], config=config)))

    return {
        "generate": generate,
        "stream": stream,
        "stream_error": stream_error,
        "not_found": not_found,
        "rate_limited_stream": rate_limited_stream,
        "blocked": blocked,
        "embed": embed,
    }


NAMES = list(scenarios(None))


@pytest.mark.parametrize("name", NAMES)
async def test_same_outcome_instrumented(otel: Any, models: Any, name: str) -> None:
    scenario = scenarios(models)[name]
    expected = await outcome(scenario)
    otel.instrument("google_genai", **{CAPTURE: "SPAN_AND_EVENT"})
    assert await outcome(scenario) == expected
    assert len(otel.spans()) == 1


async def test_chat_history_unchanged(otel: Any, gemini: Any) -> None:
    async def converse() -> Any:
        chat = gemini.chats.create(model=MODEL)
        chat.send_message(PROMPT)
        await drain(chat.send_message_stream("And tomorrow"))
        return [mask(c.model_dump(mode="json")) for c in chat.get_history()]

    expected = await converse()
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    assert await converse() == expected


# -- faults in our code ----------------------------------------------------------------------------------------

FIRED: list[str] = []


def _fault(*args: Any, **kwargs: Any) -> Any:
    FIRED.append("fault")
    raise RuntimeError("injected fault in llmtel")


FAULTS: dict[str, tuple[Any, str, str, int, str | None]] = {
    # (owner, attribute, scenario, spans that end, error.type)
    "request": (GenerateContentApi, "request", "generate", 0, None),  # before the span: no span, the call goes on
    "request/stream": (GenerateContentApi, "request", "stream", 0, None),
    "content": (GenerateContentApi, "content", "generate", 1, None),
    "content/404": (GenerateContentApi, "content", "not_found", 1, "404"),
    "response": (GenerateContentApi, "response", "generate", 1, None),
    "on_chunk": (GenerateStream, "on_chunk", "stream", 1, None),
    "on_chunk/error": (GenerateStream, "on_chunk", "stream_error", 1, "500"),
    "on_end": (GenerateStream, "on_end", "stream", 1, None),
    # the core's rule then: the class (the SDK's errors have ``code``, not the ``status_code`` the core reads)
    "classify": (GenerateContentApi, "error_type", "rate_limited_stream", 1, "google.ClientError"),
    "prepare_with_json": (content, "prepare_with_json", "generate", 1, None),
    "record": (Invocation, "_record", "stream", 1, None),
    "embed": (EmbedContentApi, "response", "embed", 1, None),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_in_our_code_is_invisible(
    otel: Any, models: Any, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    owner, attribute, name, spans, error_type = FAULTS[fault]
    if name == "stream_error" and SDK < (2, 0):
        pytest.skip("google-genai < 2 does not raise the in-band stream error")
    scenario = scenarios(models)[name]
    expected = await outcome(scenario)
    otel.instrument("google_genai", **{CAPTURE: "SPAN_AND_EVENT"})
    FIRED.clear()
    monkeypatch.setattr(owner, attribute, _fault)
    items = otel.instrumentor.installer.plan.modules["google.genai.models"]  # type: ignore[union-attr]
    for item in items:  # an adapter caches its classifier (read on every call): forget it, to read the fault
        item.adapter.__dict__.pop("classify", None)
    seen = await outcome(scenario)
    monkeypatch.undo()
    for item in items:
        item.adapter.__dict__.pop("classify", None)
    assert FIRED, "the fault was never triggered"
    assert seen == expected
    found = otel.spans()
    assert len(found) == spans
    if spans and attribute != "_record":
        [span] = found
        assert span.attributes.get("error.type") == error_type
        assert span.status.status_code is (StatusCode.ERROR if error_type else StatusCode.UNSET)


# -- install / uninstall ---------------------------------------------------------------------------------------


def originals() -> dict[str, Any]:
    return {t.path: sdk_models.__dict__[t.path.split(".")[0]].__dict__[t.path.split(".")[1]] for t in _TARGETS}


def test_uninstrument_restores_the_very_functions(otel: Any) -> None:
    from google.genai import _extra_utils

    hooked = ("get_function_response_parts", "get_function_response_parts_async")
    before = originals()
    functions = {name: _extra_utils.__dict__[name] for name in hooked}
    otel.instrument("google_genai")
    during = originals()
    assert all(during[k] is not before[k] for k in before)
    assert all(during[k].__wrapped__ is before[k] for k in before)
    assert all(_extra_utils.__dict__[n].__wrapped__ is functions[n] for n in hooked)
    otel.uninstrument()
    assert all(originals()[k] is before[k] for k in before)
    assert all(_extra_utils.__dict__[n] is functions[n] for n in hooked)


def test_instrument_twice_and_the_public_api(otel: Any) -> None:
    before = originals()
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    once = originals()
    instrumentor.instrument()  # idempotent: no double wrap
    llmtel_install = installer.install
    llmtel_install()
    assert originals() == once and installer.installed()
    instrumentor.uninstrument()
    assert not installer.installed()
    assert all(originals()[k] is before[k] for k in before)
    installer.uninstall()  # idempotent


def test_uninstalling_ours_leaves_openai_alone(otel: Any) -> None:
    import openai.resources.chat.completions as chat

    before = originals()
    otel.instrument("openai", "google_genai")
    wrapped_openai = chat.Completions.__dict__["create"]
    assert hasattr(wrapped_openai, "__wrapped__")
    installer.uninstall()
    assert all(originals()[k] is before[k] for k in before)
    assert chat.Completions.__dict__["create"] is wrapped_openai
    otel.uninstrument()


# -- odd input from the app ------------------------------------------------------------------------------------

ODD: dict[str, dict[str, Any]] = {
    "temperature-str": {"config": {"temperature": "hot", "seed": True, "top_k": "many"}},
    "stop-int": {"config": {"stop_sequences": 5, "candidate_count": 1.5}},
    "config-str": {"config": "not a config"},
    "config-list": {"config": [1, 2]},
    "contents-none": {"contents": None},
    "contents-int": {"contents": 123},
    "contents-junk": {"contents": [{"role": 3, "parts": [None, 7]}, object()]},
    "tools-junk": {"config": {"tools": [None, 5, "x"]}},
    "system-junk": {"config": {"system_instruction": {"parts": 9}}},
}


@pytest.mark.parametrize("odd", list(ODD))
async def test_odd_input_behaves_as_uninstrumented(otel: Any, models: Any, odd: str) -> None:
    kwargs = {"model": MODEL, "contents": PROMPT, **ODD[odd]}

    async def scenario() -> Any:
        return dump(await run(models.generate_content(**kwargs)))

    expected = await outcome(scenario)
    otel.instrument("google_genai", **{CAPTURE: "SPAN_AND_EVENT"})
    assert await outcome(scenario) == expected
    assert len(otel.spans()) == 1  # and the teardown's conformance check passes on it

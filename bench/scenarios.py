"""The calls we measure, and how each configuration makes them.

A configuration is one way of making the same SDK call in the same process:

* ``base``  — uninstrumented (the SDK exactly as shipped);
* ``floor`` — uninstrumented, wrapped by :class:`bench.floor.Floor`, the minimal semconv instrumentation;
* ``ours``  — instrumented by llmtel, content capture off;
* ``ours+span content`` / ``ours+span+event content`` — content capture ``SPAN_ONLY`` / ``SPAN_AND_EVENT``
  (only on the 2 KB-prompt scenario).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import transport
from .floor import Calibration, Floor, Shape

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@dataclass(frozen=True)
class Config:
    name: str
    instrumented: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    floor: bool = False


BASE = Config("base")
FLOOR = Config("floor", floor=True)
OURS = Config("ours", instrumented=True)
OURS_SPAN_CONTENT = Config("ours+span content", instrumented=True, env={CAPTURE: "SPAN_ONLY"})
OURS_EVENT_CONTENT = Config("ours+span+event content", instrumented=True, env={CAPTURE: "SPAN_AND_EVENT"})

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the benchmark in one short sentence."}]
STREAM_CHUNKS = 200
STREAM_WEIGHT = 25  # a stream scenario makes calls // 25 streams per configuration and round
PROVIDER_WEIGHT = 2  # the other providers' scenarios make half as many timed calls: the run stays within ~14
# minutes, and their targets are judged on the instruction counts, which need no more
ANTHROPIC_MODEL = "claude-sonnet-4-5"
BEDROCK_MODEL = "amazon.nova-micro-v1:0"
GEMINI_MODEL = "gemini-2.5-flash"


def two_kb_prompt() -> str:
    """2,048 characters of plain English-looking text, deterministic."""
    words = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "telemetry", "records")
    text: list[str] = []
    while len(" ".join(text)) < 2048:
        text.append(words[len(text) % len(words)])
    return " ".join(text)[:2048]


def _same(result: Any) -> Any:
    return result


def _extra_body(kwargs: dict[str, Any], knobs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, "extra_body": knobs}


def _gemini_extra_body(kwargs: dict[str, Any], knobs: dict[str, Any]) -> dict[str, Any]:
    # google-genai sends a request's extra body fields from the config's http_options
    return {**kwargs, "config": {**kwargs.get("config", {}), "http_options": {"extra_body": knobs}}}


def _yields(items: list[Any]) -> Callable[..., Any]:
    return lambda *args, **kwargs: iter(items)


def _passes(items: list[Any]) -> Callable[..., Any]:
    return lambda self, event: event


Feed = tuple[tuple[str, str, Callable[[list[Any]], Any]], ...]
"""Isolated per chunk: where the SDK's stream gets its parsed chunks from, replaced for the length of one
measured stream: (``module:Class``, attribute, the replacement made from the chunks)."""


def _stainless_feed(package: str) -> Feed:
    # openai's and anthropic's Stream read their events from the generator __stream__() decodes the response with
    return ((f"{package}:Stream", "__stream__", _yields),)


# botocore's EventStream reads its messages from this generator and parses each with _parse_event
EVENT_STREAM_FEED: Feed = (
    ("botocore.eventstream:EventStream", "_create_raw_event_generator", _yields),
    ("botocore.eventstream:EventStream", "_parse_event", _passes),
)
# google-genai's generate_content_stream is a generator over this one (the request and its per-chunk parsing)
GEMINI_FEED: Feed = (("google.genai.models:Models", "_generate_content_stream_with_continuation", _yields),)


@contextlib.contextmanager
def feeding(feed: Feed, items: list[Any]) -> Iterator[None]:
    """The SDK's streams made while inside yield ``items`` (parsed already), whatever wraps them: the patch is on
    the SDK's class, below any instrumentation, and taken off again (the very same objects put back)."""
    saved: list[tuple[type, str, Any]] = []
    try:
        for target, attr, replacement in feed:
            module, _, name = target.partition(":")
            cls = getattr(importlib.import_module(module), name)
            saved.append((cls, attr, cls.__dict__[attr]))
            setattr(cls, attr, replacement(items))
        yield
    finally:
        for cls, attr, original in reversed(saved):
            setattr(cls, attr, original)


@dataclass(frozen=True)
class Api:
    """One SDK method as the benchmark calls it: all that differs between providers, as data."""

    sdk: str  # bench.transport's name of the SDK (its client and its replay)
    operation: str  # the GenAI operation our span names
    create: Callable[[Any, Mapping[str, Any]], Any]  # the call, looked up on every call as an app does
    items: Callable[[Any], Any] = _same  # what the app iterates of a stream call's result
    knobs: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = _extra_body  # demo-server knobs
    model_key: str = "model"
    always_streams: bool = False  # a method of its own for streams (else kwargs stream=True)
    # Isolated per chunk (bench.chunks): the chunks before and after the repeatable middle of a stream, and how
    # the SDK's stream yields already-parsed chunks. No frame: not measured in isolation.
    frame: tuple[int, int] | None = None
    feed: Feed = ()


APIS: dict[str, Api] = {
    "chat": Api(
        "openai",
        "chat",
        lambda c, k: c.chat.completions.create(**k),
        frame=(1, 2),  # the role chunk | the finish-reason and usage chunks
        feed=_stainless_feed("openai"),
    ),
    "embeddings": Api("openai", "embeddings", lambda c, k: c.embeddings.create(**k)),
    "responses": Api("openai", "chat", lambda c, k: c.responses.create(**k)),
    "anthropic": Api(
        "anthropic",
        "chat",
        lambda c, k: c.messages.create(**k),
        frame=(2, 3),  # message_start, content_block_start | content_block_stop, message_delta, message_stop
        feed=_stainless_feed("anthropic"),
    ),
    "bedrock": Api("bedrock", "chat", lambda c, k: c.converse(**k), model_key="modelId"),
    "bedrock_stream": Api(
        "bedrock",
        "chat",
        lambda c, k: c.converse_stream(**k),
        items=lambda result: result["stream"],
        model_key="modelId",
        always_streams=True,
        frame=(1, 3),  # messageStart | contentBlockStop, messageStop, metadata
        feed=EVENT_STREAM_FEED,
    ),
    "gemini": Api("gemini", "generate_content", lambda c, k: c.models.generate_content(**k), knobs=_gemini_extra_body),
    "gemini_stream": Api(
        "gemini",
        "generate_content",
        lambda c, k: c.models.generate_content_stream(**k),
        knobs=_gemini_extra_body,
        always_streams=True,
        frame=(0, 1),  # | the chunk with the finish reason and the final usage
        feed=GEMINI_FEED,
    ),
}


Batch = Callable[[int], int]
"""Runs n calls and returns the elapsed nanoseconds."""


@dataclass
class Scenario:
    name: str
    title: str
    api: str  # a key of APIS
    kwargs: dict[str, Any]
    knobs: dict[str, Any] = field(default_factory=dict)  # demo-server knobs, sent only when recording
    stretch: tuple[str, int] | None = None  # event streams: (event type repeated, messages in all) once recorded
    is_async: bool = False
    weight: int = 1  # a batch makes calls // weight calls
    configs: tuple[Config, ...] = (BASE, FLOOR, OURS)
    per_call_reference: str | None = None  # streams: the non-stream scenario whose per-call overhead to subtract
    client: Any = None
    shape: Shape | None = None
    floor: Floor | None = None
    error: str = ""  # why this scenario was not (fully) measured; the rest of the run carries on

    @property
    def spec(self) -> Api:
        return APIS[self.api]

    @property
    def sdk(self) -> str:
        return self.spec.sdk

    @property
    def model(self) -> str:
        return str(self.kwargs[self.spec.model_key])

    @property
    def stream(self) -> bool:
        return self.spec.always_streams or bool(self.kwargs.get("stream"))

    @property
    def isolated(self) -> bool:
        """Measured per chunk in isolation too (bench.chunks)."""
        return self.stream and self.spec.frame is not None and bool(self.spec.feed)

    @property
    def chunks(self) -> int:
        """Chunks the app sees per stream (the first chunk has no time-per-chunk point)."""
        return self.shape.tpoc_points + 1 if self.shape is not None and self.stream else 0

    def record_request(self) -> transport.Request:
        spec, kwargs = self.spec, self.spec.knobs(self.kwargs, self.knobs) if self.knobs else self.kwargs

        def call(client: Any) -> None:
            result = spec.create(client, kwargs)
            if self.stream:
                for _ in spec.items(result):
                    pass

        return spec.sdk, call

    def bind(self, reply: transport.Reply) -> None:
        if self.stretch is not None:
            reply = reply.stretched(*self.stretch)
        self.client = transport.client(self.sdk, reply, is_async=self.is_async)

    def setup(
        self, reply: transport.Reply, instrumentation: Any, pipeline: Any, loop: asyncio.AbstractEventLoop
    ) -> None:
        """Bind to ``reply``, make the first calls, calibrate the floor on our own telemetry of one call
        (``instrumentation``: a :class:`bench.pipeline.Instrumentation`). A step that fails sets :attr:`error`."""
        step = "making its client"
        try:
            self.bind(reply)
            step = "the first uninstrumented calls"
            instrumentation.set(None)
            self.batch(BASE, loop)(1 if self.stream else 2)  # they load the SDK's lazy modules and models
            step = "calibrating the floor on llmtel's telemetry"
            missing = instrumentation.failed.get(self.sdk)
            if missing:
                raise RuntimeError(f"llmtel's {self.sdk} instrumentation: {missing}")
            calibration = Calibration()  # fresh each time: its metric reader is cumulative
            try:
                instrumentation.set(calibration)
                self.batch(OURS, loop)(1)
            finally:
                instrumentation.set(None)
            self.shape = calibration.shape()
            self.floor = Floor(pipeline, self.shape)
            calibration.shutdown()
        except Exception as exc:
            self.error = f"{step} failed ({type(exc).__name__}: {exc})"

    def make_stream(self) -> Any:
        """One stream call, uninstrumented or not as the configuration is: what the app iterates."""
        spec = self.spec
        return spec.items(spec.create(self.client, self.kwargs))

    def parsed_chunks(self) -> list[Any]:
        """The chunks of one stream, as the SDK parsed them (call uninstrumented)."""
        return list(self.make_stream())

    def feeding(self, items: list[Any]) -> contextlib.AbstractContextManager[None]:
        """While inside, this scenario's stream calls yield ``items`` (see :func:`feeding`)."""
        return feeding(self.spec.feed, items)

    def calls(self, calls: int) -> int:
        return max(1, calls // self.weight)

    def batch(self, config: Config, loop: asyncio.AbstractEventLoop) -> Batch:
        spec, client, kwargs = self.spec, self.client, self.kwargs
        create, items = spec.create, spec.items
        floor = self.floor if config.floor else None
        if config.floor and floor is None:
            raise RuntimeError(f"{self.name}: no floor (calibrate first)")
        perf_ns = time.perf_counter_ns

        if self.is_async:
            if self.stream:
                raise NotImplementedError("async streams are not a benchmark scenario")
            if floor is not None:
                f = floor

                async def acall() -> None:
                    await f.acall(lambda: create(client, kwargs))
            else:

                async def acall() -> None:
                    await create(client, kwargs)

            async def abatch(n: int) -> int:
                t0 = perf_ns()
                for _ in range(n):
                    await acall()
                return perf_ns() - t0

            return lambda n: loop.run_until_complete(abatch(n))

        call: Callable[[], None]
        if self.stream and floor is not None:
            f = floor

            def call() -> None:
                for _ in f.stream(lambda: items(create(client, kwargs))):
                    pass
        elif self.stream:

            def call() -> None:
                for _ in items(create(client, kwargs)):
                    pass
        elif floor is not None:
            f = floor

            def call() -> None:
                f.call(lambda: create(client, kwargs))
        else:

            def call() -> None:
                create(client, kwargs)

        def batch(n: int) -> int:
            t0 = perf_ns()
            for _ in range(n):
                call()
            return perf_ns() - t0

        return batch


def _stream(
    name: str, title: str, api: str, kwargs: dict[str, Any], reference: str, weight: int = 1, **more: Any
) -> Scenario:
    """A stream scenario: fewer calls (one stream makes ~200 chunks' work), its per-call overhead taken as that of
    the ``reference`` non-stream scenario of the same API."""
    return Scenario(name, title, api, kwargs, per_call_reference=reference, weight=STREAM_WEIGHT * weight, **more)


def long_reply(words: int) -> str:
    """A reply of ``words`` words: the Anthropic and Gemini wire modules stream at most one chunk per word."""
    return " ".join(f"word{i}" for i in range(words))


def scenarios() -> list[Scenario]:
    prompt = [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": two_kb_prompt()},
    ]
    chat = {"model": MODEL, "messages": MESSAGES, "temperature": 0.5, "max_tokens": 100}
    # Long streams need room: the demo server honours the token limit.
    stream_chat = {**chat, "max_tokens": 4096, "stream": True, "stream_options": {"include_usage": True}}
    responses = {"model": MODEL, "input": MESSAGES[0]["content"], "temperature": 0.5, "max_output_tokens": 100}
    text = MESSAGES[0]["content"]
    anthropic = {"model": ANTHROPIC_MODEL, "messages": MESSAGES, "max_tokens": 100}  # 2.x: no temperature
    bedrock = {
        "modelId": BEDROCK_MODEL,
        "messages": [{"role": "user", "content": [{"text": text}]}],
        "inferenceConfig": {"temperature": 0.5, "maxTokens": 100},
    }
    gemini = {"model": GEMINI_MODEL, "contents": text, "config": {"temperature": 0.5, "max_output_tokens": 100}}
    reply = long_reply(STREAM_CHUNKS)
    # Stream sizes: chat = role chunk + content chunks + finish chunk + usage chunk; Responses = created,
    # in_progress, output_item.added, content_part.added, deltas, output_text.done, content_part.done,
    # output_item.done, completed; Anthropic = message_start, content_block_start, deltas, content_block_stop,
    # message_delta, message_stop (the SDK drops the ping); Bedrock = messageStart, deltas, contentBlockStop,
    # messageStop, metadata; Gemini = content chunks, the last with the finish reason.
    return [
        Scenario("chat", "chat (non-stream)", "chat", chat),
        _stream(
            "chat_stream",
            f"chat stream, {STREAM_CHUNKS} chunks",
            "chat",
            stream_chat,
            "chat",
            knobs={"x_chunks": STREAM_CHUNKS - 3},
        ),
        Scenario(
            "embeddings",
            "embeddings",
            "embeddings",
            {"model": "text-embedding-3-small", "input": MESSAGES[0]["content"], "dimensions": 256},
        ),
        Scenario("responses", "Responses create", "responses", responses),
        _stream(
            "responses_stream",
            f"Responses stream, {STREAM_CHUNKS} events",
            "responses",
            {**responses, "max_output_tokens": 4096, "stream": True},
            "responses",
            knobs={"x_chunks": STREAM_CHUNKS - 8},
        ),
        Scenario("async_chat", "async chat (non-stream)", "chat", chat, is_async=True),
        Scenario(
            "chat_2k",
            "chat, 2 KB prompt",
            "chat",
            {**chat, "messages": prompt},
            configs=(BASE, FLOOR, OURS, OURS_SPAN_CONTENT, OURS_EVENT_CONTENT),
        ),
        Scenario("anthropic", "Anthropic messages.create", "anthropic", anthropic, weight=PROVIDER_WEIGHT),
        _stream(
            "anthropic_stream",
            f"Anthropic messages.create(stream=True), {STREAM_CHUNKS} events",
            "anthropic",
            {**anthropic, "max_tokens": 4096, "stream": True},
            "anthropic",
            PROVIDER_WEIGHT,
            knobs={"x_chunks": STREAM_CHUNKS - 5, "x_reply": reply},
        ),
        Scenario("bedrock", "Bedrock converse", "bedrock", bedrock, weight=PROVIDER_WEIGHT),
        _stream(
            "bedrock_stream",
            f"Bedrock converse_stream, {STREAM_CHUNKS} events",
            "bedrock_stream",
            {**bedrock, "inferenceConfig": {"temperature": 0.5, "maxTokens": 4096}},
            "bedrock",
            PROVIDER_WEIGHT,
            stretch=("contentBlockDelta", STREAM_CHUNKS),  # the wire module streams 4 deltas: repeated
        ),
        Scenario("gemini", "Gemini generate_content", "gemini", gemini, weight=PROVIDER_WEIGHT),
        _stream(
            "gemini_stream",
            f"Gemini generate_content_stream, {STREAM_CHUNKS} chunks",
            "gemini_stream",
            {**gemini, "config": {"temperature": 0.5, "max_output_tokens": 4096}},
            "gemini",
            PROVIDER_WEIGHT,
            knobs={"x_chunks": STREAM_CHUNKS, "x_reply": reply},
        ),
    ]

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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import transport
from .floor import Floor, Shape

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


def two_kb_prompt() -> str:
    """2,048 characters of plain English-looking text, deterministic."""
    words = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "telemetry", "records")
    text: list[str] = []
    while len(" ".join(text)) < 2048:
        text.append(words[len(text) % len(words)])
    return " ".join(text)[:2048]


def _create(api: str) -> Callable[[Any, Mapping[str, Any]], Any]:
    """The SDK method, looked up on every call as an app does (so wrapping and unwrapping take effect)."""
    if api == "chat":
        return lambda client, kwargs: client.chat.completions.create(**kwargs)
    if api == "embeddings":
        return lambda client, kwargs: client.embeddings.create(**kwargs)
    if api == "responses":
        return lambda client, kwargs: client.responses.create(**kwargs)
    raise ValueError(api)


Batch = Callable[[int], int]
"""Runs n calls and returns the elapsed nanoseconds."""


@dataclass
class Scenario:
    name: str
    title: str
    api: str
    kwargs: dict[str, Any]
    knobs: dict[str, Any] = field(default_factory=dict)  # demo-server knobs, sent only when recording
    is_async: bool = False
    weight: int = 1  # a batch makes calls // weight calls
    configs: tuple[Config, ...] = (BASE, FLOOR, OURS)
    per_call_reference: str | None = None  # streams: the non-stream scenario whose per-call overhead to subtract
    client: Any = None
    shape: Shape | None = None
    floor: Floor | None = None

    @property
    def stream(self) -> bool:
        return bool(self.kwargs.get("stream"))

    @property
    def chunks(self) -> int:
        """Chunks the app sees per stream (the first chunk has no time-per-chunk point)."""
        return self.shape.tpoc_points + 1 if self.shape is not None and self.stream else 0

    def record_request(self) -> tuple[str, dict[str, Any]]:
        kwargs = dict(self.kwargs)
        if self.knobs:
            kwargs["extra_body"] = dict(self.knobs)
        return self.api, kwargs

    def bind(self, reply: transport.Reply) -> None:
        self.client = transport.async_client(reply) if self.is_async else transport.sync_client(reply)

    def calls(self, calls: int) -> int:
        return max(1, calls // self.weight)

    def batch(self, config: Config, loop: asyncio.AbstractEventLoop) -> Batch:
        create, client, kwargs = _create(self.api), self.client, self.kwargs
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
                for _ in f.stream(lambda: create(client, kwargs)):
                    pass
        elif self.stream:

            def call() -> None:
                for _ in create(client, kwargs):
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


def scenarios() -> list[Scenario]:
    prompt = [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": two_kb_prompt()},
    ]
    chat = {"model": MODEL, "messages": MESSAGES, "temperature": 0.5, "max_tokens": 100}
    # Long streams need room: the demo server honours the token limit.
    stream_chat = {**chat, "max_tokens": 4096, "stream": True, "stream_options": {"include_usage": True}}
    responses = {"model": MODEL, "input": MESSAGES[0]["content"], "temperature": 0.5, "max_output_tokens": 100}
    # Stream sizes: chat = role chunk + content chunks + finish chunk + usage chunk; Responses = created,
    # in_progress, output_item.added, content_part.added, deltas, output_text.done, content_part.done,
    # output_item.done, completed.
    return [
        Scenario("chat", "chat (non-stream)", "chat", chat),
        Scenario(
            "chat_stream",
            f"chat stream, {STREAM_CHUNKS} chunks",
            "chat",
            stream_chat,
            knobs={"x_chunks": STREAM_CHUNKS - 3},
            weight=25,
            per_call_reference="chat",
        ),
        Scenario(
            "embeddings",
            "embeddings",
            "embeddings",
            {"model": "text-embedding-3-small", "input": MESSAGES[0]["content"], "dimensions": 256},
        ),
        Scenario("responses", "Responses create", "responses", responses),
        Scenario(
            "responses_stream",
            f"Responses stream, {STREAM_CHUNKS} events",
            "responses",
            {**responses, "max_output_tokens": 4096, "stream": True},
            knobs={"x_chunks": STREAM_CHUNKS - 8},
            weight=25,
            per_call_reference="responses",
        ),
        Scenario("async_chat", "async chat (non-stream)", "chat", chat, is_async=True),
        Scenario(
            "chat_2k",
            "chat, 2 KB prompt",
            "chat",
            {**chat, "messages": prompt},
            configs=(BASE, FLOOR, OURS, OURS_SPAN_CONTENT, OURS_EVENT_CONTENT),
        ),
    ]

"""llmtel next to the other OpenAI instrumentations, the real packages (requirements.txt here), in both orders.

Each test instruments one of them and llmtel on the same real OpenTelemetry SDK pipeline (in-memory exporters), in
one order or the other, and makes real openai calls against the local server. What must hold, whatever the order:
exactly one span per call, the other package's wherever it instruments the call (llmtel stands down: found when
it wraps a module, or at call time when the other one wrapped after it), llmtel's for the calls it does not; and
one warning on the ``llmtel`` logger naming that package, saying which span is kept and what each records of
prompts by default. The default the warning states is checked against what the package's spans really carry.

Every SDK module that either side wraps is imported before anything is instrumented, so "first" is the order of
the instrument() calls and nothing else (with lazily loaded modules, a package instrumented after llmtel can be
found when a module loads: the wrap-time path, which "peer first" covers).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.conftest import Otel

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the coexistence test"}]
PROMPT_TEXT = "Say hello to the coexistence test"
LLMTEL = "llmtel"

SYNC_CALLS: dict[str, Callable[[openai.OpenAI], Any]] = {
    "chat": lambda c: c.chat.completions.create(model=MODEL, messages=MESSAGES),
    "chat stream": lambda c: list(c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)),
    "chat parse": lambda c: c.chat.completions.parse(model=MODEL, messages=MESSAGES),
    "completions": lambda c: c.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT_TEXT),
    "embeddings": lambda c: c.embeddings.create(model="text-embedding-3-small", input=PROMPT_TEXT),
    "responses": lambda c: c.responses.create(model=MODEL, input=PROMPT_TEXT),
}


async def _achat(c: openai.AsyncOpenAI) -> Any:
    return await c.chat.completions.create(model=MODEL, messages=MESSAGES)


async def _aresponses(c: openai.AsyncOpenAI) -> Any:
    return await c.responses.create(model=MODEL, input=PROMPT_TEXT)


ASYNC_CALLS: dict[str, Callable[[openai.AsyncOpenAI], Awaitable[Any]]] = {
    "async chat": _achat,
    "async responses": _aresponses,
}


@dataclass(frozen=True)
class Peer:
    module: str  # where its OpenAIInstrumentor is
    distribution: str  # as the warning names it
    place: str  # what it wrapped, as the warning names it: the first method llmtel wraps, or a test's first call
    async_place: str  # the same for a test whose first call is async, when it is found at call time
    content: str  # what the warning says it records by default
    records_prompts: bool  # what its spans really carry by default
    scopes: dict[str, str]  # call → the scope of the one span it gets
    chat_after_its_uninstrument: str  # llmtel first, then it, then its uninstrument(): whose is a chat call's span


V2_CHAT = "opentelemetry.util.genai.handler"  # openai-v2 makes its chat spans through opentelemetry-util-genai
V2 = "opentelemetry.instrumentation.openai_v2"
OPENLLMETRY = "opentelemetry.instrumentation.openai.v1"
OPENINFERENCE = "openinference.instrumentation.openai"
CHAT_CREATE = "openai.resources.chat.completions.Completions.create"
ASYNC_CHAT_CREATE = "openai.resources.chat.completions.AsyncCompletions.create"

PEERS = {
    # wraps chat.completions.create and embeddings.create only: the other calls stay llmtel's
    "openai-v2": Peer(
        module="opentelemetry.instrumentation.openai_v2",
        distribution="opentelemetry-instrumentation-openai-v2",
        place=CHAT_CREATE,
        async_place=ASYNC_CHAT_CREATE,
        content="it records none either unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turns that on",
        records_prompts=False,
        scopes={
            "chat": V2_CHAT,
            "chat stream": V2_CHAT,
            "chat parse": LLMTEL,
            "completions": LLMTEL,
            "embeddings": V2,
            "responses": LLMTEL,
            "async chat": V2_CHAT,
            "async responses": LLMTEL,
        },
        chat_after_its_uninstrument=LLMTEL,
    ),
    # wraps every method llmtel wraps
    "openllmetry": Peer(
        module="opentelemetry.instrumentation.openai",
        distribution="opentelemetry-instrumentation-openai (OpenLLMetry)",
        place=CHAT_CREATE,
        async_place=ASYNC_CHAT_CREATE,
        content="but it does: it records prompts and completions on its spans by default "
        "(TRACELOOP_TRACE_CONTENT=false turns that off)",
        records_prompts=True,
        scopes=dict.fromkeys([*SYNC_CALLS, *ASYNC_CALLS], OPENLLMETRY),
        chat_after_its_uninstrument=OPENLLMETRY,  # its uninstrument() unwraps nothing (see sdk_restored)
    ),
    # wraps the client's request, under every method
    "openinference": Peer(
        module="openinference.instrumentation.openai",
        distribution="openinference-instrumentation-openai",
        place="openai.OpenAI.request",
        async_place="openai.AsyncOpenAI.request",
        content="but it does: it records prompts and completions (input and output values and messages) on its "
        "spans by default (OPENINFERENCE_HIDE_INPUTS=true and OPENINFERENCE_HIDE_OUTPUTS=true turn that off)",
        records_prompts=True,
        scopes=dict.fromkeys([*SYNC_CALLS, *ASYNC_CALLS], OPENINFERENCE),
        chat_after_its_uninstrument=LLMTEL,
    ),
}
ORDERS = ("peer first", "llmtel first")


def expected_warning(peer: Peer, order: str, first_call_async: bool = False) -> str:
    if order == "peer first":  # found when llmtel wraps the SDK, at the first method it would wrap
        place, how = peer.place, "already when llmtel came to wrap it"
    else:  # found by the first call
        place, how = peer.async_place if first_call_async else peer.place, "over llmtel's wrapper, found at call time"
    return (
        f"llmtel: {peer.distribution} also instruments the OpenAI SDK (it wrapped {place}, {how}). One GenAI "
        f"span per call: for every call {peer.distribution} instruments, its span is kept and llmtel makes none; "
        "llmtel goes on instrumenting the OpenAI calls it does not. llmtel records no prompt or completion content "
        f"by default; {peer.content}. To keep llmtel's spans instead, uninstall {peer.distribution.split()[0]} or "
        "disable it (under opentelemetry-instrument: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai, its entry point)."
    )


# -- fixtures -----------------------------------------------------------------------------------------------------


def _sdk_classes() -> list[type]:
    return [
        obj
        for name, module in list(sys.modules.items())
        if (name == "openai" or name.startswith("openai.")) and module is not None
        for obj in list(vars(module).values())
        if isinstance(obj, type) and getattr(obj, "__module__", "").startswith("openai")
    ]


@pytest.fixture(scope="session", autouse=True)
def sdk_loaded() -> None:
    """Every openai.resources module (those llmtel wraps and those the peers wrap) imported up front."""
    import openai.resources

    for info in pkgutil.walk_packages(openai.resources.__path__, "openai.resources."):
        with contextlib.suppress(ImportError):  # an optional extra's module
            importlib.import_module(info.name)
    for name in ("openai.lib.streaming.chat._completions", "openai.lib.streaming.responses._responses"):
        importlib.import_module(name)


@pytest.fixture
def sdk_restored() -> Iterator[None]:
    """The SDK's classes exactly as they were, after each test. OpenLLMetry's uninstrument() leaves its wrappers in
    place (it passes "module", "Class.method" to opentelemetry's unwrap, which looks for an attribute of that
    dotted name on the module and finds none), so a test's peer would otherwise stay for the next ones."""
    saved = {cls: dict(vars(cls)) for cls in _sdk_classes()}
    yield
    for cls, attributes in saved.items():
        for name in [n for n in vars(cls) if n not in attributes]:
            delattr(cls, name)
        for name, value in attributes.items():
            if vars(cls).get(name) is not value:
                setattr(cls, name, value)


@pytest.fixture
def pipeline() -> Iterator[Otel]:
    """One test's SDK pipeline (not the ``otel`` fixture: its conventions check is for llmtel's telemetry alone)."""
    otel = Otel()
    yield otel
    otel.uninstrument()


class Both:
    """The peer's instrumentor and llmtel's, on one pipeline, instrumented in the order asked for."""

    def __init__(self, otel: Otel, peer: Peer) -> None:
        self.otel = otel
        self.peer = importlib.import_module(peer.module).OpenAIInstrumentor()

    def instrument(self, order: str) -> None:
        if order == "peer first":
            self._peer()
            self.otel.instrument()
        else:
            self.otel.instrument()
            self._peer()

    def _peer(self) -> None:
        self.peer.instrument(
            tracer_provider=self.otel.tracer_provider,
            meter_provider=self.otel.meter_provider,
            logger_provider=self.otel.logger_provider,
        )

    def uninstrument(self) -> None:
        self.otel.uninstrument()
        if self.peer.is_instrumented_by_opentelemetry:
            self.peer.uninstrument()

    def scopes_of(self, call: Callable[[], Any]) -> list[str]:
        """The instrumentation scopes of the spans one call makes (the HTTP client is not instrumented here)."""
        self.otel.span_exporter.clear()
        call()
        return [s.instrumentation_scope.name for s in self.otel.span_exporter.get_finished_spans()]


@pytest.fixture(params=list(PEERS))
def peer(request: pytest.FixtureRequest) -> Peer:
    return PEERS[request.param]


@pytest.fixture
def both(peer: Peer, pipeline: Otel, sdk_restored: None) -> Iterator[Both]:
    pair = Both(pipeline, peer)
    yield pair
    pair.uninstrument()


def llmtel_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "llmtel" and r.levelno >= logging.WARNING]


def client_of(server: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)


# -- the tests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
def test_one_span_per_call_and_one_warning(
    both: Both, peer: Peer, order: str, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        both.instrument(order)
        with client_of(server) as client:
            got = {name: both.scopes_of(lambda call=call: call(client)) for name, call in SYNC_CALLS.items()}
            again = both.scopes_of(lambda: SYNC_CALLS["chat"](client))
    assert got == {name: [peer.scopes[name]] for name in SYNC_CALLS}
    assert again == [peer.scopes["chat"]]
    assert llmtel_warnings(caplog) == [expected_warning(peer, order)]  # once, not per call


@pytest.mark.parametrize("order", ORDERS)
async def test_one_span_per_async_call(
    both: Both, peer: Peer, order: str, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        both.instrument(order)
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0) as client:
            got = {}
            for name, call in ASYNC_CALLS.items():
                both.otel.span_exporter.clear()
                await call(client)
                got[name] = [s.instrumentation_scope.name for s in both.otel.span_exporter.get_finished_spans()]
    assert got == {name: [peer.scopes[name]] for name in ASYNC_CALLS}
    assert llmtel_warnings(caplog) == [expected_warning(peer, order, first_call_async=True)]


def test_what_the_warning_says_of_prompts_is_what_the_spans_carry(
    both: Both, peer: Peer, server: FakeOpenAIServer
) -> None:
    """Each package with its defaults (none of TRACELOOP_TRACE_CONTENT, OPENINFERENCE_HIDE_*,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is set here): the prompt is on the kept span or it is not."""
    both.instrument("peer first")
    with client_of(server) as client:
        both.otel.span_exporter.clear()
        SYNC_CALLS["chat"](client)
    [span] = both.otel.span_exporter.get_finished_spans()
    assert span.instrumentation_scope.name == peer.scopes["chat"]
    carried = any(PROMPT_TEXT in str(value) for value in (span.attributes or {}).values())
    assert carried is peer.records_prompts
    logged = any(PROMPT_TEXT in str(record.log_record.body) for record in both.otel.logs())
    assert logged is False or peer.records_prompts


def test_llmtel_takes_the_calls_back_when_the_peer_uninstruments(
    both: Both, peer: Peer, server: FakeOpenAIServer
) -> None:
    """llmtel first, the peer over it, then the peer's own uninstrument(): llmtel's wrappers, which stood down,
    make llmtel's spans again. openai-v2's unwrap() puts back a bound wrapper of ours, OpenInference leaves the SDK's
    own request function on openai.OpenAI: both are recognised. OpenLLMetry's uninstrument() unwraps nothing."""
    both.instrument("llmtel first")
    with client_of(server) as client:
        assert both.scopes_of(lambda: SYNC_CALLS["chat"](client)) == [peer.scopes["chat"]]
        both.peer.uninstrument()
        after = both.scopes_of(lambda: SYNC_CALLS["chat"](client))
    assert after == [peer.chat_after_its_uninstrument]


def test_llmtel_uninstrumented_under_the_peer_leaves_the_peer_working(
    both: Both, peer: Peer, server: FakeOpenAIServer
) -> None:
    """llmtel first, the peer over it, then llmtel's uninstrument() (not the reverse order): the peer's wrapper is
    not taken away with ours, and ours, left in its chain, makes nothing."""
    both.instrument("llmtel first")
    both.otel.uninstrument()
    with client_of(server) as client:
        got = {name: both.scopes_of(lambda call=call: call(client)) for name, call in SYNC_CALLS.items()}
    assert got == {name: [] if peer.scopes[name] == LLMTEL else [peer.scopes[name]] for name in SYNC_CALLS}

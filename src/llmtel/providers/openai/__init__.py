"""OpenAI SDK instrumentation: which methods are wrapped, and with which translation.

Supported: ``openai`` 1.40 … 3.x. Nothing of openai, and none of our translation modules, is imported until the
app imports openai: :func:`install` registers a post-import hook per SDK module, and each module is wrapped when
the app loads it (at once if it already has). Wrapped (sync and async): ``chat.completions.create`` and
``.parse`` (``.stream()`` goes through ``create``), ``completions.create``, ``embeddings.create``,
``responses.create`` and ``.parse`` (``.stream()`` goes through ``create``), plus the private response hooks
that keep ``with_raw_response`` / ``with_streaming_response`` objects exact (see ``_common``).

Another OpenAI instrumentation keeps the calls it instruments, whichever was installed first: its wrapper is found
when a module is wrapped (ours is then not added there), or by our wrapper at call time when it wrapped over ours
or under it (``_common.Watch``); one warning names it (``_PEERS``). tests/coexistence runs the real ones.

:func:`install` / :func:`uninstall` hold the state; ``OpenAIInstrumentor`` (the ``opentelemetry-instrument``
entry point, in :mod:`.instrumentor`) and :func:`llmtel.instrument` both drive them, so either way the SDK
is wrapped once. This module imports no ``opentelemetry.instrumentation`` (~20 ms of start-up; bench/).
"""

from __future__ import annotations

import functools
import logging
import sys
from types import FunctionType, MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from llmtel import _providers
from llmtel import config as config_module
from llmtel._imports import when_imported
from llmtel._internal import swallowed

if TYPE_CHECKING:
    from llmtel.core.invocation import Telemetry
    from llmtel.providers.openai._common import Watch
    from llmtel.providers.openai.instrumentor import OpenAIInstrumentor

__all__ = ["OpenAIInstrumentor", "install", "installed", "uninstall"]

_log = logging.getLogger("llmtel")
MIN_VERSION = (1, 40)

# (module, "Class.method", translation module and class, is_async). Missing targets (older/newer SDKs) are
# skipped. The translations are named, not imported: they load with the first SDK module the app imports.
_TARGETS: tuple[tuple[str, str, str, bool], ...] = (
    ("openai.resources.chat.completions", "Completions.create", "chat.ChatApi", False),
    ("openai.resources.chat.completions", "AsyncCompletions.create", "chat.ChatApi", True),
    ("openai.resources.chat.completions", "Completions.parse", "chat.ChatApi", False),
    ("openai.resources.chat.completions", "AsyncCompletions.parse", "chat.ChatApi", True),
    ("openai.resources.beta.chat.completions", "Completions.parse", "chat.ChatApi", False),
    ("openai.resources.beta.chat.completions", "AsyncCompletions.parse", "chat.ChatApi", True),
    ("openai.resources.completions", "Completions.create", "completions.CompletionsApi", False),
    ("openai.resources.completions", "AsyncCompletions.create", "completions.CompletionsApi", True),
    ("openai.resources.embeddings", "Embeddings.create", "embeddings.EmbeddingsApi", False),
    ("openai.resources.embeddings", "AsyncEmbeddings.create", "embeddings.EmbeddingsApi", True),
    ("openai.resources.responses", "Responses.create", "responses.ResponsesApi", False),
    ("openai.resources.responses", "AsyncResponses.create", "responses.ResponsesApi", True),
    ("openai.resources.responses", "Responses.parse", "responses.ResponsesApi", False),
    ("openai.resources.responses", "AsyncResponses.parse", "responses.ResponsesApi", True),
)

# (module, "Class.method", hook function in _common)
_HOOKS: tuple[tuple[str, str, str], ...] = (
    ("openai._response", "BaseAPIResponse._parse", "parse_hook"),
    ("openai._legacy_response", "LegacyAPIResponse._parse", "parse_hook"),
    ("openai._response", "APIResponse.close", "close_hook"),
    ("openai._response", "AsyncAPIResponse.close", "async_close_hook"),
    ("openai.lib.streaming.chat._completions", "ChatCompletionStream.close", "helper_close_hook"),
    ("openai.lib.streaming.chat._completions", "AsyncChatCompletionStream.close", "async_helper_close_hook"),
    ("openai.lib.streaming.responses._responses", "ResponseStream.close", "helper_close_hook"),
    ("openai.lib.streaming.responses._responses", "AsyncResponseStream.close", "async_helper_close_hook"),
)

# Where the other OpenAI instrumentations hook in, as their installed sources show (all three use wrapt):
# opentelemetry-instrumentation-openai-v2 wraps chat.completions.create and embeddings.create, OpenLLMetry's
# opentelemetry-instrumentation-openai every method in _TARGETS (and more); both on the very class attributes we
# wrap. openinference-instrumentation-openai wraps ``request`` on openai.OpenAI and openai.AsyncOpenAI, which every
# resource method goes through: a call through any of them is its. Indexed by is_async.
_CLIENTS = ("OpenAI", "AsyncOpenAI")


class _Peer(NamedTuple):
    package: str  # the import package its wrappers are defined in
    distribution: str
    content: str  # what it records of prompts and completions by default


# What each records by default was read in its installed source (the defaults of the variables named).
_PEERS = (
    _Peer(
        "opentelemetry.instrumentation.openai_v2",
        "opentelemetry-instrumentation-openai-v2",
        "it records none either unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turns that on",
    ),
    _Peer(
        "opentelemetry.instrumentation.openai",
        "opentelemetry-instrumentation-openai (OpenLLMetry)",
        "but it does: it records prompts and completions on its spans by default (TRACELOOP_TRACE_CONTENT=false "
        "turns that off)",
    ),
    _Peer(
        "openinference.instrumentation.openai",
        "openinference-instrumentation-openai",
        "but it does: it records prompts and completions (input and output values and messages) on its spans by "
        "default (OPENINFERENCE_HIDE_INPUTS=true and OPENINFERENCE_HIDE_OUTPUTS=true turn that off)",
    ),
)


@functools.cache
def _wrapt_proxies() -> tuple[type, ...]:
    """wrapt 2 made FunctionWrapper a separate base from ObjectProxy; any of these means "someone wrapped this"."""
    import wrapt

    names = ("ObjectProxy", "BaseObjectProxy", "FunctionWrapper")
    return tuple(t for t in (getattr(wrapt, n, None) for n in names) if isinstance(t, type))


def _resolve(module: Any, path: str) -> tuple[Any, str, Any] | None:
    """(owner class, attribute name, current attribute) in a loaded module, or None when the SDK has no such method."""
    owner = module
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
        if owner is None:
            return None
    current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if current is None:
        return None
    return owner, name, current


def _module_of(obj: Any) -> str:
    """The module whose code ``obj`` (a wrapper function, a bound method, a callable object) is."""
    if obj is None:
        return "?"
    func = getattr(obj, "__func__", obj)
    # Not __module__ for a function: functools.wraps copies the wrapped SDK function's; its globals are its own.
    name = func.__globals__.get("__name__") if isinstance(func, FunctionType) else type(obj).__module__
    return name if isinstance(name, str) else "?"


def _origin(current: Any) -> str | None:
    """Which module's code sits where the SDK keeps a method (``current``, read from the class ``__dict__``):
    None for the SDK's own function (or nothing), else the module that defined the wrapper, ours included."""
    if current is None:
        return None
    if isinstance(current, _wrapt_proxies()):
        return _module_of(getattr(current, "_self_wrapper", None))
    if isinstance(current, FunctionType):
        module = _module_of(current)  # a plain function put there, e.g. one made with functools.wraps
        return None if module == "openai" or module.startswith("openai.") else module
    return "?"  # a callable object of unknown kind: not the SDK's


def _ours(origin: str | None) -> bool:
    return origin is not None and (origin == "llmtel" or origin.startswith("llmtel."))


def _report(origin: str, place: str, *, after_us: bool) -> None:
    """Warn, once per other instrumentation, that its spans are kept and ours are not made for its calls."""
    peer = next((p for p in _PEERS if origin == p.package or origin.startswith(p.package + ".")), None)
    if peer is not None:
        name, content = peer.distribution, peer.content
        # All three register their opentelemetry-instrument entry point as "openai" (their installed metadata).
        switch = (
            f"uninstall {peer.distribution.partition(' ')[0]} or disable it (under opentelemetry-instrument: "
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai, its entry point)"
        )
    else:
        name = f"another instrumentation (module {origin})"
        content, switch = "check what that one records by default", "disable that one"
    if name in _State.reported:
        return
    _State.reported.add(name)
    # Said without "before"/"after" llmtel.instrument(): the SDK's resource modules load lazily, so a package
    # instrumented after llmtel can still be found when llmtel wraps a module that loads later.
    how = "over llmtel's wrapper, found at call time" if after_us else "already when llmtel came to wrap it"
    _log.warning(
        "llmtel: %s also instruments the OpenAI SDK (it wrapped %s, %s). One GenAI span per call: for every "
        "call %s instruments, its span is kept and llmtel makes none; llmtel goes on instrumenting the OpenAI "
        "calls it does not. llmtel records no prompt or completion content by default; %s. To keep llmtel's "
        "spans instead, %s.",
        name,
        place,
        how,
        name,
        content,
        switch,
    )


def _noticed(place: str, client_place: str, watch: Watch) -> None:
    """One of our wrappers stood down at call time: another instrumentation came after us (see Watch)."""
    if watch.clients.get("request", watch.request) is not watch.request:
        _report(_origin(watch.clients["request"]) or "?", client_place, after_us=True)
    else:
        _report(_origin(watch.methods.get(watch.name)) or "?", place, after_us=True)


class _State:
    """What is installed. Module-level, so the entry-point instrumentor and ``llmtel.instrument()`` share it."""

    generation = 0  # bumped by install() and uninstall(): hooks of an earlier generation do nothing
    installed = False
    warned = False
    reported: set[str] = set()  # the other instrumentations warned about
    providers: dict[str, Any] = {}
    config: config_module.Config | None = None
    plan: _Plan | None = None  # built on first use
    # (class, attribute, our wrapper there, its watch or None for a hook)
    wrapped: list[tuple[Any, str, Any, Watch | None]] = []


def installed() -> bool:
    return _State.installed


def install(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    config: config_module.Config | None = None,
) -> None:
    """Wrap the OpenAI SDK (now for its loaded modules, on import for the others). No-op when installed."""
    if _State.installed:
        return
    _State.installed = True
    _State.generation += 1
    _State.warned = False
    _State.reported = set()
    _State.wrapped = []
    _State.plan = None
    _State.config = config or config_module.from_env()
    _State.providers = {
        "tracer_provider": tracer_provider,
        "meter_provider": meter_provider,
        "logger_provider": logger_provider,
    }
    # llmtel.agent()/tool() spans go where the LLM call spans go.
    _providers.configure(config=_State.config, **_State.providers)
    when_imported("openai", functools.partial(_on_sdk, _State.generation))


def _on_sdk(generation: int, sdk: Any) -> None:
    """The app imported openai (or had): wrap its loaded modules now, the lazily loaded ones when they load."""
    if generation != _State.generation:
        return  # registered by an earlier install(), uninstalled since
    import wrapt  # only now: its own imports (asyncio, importlib.metadata) are the SDK's anyway

    for module_name in dict.fromkeys([t[0] for t in _TARGETS] + [h[0] for h in _HOOKS]):
        wrapt.register_post_import_hook(functools.partial(_install_module, generation), module_name)


def uninstall() -> None:
    """Restore every wrapped SDK method exactly (the very function objects). No-op when not installed."""
    if not _State.installed:
        return
    _State.installed = False
    _State.generation += 1  # hooks still waiting for their module will do nothing
    _providers.configure()  # back to the global providers
    _State.plan = None
    wrapped = _State.wrapped
    while wrapped:
        owner, name, mine, watch = wrapped.pop()
        if watch is not None:
            watch.disarm()
        current, original = owner.__dict__.get(name), mine.__wrapped__
        # A bound wrapper whose parent is ours is ours too: what opentelemetry's unwrap() leaves when it takes a
        # wrapper off ours (see Watch.recheck).
        if current is mine or getattr(current, "_self_parent", None) is mine:
            setattr(owner, name, original)
        # Else another instrumentation wrapped over ours since: taking ours out of its chain would mean
        # rewriting its wrapper, so ours stays there, disarmed (a pass-through). If that one's own uninstrument
        # later puts ours back as the method, the next install() takes it out (_install_module).


def _telemetry() -> Telemetry:
    from llmtel.core.invocation import Telemetry

    assert _State.config is not None
    return Telemetry(_State.config, **_State.providers)


class _Item(NamedTuple):
    path: str
    api: Any  # the translation (an _common.Api), or None for a hook
    is_async: bool
    hook: Any  # the hook function, for a hook


class _Plan(NamedTuple):
    telemetry: Telemetry
    modules: dict[str, list[_Item]]  # module → what to wrap in it


def _plan() -> _Plan:
    """What to wrap, module by module; built (and the translations imported) once per install."""
    if _State.plan is not None:
        return _State.plan
    import importlib

    from llmtel.providers.openai import _common

    modules: dict[str, list[_Item]] = {}
    apis: dict[str, Any] = {}
    for module_name, path, api_name, is_async in _TARGETS:
        api = apis.get(api_name)
        if api is None:
            module, _, cls = api_name.partition(".")
            api = apis[api_name] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)()
        modules.setdefault(module_name, []).append(_Item(path, api, is_async, None))
    for module_name, path, hook in _HOOKS:
        modules.setdefault(module_name, []).append(_Item(path, None, False, getattr(_common, hook)))
    _State.plan = _Plan(_telemetry(), modules)
    return _State.plan


def _version_ok() -> bool:
    """The SDK is one we support."""
    try:
        from openai._version import __version__ as version

        found = tuple(int(part) for part in str(version).split(".")[:2])
    except Exception:
        return True  # a development build, or a layout we do not know: try
    if found >= MIN_VERSION:
        return True
    if not _State.warned:
        _State.warned = True
        _log.warning("llmtel: openai %s is older than 1.40, which llmtel needs; not instrumenting it", version)
    return False


def _wrap(owner: Any, name: str, wrapper: Any) -> Any:
    """Put ``wrapper`` around ``owner.name``; return the proxy now in its place."""
    import wrapt

    return wrapt.wrap_function_wrapper(owner, name, wrapper)


_NOTHING: Any = MappingProxyType({})


def _install_module(generation: int, module: Any) -> None:
    """Wrap one loaded SDK module's methods (a post-import hook: it must never raise into the import)."""
    try:
        if generation != _State.generation or not _version_ok():
            return  # registered by an earlier install(), uninstalled since; or an SDK we do not support
        plan = _plan()
        items = plan.modules.get(module.__name__, [])
        if not items:
            return
        from llmtel.providers.openai import _common

        # The client classes whose ``request`` the calls go through (loaded with openai itself).
        client_module = sys.modules.get("openai._client")
        clients = [getattr(client_module, name, None) for name in _CLIENTS]
        client_dicts = [vars(c) if isinstance(c, type) else _NOTHING for c in clients]
        for item in items:
            found = _resolve(module, item.path)
            if found is None:
                continue  # a method this SDK version does not have
            owner, name, current = found
            origin = _origin(current)
            if _ours(origin):
                # Ours, left disarmed under another instrumentation's wrapper by an earlier uninstall() and put
                # back as the method by that one's uninstrument: take it out before wrapping anew.
                setattr(owner, name, current.__wrapped__)
                origin = _origin(current.__wrapped__)
            if item.api is None:  # a response hook: a pass-through for calls that are not ours, so always in place
                _State.wrapped.append((owner, name, _wrap(owner, name, item.hook), None))
                continue
            place = f"{module.__name__}.{item.path}"
            client_dict = client_dicts[item.is_async]
            client_place = f"openai.{_CLIENTS[item.is_async]}.request"
            request = client_dict.get("request")
            if origin is None and _origin(request) is not None:
                origin, place = _origin(request), client_place  # OpenInference: under every method
            if origin is not None:
                # Another instrumentation came first: its wrapper stays alone on this method, ours is not added.
                _report(origin, place, after_us=False)
                continue
            sdk_request = getattr(clients[item.is_async], "request", None)  # the SDK's own, from a base class
            watch = _common.Watch(
                owner, name, client_dict, sdk_request, functools.partial(_noticed, place, client_place)
            )
            make = _common.async_wrapper if item.is_async else _common.sync_wrapper
            watch.mine = _wrap(owner, name, make(plan.telemetry, item.api, watch))
            _State.wrapped.append((owner, name, watch.mine, watch))
    except Exception:
        swallowed(f"instrumenting {getattr(module, '__name__', module)}")


def __getattr__(name: str) -> Any:
    # The entry point's class loads opentelemetry.instrumentation, which llmtel.instrument() does not need.
    if name == "OpenAIInstrumentor":
        from llmtel.providers.openai.instrumentor import OpenAIInstrumentor

        return OpenAIInstrumentor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

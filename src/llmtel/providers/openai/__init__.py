"""OpenAI SDK instrumentation: which methods are wrapped, and with which translation.

Supported: ``openai`` 1.40 … 3.x. Nothing of openai, and none of our translation modules, is imported until the
app imports openai: :func:`install` registers a post-import hook per SDK module, and each module is wrapped when
the app loads it (at once if it already has). Wrapped (sync and async): ``chat.completions.create`` and
``.parse`` (``.stream()`` goes through ``create``), ``completions.create``, ``embeddings.create``,
``responses.create`` and ``.parse`` (``.stream()`` goes through ``create``), plus the private response hooks
that keep ``with_raw_response`` / ``with_streaming_response`` objects exact (see ``_common``).

:func:`install` / :func:`uninstall` hold the state; ``OpenAIInstrumentor`` (the ``opentelemetry-instrument``
entry point, in :mod:`.instrumentor`) and :func:`llmtel.instrument` both drive them, so either way the SDK
is wrapped once. This module imports no ``opentelemetry.instrumentation`` (~20 ms of start-up; bench/).
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import TYPE_CHECKING, Any

from llmtel import _providers
from llmtel import config as config_module
from llmtel._imports import when_imported
from llmtel._internal import swallowed

if TYPE_CHECKING:
    from llmtel.core.invocation import Telemetry
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

# Where other OpenAI instrumentations hook in, besides the methods above (OpenInference wraps the client's
# request method).
_FOREIGN_MARKERS = (
    ("openai._base_client", "SyncAPIClient.request"),
    ("openai._base_client", "AsyncAPIClient.request"),
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


def _foreign_instrumentation(places: list[tuple[str, str]]) -> str | None:
    """Name of a method another instrumentation has wrapped, among the given places of LOADED modules."""
    for module_name, path in places:
        module = sys.modules.get(module_name)
        found = _resolve(module, path) if module is not None else None
        if found is not None and isinstance(found[2], _wrapt_proxies()):
            return f"{module_name}.{path}"
    return None


class _State:
    """What is installed. Module-level, so the entry-point instrumentor and ``llmtel.instrument()`` share it."""

    generation = 0  # bumped by install() and uninstall(): hooks of an earlier generation do nothing
    installed = False
    warned = False
    providers: dict[str, Any] = {}
    config: config_module.Config | None = None
    plan: dict[str, list[tuple[str, Any]]] | None = None  # module → [(path, wrapper)], built on first use
    wrapped: list[tuple[Any, str]] = []


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
        owner, name = wrapped.pop()
        current = owner.__dict__.get(name)
        if isinstance(current, _wrapt_proxies()):
            setattr(owner, name, getattr(current, "__wrapped__"))  # noqa: B009


def _telemetry() -> Telemetry:
    from llmtel.core.invocation import Telemetry

    assert _State.config is not None
    return Telemetry(_State.config, **_State.providers)


def _plan() -> dict[str, list[tuple[str, Any]]]:
    """Module → what to wrap in it, with our wrappers; built (and the translations imported) once per install."""
    if _State.plan is not None:
        return _State.plan
    import importlib

    from llmtel.providers.openai import _common

    telemetry = _telemetry()
    plan: dict[str, list[tuple[str, Any]]] = {}
    apis: dict[str, Any] = {}
    for module_name, path, api_name, is_async in _TARGETS:
        api = apis.get(api_name)
        if api is None:
            module, _, cls = api_name.partition(".")
            api = apis[api_name] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)()
        make = _common.async_wrapper if is_async else _common.sync_wrapper
        plan.setdefault(module_name, []).append((path, make(telemetry, api)))
    for module_name, path, hook in _HOOKS:
        plan.setdefault(module_name, []).append((path, getattr(_common, hook)))
    _State.plan = plan
    return plan


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


def _wrap(owner: Any, name: str, wrapper: Any) -> None:
    import wrapt

    wrapt.wrap_function_wrapper(owner, name, wrapper)


def _install_module(generation: int, module: Any) -> None:
    """Wrap one loaded SDK module's methods (a post-import hook: it must never raise into the import)."""
    try:
        if generation != _State.generation or not _version_ok():
            return  # registered by an earlier install(), uninstalled since; or an SDK we do not support
        items = _plan().get(module.__name__, [])
        places = [(module.__name__, path) for path, _ in items] + list(_FOREIGN_MARKERS)
        foreign = _foreign_instrumentation(places)
        if foreign is not None:
            if not _State.warned:
                _State.warned = True
                _log.warning(
                    "llmtel: another OpenAI instrumentation is already active (%s is wrapped); llmtel "
                    "leaves those OpenAI methods alone, to avoid a second span per call. Disable one of them, "
                    "e.g. with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=llmtel_openai.",
                    foreign,
                )
            return
        for path, wrapper in items:
            found = _resolve(module, path)
            if found is not None:
                owner, name, _ = found
                _wrap(owner, name, wrapper)
                _State.wrapped.append((owner, name))
    except Exception:
        swallowed(f"instrumenting {getattr(module, '__name__', module)}")


def __getattr__(name: str) -> Any:
    # The entry point's class loads opentelemetry.instrumentation, which llmtel.instrument() does not need.
    if name == "OpenAIInstrumentor":
        from llmtel.providers.openai.instrumentor import OpenAIInstrumentor

        return OpenAIInstrumentor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

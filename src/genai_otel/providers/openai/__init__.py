"""OpenAI SDK instrumentation: which methods are wrapped, and with which translation.

Supported: ``openai`` 1.40 … 3.x; nothing of openai is imported until the app imports it.
Wrapped (sync and async): ``chat.completions.create`` and ``.parse``
(``.stream()`` goes through ``create``), ``completions.create``, ``embeddings.create``, ``responses.create`` and
``.parse`` (``.stream()`` goes through ``create``), plus the private response hooks that keep
``with_raw_response`` / ``with_streaming_response`` objects exact (see ``_common``).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from genai_otel import config as config_module
from genai_otel._internal import swallowed
from genai_otel.core.invocation import Telemetry
from genai_otel.providers.openai import _common
from genai_otel.providers.openai._common import Api
from genai_otel.providers.openai.chat import ChatApi
from genai_otel.providers.openai.completions import CompletionsApi
from genai_otel.providers.openai.embeddings import EmbeddingsApi
from genai_otel.providers.openai.responses import ResponsesApi

_log = logging.getLogger("genai_otel")

# (module, "Class.method", translation, is_async). Missing targets (older/newer SDKs) are skipped.
_TARGETS: tuple[tuple[str, str, type[Api], bool], ...] = (
    ("openai.resources.chat.completions", "Completions.create", ChatApi, False),
    ("openai.resources.chat.completions", "AsyncCompletions.create", ChatApi, True),
    ("openai.resources.chat.completions", "Completions.parse", ChatApi, False),
    ("openai.resources.chat.completions", "AsyncCompletions.parse", ChatApi, True),
    ("openai.resources.beta.chat.completions", "Completions.parse", ChatApi, False),
    ("openai.resources.beta.chat.completions", "AsyncCompletions.parse", ChatApi, True),
    ("openai.resources.completions", "Completions.create", CompletionsApi, False),
    ("openai.resources.completions", "AsyncCompletions.create", CompletionsApi, True),
    ("openai.resources.embeddings", "Embeddings.create", EmbeddingsApi, False),
    ("openai.resources.embeddings", "AsyncEmbeddings.create", EmbeddingsApi, True),
    ("openai.resources.responses", "Responses.create", ResponsesApi, False),
    ("openai.resources.responses", "AsyncResponses.create", ResponsesApi, True),
    ("openai.resources.responses", "Responses.parse", ResponsesApi, False),
    ("openai.resources.responses", "AsyncResponses.parse", ResponsesApi, True),
)

_HOOKS: tuple[tuple[str, str, Any], ...] = (
    ("openai._response", "BaseAPIResponse._parse", _common.parse_hook),
    ("openai._legacy_response", "LegacyAPIResponse._parse", _common.parse_hook),
    ("openai._response", "APIResponse.close", _common.close_hook),
    ("openai._response", "AsyncAPIResponse.close", _common.async_close_hook),
    ("openai.lib.streaming.chat._completions", "ChatCompletionStream.close", _common.helper_close_hook),
    ("openai.lib.streaming.chat._completions", "AsyncChatCompletionStream.close", _common.async_helper_close_hook),
    ("openai.lib.streaming.responses._responses", "ResponseStream.close", _common.helper_close_hook),
    ("openai.lib.streaming.responses._responses", "AsyncResponseStream.close", _common.async_helper_close_hook),
)

# Where other OpenAI instrumentations hook in, besides the methods above (OpenInference wraps the client's
# request method).
_FOREIGN_MARKERS = (
    ("openai._base_client", "SyncAPIClient.request"),
    ("openai._base_client", "AsyncAPIClient.request"),
)


# wrapt 2 made FunctionWrapper a separate base from ObjectProxy; any of these means "someone wrapped this".
_WRAPT_PROXIES: tuple[type, ...] = tuple(
    t
    for t in (getattr(wrapt, n, None) for n in ("ObjectProxy", "BaseObjectProxy", "FunctionWrapper"))
    if isinstance(t, type)
)


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
        if found is not None and isinstance(found[2], _WRAPT_PROXIES):
            return f"{module_name}.{path}"
    return None


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the ``openai`` SDK. Entry point name ``genai_openai``.

    Lazy: ``instrument()`` imports nothing of openai. Each SDK module is wrapped when it is loaded (a wrapt
    post-import hook; immediately if it already is), so an app that never imports openai never pays for it, and the
    SDK's lazily loaded modules stay lazy.
    """

    # BaseInstrumentor is a singleton whose __init__ runs on every construction: keep state out of __init__.
    _wrapped: list[tuple[Any, str]]
    _generation: int = 0
    _warned: bool = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.40",)

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = Telemetry(
            kwargs.get("config") or config_module.from_env(),
            kwargs.get("tracer_provider"),
            kwargs.get("meter_provider"),
            kwargs.get("logger_provider"),
        )
        self._wrapped = []
        self._warned = False
        self._generation += 1
        plan: dict[str, list[tuple[str, Any]]] = {}
        apis: dict[type[Api], Api] = {}
        for module_name, path, api_class, is_async in _TARGETS:
            api = apis.get(api_class) or apis.setdefault(api_class, api_class())
            make = _common.async_wrapper if is_async else _common.sync_wrapper
            plan.setdefault(module_name, []).append((path, make(telemetry, api)))
        for module_name, path, hook in _HOOKS:
            plan.setdefault(module_name, []).append((path, hook))
        for module_name, items in plan.items():
            wrapt.register_post_import_hook(functools.partial(self._install, self._generation, items), module_name)

    def _install(self, generation: int, items: list[tuple[str, Any]], module: Any) -> None:
        """Wrap one loaded SDK module's methods (a post-import hook: it must never raise into the import)."""
        try:
            if generation != self._generation:
                return  # registered by an earlier instrument(); uninstrumented since
            places = [(module.__name__, path) for path, _ in items] + list(_FOREIGN_MARKERS)
            foreign = _foreign_instrumentation(places)
            if foreign is not None:
                if not self._warned:
                    self._warned = True
                    _log.warning(
                        "genai-otel: another OpenAI instrumentation is already active (%s is wrapped); genai-otel "
                        "leaves those OpenAI methods alone, to avoid a second span per call. Disable one of them, "
                        "e.g. with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=genai_openai.",
                        foreign,
                    )
                return
            for path, wrapper in items:
                found = _resolve(module, path)
                if found is not None:
                    owner, name, _ = found
                    wrapt.wrap_function_wrapper(owner, name, wrapper)
                    self._wrapped.append((owner, name))
        except Exception:
            swallowed(f"instrumenting {getattr(module, '__name__', module)}")

    def _uninstrument(self, **kwargs: Any) -> None:
        self._generation += 1  # hooks still waiting for their module will do nothing
        wrapped = getattr(self, "_wrapped", [])
        while wrapped:
            owner, name = wrapped.pop()
            unwrap(owner, name)

"""OpenAI SDK instrumentation: which methods are wrapped, and with which translation.

Supported: ``openai`` 1.40 … 3.x. This module is the provider as data (:class:`~llmtel.core.install.Spec`); the
core's :class:`~llmtel.core.install.Installer` does the installing. Nothing of openai, and none of our
translation modules, is imported until the app imports openai. Wrapped (sync and async):
``chat.completions.create`` and ``.parse`` (``.stream()`` goes through ``create``), ``completions.create``,
``embeddings.create``, ``responses.create`` and ``.parse`` (``.stream()`` goes through ``create``), plus the
private response hooks that keep ``with_raw_response`` / ``with_streaming_response`` objects exact (see
``_common``).

Another OpenAI instrumentation keeps the calls it instruments, whichever was installed first (``_PEERS``, and the
client's ``request`` as the marker under every call); tests/coexistence runs the real ones.

:func:`install` / :func:`uninstall` drive the one installer of this provider; ``OpenAIInstrumentor`` (the
``opentelemetry-instrument`` entry point, in :mod:`.instrumentor`) and :func:`llmtel.instrument` both use them,
so either way the SDK is wrapped once. This module imports no ``opentelemetry.instrumentation`` (start-up; bench/).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmtel.core.install import Hook, Installer, Marker, Peer, Spec, Target, class_marker, lazy_instrumentor

if TYPE_CHECKING:
    from llmtel.providers.openai.instrumentor import OpenAIInstrumentor

__all__ = ["OpenAIInstrumentor", "install", "installed", "uninstall"]

MIN_VERSION = (1, 40)

# The methods wrapped, and which translation (module.Class in this package) reads each. Missing targets (older or
# newer SDKs) are skipped.
_TARGETS = (
    Target("openai.resources.chat.completions", "Completions.create", "chat.ChatApi", False),
    Target("openai.resources.chat.completions", "AsyncCompletions.create", "chat.ChatApi", True),
    Target("openai.resources.chat.completions", "Completions.parse", "chat.ChatApi", False),
    Target("openai.resources.chat.completions", "AsyncCompletions.parse", "chat.ChatApi", True),
    Target("openai.resources.beta.chat.completions", "Completions.parse", "chat.ChatApi", False),
    Target("openai.resources.beta.chat.completions", "AsyncCompletions.parse", "chat.ChatApi", True),
    Target("openai.resources.completions", "Completions.create", "completions.CompletionsApi", False),
    Target("openai.resources.completions", "AsyncCompletions.create", "completions.CompletionsApi", True),
    Target("openai.resources.embeddings", "Embeddings.create", "embeddings.EmbeddingsApi", False),
    Target("openai.resources.embeddings", "AsyncEmbeddings.create", "embeddings.EmbeddingsApi", True),
    Target("openai.resources.responses", "Responses.create", "responses.ResponsesApi", False),
    Target("openai.resources.responses", "AsyncResponses.create", "responses.ResponsesApi", True),
    Target("openai.resources.responses", "Responses.parse", "responses.ResponsesApi", False),
    Target("openai.resources.responses", "AsyncResponses.parse", "responses.ResponsesApi", True),
)

# The SDK-internal methods observed for raw responses and the stream helpers (functions in _common).
_HOOKS = (
    Hook("openai._response", "BaseAPIResponse._parse", "parse_hook"),
    Hook("openai._legacy_response", "LegacyAPIResponse._parse", "parse_hook"),
    Hook("openai._response", "APIResponse.close", "close_hook"),
    Hook("openai._response", "AsyncAPIResponse.close", "async_close_hook"),
    Hook("openai.lib.streaming.chat._completions", "ChatCompletionStream.close", "helper_close_hook"),
    Hook("openai.lib.streaming.chat._completions", "AsyncChatCompletionStream.close", "async_helper_close_hook"),
    Hook("openai.lib.streaming.responses._responses", "ResponseStream.close", "helper_close_hook"),
    Hook("openai.lib.streaming.responses._responses", "AsyncResponseStream.close", "async_helper_close_hook"),
)

# Where the other OpenAI instrumentations hook in, as their installed sources show (all three use wrapt):
# opentelemetry-instrumentation-openai-v2 wraps chat.completions.create and embeddings.create, OpenLLMetry's
# opentelemetry-instrumentation-openai every method in _TARGETS (and more); both on the very class attributes we
# wrap. openinference-instrumentation-openai wraps ``request`` on openai.OpenAI and openai.AsyncOpenAI, which every
# resource method goes through: a call through any of them is its. What each records by default was read in its
# installed source (the defaults of the variables named). All three register their entry point as "openai".
_PEERS = (
    Peer(
        "opentelemetry.instrumentation.openai_v2",
        "opentelemetry-instrumentation-openai-v2",
        "it records none either unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turns that on",
        "openai",
    ),
    Peer(
        "opentelemetry.instrumentation.openai",
        "opentelemetry-instrumentation-openai (OpenLLMetry)",
        "but it does: it records prompts and completions on its spans by default (TRACELOOP_TRACE_CONTENT=false "
        "turns that off)",
        "openai",
    ),
    Peer(
        "openinference.instrumentation.openai",
        "openinference-instrumentation-openai",
        "but it does: it records prompts and completions (input and output values and messages) on its spans by "
        "default (OPENINFERENCE_HIDE_INPUTS=true and OPENINFERENCE_HIDE_OUTPUTS=true turn that off)",
        "openai",
    ),
)

_CLIENTS = ("OpenAI", "AsyncOpenAI")  # by is_async


def _marker(is_async: bool) -> Marker:
    """The client's ``request``: every resource method's call goes through it (loaded with openai itself)."""
    return class_marker("openai._client", _CLIENTS[is_async], "request")


def _version() -> str:
    from openai._version import __version__

    return str(__version__)


SPEC = Spec(
    sdk="openai",
    title="OpenAI",
    package=__name__,
    calls=f"{__name__}._common",
    targets=_TARGETS,
    hooks=_HOOKS,
    peers=_PEERS,
    entry_point="llmtel_openai",
    version=_version,
    min_version=MIN_VERSION,
    markers=_marker,
)

_INSTALLER = Installer(SPEC)
install, uninstall, installed = _INSTALLER.install, _INSTALLER.uninstall, _INSTALLER.is_installed
__getattr__ = lazy_instrumentor(__name__, "OpenAIInstrumentor")

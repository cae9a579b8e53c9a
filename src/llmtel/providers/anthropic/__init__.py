"""Anthropic SDK instrumentation: which methods are wrapped, and with which translation.

Supported: ``anthropic`` 0.40 … 2.x. This module is the provider as data (:class:`~llmtel.core.install.Spec`);
the core's :class:`~llmtel.core.install.Installer` does the installing. Nothing of anthropic, and none of our
translation modules, is imported until the app imports anthropic. Wrapped (sync and async): ``messages.create``
(also ``stream=True``), ``messages.parse`` and ``messages.stream()`` (which does not go through ``create``), the
same three of ``beta.messages``, and the copies of the beta methods the Bedrock and Vertex clients keep on their
own classes. ``AnthropicBedrock`` / ``AnthropicVertex`` calls get ``aws.bedrock`` / ``gcp.vertex_ai`` and their
own server address (``_common.endpoint_of``).

Hooks (``_common``): ``with_raw_response`` / ``with_streaming_response`` results stay the SDK's own objects,
observed through the SDK's private ``BaseAPIResponse._parse`` and ``close``; and the SDK's native tracing
(anthropic 2.x, on by default, ``ANTHROPIC_OPEN_TELEMETRY=false`` turns it off) defers to our span, so that a
call has exactly one GenAI span either way: see ``_common.native_span_hook``.

:func:`install` / :func:`uninstall` drive the one installer of this provider; ``AnthropicInstrumentor`` (the
``opentelemetry-instrument`` entry point, in :mod:`.instrumentor`) and :func:`llmtel.instrument` both use them.
This module imports no ``opentelemetry.instrumentation``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmtel.core.install import Hook, Installer, Peer, Spec, Target, lazy_instrumentor

if TYPE_CHECKING:
    from llmtel.providers.anthropic.instrumentor import AnthropicInstrumentor

__all__ = ["AnthropicInstrumentor", "install", "installed", "uninstall"]

MIN_VERSION = (0, 40)

# The packages, whose classes are the ones their modules define: anthropic 0.40 has ``resources/messages.py``,
# later versions ``resources/messages/messages.py``, re-exported by the package either way.
_MESSAGES = "anthropic.resources.messages"
_BETA = "anthropic.resources.beta.messages"
_BEDROCK_BETA = "anthropic.lib.bedrock._beta_messages"
_VERTEX_BETA = "anthropic.lib.vertex._beta_messages"


def _targets(module: str) -> tuple[Target, ...]:
    """create and parse (a Message or a Stream) and stream() (a stream manager; a plain method in the async
    class too, so wrapped as a sync one) of one module's ``Messages`` / ``AsyncMessages``."""
    return (
        Target(module, "Messages.create", "messages.MessagesApi", False),
        Target(module, "AsyncMessages.create", "messages.MessagesApi", True),
        Target(module, "Messages.parse", "messages.MessagesApi", False),
        Target(module, "AsyncMessages.parse", "messages.MessagesApi", True),
        Target(module, "Messages.stream", "messages.StreamApi", False),
        Target(module, "AsyncMessages.stream", "messages.StreamApi", False),
    )


# Missing targets (older SDKs without parse or beta, the platform modules before they load) are skipped.
_TARGETS = _targets(_MESSAGES) + _targets(_BETA) + _targets(_BEDROCK_BETA) + _targets(_VERTEX_BETA)

_HOOKS = (
    Hook("anthropic._response", "BaseAPIResponse._parse", "parse_hook"),
    Hook("anthropic._legacy_response", "LegacyAPIResponse._parse", "parse_hook"),  # SDKs before 2.x
    Hook("anthropic._response", "APIResponse.close", "close_hook"),
    Hook("anthropic._response", "AsyncAPIResponse.close", "async_close_hook"),
    Hook("anthropic._base_client", "start_api_call_span", "native_span_hook"),
    Hook("anthropic._streaming", "Stream.close", "stream_close_hook"),
    Hook("anthropic._streaming", "AsyncStream.close", "async_stream_close_hook"),
    Hook("anthropic._streaming", "Stream.__exit__", "stream_exit_hook"),
    Hook("anthropic._streaming", "AsyncStream.__aexit__", "async_stream_exit_hook"),
)

# The other Anthropic instrumentations. OpenLLMetry's opentelemetry-instrumentation-anthropic and the official
# one (contrib's, now opentelemetry-instrumentation-genai-anthropic) both import as opentelemetry.instrumentation
# .anthropic and wrap Messages.create / Messages.stream with wrapt, like us.
_PEERS = (
    Peer(
        "opentelemetry.instrumentation.anthropic",
        "opentelemetry-instrumentation-anthropic",
        "check what it records by default (OpenLLMetry's records prompts and completions unless "
        "TRACELOOP_TRACE_CONTENT=false; the official one only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)",
        "anthropic",
    ),
    Peer(
        "openinference.instrumentation.anthropic",
        "openinference-instrumentation-anthropic",
        "but it does: it records prompts and completions on its spans by default (OPENINFERENCE_HIDE_INPUTS=true "
        "and OPENINFERENCE_HIDE_OUTPUTS=true turn that off)",
        "anthropic",
    ),
)


def _version() -> str:
    from anthropic._version import __version__

    return str(__version__)


SPEC = Spec(
    sdk="anthropic",
    title="Anthropic",
    package=__name__,
    calls=f"{__name__}._common",
    targets=_TARGETS,
    hooks=_HOOKS,
    peers=_PEERS,
    entry_point="llmtel_anthropic",
    version=_version,
    min_version=MIN_VERSION,
)

_INSTALLER = Installer(SPEC)
install, uninstall, installed = _INSTALLER.install, _INSTALLER.uninstall, _INSTALLER.is_installed
__getattr__ = lazy_instrumentor(__name__, "AnthropicInstrumentor")

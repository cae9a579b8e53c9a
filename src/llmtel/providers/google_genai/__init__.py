"""Google Gen AI SDK (``google-genai``) instrumentation: which methods are wrapped, and with which translation.

Supported: ``google-genai`` 1.32 … 3.x (see MIN_VERSION), the Gemini Developer API (``gcp.gemini``) and Vertex AI
(``gcp.vertex_ai``), told apart by the client's own configuration (``vertexai=True``), not by its host. This
module is the provider as data (:class:`~llmtel.core.install.Spec`); the core's
:class:`~llmtel.core.install.Installer` does the installing. Nothing of google-genai, and none of our translation
modules, is imported until the app imports ``google.genai``. Wrapped, on ``client.models`` and
``client.aio.models``: ``generate_content``, ``generate_content_stream`` and ``embed_content``.

Chat sessions (``client.chats.create(...).send_message`` / ``send_message_stream``, and the ``aio`` ones) make
their model calls through those same methods of the client's ``models``, so each model call of a chat is one
span, made by the wrappers above; nothing of the chat classes is wrapped. One span per call of a public method:
the SDK's own automatic function calling and automatic continuation loops inside ``generate_content`` stay
inside that call's span (its response is the one the app gets; see generate.py for what that means for usage).

Another instrumentation of this SDK keeps the calls it instruments, whichever was installed first (``_PEERS``):
``opentelemetry-instrumentation-google-genai`` replaces the same four ``Models`` / ``AsyncModels`` methods (plain
functions made with ``functools.wraps``, which the installer recognises as not the SDK's).

:func:`install` / :func:`uninstall` drive the one installer of this provider; ``GoogleGenAIInstrumentor`` (the
``opentelemetry-instrument`` entry point ``llmtel_google_genai``, in :mod:`.instrumentor`) and
:func:`llmtel.instrument` both use them. This module imports no ``opentelemetry.instrumentation``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmtel.core.install import Hook, Installer, Peer, Spec, Target, lazy_instrumentor

if TYPE_CHECKING:
    from llmtel.providers.google_genai.instrumentor import GoogleGenAIInstrumentor

__all__ = ["GoogleGenAIInstrumentor", "install", "installed", "uninstall"]

MIN_VERSION = (1, 32)
"""The oldest google-genai the whole of tests/google_genai was run against (in a venv of its own), and passed:
1.32.0 (also 2.34.0 and 3.6.1; see test_sdk_range.py). The methods wrapped exist since 1.0, but 1.0's transport
(requests), errors and response fields differ enough that supporting it would be a claim we have not tested.
1.32 is also the oldest the official instrumentation supports."""

_MODELS = "google.genai.models"

_TARGETS = (
    Target(_MODELS, "Models.generate_content", "generate.GenerateContentApi", False),
    Target(_MODELS, "AsyncModels.generate_content", "generate.GenerateContentApi", True),
    Target(_MODELS, "Models.generate_content_stream", "generate.GenerateContentStreamApi", False),
    Target(_MODELS, "AsyncModels.generate_content_stream", "generate.GenerateContentStreamApi", True),
    Target(_MODELS, "Models.embed_content", "embed.EmbedContentApi", False),
    Target(_MODELS, "AsyncModels.embed_content", "embed.EmbedContentApi", True),
)

# Where the SDK runs the app's Python functions (automatic function calling) inside a wrapped call: the app's own
# LLM calls there get their spans (see _common).
_HOOKS = (
    Hook("google.genai._extra_utils", "get_function_response_parts", "functions_hook"),
    Hook("google.genai._extra_utils", "get_function_response_parts_async", "async_functions_hook"),
)

# The official instrumentation (opentelemetry-python-contrib / -genai, package
# opentelemetry-instrumentation-google-genai) replaces Models.generate_content, .generate_content_stream and the
# AsyncModels pair with its own functions. What it records by default was read in its installed source: message
# content only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT set.
_PEERS = (
    Peer(
        "opentelemetry.instrumentation.google_genai",
        "opentelemetry-instrumentation-google-genai",
        "it records none either unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turns that on",
        "google-genai",
    ),
)


def _version() -> str:
    from google.genai.version import __version__

    return str(__version__)


SPEC = Spec(
    sdk="google.genai",
    title="Google Gen AI",
    package=__name__,
    calls=f"{__name__}._common",
    targets=_TARGETS,
    hooks=_HOOKS,
    peers=_PEERS,
    entry_point="llmtel_google_genai",
    version=_version,
    min_version=MIN_VERSION,
)

_INSTALLER = Installer(SPEC)
install, uninstall, installed = _INSTALLER.install, _INSTALLER.uninstall, _INSTALLER.is_installed
__getattr__ = lazy_instrumentor(__name__, "GoogleGenAIInstrumentor")

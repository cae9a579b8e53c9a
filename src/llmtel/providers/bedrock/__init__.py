"""AWS Bedrock instrumentation (``boto3`` / ``botocore``, service ``bedrock-runtime``).

Supported: ``botocore`` 1.34.116 (the first with ``converse``) … 1.x. This module is the provider as data
(:class:`~llmtel.core.install.Spec`); the core's :class:`~llmtel.core.install.Installer` does the installing.
Nothing of botocore, and none of our translation modules, is imported until the app imports botocore.

botocore has no method per operation to wrap: a client's methods are generated at runtime, one class per
client, and every one of them calls ``botocore.client.BaseClient._make_api_call(operation_name, api_params)``.
That one method is wrapped; its router (:class:`._common.BedrockRuntime`) picks the adapter per call from the
operation and the client's service, and every other AWS call (S3, DynamoDB …, and the other Bedrock
operations) passes through after one dict look-up. Instrumented: ``converse``, ``converse_stream``,
``invoke_model`` and ``invoke_model_with_response_stream``, the last two per model family of the request body
(:mod:`.families`).

``opentelemetry-instrumentation-botocore`` wraps the same method, and its Bedrock extension makes a GenAI span
of each of these calls (it cannot be switched off separately). One GenAI span per call: whichever was installed
first, its span is kept and llmtel makes none for the calls it instruments (the core's policy for every SDK;
tests/coexistence/test_bedrock.py runs the real package).

:func:`install` / :func:`uninstall` drive the one installer of this provider; ``BedrockInstrumentor`` (the
``opentelemetry-instrument`` entry point, in :mod:`.instrumentor`) and :func:`llmtel.instrument` both use them.
This module imports no ``opentelemetry.instrumentation``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmtel.core.install import Installer, Peer, Spec, Target, lazy_instrumentor

if TYPE_CHECKING:
    from llmtel.providers.bedrock.instrumentor import BedrockInstrumentor

__all__ = ["BedrockInstrumentor", "install", "installed", "uninstall"]

# botocore 1.34.116 (May 2024) added the Converse APIs to bedrock-runtime; invoke_model is older, but one floor
# for the provider is simpler to state and to test (tests/bedrock/test_sdk_range.py).
MIN_VERSION = (1, 34, 116)

# One method for every AWS call; the router in _common picks the Bedrock ones.
_TARGETS = (Target("botocore.client", "BaseClient._make_api_call", "_common.BedrockRuntime", False),)

# Read in its installed source (0.66b2): it wraps BaseClient._make_api_call with wrapt and, for bedrock-runtime,
# always applies its Bedrock extension (gen_ai.* span attributes, GenAI metrics); content only with
# OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT. Entry point "botocore".
_PEERS = (
    Peer(
        "opentelemetry.instrumentation.botocore",
        "opentelemetry-instrumentation-botocore",
        "it records none either unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turns that on",
        "botocore",
    ),
)


def _version() -> str:
    import botocore

    return str(botocore.__version__)


SPEC = Spec(
    sdk="botocore",
    title="AWS (botocore)",
    package=__name__,
    calls=f"{__name__}._common",
    targets=_TARGETS,
    peers=_PEERS,
    entry_point="llmtel_bedrock",
    version=_version,
    min_version=MIN_VERSION,
)

_INSTALLER = Installer(SPEC)
install, uninstall, installed = _INSTALLER.install, _INSTALLER.uninstall, _INSTALLER.is_installed
__getattr__ = lazy_instrumentor(__name__, "BedrockInstrumentor")

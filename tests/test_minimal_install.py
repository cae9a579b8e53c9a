"""The install with no extras (``pip install llmtel``), as an app that configures OpenTelemetry in code has it.

``./dev test`` runs this module in ``.venv-minimal`` (the package with no extras, the oldest supported openai,
and ``opentelemetry-sdk`` as the app's own dependency) with ``LLMTEL_TEST_MINIMAL_INSTALL=1``; in any other
environment it skips, since the full test venv has the extras installed on purpose.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import openai
import pytest

import llmtel
from llmtel.demo.server import FakeOpenAIServer
from tests.conftest import Otel
from tests.openai.test_sdk_range import MESSAGES, REPLY_WORDS, _base, _chat_response

pytestmark = pytest.mark.skipif(
    os.environ.get("LLMTEL_TEST_MINIMAL_INSTALL") != "1",
    reason="runs in the no-extras venv (./dev test: .venv-minimal)",
)


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_only_the_api_the_instrumentation_base_and_wrapt_are_required() -> None:
    requires = metadata.requires("llmtel") or []
    core = sorted(re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r)
    assert core == ["opentelemetry-api", "opentelemetry-instrumentation", "wrapt"]
    # nothing of the zero-code path came along: an app's own (or vendor) distro is not shadowed
    for name in ("opentelemetry-distro", "opentelemetry-exporter-otlp", "opentelemetry-exporter-otlp-proto-grpc"):
        assert not _installed(name), name
    assert not _installed("grpcio")


def test_an_app_with_its_own_sdk_setup_is_instrumented(otel: Otel, server: FakeOpenAIServer) -> None:
    """``llmtel.instrument(...)`` with the app's providers: the same exact span as with the full install."""
    llmtel.instrument(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        logger_provider=otel.logger_provider,
    )
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    finally:
        llmtel.uninstrument()
    span = otel.span()
    assert span.name == "chat gpt-4o-mini"
    assert dict(span.attributes or {}) == {
        **_base(server, "chat", "gpt-4o-mini"),
        **_chat_response(reply.id, REPLY_WORDS),
    }


def test_setup_without_the_otlp_extra_warns_and_instruments(tmp_path: Path, server: FakeOpenAIServer) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stderr, format='%(name)s %(levelname)s %(message)s')\n"
        "import llmtel, openai\n"
        "print(llmtel.setup())\n"
        f"openai.OpenAI(base_url={server.base_url!r}, api_key='t').chat.completions.create("
        "model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    proc = subprocess.run([sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False\n"
    assert proc.stderr == (
        "llmtel WARNING llmtel.setup(): no OpenTelemetry configurator is installed, so nothing is exported "
        "(pip install 'llmtel[otlp]' brings opentelemetry-distro); instrumenting with the global providers\n"
    )

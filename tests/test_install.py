"""The core's installer with providers of the test's own: two small "SDKs" written to a temp dir, each driven
by a :class:`~llmtel.core.install.Spec`, next to the real OpenAI provider.

What a second provider relies on: nothing is wrapped before its SDK is imported; its methods are wrapped when
the SDK loads; an SDK older than the spec's minimum is left alone with one warning; uninstalling one provider
restores its SDK exactly and leaves the other providers (and the agent/tool telemetry) as they were.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import openai
import pytest

import llmtel
from llmtel import _providers
from llmtel import config as config_module
from llmtel import semconv as sc
from llmtel.core.adapter import Adapter
from llmtel.core.call import dispatch_complete as dispatch
from llmtel.core.endpoints import Endpoint
from llmtel.core.install import Installer, Spec, Target
from llmtel.core.invocation import Invocation, Telemetry
from tests.conftest import Otel

SDK = """
__version__ = "{version}"


class Models:
    def generate(self, *, model, prompt):
        return {{"model": model + "-001", "text": prompt.upper()}}
"""


class FakeAdapter(Adapter):
    """The translation of the fake SDK's ``Models.generate``."""

    operation = sc.GenAiOperationNameValues.GENERATE_CONTENT

    def response(self, inv: Invocation, result: Any) -> None:
        inv.response[sc.GEN_AI_RESPONSE_MODEL] = result["model"]


def endpoint_of(instance: Any, telemetry: Telemetry) -> Endpoint:
    return Endpoint("fake.provider", "fake.test", 443)


__all__ = ["FakeAdapter", "dispatch", "endpoint_of"]


def spec(sdk: str, min_version: tuple[int, ...] = (1, 0)) -> Spec:
    def version() -> str:
        return str(sys.modules[sdk].__version__)

    return Spec(
        sdk=sdk,
        title=sdk,
        package="tests",
        calls="tests.test_install",
        targets=(Target(sdk, "Models.generate", "test_install.FakeAdapter", False),),
        version=version,
        min_version=min_version,
    )


@pytest.fixture
def sdks(tmp_path: Path) -> Iterator[Path]:
    """Two fake SDK modules on sys.path, not imported yet; forgotten again afterwards."""
    for name, version in (("fakesdk_one", "1.2.0"), ("fakesdk_two", "0.9.0")):
        (tmp_path / f"{name}.py").write_text(SDK.format(version=version), encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("fakesdk_one", "fakesdk_two"):
            sys.modules.pop(name, None)


def install(otel: Otel, installer: Installer) -> None:
    installer.install(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        logger_provider=otel.logger_provider,
        config=config_module.Config(),
    )


def test_wrapped_when_imported_and_restored_exactly(otel: Otel, sdks: Path) -> None:
    installer = Installer(spec("fakesdk_one"))
    install(otel, installer)
    assert "fakesdk_one" not in sys.modules  # installing imported nothing of the SDK
    import fakesdk_one  # type: ignore[import-not-found]

    assert fakesdk_one.Models().generate(model="m", prompt="hi") == {"model": "m-001", "text": "HI"}
    (span,) = otel.spans()
    assert span.name == "generate_content m"
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "fake.provider",
        "gen_ai.request.model": "m",
        "server.address": "fake.test",
        "server.port": 443,
        "gen_ai.response.model": "m-001",
    }
    wrapped = fakesdk_one.Models.__dict__["generate"]
    installer.uninstall()
    restored = fakesdk_one.Models.__dict__["generate"]
    assert restored is wrapped.__wrapped__  # the very function object
    fakesdk_one.Models().generate(model="m", prompt="hi")
    assert len(otel.spans()) == 1


def test_an_sdk_older_than_the_minimum_is_left_alone(otel: Otel, sdks: Path, caplog: pytest.LogCaptureFixture) -> None:
    installer = Installer(spec("fakesdk_two", min_version=(1, 0)))
    install(otel, installer)
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        import fakesdk_two  # type: ignore[import-not-found]

        fakesdk_two.Models().generate(model="m", prompt="hi")
    assert otel.spans() == []
    assert [r.getMessage() for r in caplog.records if r.name == "llmtel"] == [
        "llmtel: fakesdk_two 0.9.0 is older than 1.0, which llmtel needs; not instrumenting it"
    ]
    installer.uninstall()


def test_uninstalling_one_provider_leaves_the_others(otel: Otel, sdks: Path, client: openai.OpenAI) -> None:
    fake = Installer(spec("fakesdk_one"))
    install(otel, fake)
    llmtel.instrument(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        logger_provider=otel.logger_provider,
    )
    try:
        import fakesdk_one

        fake.uninstall()
        assert _providers.Setup.providers["tracer_provider"] is otel.tracer_provider  # OpenAI is still installed
        fakesdk_one.Models().generate(model="m", prompt="hi")
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert [s.name for s in otel.spans()] == ["chat gpt-4o-mini"]  # OpenAI's span, not the fake SDK's
        install(otel, fake)  # and back
        fakesdk_one.Models().generate(model="m", prompt="hi")
        assert [s.name for s in otel.spans()] == ["chat gpt-4o-mini", "generate_content m"]
    finally:
        fake.uninstall()
        llmtel.uninstrument()
    # the last provider gone: agent/tool telemetry back on the global providers
    assert _providers.Setup.providers == dict.fromkeys(("tracer_provider", "meter_provider", "logger_provider"))


def test_a_provider_adapter_reads_like_a_table() -> None:
    adapter = FakeAdapter()
    assert adapter.classify is None  # no error_type of its own: the core's rule, with no call
    assert isinstance(adapter.static, Mapping) and not adapter.static

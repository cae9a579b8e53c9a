"""The fault contract, for every provider: when our own translation raises (every adapter method of the
provider's package, one kind at a time), the app gets exactly what the uninstrumented SDK gives it, and the call
has at most one span, ended. Real SDKs over HTTP against the built-in server; the demo's calls."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest

from llmtel.core.adapter import Adapter
from llmtel.demo import providers as demo
from tests.conftest import INSTRUMENTORS

INSTRUMENTOR = {"anthropic": "anthropic", "bedrock": "bedrock", "gemini": "google_genai"}
METHODS = ("request", "content", "response", "stream_handler", "prepare")
PROMPTS = demo.Prompts("Be brief.", "Say hello.", "Tell a story.", "Weather in Paris?", ("one", "two"), "Fail.")


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def adapters(provider: str) -> list[type]:
    """Every adapter class of the provider's package (its translation modules imported)."""
    package = INSTRUMENTORS[provider][0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name != "instrumentor":
            importlib.import_module(f"{package}.{module.name}")
    return [c for c in set(_subclasses(Adapter)) if c.__module__.startswith(package + ".")]


class Boom(RuntimeError):
    pass


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("our bug")


def _results(name: str, server: Any) -> list[str]:
    """What the app sees of the demo's successful calls (texts printed live included)."""
    client = demo.client(name, server.root_url)
    out: list[str] = []
    try:
        for _label, call, expect_error in demo.STEPS[name]:
            if not expect_error:
                written: list[str] = []
                out.append(call(client, written.append, PROMPTS) + "|" + "".join(written))
    finally:
        demo.close(name, client)
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(INSTRUMENTOR))
def test_a_fault_in_our_translation_is_invisible_to_the_app(
    otel: Any, server: Any, monkeypatch: pytest.MonkeyPatch, name: str, method: str
) -> None:
    expected = _results(name, server)  # uninstrumented
    patched = [cls for cls in adapters(INSTRUMENTOR[name]) if method in vars(cls)]
    if not patched:
        pytest.skip(f"no {name} adapter defines {method}")
    for cls in patched:
        monkeypatch.setattr(cls, method, _boom)
    otel.instrument(INSTRUMENTOR[name])
    assert _results(name, server) == expected
    spans = otel.spans()
    assert len(spans) <= len(expected)
    assert all(span.end_time is not None for span in spans)

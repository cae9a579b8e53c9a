"""The installer's contract, for every provider from its Spec alone: what instrument() wraps is exactly the Spec's
targets and hooks, each once, around the SDK's own function; uninstrument() puts the very function objects back;
both are idempotent; and one provider's uninstall leaves every other provider (and the agent/tool telemetry)
as it was. A new provider gets these tests by being listed in tests/conftest.py's INSTRUMENTORS."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from llmtel import _providers
from llmtel.core.install import Spec, resolve
from tests.conftest import INSTRUMENTORS

PROVIDERS = sorted(INSTRUMENTORS)


def spec_of(provider: str) -> Spec:
    spec: Spec = importlib.import_module(INSTRUMENTORS[provider][0]).SPEC
    return spec


def places(spec: Spec) -> dict[tuple[str, str], Any]:
    """Every method the Spec names that this SDK version has: (module, path) → what is there now."""
    found: dict[tuple[str, str], Any] = {}
    for module_name, path in [(t.module, t.path) for t in spec.targets] + [(h.module, h.path) for h in spec.hooks]:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # a module this SDK version does not have
        place = resolve(module, path)
        if place is not None:
            found[(module_name, path)] = place[2]
    return found


@pytest.fixture
def originals(provider: str) -> dict[tuple[str, str], Any]:
    found = places(spec_of(provider))
    assert found, f"none of {provider}'s targets exist in the installed SDK"
    return found


@pytest.mark.parametrize("provider", PROVIDERS)
def test_instrument_wraps_each_target_once_around_the_sdks_function(
    otel: Any, provider: str, originals: dict[tuple[str, str], Any]
) -> None:
    instrumentor = otel.instrument(provider)
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)  # again
    for key, now in places(spec_of(provider)).items():
        assert now is not originals[key], f"{key} not wrapped"
        assert now.__wrapped__ is originals[key], f"{key} wrapped more than once, or around something else"
    otel.uninstrument()
    assert places(spec_of(provider)) == originals
    for key, now in places(spec_of(provider)).items():
        assert now is originals[key], key  # the very function objects


@pytest.mark.parametrize("provider", PROVIDERS)
def test_uninstrument_without_instrument_changes_nothing(provider: str, originals: dict[tuple[str, str], Any]) -> None:
    module, cls = INSTRUMENTORS[provider]
    instrumentor = getattr(importlib.import_module(module), cls)()
    instrumentor.uninstrument()
    instrumentor.uninstrument()
    assert places(spec_of(provider)) == originals


@pytest.mark.parametrize("provider", PROVIDERS)
def test_uninstalling_one_provider_leaves_the_others(otel: Any, provider: str) -> None:
    before = {p: places(spec_of(p)) for p in PROVIDERS}
    otel.instrument(*PROVIDERS)
    during = {p: places(spec_of(p)) for p in PROVIDERS}
    configured = dict(_providers.Setup.providers)
    assert configured["tracer_provider"] is otel.tracer_provider
    module, cls = INSTRUMENTORS[provider]
    getattr(importlib.import_module(module), cls)().uninstrument()
    after = {p: places(spec_of(p)) for p in PROVIDERS}
    assert after[provider] == before[provider]
    for other in PROVIDERS:
        if other != provider:
            assert after[other] == during[other], f"uninstalling {provider} changed {other}"
    # the agent/tool spans still go to the pipeline the remaining providers were installed on
    assert _providers.Setup.providers == configured

"""The providers (and configuration) the last ``instrument()`` was given, for the telemetry that belongs to no
SDK: the :func:`llmtel.agent` and :func:`llmtel.tool` spans go where the LLM call spans go.

Kept apart from :mod:`llmtel.core.agents` so that instrumenting imports nothing of OpenTelemetry (start-up
cost, bench/): the agent module reads this state when an app first enters an agent or tool block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmtel.config import Config


class Setup:
    providers: dict[str, Any] = {}
    config: Config | None = None
    generation = 0  # bumped by every configure(): whoever caches telemetry built from the providers rebuilds it


def configure(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    config: Config | None = None,
) -> None:
    """Use these providers (``None``: the global ones) from now on."""
    Setup.providers = {
        "tracer_provider": tracer_provider,
        "meter_provider": meter_provider,
        "logger_provider": logger_provider,
    }
    Setup.config = config
    Setup.generation += 1

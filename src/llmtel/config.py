"""Every environment variable the package reads, read once, validated, with one clear warning per bad value.

The GenAI variables are the ones ``opentelemetry-util-genai`` reads, so an app configured for the official
instrumentation keeps its settings. Our own variables are few and prefixed ``LLMTEL_``; the README has the
table. A bad value never raises: it falls back to the default and logs one warning naming the variable.

Booleans follow the OpenTelemetry rule for boolean environment variables: ``true`` or ``false`` in any case,
nothing else (no ``1``/``yes``/``on``), so one spelling works for every variable here and in the SDK.

Privacy fails closed: a redaction hook that is configured but cannot be loaded turns content capture off.
"""

from __future__ import annotations

import enum
import importlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_log = logging.getLogger("llmtel")

CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT_EVENT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
PROVIDER_MAP = "LLMTEL_PROVIDER_MAP"
OPENAI_STREAM_USAGE = "LLMTEL_OPENAI_STREAM_USAGE"
MAX_CONTENT_LENGTH = "LLMTEL_MAX_CONTENT_LENGTH"
CONTENT_REDACTOR = "LLMTEL_CONTENT_REDACTOR"

DEFAULT_MAX_CONTENT_LENGTH = 32_768


class ContentCapture(enum.Enum):
    """Where prompt and response content goes (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``)."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)


# The contrib instrumentation's legacy mode took a boolean. We accept it too: `true` means "content on the
# span" (SPAN_ONLY), the closest match to what users of the boolean saw, and `false` means NO_CONTENT.
_BOOLEAN_CAPTURE = {"true": ContentCapture.SPAN_ONLY, "false": ContentCapture.NO_CONTENT}

Redactor = Callable[[str, Any], Any]
"""A redaction hook: called as ``hook(attribute_name, value)`` with the structured content value (list/dict)
before it is recorded; returns the value to record (or ``None`` to drop the attribute)."""


@dataclass(frozen=True)
class Config:
    capture: ContentCapture = ContentCapture.NO_CONTENT
    emit_event: bool = False
    provider_map: Mapping[str, str] = field(default_factory=dict)
    # None = automatic: requested on the hosted APIs known to accept it (core/endpoints.py), not elsewhere.
    openai_stream_usage: bool | None = None
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    redactor: Redactor | None = None

    @property
    def capture_content(self) -> bool:
        """Whether adapters need to build content at all (spans or events)."""
        return self.capture is not ContentCapture.NO_CONTENT


def _warn(name: str, value: str, fallback: str) -> None:
    _log.warning("llmtel: ignoring %s=%r (%s)", name, value, fallback)


def _parse_capture(raw: str | None) -> ContentCapture:
    if raw is None or not raw.strip():
        return ContentCapture.NO_CONTENT
    value = raw.strip()
    try:
        return ContentCapture[value.upper()]
    except KeyError:
        pass
    if value.lower() in _BOOLEAN_CAPTURE:
        return _BOOLEAN_CAPTURE[value.lower()]
    _warn(
        CAPTURE_MESSAGE_CONTENT,
        raw,
        "expected NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, true or false; using NO_CONTENT",
    )
    return ContentCapture.NO_CONTENT


_BOOLEANS = {"true": True, "false": False}


def _parse_bool(name: str, raw: str | None, default: str) -> bool | None:
    """``true``/``false`` in any case; ``None`` (use the default, described by ``default``) when unset or empty,
    and after one warning for anything else."""
    if raw is None or not raw.strip():
        return None
    value = _BOOLEANS.get(raw.strip().lower())
    if value is None:
        _warn(name, raw, f"expected true or false (any case); using {default}")
    return value


def _parse_provider_map(raw: str | None) -> dict[str, str]:
    """``host[:port]=provider`` pairs separated by commas, e.g. ``llm.internal:8000=vllm,gw.corp=openai``."""
    result: dict[str, str] = {}
    if not raw or not raw.strip():
        return result
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, provider = item.partition("=")
        key, provider = key.strip().lower(), provider.strip()
        if not sep or not key or not provider:
            _warn(PROVIDER_MAP, raw, f"entry {item!r} is not host[:port]=provider; entry skipped")
            continue
        result[key] = provider
    return result


def _parse_int(name: str, raw: str | None, default: int) -> int:
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        _warn(name, raw, f"expected a whole number >= 0; using {default}")
        return default
    return value


def _load_redactor(raw: str | None) -> tuple[Redactor | None, str | None]:
    """The hook, or why it cannot be had: ``(hook, None)``, ``(None, reason)``, or ``(None, None)`` when unset."""
    if raw is None or not raw.strip():
        return None, None
    module_name, sep, attr = raw.strip().partition(":")
    if not sep or not module_name or not attr:
        return None, "expected module:function"
    try:
        hook = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        return None, f"cannot load it: {exc.__class__.__name__}: {exc}"
    if not callable(hook):
        return None, f"{attr} is not callable"
    return hook, None


def _warn_content_nowhere(capture: ContentCapture, emit_event: bool) -> None:
    # Content routed to the details event while the event is off is built and then dropped: say so, once.
    if emit_event or not capture.on_event:
        return
    if capture is ContentCapture.EVENT_ONLY:
        lost = "content will not be recorded anywhere (EVENT_ONLY sends it only to the details event, which is off)"
        fix = f"set {EMIT_EVENT}=true to record it on the event, or {CAPTURE_MESSAGE_CONTENT}=SPAN_ONLY for spans"
    else:
        lost = "content will be recorded on spans only, not on the details event (which is off)"
        fix = f"set {EMIT_EVENT}=true to record it on the event too, or {CAPTURE_MESSAGE_CONTENT}=SPAN_ONLY"
    _log.warning("llmtel: %s=%s with %s=false: %s; %s", CAPTURE_MESSAGE_CONTENT, capture.value, EMIT_EVENT, lost, fix)


def from_env(environ: Mapping[str, str] | None = None) -> Config:
    """Read the configuration. Called once per ``instrument()``."""
    env = os.environ if environ is None else environ
    capture = _parse_capture(env.get(CAPTURE_MESSAGE_CONTENT))
    # util-genai's rule: the details event defaults to on exactly when content is routed to events.
    emit_event = _parse_bool(EMIT_EVENT, env.get(EMIT_EVENT), str(capture.on_event).lower())
    if emit_event is None:
        emit_event = capture.on_event
    _warn_content_nowhere(capture, emit_event)
    provider_map = _parse_provider_map(env.get(PROVIDER_MAP))
    stream_usage = _parse_bool(OPENAI_STREAM_USAGE, env.get(OPENAI_STREAM_USAGE), "automatic, as if unset")
    max_content_length = _parse_int(MAX_CONTENT_LENGTH, env.get(MAX_CONTENT_LENGTH), DEFAULT_MAX_CONTENT_LENGTH)
    raw_redactor = env.get(CONTENT_REDACTOR)
    redactor, failure = _load_redactor(raw_redactor)
    if failure is not None:
        # Fail closed: the app asked for content to be redacted, so unredacted content must not go out. The
        # details event keeps its own setting (emit_event, chosen above from the requested mode) without content.
        _log.warning(
            "llmtel: content capture is OFF because the redactor %s=%r could not be loaded (%s): no prompt or "
            "response content will be recorded on spans or events until it can be",
            CONTENT_REDACTOR,
            raw_redactor,
            failure,
        )
        capture = ContentCapture.NO_CONTENT
    return Config(
        capture=capture,
        emit_event=emit_event,
        provider_map=provider_map,
        openai_stream_usage=stream_usage,
        max_content_length=max_content_length,
        redactor=redactor,
    )


_VARIABLES = (
    CAPTURE_MESSAGE_CONTENT,
    EMIT_EVENT,
    PROVIDER_MAP,
    OPENAI_STREAM_USAGE,
    MAX_CONTENT_LENGTH,
    CONTENT_REDACTOR,
)


class _Shared:
    read: tuple[tuple[str | None, ...], Config] | None = None


def shared() -> Config:
    """The configuration from ``os.environ``, one for every provider: each provider's instrumentor asks for it,
    and it is read (and a bad value warned about) again only when one of our variables has changed since."""
    key = tuple(os.environ.get(name) for name in _VARIABLES)
    read = _Shared.read
    if read is None or read[0] != key:
        read = _Shared.read = (key, from_env())
    return read[1]

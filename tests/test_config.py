"""``llmtel.config.from_env``: every variable, valid and invalid values, one warning per bad value."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from llmtel import config
from llmtel.config import Config, ContentCapture, from_env

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
PROVIDER_MAP = "LLMTEL_PROVIDER_MAP"
STREAM_USAGE = "LLMTEL_OPENAI_STREAM_USAGE"
MAX_LENGTH = "LLMTEL_MAX_CONTENT_LENGTH"
REDACTOR = "LLMTEL_CONTENT_REDACTOR"
ALL_VARIABLES = (CAPTURE, EMIT, PROVIDER_MAP, STREAM_USAGE, MAX_LENGTH, REDACTOR)


def a_redactor(name: str, value: Any) -> Any:
    return value


NOT_CALLABLE = 42


@pytest.fixture
def warnings_of(caplog: pytest.LogCaptureFixture) -> Any:
    """Read the config under caplog and return (config, the llmtel WARNING records)."""

    def read(env: dict[str, str]) -> tuple[Config, list[logging.LogRecord]]:
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="llmtel"):
            cfg = from_env(env)
        return cfg, [r for r in caplog.records if r.levelno >= logging.WARNING]

    return read


def assert_one_warning(records: list[logging.LogRecord], variable: str) -> None:
    assert len(records) == 1, [r.getMessage() for r in records]
    (record,) = records
    assert record.levelno == logging.WARNING
    assert record.name == "llmtel"
    assert variable in record.getMessage()


def test_variable_names() -> None:
    assert (
        config.CAPTURE_MESSAGE_CONTENT,
        config.EMIT_EVENT,
        config.PROVIDER_MAP,
        config.OPENAI_STREAM_USAGE,
        config.MAX_CONTENT_LENGTH,
        config.CONTENT_REDACTOR,
    ) == ALL_VARIABLES


def test_defaults(warnings_of: Any) -> None:
    cfg, records = warnings_of({})
    assert records == []
    assert cfg == Config()
    assert cfg.capture is ContentCapture.NO_CONTENT
    assert cfg.emit_event is False
    assert dict(cfg.provider_map) == {}
    assert cfg.openai_stream_usage is None  # automatic: decided per endpoint
    assert cfg.max_content_length == config.DEFAULT_MAX_CONTENT_LENGTH == 32_768
    assert cfg.redactor is None
    assert cfg.capture_content is False


def test_empty_values_are_defaults_without_warning(warnings_of: Any) -> None:
    cfg, records = warnings_of({name: "  " for name in ALL_VARIABLES})
    assert records == []
    assert cfg == Config()


def test_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(CAPTURE, "SPAN_AND_EVENT")
    monkeypatch.setenv(MAX_LENGTH, "100")
    cfg = from_env()
    assert (cfg.capture, cfg.emit_event, cfg.max_content_length) == (ContentCapture.SPAN_AND_EVENT, True, 100)


# -- OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT (+ the EMIT_EVENT default it implies) --------------------


@pytest.mark.parametrize(
    ("value", "capture", "emit"),
    [
        ("NO_CONTENT", ContentCapture.NO_CONTENT, False),
        ("SPAN_ONLY", ContentCapture.SPAN_ONLY, False),
        ("EVENT_ONLY", ContentCapture.EVENT_ONLY, True),
        ("SPAN_AND_EVENT", ContentCapture.SPAN_AND_EVENT, True),
        ("span_and_event", ContentCapture.SPAN_AND_EVENT, True),
        ("  Event_Only  ", ContentCapture.EVENT_ONLY, True),
        # the legacy boolean
        ("true", ContentCapture.SPAN_ONLY, False),
        ("True", ContentCapture.SPAN_ONLY, False),
        ("false", ContentCapture.NO_CONTENT, False),
        ("FALSE", ContentCapture.NO_CONTENT, False),
    ],
)
def test_capture_valid(warnings_of: Any, value: str, capture: ContentCapture, emit: bool) -> None:
    cfg, records = warnings_of({CAPTURE: value})
    assert records == []
    assert cfg.capture is capture
    assert cfg.emit_event is emit
    assert cfg.capture_content is (capture is not ContentCapture.NO_CONTENT)


def test_capture_properties() -> None:
    on_span = {c for c in ContentCapture if c.on_span}
    on_event = {c for c in ContentCapture if c.on_event}
    assert on_span == {ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT}
    assert on_event == {ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT}


@pytest.mark.parametrize("value", ["bogus", "1", "yes", "SPAN", "span-only", "EVENT ONLY"])
def test_capture_invalid(warnings_of: Any, value: str) -> None:
    cfg, records = warnings_of({CAPTURE: value})
    assert_one_warning(records, CAPTURE)
    assert value in records[0].getMessage()
    assert cfg.capture is ContentCapture.NO_CONTENT
    assert cfg.emit_event is False


# -- OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT and LLMTEL_OPENAI_STREAM_USAGE (booleans) ---------------------------

# The OpenTelemetry rule for boolean variables: true or false, in any case; nothing else.
TRUE_VALUES = ["true", "TRUE", "True", " tRuE "]
FALSE_VALUES = ["false", "False", "FALSE", " fAlSe "]
NOT_BOOLEANS = ["1", "0", "yes", "no", "on", "off", "y", "t", "maybe", "enabled", "2"]


def bool_warning(variable: str, value: str, default: str) -> str:
    return f"llmtel: ignoring {variable}={value!r} (expected true or false (any case); using {default})"


@pytest.mark.parametrize("value", TRUE_VALUES)
@pytest.mark.parametrize("capture", ["NO_CONTENT", "SPAN_ONLY", "EVENT_ONLY"])
def test_emit_event_true(warnings_of: Any, value: str, capture: str) -> None:
    cfg, records = warnings_of({CAPTURE: capture, EMIT: value})
    assert records == []
    assert cfg.emit_event is True
    assert cfg.capture is ContentCapture[capture]  # the event is emitted with or without content


@pytest.mark.parametrize("value", FALSE_VALUES)
@pytest.mark.parametrize("capture", ["NO_CONTENT", "SPAN_ONLY"])
def test_emit_event_false(warnings_of: Any, value: str, capture: str) -> None:
    cfg, records = warnings_of({CAPTURE: capture, EMIT: value})
    assert records == []
    assert cfg.emit_event is False


@pytest.mark.parametrize("value", NOT_BOOLEANS)
@pytest.mark.parametrize(("capture", "default"), [("NO_CONTENT", False), ("SPAN_ONLY", False), ("EVENT_ONLY", True)])
def test_emit_event_invalid_falls_back_to_mode_default(
    warnings_of: Any, value: str, capture: str, default: bool
) -> None:
    cfg, records = warnings_of({CAPTURE: capture, EMIT: value})
    assert_one_warning(records, EMIT)
    assert records[0].getMessage() == bool_warning(EMIT, value, str(default).lower())
    assert cfg.emit_event is default


EVENT_ONLY_NOWHERE = (
    "llmtel: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=EVENT_ONLY with OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
    "=false: content will not be recorded anywhere (EVENT_ONLY sends it only to the details event, which is off); "
    "set OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=true to record it on the event, or "
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY for spans"
)
SPAN_AND_EVENT_HALF = (
    "llmtel: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_AND_EVENT with "
    "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=false: content will be recorded on spans only, not on the details event "
    "(which is off); set OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=true to record it on the event too, or "
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY"
)


@pytest.mark.parametrize("value", FALSE_VALUES)
@pytest.mark.parametrize(
    ("capture", "message"), [("EVENT_ONLY", EVENT_ONLY_NOWHERE), ("SPAN_AND_EVENT", SPAN_AND_EVENT_HALF)]
)
def test_events_off_with_content_for_events_warns(warnings_of: Any, value: str, capture: str, message: str) -> None:
    """Content routed to an event that is off is lost: one warning that says so and how to fix it."""
    cfg, records = warnings_of({CAPTURE: capture, EMIT: value})
    assert_one_warning(records, EMIT)
    assert records[0].getMessage() == message
    assert cfg.emit_event is False
    assert cfg.capture is ContentCapture[capture]  # the setting is kept as given; the span half still works


def test_events_off_warning_is_per_read(warnings_of: Any) -> None:
    """Config is read once per instrument(): each read of the bad combination warns once, not per call."""
    env = {CAPTURE: "EVENT_ONLY", EMIT: "false"}
    for _ in range(2):
        _, records = warnings_of(env)
        assert [r.getMessage() for r in records] == [EVENT_ONLY_NOWHERE]


@pytest.mark.parametrize(
    ("value", "expected"), [*((v, True) for v in TRUE_VALUES), *((v, False) for v in FALSE_VALUES)]
)
def test_stream_usage(warnings_of: Any, value: str, expected: bool) -> None:
    cfg, records = warnings_of({STREAM_USAGE: value})
    assert records == []
    assert cfg.openai_stream_usage is expected


@pytest.mark.parametrize("value", NOT_BOOLEANS)
def test_stream_usage_invalid_is_automatic(warnings_of: Any, value: str) -> None:
    cfg, records = warnings_of({STREAM_USAGE: value})
    assert_one_warning(records, STREAM_USAGE)
    assert records[0].getMessage() == bool_warning(STREAM_USAGE, value, "automatic, as if unset")
    assert cfg.openai_stream_usage is None


@pytest.mark.parametrize("value", NOT_BOOLEANS)
def test_capture_accepts_the_same_booleans(warnings_of: Any, value: str) -> None:
    """The capture variable's boolean form takes exactly the values the boolean variables take."""
    cfg, records = warnings_of({CAPTURE: value})
    assert_one_warning(records, CAPTURE)
    assert cfg.capture is ContentCapture.NO_CONTENT


# -- LLMTEL_PROVIDER_MAP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("llm.internal:8000=vllm", {"llm.internal:8000": "vllm"}),
        (
            "llm.internal:8000=vllm, gw.corp = openai ,ollama.lan=ollama",
            {"llm.internal:8000": "vllm", "gw.corp": "openai", "ollama.lan": "ollama"},
        ),
        ("LLM.Internal=vllm", {"llm.internal": "vllm"}),  # hosts are matched lower-case
        ("a=x,,b=y,", {"a": "x", "b": "y"}),  # empty entries are ignored
        ("a=x,a=y", {"a": "y"}),  # the last entry wins
    ],
)
def test_provider_map(warnings_of: Any, value: str, expected: dict[str, str]) -> None:
    cfg, records = warnings_of({PROVIDER_MAP: value})
    assert records == []
    assert dict(cfg.provider_map) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("vllm", {}),
        ("=vllm", {}),
        ("host=", {}),
        ("a=x,oops,b=y", {"a": "x", "b": "y"}),  # the bad entry is skipped, the others kept
    ],
)
def test_provider_map_invalid(warnings_of: Any, value: str, expected: dict[str, str]) -> None:
    cfg, records = warnings_of({PROVIDER_MAP: value})
    assert_one_warning(records, PROVIDER_MAP)
    assert dict(cfg.provider_map) == expected


# -- LLMTEL_MAX_CONTENT_LENGTH ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("10", 10), (" 4096 ", 4096), ("0", 0), ("+5", 5)])
def test_max_content_length(warnings_of: Any, value: str, expected: int) -> None:
    cfg, records = warnings_of({MAX_LENGTH: value})
    assert records == []
    assert cfg.max_content_length == expected


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "10.5", "10k"])
def test_max_content_length_invalid(warnings_of: Any, value: str) -> None:
    cfg, records = warnings_of({MAX_LENGTH: value})
    assert_one_warning(records, MAX_LENGTH)
    assert cfg.max_content_length == config.DEFAULT_MAX_CONTENT_LENGTH


# -- LLMTEL_CONTENT_REDACTOR --------------------------------------------------------------------------------


def test_redactor(warnings_of: Any) -> None:
    cfg, records = warnings_of({REDACTOR: " tests.test_config:a_redactor "})
    assert records == []
    assert cfg.redactor is a_redactor


def redactor_warning(value: str, reason: str) -> str:
    return (
        f"llmtel: content capture is OFF because the redactor LLMTEL_CONTENT_REDACTOR={value!r} could not be "
        f"loaded ({reason}): no prompt or response content will be recorded on spans or events until it can be"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("tests.test_config", "expected module:function"),  # no function
        ("tests.test_config:", "expected module:function"),
        (":a_redactor", "expected module:function"),
        ("myredact:redcat", "cannot load it: ModuleNotFoundError: No module named 'myredact'"),
        (
            "tests.test_config:missing_function",
            "cannot load it: AttributeError: module 'tests.test_config' has no attribute 'missing_function'",
        ),
        ("tests.test_config:NOT_CALLABLE", "NOT_CALLABLE is not callable"),
    ],
)
@pytest.mark.parametrize("capture", ["SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT", "NO_CONTENT"])
def test_redactor_that_cannot_load_turns_content_off(warnings_of: Any, value: str, reason: str, capture: str) -> None:
    """Privacy fails closed: a redactor asked for but not loadable means no content at all, said loudly once.
    The details event keeps the setting the requested mode implies (it goes out without content)."""
    cfg, records = warnings_of({CAPTURE: capture, REDACTOR: value})
    assert_one_warning(records, REDACTOR)
    assert records[0].getMessage() == redactor_warning(value, reason)
    assert cfg.redactor is None
    assert cfg.capture is ContentCapture.NO_CONTENT
    assert cfg.capture_content is False
    assert cfg.emit_event is ContentCapture[capture].on_event


def test_redactor_that_cannot_load_keeps_an_explicit_event_setting(warnings_of: Any) -> None:
    cfg, records = warnings_of({CAPTURE: "SPAN_ONLY", EMIT: "true", REDACTOR: "myredact:redcat"})
    assert_one_warning(records, REDACTOR)
    assert (cfg.capture, cfg.emit_event) == (ContentCapture.NO_CONTENT, True)


def test_every_bad_variable_warns_once(warnings_of: Any) -> None:
    bad = {
        CAPTURE: "bogus",
        EMIT: "maybe",
        PROVIDER_MAP: "oops",
        STREAM_USAGE: "maybe",
        MAX_LENGTH: "-3",
        REDACTOR: "nope",
    }
    cfg, records = warnings_of(bad)
    assert len(records) == len(bad)
    for name, record in zip(bad, records, strict=True):
        assert name in record.getMessage()
    assert cfg == Config()


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Config().capture = ContentCapture.SPAN_ONLY  # type: ignore[misc]

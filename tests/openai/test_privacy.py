"""Privacy fails closed: a redactor that cannot be loaded means no content at all; one that raises drops the value.

Through the real openai SDK and its HTTP stack against the local server, with the real OpenTelemetry SDK. The
prompts carry a marker word that must never appear in any span attribute, event attribute or log message.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from llmtel import semconv as sc
from llmtel.core.invocation import DETAILS_EVENT
from tests.openai.helpers import drain, run

MODEL = "gpt-4o-mini"
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
REDACTOR = "LLMTEL_CONTENT_REDACTOR"
SECRET = "Zanzibar7731"  # in every prompt; must never be recorded
CONTENT_KEYS = frozenset(
    {
        sc.GEN_AI_INPUT_MESSAGES,
        sc.GEN_AI_OUTPUT_MESSAGES,
        sc.GEN_AI_SYSTEM_INSTRUCTIONS,
        sc.GEN_AI_TOOL_DEFINITIONS,
    }
)
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "description": f"Looks up {SECRET}", "parameters": {"type": "object"}},
}
MESSAGES = [{"role": "system", "content": f"Never say {SECRET}"}, {"role": "user", "content": f"Who is {SECRET}?"}]

NOT_A_FUNCTION = "just a string"


def redact_raises(name: str, value: Any) -> Any:
    raise RuntimeError(f"cannot redact {value!r}")  # the message quotes the content: it must not be logged


def redact_output_raises(name: str, value: Any) -> Any:
    if name == sc.GEN_AI_OUTPUT_MESSAGES:
        raise ValueError(f"bad output {value!r}")
    return [{**message, "parts": [{"type": "text", "content": "[redacted]"}]} for message in value]


async def three_calls(sdk: Any) -> None:
    """A chat call with tools, a chat stream and a Responses call: every content attribute there is."""
    result = await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, tools=[TOOL]))
    assert result.choices  # the app is unaffected
    chunks = await drain(await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)))
    assert chunks
    await run(sdk.responses.create(model=MODEL, input=f"Who is {SECRET}?", instructions=f"Never say {SECRET}"))


def llmtel_warnings(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]


def assert_no_secret_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in (record.exc_text or "")
        assert record.exc_info is None


def events(otel: Any) -> list[Any]:
    records = [data.log_record for data in otel.logs()]
    assert all(r.event_name == DETAILS_EVENT for r in records)
    return records


# -- a redactor that cannot be loaded ----------------------------------------------------------------------------

UNLOADABLE = [
    ("myredact:redcat", "cannot load it: ModuleNotFoundError: No module named 'myredact'"),
    (
        "tests.openai.test_privacy:redcat",
        "cannot load it: AttributeError: module 'tests.openai.test_privacy' has no attribute 'redcat'",
    ),
    ("tests.openai.test_privacy:NOT_A_FUNCTION", "NOT_A_FUNCTION is not callable"),
    ("tests.openai.test_privacy.redact_raises", "expected module:function"),
]


def off_warning(value: str, reason: str) -> str:
    return (
        f"llmtel: content capture is OFF because the redactor LLMTEL_CONTENT_REDACTOR={value!r} could not be "
        f"loaded ({reason}): no prompt or response content will be recorded on spans or events until it can be"
    )


@pytest.mark.parametrize(("value", "reason"), UNLOADABLE, ids=[v for v, _ in UNLOADABLE])
@pytest.mark.parametrize("mode", ["SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT"])
async def test_unloadable_redactor_records_no_content(
    otel: Any, sdk: Any, caplog: pytest.LogCaptureFixture, value: str, reason: str, mode: str
) -> None:
    with caplog.at_level(logging.DEBUG, logger="llmtel"):
        otel.instrument(**{CAPTURE: mode, REDACTOR: value})
        await three_calls(sdk)
    assert llmtel_warnings(caplog) == [("llmtel", logging.WARNING, off_warning(value, reason))]
    assert_no_secret_logged(caplog)

    spans = otel.spans()
    assert [s.attributes[sc.GEN_AI_OPERATION_NAME] for s in spans] == ["chat", "chat", "chat"]
    for span in spans:
        assert not CONTENT_KEYS & set(span.attributes), span.name
        assert SECRET not in repr(dict(span.attributes))
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS]  # the rest of the telemetry is intact

    # The details event keeps the setting the requested mode implies, and goes out without content.
    records = events(otel)
    if mode == "SPAN_ONLY":
        assert records == []
    else:
        assert len(records) == len(spans)
        for record, span in zip(records, spans, strict=True):
            assert record.span_id == span.context.span_id
            assert dict(record.attributes) == dict(span.attributes)  # no content keys beyond the span's


async def test_unloadable_redactor_with_events_on_explicitly(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY", EMIT: "TRUE", REDACTOR: "myredact:redcat"})
    await three_calls(sdk)
    spans, records = otel.spans(), events(otel)
    assert len(records) == len(spans) == 3
    for record, span in zip(records, spans, strict=True):
        assert not CONTENT_KEYS & set(record.attributes)
        assert dict(record.attributes) == dict(span.attributes)


# -- a redactor that raises --------------------------------------------------------------------------------------

RAISED = (
    "llmtel: the content redactor tests.openai.test_privacy:redact_raises raised RuntimeError on "
    "gen_ai.input.messages; that value was dropped, not recorded. Every value it fails on is dropped; further "
    "failures are logged at debug level only"
)


async def test_raising_redactor_drops_every_value_and_warns_once(
    otel: Any, sdk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="llmtel"):
        otel.instrument(**{CAPTURE: "SPAN_AND_EVENT", REDACTOR: "tests.openai.test_privacy:redact_raises"})
        await three_calls(sdk)
        await three_calls(sdk)
    # 8 values per round (chat: input, tools, output; stream: input, output; Responses: instructions, input,
    # output), 16 in all: the first failure of this configuration warns, the other 15 stay at debug level
    assert llmtel_warnings(caplog) == [("llmtel", logging.WARNING, RAISED)]
    again = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.DEBUG and r.getMessage().startswith("llmtel: the content redactor ")
    ]
    assert len(again) == 15
    assert again[0] == (
        "llmtel: the content redactor tests.openai.test_privacy:redact_raises raised RuntimeError on "
        "gen_ai.tool.definitions; dropped"
    )
    assert_no_secret_logged(caplog)

    spans, records = otel.spans(), events(otel)
    assert len(spans) == len(records) == 6
    for record, span in zip(records, spans, strict=True):
        assert not CONTENT_KEYS & set(span.attributes)
        assert SECRET not in repr(dict(span.attributes))
        assert dict(record.attributes) == dict(span.attributes)


async def test_raising_redactor_warns_again_for_a_new_configuration(
    otel: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hook = {CAPTURE: "SPAN_ONLY", REDACTOR: "tests.openai.test_privacy:redact_raises"}
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        for _ in range(2):
            otel.instrument(**hook)  # config is read once per instrument(): a new configuration
            for _ in range(3):
                client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert llmtel_warnings(caplog) == [("llmtel", logging.WARNING, RAISED)] * 2
    for span in otel.spans():
        assert not CONTENT_KEYS & set(span.attributes)


async def test_redactor_raising_on_one_attribute_drops_only_that_one(
    otel: Any, sdk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="llmtel"):
        otel.instrument(**{CAPTURE: "SPAN_ONLY", REDACTOR: "tests.openai.test_privacy:redact_output_raises"})
        await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES))
    assert llmtel_warnings(caplog) == [
        (
            "llmtel",
            logging.WARNING,
            "llmtel: the content redactor tests.openai.test_privacy:redact_output_raises raised ValueError on "
            "gen_ai.output.messages; that value was dropped, not recorded. Every value it fails on is dropped; "
            "further failures are logged at debug level only",
        )
    ]
    assert_no_secret_logged(caplog)
    attrs = otel.span().attributes
    assert sc.GEN_AI_OUTPUT_MESSAGES not in attrs
    assert attrs[sc.GEN_AI_INPUT_MESSAGES] == (
        '[{"role":"system","parts":[{"type":"text","content":"[redacted]"}]},'
        '{"role":"user","parts":[{"type":"text","content":"[redacted]"}]}]'
    )

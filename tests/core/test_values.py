"""Server values made fit for export (core/values.py, the neutral field helpers of core/adapter.py, content
preparation, and the values the Invocation itself writes), with hostile values, and through the real OTLP
encoders (opentelemetry-exporter-otlp-proto-common) and the real OpenTelemetry SDK.

What those reject, without our checks (each test in the first section shows it with the real parts): an int
outside int64 and a str with a lone surrogate (the encoder logs an error and drops the attribute; in a span's
status message the whole batch fails to encode), a negative histogram value (the SDK warns and drops the point),
a non-string dict key in an event value (the SDK warns and ``str()``-s it).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import _logs
from opentelemetry.exporter.otlp.proto.common._internal._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import encode_spans
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.trace import Status, StatusCode

from llmtel import config as config_module
from llmtel import semconv as sc
from llmtel.core import content as c
from llmtel.core import values
from llmtel.core.adapter import (
    integer,
    number,
    stop_sequences,
    string,
    string_fields,
    usage_attributes,
)
from llmtel.core.endpoints import Endpoint
from llmtel.core.invocation import Invocation, Telemetry
from tests.conftest import Otel

INT64_MAX = 2**63 - 1
LONE = "\ud800"
FFFD = "\ufffd"


# -- decoding what the encoders produced (what a collector would receive) ----------------------------------------


def decoded(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decoded(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: decoded(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    found: list[KeyValue] = list(pairs)
    return {kv.key: decoded(kv.value) for kv in found}


def exported_spans(otel: Otel) -> list[Any]:
    """The spans as OTLP/protobuf carries them: encoded by the real encoder, serialised, parsed back."""
    request = encode_spans(otel.span_exporter.get_finished_spans())
    parsed = type(request).FromString(request.SerializeToString())
    return [span for rs in parsed.resource_spans for ss in rs.scope_spans for span in ss.spans]


def exported_logs(otel: Otel) -> list[Any]:
    request = encode_logs(otel.logs())
    parsed = type(request).FromString(request.SerializeToString())
    return [record for rl in parsed.resource_logs for sl in rl.scope_logs for record in sl.log_records]


def exported_points(otel: Otel, name: str) -> list[Any]:
    data = otel.metric_reader.get_metrics_data()
    assert data is not None
    request = encode_metrics(data)
    parsed = type(request).FromString(request.SerializeToString())
    return [
        point
        for rm in parsed.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.histogram.data_points
    ]


@pytest.fixture
def quiet_sdk(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captures what the OpenTelemetry SDK and exporters log; the test asserts on it."""
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"):
        yield caplog


def sdk_complaints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING
    ]


@pytest.fixture
def otel() -> Iterator[Otel]:
    """A pipeline of its own: hostile values are not conforming content, and no provider is instrumented."""
    pipeline = Otel()
    yield pipeline


# -- what the real parts reject -----------------------------------------------------------------------------------


def test_the_encoder_drops_an_int_beyond_int64_and_a_lone_surrogate(otel: Otel, quiet_sdk: Any) -> None:
    tracer = otel.tracer_provider.get_tracer("t")
    span = tracer.start_span("s", attributes={"big": 2**63, "lone": f"ok{LONE}", "fine": 1})
    span.end()
    [exported] = exported_spans(otel)
    assert attributes(exported.attributes) == {"fine": 1}
    assert sdk_complaints(quiet_sdk) == [
        "opentelemetry.exporter.otlp.proto.common._internal: Failed to encode key big: Value out of range: "
        "9223372036854775808",
        "opentelemetry.exporter.otlp.proto.common._internal: Failed to encode key lone: 'utf-8' codec can't "
        "encode character '\\ud800' in position 2: surrogates not allowed",
    ]


def test_a_lone_surrogate_in_a_status_message_fails_the_whole_batch(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("t")
    tracer.start_span("the app's own span").end()
    span = tracer.start_span("s")
    span.set_status(Status(StatusCode.ERROR, f"boom {LONE}"))
    span.end()
    with pytest.raises(UnicodeEncodeError):
        encode_spans(otel.span_exporter.get_finished_spans())


def test_the_sdk_drops_a_negative_histogram_value_and_stringifies_keys(otel: Otel, quiet_sdk: Any) -> None:
    histogram = otel.meter_provider.get_meter("t").create_histogram("h")
    histogram.record(-1)
    int_keys: Any = {1: "a"}
    otel.logger_provider.get_logger("t").emit(_logs.LogRecord(event_name="e", attributes={"v": int_keys}))
    assert sdk_complaints(quiet_sdk) == [
        "opentelemetry.sdk.metrics._internal.instrument: Record amount must be non-negative on Histogram h.",
        "opentelemetry.attributes: Invalid type `<class 'int'>` for attribute key `1`, must be a str. Key's "
        "`__str__/__repr__` method will be called if it exists, otherwise the key/value pair will be dropped.",
    ]


# -- core/values.py -----------------------------------------------------------------------------------------------


class Colour(enum.IntEnum):
    RED = 1


HOSTILE_COUNTS = [True, False, 1.0, 12.5, "12", b"12", -1, -(2**63), 2**63, 2**64, 10**40, None, [1], {"n": 1}]


@pytest.mark.parametrize("value", HOSTILE_COUNTS, ids=repr)
def test_token_count_drops_what_is_not_a_count(value: Any) -> None:
    assert values.token_count(value) is None


@pytest.mark.parametrize("value", [0, 1, 2**30 - 1, 2**30, 2**62, INT64_MAX])
def test_token_count_keeps_every_count_within_int64(value: int) -> None:
    assert values.token_count(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (-5, -5),
        (2**30, 2**30),
        (INT64_MAX, INT64_MAX),
        (-(2**63), -(2**63)),
        (2**63, None),
        (-(2**63) - 1, None),
        (10**40, None),
        (True, None),
        (1.0, None),
        ("3", None),
        (Colour.RED, Colour.RED),
    ],
    ids=repr,
)
def test_int64(value: Any, expected: Any) -> None:
    assert values.int64(value) == expected
    assert integer(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (LONE, FFFD),
        ("ok\udfffx", f"ok{FFFD}x"),
        ("\udc00\ud800", FFFD * 2),
        ("a\ud83d\ude00b", "a\U0001f600b"),  # a pair held as two code points: the character it encodes
        ("\ud800\ud800\udc00", f"{FFFD}\U00010000"),
        ("x\udbff", f"x{FFFD}"),
    ],
    ids=ascii,
)
def test_text_replaces_lone_surrogates(value: str, expected: str) -> None:
    found = values.text(value)
    assert found == expected
    found.encode("utf-8")


@pytest.mark.parametrize("value", ["chatcmpl-123", "", "héllo wörld", "日本語", "emoji \U0001f600", FFFD])
def test_text_keeps_valid_text_as_the_same_object(value: str) -> None:
    assert values.text(value) is value


def test_texts() -> None:
    clean = ["stop", "längd"]
    assert values.texts(clean) is clean
    assert values.texts(["stop", f"length{LONE}", 3]) == ["stop", f"length{FFFD}", 3]


# -- core/adapter.py helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("low", "low"), (f"low{LONE}", f"low{FFFD}"), ("", None), (None, None), (5, None), (b"low", None)],
    ids=ascii,
)
def test_string(value: Any, expected: Any) -> None:
    assert string(value) == expected


def test_number_never_raises() -> None:
    assert number(10**400) is None  # float() would raise OverflowError
    assert number(2**64) == float(2**64)
    assert number(0.5) == 0.5
    assert number(True) is None


def test_stop_sequences_are_valid_text() -> None:
    assert stop_sequences(f"end{LONE}") == [f"end{FFFD}"]
    assert stop_sequences(["a", f"b{LONE}"]) == ["a", f"b{FFFD}"]


class Model:
    """Stands in for an SDK model: its fields in ``__dict__``."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


STRINGS = (("id", "id"), ("model", "model"), ("tier", "tier"), ("fingerprint", "fingerprint"), ("none", "none"))


@pytest.mark.parametrize("make", [dict, Model], ids=["dict", "model"])
def test_string_fields_keep_valid_text_and_drop_other_types(make: Any) -> None:
    obj = make(id=f"chatcmpl-{LONE}9", model="gpt-4o-mini", tier=12345, fingerprint=b"fp", none="")
    resp: dict[str, Any] = {}
    string_fields(obj, STRINGS, resp)
    assert resp == {"id": f"chatcmpl-{FFFD}9", "model": "gpt-4o-mini"}


USAGE = (
    ("input", None, "in"),
    ("output", None, "out"),
    ("in_details", "cached", "cached"),
    ("in_details", "written", "written"),
    ("out_details", "reasoning", "reasoning"),
)


@pytest.mark.parametrize("value", HOSTILE_COUNTS, ids=repr)
@pytest.mark.parametrize("make", [dict, Model], ids=["dict", "model"])
def test_usage_attributes_drop_every_hostile_count(make: Any, value: Any) -> None:
    usage = make(input=7, output=value, in_details=make(cached=value, written=3), out_details=make(reasoning=value))
    resp: dict[str, Any] = {}
    usage_attributes(usage, USAGE, resp)
    assert resp == {"in": 7, "written": 3}


def test_usage_attributes_read_each_details_object_of_its_own() -> None:
    """Counts of different details objects under the same sub-field name stay apart (one view per object)."""
    usage = Model(input=1, in_details=Model(cached=2, written=3), out_details=Model(reasoning=4, cached=5))
    table = (*USAGE, ("out_details", "cached", "out_cached"), ("in_details", "cached", "cached_again"))
    resp: dict[str, Any] = {}
    usage_attributes(usage, table, resp)
    assert resp == {"in": 1, "cached": 2, "written": 3, "reasoning": 4, "out_cached": 5, "cached_again": 2}


def test_usage_attributes_keep_large_counts_within_int64() -> None:
    resp: dict[str, Any] = {}
    usage_attributes({"input": 2**30, "output": INT64_MAX}, USAGE, resp)
    assert resp == {"in": 2**30, "out": INT64_MAX}


# -- content --------------------------------------------------------------------------------------------------------

BASE = config_module.from_env({})
HOSTILE_CONTENT = [
    c.message("user", [c.text(f"hi {LONE}there")]),
    c.message(
        "assistant",
        [c.tool_call(f"call_{LONE}", "lookup", {"n": 2**64, "ok": 1, 3: "three", None: 0, (1, 2): "pair"})],
    ),
    c.message("tool", [c.tool_call_response("call_1", {"temp": float("nan"), "inf": float("-inf"), LONE: b"\xff"})]),
]
CLEAN_CONTENT = [
    c.message("user", [c.text(f"hi {FFFD}there")]),
    c.message(
        "assistant",
        [
            {
                "type": "tool_call",
                "name": "lookup",
                "id": f"call_{FFFD}",
                "arguments": {"n": "18446744073709551616", "ok": 1, "3": "three", "null": 0, "(1, 2)": "pair"},
            }
        ],
    ),
    c.message(
        "tool",
        [{"type": "tool_call_response", "response": {"temp": "NaN", "inf": "-Infinity", FFFD: "/w=="}, "id": "call_1"}],
    ),
]


@pytest.mark.parametrize("limit", [0, 100, 32768])
def test_content_is_made_fit_for_export(limit: int) -> None:
    config = dataclasses.replace(BASE, max_content_length=limit)
    expected_text = c.to_json(CLEAN_CONTENT)
    assert c.prepare(config, "gen_ai.input.messages", HOSTILE_CONTENT) == CLEAN_CONTENT
    for for_event in (True, False):
        assert c.prepare_with_json(config, "gen_ai.input.messages", HOSTILE_CONTENT, for_event) == (
            CLEAN_CONTENT,
            expected_text,
        )
    expected_text.encode("utf-8")
    assert '"NaN"' in expected_text and "NaN," not in expected_text  # valid JSON: no bare NaN


def test_content_a_string_cut_at_the_limit_stays_valid_text() -> None:
    """A pair held as two code points cut in half by the size limit leaves a lone surrogate: replaced too."""
    config = dataclasses.replace(BASE, max_content_length=3)
    value = [c.text("ab\ud83d\ude00cd")]
    assert c.prepare(config, "x", value) == [{"type": "text", "content": f"ab{FFFD}…[truncated 3 chars]"}]


@pytest.mark.parametrize(
    "value",
    [
        [c.message("user", [c.text("hello " * 10)])],
        [c.message("user", [c.text("héllo wörld, 日本語 \U0001f600")])],
        [c.message("tool", [c.tool_call_response("call_1", {"n": INT64_MAX, "m": -(2**63), "x": 0.5})])],
    ],
    ids=["ascii", "non-ascii", "int64-bounds"],
)
@pytest.mark.parametrize("for_event", [True, False])
def test_clean_content_takes_the_fast_path_uncopied(value: Any, for_event: bool) -> None:
    found = c.prepare_with_json(BASE, "gen_ai.input.messages", value, for_event)
    assert found is not None and found[0] is value
    assert found[1] == c.to_json(value)


@pytest.mark.parametrize(
    ("value", "for_event", "copied"),
    [
        ([{"type": "tool_call", "name": "f", "arguments": {1: "a"}}], True, True),
        ([{"type": "tool_call", "name": "f", "arguments": {1: "a"}}], False, False),  # JSON writes "1" anyway
        ([{"type": "tool_call", "name": "f", "arguments": {"n": 2**63}}], True, True),
        ([{"type": "tool_call", "name": "f", "arguments": {"n": 2**63}}], False, False),  # JSON has no int64
        ([{"type": "text", "content": LONE}], False, True),
        ([{"type": "text", LONE: "x"}], False, True),
        ([{"type": "text", "content": float("inf")}], False, True),
    ],
    ids=["int-key/event", "int-key/span-only", "big-int/event", "big-int/span-only", "surrogate", "key", "inf"],
)
def test_what_the_json_text_cannot_prove_takes_the_careful_way(value: Any, for_event: bool, copied: bool) -> None:
    found = c.prepare_with_json(BASE, "x", value, for_event)
    assert found is not None
    assert (found[0] is not value) is copied
    found[1].encode("utf-8")


# -- end to end: an Invocation's values through the real SDK and encoders ------------------------------------------


def invocation(otel: Otel, model: str = "m-1", **env: str) -> Invocation:
    telemetry = Telemetry(config_module.from_env(env), otel.tracer_provider, otel.meter_provider, otel.logger_provider)
    return Invocation(
        telemetry, sc.GenAiOperationNameValues.CHAT, model, Endpoint(sc.GenAiProviderNameValues.OPENAI, "h", 443), {}
    )


def test_a_hostile_response_exports_cleanly(otel: Otel, quiet_sdk: Any) -> None:
    inv = invocation(otel, f"model-{LONE}", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT")
    resp = inv.response
    string_fields(
        {"id": f"resp-{LONE}", "model": f"served-{LONE}"},
        (("id", sc.GEN_AI_RESPONSE_ID), ("model", sc.GEN_AI_RESPONSE_MODEL)),
        resp,
    )
    usage_attributes(
        {"prompt_tokens": 7, "completion_tokens": -1, "details": {"cached": 2**64}},
        (
            ("prompt_tokens", None, sc.GEN_AI_USAGE_INPUT_TOKENS),
            ("completion_tokens", None, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
            ("details", "cached", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        ),
        resp,
    )
    resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [f"stop{LONE}"]  # as adapters build them: str() of the server's
    inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, HOSTILE_CONTENT)
    inv.end()

    [span] = exported_spans(otel)
    assert span.name == f"chat model-{FFFD}"
    exported = attributes(span.attributes)
    assert exported == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": f"model-{FFFD}",
        "server.address": "h",
        "server.port": 443,
        "gen_ai.response.id": f"resp-{FFFD}",
        "gen_ai.response.model": f"served-{FFFD}",
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.response.finish_reasons": [f"stop{FFFD}"],
        "gen_ai.output.messages": c.to_json(CLEAN_CONTENT),
    }
    [record] = exported_logs(otel)
    assert attributes(record.attributes) == {
        **{k: v for k, v in exported.items() if k != "gen_ai.output.messages"},
        "gen_ai.output.messages": CLEAN_CONTENT,
    }
    [point] = exported_points(otel, "gen_ai.client.token.usage")
    assert (point.count, point.sum) == (1, 7)
    assert attributes(point.attributes)["gen_ai.token.type"] == "input"
    assert attributes(point.attributes)["gen_ai.response.model"] == f"served-{FFFD}"
    assert sdk_complaints(quiet_sdk) == []


def test_a_hostile_error_exports_cleanly(otel: Otel, quiet_sdk: Any) -> None:
    tracer = otel.tracer_provider.get_tracer("t")
    tracer.start_span("the app's own span").end()
    inv = invocation(otel)
    inv.report_error(f"server_error{LONE}", f"boom {LONE}")
    inv.end()
    spans = exported_spans(otel)
    assert [s.name for s in spans] == ["the app's own span", "chat m-1"]
    assert spans[1].status.message == f"boom {FFFD}"
    assert attributes(spans[1].attributes)["error.type"] == f"server_error{FFFD}"
    [point] = exported_points(otel, "gen_ai.client.operation.duration")
    assert attributes(point.attributes)["error.type"] == f"server_error{FFFD}"
    assert sdk_complaints(quiet_sdk) == []


def test_an_exception_message_with_a_lone_surrogate_exports_cleanly(otel: Otel, quiet_sdk: Any) -> None:
    inv = invocation(otel)
    inv.fail(ValueError(f"bad {LONE}"))
    [span] = exported_spans(otel)
    assert span.status.message == f"bad {FFFD}"
    assert attributes(span.attributes)["error.type"] == "ValueError"
    assert sdk_complaints(quiet_sdk) == []

"""``invoke_model`` / ``invoke_model_with_response_stream``: the model's own JSON bodies, read per family
(:mod:`.families`), without changing what the app sends or reads.

The request body is the app's ``body`` (bytes, bytearray or str; JSON). It is parsed once, for the span, when
it is one of those; a file-like body is left alone (reading it would consume what botocore still has to send),
and such a call gets its span without the body's attributes.

The response of ``invoke_model`` holds a botocore ``StreamingBody`` that the app reads itself. It stays the
very object the SDK made: the HTTP response under it (its ``_raw_stream``) is put behind a proxy that hands the
app exactly the bytes it reads and keeps a copy (up to :data:`MAX_BODY`). When the app has read it all, the copy
is parsed for the span, which then ends; also when the app closes the body unread, or drops it (a weakref
finaliser: the span ends as of the call's end, with what the headers told). Token usage comes from the
service's ``X-Amzn-Bedrock-*-Token-Count`` headers, available at once whatever the app reads.

The stream of ``invoke_model_with_response_stream`` is botocore's ``EventStream`` in ``result["body"]``, proxied
as Converse's is; each ``chunk`` event's ``bytes`` (the model's own JSON) is decoded for the family's reader, and
the last one's ``amazon-bedrock-invocationMetrics`` gives the usage.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from typing import Any

import wrapt
from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel._internal import swallowed
from llmtel.core.invocation import Invocation
from llmtel.core.streams import stream_proxy
from llmtel.providers.bedrock._common import BedrockApi, UsageNames, guardrail, usage
from llmtel.providers.bedrock.families import Chunks, Family, family_of

BODY = "llmtel.body"
"""The key of the parsed request body in the kwargs the adapter reads (not the SDK's: a copy)."""
MAX_BODY = 8 << 20
"""The largest request or response body parsed for the span (embeddings responses can be large)."""

_HEADER_USAGE = (
    ("x-amzn-bedrock-input-token-count", "input"),
    ("x-amzn-bedrock-output-token-count", "output"),
    ("x-amzn-bedrock-cache-read-input-token-count", "read"),
    ("x-amzn-bedrock-cache-write-input-token-count", "write"),
)
HEADER_USAGE: UsageNames = ("input", "output", "read", "write")
METRICS_USAGE: UsageNames = (
    "inputTokenCount",
    "outputTokenCount",
    "cacheReadInputTokenCount",
    "cacheWriteInputTokenCount",
)
_METRICS = "amazon-bedrock-invocationMetrics"


def _parse(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, (bytes, bytearray, str)) or len(raw) > MAX_BODY:
        return None
    try:
        found = json.loads(raw)
    except ValueError:  # not JSON (or not UTF-8): the service will say so
        return None
    return found if type(found) is dict else None


def _header_usage(result: Any) -> dict[str, AttributeValue]:
    """The usage the service reports in the response headers (strings: digits only, else left out)."""
    meta = result.get("ResponseMetadata") if type(result) is dict else None
    headers = meta.get("HTTPHeaders") if type(meta) is dict else None
    counts: dict[str, Any] = {}
    if type(headers) is dict:
        for header, name in _HEADER_USAGE:
            value = headers.get(header)
            if isinstance(value, str) and 0 < len(value) <= 19 and value.isascii() and value.isdigit():
                counts[name] = int(value)
    resp: dict[str, AttributeValue] = {}
    usage(counts, HEADER_USAGE, resp)
    return resp


class InvokeApi(BedrockApi):
    """``invoke_model`` (or its stream variant) of one model family and operation."""

    def __init__(self, family: Family, operation: str, streaming: bool) -> None:
        self.family = family
        self.operation = operation
        self.streaming = streaming

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        guardrail(kwargs.get("guardrailIdentifier"), attrs)
        body = kwargs.get(BODY)
        if body is not None:
            self.family.request(body, attrs)

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        body = kwargs.get(BODY)
        if body is not None and self.operation != sc.GenAiOperationNameValues.EMBEDDINGS:
            self.family.content(inv, body)

    def response(self, inv: Invocation, result: Any) -> None:
        """A complete response body, parsed (a dict), or None when there was none to read."""
        if type(result) is dict:
            self.family.response(inv, result)
            if sc.GEN_AI_USAGE_INPUT_TOKENS not in inv.response and self.family.usage_names:
                usage(result.get("usage"), self.family.usage_names, inv.response)

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> InvokeChunks:
        return InvokeChunks(self.family.chunks(inv.capture))

    def deliver(self, inv: Invocation, kwargs: Mapping[str, Any], result: Any) -> Any:
        body = result.get("body") if type(result) is dict else None
        if self.streaming:
            if body is None:
                inv.end()
                return result
            result["body"] = stream_proxy(body, inv, self.stream_handler(inv, kwargs, False))
            return result
        inv.response.update(_header_usage(result))
        raw = getattr(body, "_raw_stream", None)
        if body is None or raw is None:  # not the StreamingBody we know: its facts stay unread
            inv.end()
            return result
        body._raw_stream = _Tee(raw, _BodyReader(inv, self), getattr(body, "_content_length", None))
        return result


class InvokeChunks:
    """The stream's ``chunk`` events: decoded, then read by the family's :class:`~.families.Chunks`."""

    __slots__ = ("family", "metrics")

    def __init__(self, family: Chunks) -> None:
        self.family = family
        self.metrics: Any = None

    def on_chunk(self, inv: Invocation, event: Any) -> bool:
        part = event.get("chunk") if type(event) is dict else None
        data = part.get("bytes") if type(part) is dict else None
        if not isinstance(data, bytes):
            return False
        decoded = _parse(data)
        if decoded is not None:
            metrics = decoded.get(_METRICS)
            if metrics is not None:
                self.metrics = metrics
            self.family.on_chunk(inv, decoded)
        return False

    def on_end(self, inv: Invocation) -> None:
        self.family.on_end(inv)
        resp = inv.response
        counts: dict[str, AttributeValue] = dict(self.family.usage)
        usage(self.metrics, METRICS_USAGE, counts)  # the service's own counts win over the body's
        for key in (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS):
            if key in counts:
                resp[key] = counts[key]
        for key in (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS):
            if key in counts:
                resp[key] = counts[key]


# -- the response body ------------------------------------------------------------------------------------------


class _BodyReader:
    """The copy of what the app reads of one response body, and the end of the call's span."""

    __slots__ = ("api", "chunks", "finalizer", "inv", "size")

    def __init__(self, inv: Invocation, api: InvokeApi) -> None:
        self.inv, self.api = inv, api
        self.chunks: list[bytes] | None = []  # None: past MAX_BODY, no longer copied
        self.size = 0
        self.finalizer: Any = None

    def feed(self, data: Any) -> None:
        chunks = self.chunks
        if chunks is None or not data:
            return
        self.size += len(data)
        if self.size > MAX_BODY:
            self.chunks = None
        else:
            chunks.append(bytes(data))

    def done(self, complete: bool) -> None:
        inv = self.inv
        if inv.ended:
            return
        if self.finalizer is not None:
            self.finalizer.detach()
        if complete and self.chunks is not None:
            try:
                self.api.response(inv, _parse(b"".join(self.chunks)))
            except Exception:
                swallowed("invoke_model response body")
        self.chunks = None
        inv.end()

    def dropped(self) -> None:
        """The app dropped the body unread (the finaliser): end as an abandoned result, as OpenAI's raw ones."""
        if not self.inv.ended:
            self.chunks = None
            self.inv.abandon()


class _Tee(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """The HTTP response under the app's ``StreamingBody``: every read goes to the app unchanged, and to the
    reader. The body is complete at the read that returns nothing, reads it all (no size), or reaches the
    length the service announced."""

    def __init__(self, raw: Any, reader: _BodyReader, length: Any) -> None:
        super().__init__(raw)
        self._self_reader = reader
        self._self_length = int(length) if isinstance(length, (int, str)) and str(length).isdigit() else None
        reader.finalizer = weakref.finalize(self, reader.dropped)

    def _self_feed(self, data: Any, whole: bool) -> None:
        try:
            reader = self._self_reader
            reader.feed(data)
            length = self._self_length
            if whole or not data or (length is not None and reader.size >= length):
                reader.done(True)
        except Exception:
            swallowed("reading an invoke_model body")

    def read(self, amt: Any = None, *args: Any, **kwargs: Any) -> Any:
        data = self.__wrapped__.read(amt, *args, **kwargs)
        self._self_feed(data, amt is None)
        return data

    def readinto(self, b: Any) -> Any:
        count = self.__wrapped__.readinto(b)
        self._self_feed(memoryview(b)[:count] if isinstance(count, int) else b"", False)
        return count

    def readlines(self, *args: Any, **kwargs: Any) -> Any:
        lines = self.__wrapped__.readlines(*args, **kwargs)
        self._self_feed(b"".join(lines), not args and not kwargs)
        return lines

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            try:
                self._self_reader.done(False)
            except Exception:
                swallowed("closing an invoke_model body")


# -- routing ----------------------------------------------------------------------------------------------------

_apis: dict[tuple[str, str, bool], InvokeApi] = {}


def invoke_route(streaming: bool, params: dict[str, Any]) -> tuple[InvokeApi, dict[str, Any]]:
    """The router's answer for an InvokeModel(WithResponseStream) call: the adapter of the body's family and
    operation, and the kwargs it reads (the app's, plus the parsed body; the SDK gets the app's own dict)."""
    body = _parse(params.get("body"))
    family = family_of(params.get("modelId"), body)
    operation = family.operation(body) if body is not None else family.operation({})
    key = (family.name, operation, streaming)
    api = _apis.get(key)
    if api is None:
        api = _apis[key] = InvokeApi(family, operation, streaming)
    return api, {**params, BODY: body}

"""Content in the conventions' message/part schema: part builders, size limit, redaction, serialisation.

Adapters build plain lists/dicts shaped like ``gen_ai.input.messages`` etc. (see the semconv JSON schemas) with
the helpers below, and only when content capture is on. The core then applies the redaction hook and the size
limit, and serialises: compact JSON strings on spans, structured values on the details event.
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
import weakref
from collections.abc import Mapping
from typing import Any

from llmtel.config import Config

Part = dict[str, Any]
Message = dict[str, Any]

_TRUNCATED = "…[truncated {} chars]"


def text(content: Any) -> Part:
    return {"type": "text", "content": content}


def reasoning(content: Any) -> Part:
    return {"type": "reasoning", "content": content}


def tool_call(call_id: Any, name: Any, arguments: Any) -> Part:
    part: Part = {"type": "tool_call", "name": name}
    if call_id is not None:
        part["id"] = call_id
    if arguments is not None:
        part["arguments"] = json_or_text(arguments)
    return part


def tool_call_response(call_id: Any, response: Any) -> Part:
    part: Part = {"type": "tool_call_response", "response": response}
    if call_id is not None:
        part["id"] = call_id
    return part


def media(modality: str, url: str, mime_type: str | None = None) -> Part:
    """A ``uri`` part, or a ``blob`` part for ``data:`` URLs (the conventions keep data URLs out of ``uri``)."""
    if url.startswith("data:"):
        header, _, payload = url[5:].partition(",")
        mime, _, encoding = header.partition(";")
        part: Part = {"type": "blob", "modality": modality, "content": payload}
        if mime or mime_type:
            part["mime_type"] = mime or mime_type
        if encoding and encoding != "base64":
            part["encoding"] = encoding
        return part
    part = {"type": "uri", "modality": modality, "uri": url}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def blob(modality: str, data: Any, mime_type: str | None = None) -> Part:
    part: Part = {"type": "blob", "modality": modality, "content": data}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def file(modality: str, file_id: Any, mime_type: str | None = None) -> Part:
    part: Part = {"type": "file", "modality": modality, "file_id": file_id}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def message(role: Any, parts: list[Part], name: Any = None) -> Message:
    msg: Message = {"role": role, "parts": parts}
    if name is not None:
        msg["name"] = name
    return msg


def json_or_text(value: Any) -> Any:
    """Tool arguments arrive as JSON text; the conventions prefer the object. Keep the text if it is not JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_unset=True)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


# Part fields that name or identify things rather than carry content: never truncated.
_STRUCTURAL_KEYS = frozenset({"type", "role", "name", "id", "modality", "mime_type", "file_id", "finish_reason"})


def _limit(value: Any, max_len: int) -> Any:
    """Truncate every content string longer than ``max_len`` characters; the structure stays valid JSON."""
    if isinstance(value, str):
        if len(value) > max_len:
            return value[:max_len] + _TRUNCATED.format(len(value) - max_len)
        return value
    if isinstance(value, dict):
        return {k: v if k in _STRUCTURAL_KEYS and isinstance(v, str) else _limit(v, max_len) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_limit(v, max_len) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _limit(_json_default(value), max_len)


_log = logging.getLogger("llmtel")
# The configurations whose redactor has failed at least once, by id (weak: a config read again by a later
# instrument() is a new object and warns again; a dead one's id may be reused, so it must not linger).
_redactor_warned: weakref.WeakValueDictionary[int, Config] = weakref.WeakValueDictionary()


def _redactor_failed(config: Config, name: str, exc: Exception) -> None:
    """A hook that raises is a bug its owner must hear about, once: after that it would flood the log.

    Nothing here logs the exception's message, at any level: it may quote the very content it was given, and
    logs are often exported too. The class, the attribute and (at debug level) where it raised are enough.
    """
    hook = config.redactor
    hook_name = f"{getattr(hook, '__module__', '?')}:{getattr(hook, '__qualname__', type(hook).__qualname__)}"
    if _redactor_warned.get(id(config)) is config:
        _log.debug("llmtel: the content redactor %s raised %s on %s; dropped", hook_name, type(exc).__name__, name)
        return
    _redactor_warned[id(config)] = config
    _log.warning(
        "llmtel: the content redactor %s raised %s on %s; that value was dropped, not recorded. Every value it "
        "fails on is dropped; further failures are logged at debug level only",
        hook_name,
        type(exc).__name__,
        name,
    )
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug("llmtel: where the content redactor raised:\n%s", "".join(traceback.format_tb(exc.__traceback__)))


def _redact(config: Config, name: str, value: Any) -> Any:
    """The redaction hook's result; ``None`` when the value must not be recorded (also when the hook fails)."""
    try:
        return config.redactor(name, value) if config.redactor is not None else value
    except Exception as exc:
        _redactor_failed(config, name, exc)
        return None  # a failing redactor must not let unredacted content out


def prepare(config: Config, name: str, value: Any) -> Any:
    """Redact, then limit one content value. Returns ``None`` when the value must not be recorded."""
    value = _redact(config, name, value)
    if value is not None and config.max_content_length > 0:
        value = _limit(value, config.max_content_length)
    return value


def prepare_with_json(config: Config, name: str, value: Any) -> tuple[Any, str] | None:
    """:func:`prepare` and the value's JSON text for the span, in one pass where that suffices.

    The text is needed anyway. When it encodes without any conversion and is no longer than the size limit, no
    string inside can be over the limit either, so the value needs no copy with cut strings: the walk of
    :func:`_limit` is skipped (for a 2 KB prompt about as much work as the encoding; callgrind, bench/).
    """
    value = _redact(config, name, value)
    if value is None:
        return None
    max_len = config.max_content_length
    try:
        text = _PLAIN.encode(value)
    except (_NotPlain, TypeError, ValueError):
        pass  # something to convert (bytes, a model, a non-string key …): the careful way below
    else:
        if max_len <= 0 or len(text) <= max_len:
            return value, text
    if max_len > 0:
        value = _limit(value, max_len)
    return value, to_json(value)


class _NotPlain(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _NotPlain


# Built once: json.dumps with options builds an encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)
_PLAIN = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_refuse)


def to_json(value: Any) -> str:
    return _ENCODER.encode(value)

"""Content in the conventions' message/part schema: part builders, size limit, redaction, serialisation.

Adapters build plain lists/dicts shaped like ``gen_ai.input.messages`` etc. (see the semconv JSON schemas) with
the helpers below, and only when content capture is on. The core then applies the redaction hook and the size
limit, and serialises: compact JSON strings on spans, structured values on the details event.

Content holds what the app and the server sent, so it is made fit for export on the way (:mod:`llmtel.core.values`):
strings valid UTF-8 (lone surrogates become U+FFFD), dict keys strings, integers within int64, no NaN or infinity
(which would make the span's JSON text invalid JSON).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import traceback
import weakref
from collections.abc import Mapping
from typing import Any

from llmtel.config import Config
from llmtel.core.values import INT64_MAX, INT64_MIN
from llmtel.core.values import text as valid_text

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


def _clean(value: Any, max_len: int) -> Any:
    """A copy of ``value`` fit for export: every content string longer than ``max_len`` characters cut (when
    ``max_len`` > 0; the structure stays valid JSON), strings valid UTF-8, dict keys strings, integers within
    int64, floats finite, anything else converted (:func:`_json_default`)."""
    if isinstance(value, str):
        if max_len > 0 and len(value) > max_len:
            return valid_text(value[:max_len]) + _TRUNCATED.format(len(value) - max_len)
        return value if value.isascii() else valid_text(value)
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for k, v in value.items():
            key = k if type(k) is str and k.isascii() else _key(k)
            if key is None:
                continue
            if k in _STRUCTURAL_KEYS and isinstance(v, str):
                cleaned[key] = v if v.isascii() else valid_text(v)
            else:
                cleaned[key] = _clean(v, max_len)
        return cleaned
    if isinstance(value, (list, tuple)):
        return [_clean(v, max_len) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else _big(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    return _clean(_json_default(value), max_len)


def _key(key: Any) -> str | None:
    """A dict key as a string: the text JSON gives a number, bool or null key (so that the span's JSON and the
    event agree on it), ``str()`` of anything else; None (the entry is dropped) when there is no such text."""
    if isinstance(key, str):
        return valid_text(key)
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    try:
        if isinstance(key, int):
            return int.__repr__(key)
        if isinstance(key, float):
            return float.__repr__(key) if math.isfinite(key) else _non_finite(key)
        return valid_text(str(key))
    except Exception:  # more digits than Python converts, or a __str__ that raises
        return None


def _big(value: int) -> str | None:
    """An integer beyond int64 (OTLP's integer) in content: its digits as text, so nothing is made up; None when
    it has more digits than Python converts (``sys.get_int_max_str_digits``)."""
    try:
        return str(value)
    except ValueError:
        return None


def _non_finite(value: float) -> str:
    """NaN and the infinities have no JSON form (``json`` writes ``NaN``, which JSON parsers reject, and the
    whole attribute with it): they are kept as the words JavaScript uses."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _fits(value: Any) -> bool:
    """Whether a value the plain encoder took as it is (dicts, lists, tuples, strings, numbers, bools, None) is
    fit for the details event as it is: every dict key a string and every integer within int64. JSON writes
    number, bool and null keys as text and has no integer range, so its success does not tell these. Strings
    need no look: the JSON text encoded, so none holds a lone surrogate."""
    # Plain loops rather than all(...): a generator costs a resumption per item, and this runs on every call
    # that puts content on both the span and the event.
    if isinstance(value, dict):
        for k, v in value.items():  # noqa: SIM110
            if type(k) is not str or (type(v) is not str and not _fits(v)):
                return False
        return True
    if isinstance(value, (list, tuple)):
        for v in value:  # noqa: SIM110
            if type(v) is not str and not _fits(v):
                return False
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return INT64_MIN <= value <= INT64_MAX
    return True


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
    """Redact, then limit and clean one content value (:func:`_clean`). Returns ``None`` when the value must not
    be recorded."""
    value = _redact(config, name, value)
    if value is not None:
        value = _clean(value, config.max_content_length)
    return value


def prepare_with_json(config: Config, name: str, value: Any, for_event: bool = True) -> tuple[Any, str] | None:
    """:func:`prepare` and the value's JSON text for the span, in one pass where that suffices.

    The text is needed anyway, and it is the proof that the value needs no copy: when it encodes without any
    conversion (only JSON's own types, finite numbers), is no longer than the size limit (so no string inside is
    over it) and encodes to UTF-8 (so no string or key inside holds a lone surrogate; an ASCII text, the common
    case, says so in O(1)), the walk of :func:`_clean` is skipped (for a 2 KB prompt about as much work as the
    encoding; callgrind, bench/). ``for_event``: the value goes on the details event too, which also needs its
    dict keys to be strings and its integers within int64, things the text cannot tell (:func:`_fits`).
    """
    value = _redact(config, name, value)
    if value is None:
        return None
    max_len = config.max_content_length
    try:
        text = _PLAIN.encode(value)
    except (_NotPlain, TypeError, ValueError):
        pass  # something to convert (bytes, a model, NaN, a tuple key …): the careful way below
    else:
        if (
            (max_len <= 0 or len(text) <= max_len)
            and (text.isascii() or _encodes(text))
            and (not for_event or _fits(value))
        ):
            return value, text
    value = _clean(value, max_len)
    return value, to_json(value)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _NotPlain(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _NotPlain


# Built once: json.dumps with options builds an encoder per call. No NaN: it is not JSON (_non_finite).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default, allow_nan=False)
_PLAIN = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_refuse, allow_nan=False)


def to_json(value: Any) -> str:
    return _ENCODER.encode(value)

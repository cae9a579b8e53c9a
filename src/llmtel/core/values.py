"""Values made fit for export: what a server (or an app) sends is untrusted, and OTLP rejects what Python holds.

What the real export path does with values Python accepts without complaint (opentelemetry-sdk and
opentelemetry-exporter-otlp-proto-common):

* an ``int`` outside int64: protobuf raises ``ValueError: Value out of range``; the encoder logs an error with a
  traceback and drops that attribute, on every export;
* a ``str`` holding a lone surrogate (``"\\ud800"``: JSON's ``\\ud800`` escape decodes to one): UTF-8 encoding
  raises ``UnicodeEncodeError``, with the same outcome for an attribute; in a span's name or status message it
  fails the whole export batch, the app's other spans included;
* a negative histogram value: the metrics SDK warns and drops the point;
* a dict key that is not a ``str`` (in a structured event value): the SDK warns and ``str()``-s it, every call.

The functions here make such values fit, or drop them. They are called on every call, so the common case (ASCII
strings, small counts) is answered first, in O(1).
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any, TypeVar

_Attrs = TypeVar("_Attrs", bound=MutableMapping[str, Any])

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def token_count(value: Any) -> int | None:
    """A token count fit for an attribute and a metric point: a non-negative ``int`` within int64, else None.

    Not a bool, not a float, not a string of digits. Out-of-range counts are dropped, not clamped: a made-up
    count is worse than none (usage dashboards and cost reports sum them).
    """
    if type(value) is int and 0 <= value <= INT64_MAX:
        return value
    return None


def int64(value: Any) -> int | None:
    """An ``int`` (not a bool) that fits OTLP's int64, else None. Small ints (single-digit, below 2**30 in
    magnitude: the ones CPython compares fastest) are answered first: request parameters nearly always are."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and ((value >= -0x3FFF_FFFF and value <= 0x3FFF_FFFF) or INT64_MIN <= value <= INT64_MAX)
    ):
        return value
    return None


def text(value: str) -> str:
    """``value`` as text that encodes to UTF-8: any lone surrogate replaced by U+FFFD.

    Replaced rather than dropped: a response id or model name with one broken character still tells which call
    and which model it was (the rest of it matches the provider's logs, and it still groups on dashboards), and
    U+FFFD marks the damage where anyone looks. ASCII (ids, model names, finish reasons nearly always are) is
    answered in O(1): ``str`` keeps an is-ASCII flag. Other text is checked by encoding it once.
    """
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return repair(value)
    return value


def repair(value: str) -> str:
    """Lone surrogates → U+FFFD. Through UTF-16 with ``surrogatepass``: a pair held as two code points becomes
    the character it stands for, and only unpaired ones are replaced."""
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def texts(values: Sequence[Any]) -> Sequence[Any]:
    """A list of attribute strings (finish reasons …) with every string made fit by :func:`text`; the same object
    when nothing needed a change."""
    for value in values:
        if type(value) is str and not value.isascii() and text(value) is not value:
            return [text(v) if isinstance(v, str) else v for v in values]
    return values


def fit_texts(attrs: _Attrs) -> _Attrs:
    """``attrs`` with every string value made fit by :func:`text` (in place); returned for convenience."""
    for key, value in attrs.items():
        if type(value) is str and not value.isascii():
            attrs[key] = text(value)
    return attrs

"""The price table: list prices in USD per 1M tokens, per (provider, requested model), and the cost of one call.

One table prices both sides: the completion records' ``cost_usd`` (:meth:`PriceTable.cost_usd`) and the Prometheus
price series (``scripts/gen_prices.py`` writes ``deploy/prometheus/rules/genai-prices.rules.yml`` from it), so a
record and a dashboard price the same tokens alike. (Prometheus has no cache token type: there, cached input is
priced as input, an upper bound for cache reads.)

The bundled table is ``prices.json`` beside this module: dated, with the source of each provider's numbers. It is
never fetched from anywhere. ``LLMTEL_PRICES=path`` names a file of the same shape that **extends** it: each model
id the file lists replaces the bundled entry of the same (provider, id), every other bundled price stays; with
``"replace": true`` at its top the file is the whole table instead. A file that cannot be read or is not valid
(unknown keys, a negative, huge or non-number price) is ignored as a whole, with one warning on the ``llmtel``
logger, and the bundled table is used: a price file never raises into the host application.

Matching is exact on (``gen_ai.provider.name``, ``gen_ai.request.model``), the labels the Prometheus cost rule
joins on. Aliases, dated snapshots and Bedrock inference-profile ids are listed in the data as ids of their own,
never guessed from a name.

Prices are held as integers in millionths of a USD per 1M tokens (10^-12 USD per token), so a cost is an exact
integer sum and one correctly rounded division: the same tokens always give the same float, the one nearest the
exact decimal cost.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

ENV = "LLMTEL_PRICES"
KINDS: tuple[str, ...] = ("input", "output", "cache_read", "cache_write")
"""The price kinds of a model entry, USD per 1M tokens; ``input`` is required, the others only where billed."""

SCALE = 10**6
"""Prices are stored as integer multiples of 1/SCALE USD per 1M tokens: six decimal places."""

MAX_PRICE = Decimal(100_000)
"""USD per 1M tokens. The dearest list price is in the hundreds; beyond this a number is a mistake (a price in
another unit, per 1B tokens or in cents, or a typo), not a price."""

BUNDLED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prices.json")
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NAME = 256
_DIVISOR = SCALE * 10**6  # tokens * (1/SCALE USD per 1M tokens) -> USD

_log = logging.getLogger("llmtel")

_TOP_KEYS = frozenset({"about", "checked", "unit", "replace", "providers"})
_PROVIDER_KEYS = frozenset({"source", "checked", "note", "models"})
_MODEL_KEYS = frozenset({"ids", "note", *KINDS})


class PriceFileError(ValueError):
    """A price file that is not valid; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Price:
    """One model's prices, each in millionths of a USD per 1M tokens; ``None`` where the provider bills no such
    tokens (an embedding model's output) or has no such price (then cache tokens are billed at the input price)."""

    input: int
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None

    def per_million(self, kind: str) -> Decimal | None:
        """The price of ``kind`` in USD per 1M tokens, exactly as the table gives it."""
        value: int | None = getattr(self, kind)
        return None if value is None else Decimal(value) / SCALE


@dataclass(frozen=True)
class Provider:
    """Where one provider's prices come from, and when they were checked against it."""

    source: str | None
    checked: str | None
    note: str | None = None


class PriceTable:
    """Prices by (provider, model id). Immutable once built; look-ups are one dict access."""

    __slots__ = ("_prices", "checked", "providers")

    def __init__(
        self,
        prices: Mapping[tuple[str, str], Price],
        providers: Mapping[str, Provider] | None = None,
        checked: str | None = None,
    ) -> None:
        self._prices: dict[tuple[str, str], Price] = dict(prices)
        self.providers: dict[str, Provider] = dict(providers or {})
        self.checked = checked

    def __len__(self) -> int:
        return len(self._prices)

    def __iter__(self) -> Iterator[tuple[tuple[str, str], Price]]:
        """(provider, model id) and price, sorted by provider then id (deterministic output for the generator)."""
        return iter(sorted(self._prices.items()))

    def get(self, provider: str | None, request_model: str | None) -> Price | None:
        return self._prices.get((provider, request_model))  # type: ignore[arg-type]

    def cost_usd(
        self,
        provider: str | None,
        request_model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
    ) -> float | None:
        """The estimated cost of one call in USD at list prices, or ``None`` when it cannot be known.

        ``input_tokens`` includes the cache read and cache write tokens (the conventions' ``input_tokens``), so the
        uncached part is ``input - cache_read - cache_write`` (never below 0), and each part is billed at its own
        price; a part whose price the table does not give is billed at the input price. ``output_tokens`` includes
        the reasoning tokens for every provider llmtel instruments (the conventions' ``output_tokens``; Gemini's
        thoughts are added in by the provider module), so reasoning is never billed twice.

        ``None`` (not 0) when the model has no price, or when a count the model bills is unknown: ``input_tokens``
        always, ``output_tokens`` unless the model bills no output (embeddings). A cost from half the counts would
        look like a price and be wrong. Unknown cache counts are no cache use: providers report them only when a
        cache was used. A count that is not a non-negative int is unknown.
        """
        price = self._prices.get((provider, request_model))  # type: ignore[arg-type]
        if price is None or type(input_tokens) is not int or input_tokens < 0:
            return None
        read = 0 if cache_read_tokens is None else cache_read_tokens
        write = 0 if cache_write_tokens is None else cache_write_tokens
        if type(read) is not int or type(write) is not int or read < 0 or write < 0:
            return None
        uncached = input_tokens - read - write
        total = price.input * uncached if uncached > 0 else 0
        total += read * (price.input if price.cache_read is None else price.cache_read)
        total += write * (price.input if price.cache_write is None else price.cache_write)
        if output_tokens is None:
            if price.output is not None:
                return None
        elif type(output_tokens) is not int or output_tokens < 0:
            return None
        elif output_tokens:
            if price.output is None:
                return None  # output the table has no price for: the cost is not known
            total += output_tokens * price.output
        return total / _DIVISOR  # int / int: correctly rounded


# -- loading ---------------------------------------------------------------------------------------------------


def load(path: str | None = None) -> PriceTable:
    """The price table: the bundled one, extended (or replaced) by the file at ``path`` or, when ``path`` is None,
    at ``$LLMTEL_PRICES``. Never raises: a bad file is reported as a warning and the bundled table is used.

    The file is read on every call: call this once (per store or process) and keep the table."""
    bundled = bundled_table()
    if path is None:
        path = os.environ.get(ENV) or None
    if not path:
        return bundled
    try:
        replace, table = read(path)
    except (OSError, PriceFileError, UnicodeDecodeError) as exc:
        _log.warning("llmtel: ignoring the price file %s=%s (%s); using the bundled price table", ENV, path, exc)
        return bundled
    return table if replace else merge(bundled, table)


@lru_cache(maxsize=1)
def bundled_table() -> PriceTable:
    """The table shipped with the package (parsed once per process)."""
    try:
        # Beside this module, read as a plain file: importlib.resources would cost more to import than the read.
        _, table = read(BUNDLED_FILE)
    except (OSError, PriceFileError, UnicodeDecodeError) as exc:  # a broken install: no prices, not a crash
        _log.warning("llmtel: the bundled price table could not be read (%s); no call has a cost", exc)
        return PriceTable({})
    return table


def merge(base: PriceTable, extra: PriceTable) -> PriceTable:
    """``base`` with every (provider, id) of ``extra`` put in its place; provider sources of ``extra`` win."""
    prices = dict(base._prices)
    prices.update(extra._prices)
    providers = dict(base.providers)
    providers.update(extra.providers)
    return PriceTable(prices, providers, extra.checked or base.checked)


def read(path: str) -> tuple[bool, PriceTable]:
    """The price file at ``path``, validated: ``(replace, table)``. Raises :class:`PriceFileError` (or
    ``OSError``, ``UnicodeDecodeError``) for a file that cannot be used; :func:`load` turns that into a warning."""
    with open(path, "rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise PriceFileError(f"larger than {MAX_FILE_BYTES} bytes")
    return parse(_decode(raw))


def _decode(raw: bytes) -> Any:
    try:
        # Decimal, not float: a price is checked and stored exactly as written.
        return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise PriceFileError(f"not JSON: {exc}") from None
    except RecursionError:
        raise PriceFileError("nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise PriceFileError(f"{name} is not a price")


def parse(data: Any) -> tuple[bool, PriceTable]:
    """Validate a price document (the shape of ``prices.json``) and build its table; ``(replace, table)``.

    Everything is checked, and the first problem rejects the whole document (a half-applied price file would
    price some calls by the file and some by the bundle without saying so)."""
    top = _object(data, "the file", _TOP_KEYS)
    replace = top.get("replace", False)
    if type(replace) is not bool:
        raise PriceFileError("replace: not true or false")
    checked = _optional_text(top, "checked", "the file")
    providers_doc = _object(top.get("providers"), "providers", None)
    prices: dict[tuple[str, str], Price] = {}
    providers: dict[str, Provider] = {}
    for provider, doc in providers_doc.items():
        where = f"providers.{provider}"
        _name(provider, where)
        entry = _object(doc, where, _PROVIDER_KEYS)
        providers[provider] = Provider(
            source=_optional_text(entry, "source", where),
            checked=_optional_text(entry, "checked", where),
            note=_optional_text(entry, "note", where),
        )
        models = entry.get("models")
        if not isinstance(models, list):
            raise PriceFileError(f"{where}.models: not a list")
        for index, model in enumerate(models):
            at = f"{where}.models[{index}]"
            fields = _object(model, at, _MODEL_KEYS)
            _optional_text(fields, "note", at)
            price = _price(fields, at)
            ids = fields.get("ids")
            if not isinstance(ids, list) or not ids:
                raise PriceFileError(f"{at}.ids: not a non-empty list of model ids")
            for model_id in ids:
                _name(model_id, f"{at}.ids")
                if (provider, model_id) in prices:
                    raise PriceFileError(f"{at}.ids: {model_id!r} is priced twice under {provider}")
                prices[(provider, model_id)] = price
    return replace, PriceTable(prices, providers, checked)


def _object(value: Any, where: str, keys: frozenset[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PriceFileError(f"{where}: not an object")
    if keys is not None and not value.keys() <= keys:
        raise PriceFileError(f"{where}: unknown key(s) {', '.join(sorted(value.keys() - keys))}")
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME or not value.isprintable():
        raise PriceFileError(f"{where}: {value!r} is not a name (1-{MAX_NAME} printable characters)")
    return value


def _optional_text(doc: dict[str, Any], key: str, where: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise PriceFileError(f"{where}.{key}: not a string")
    return value


def _price(fields: dict[str, Any], where: str) -> Price:
    scaled: dict[str, int | None] = {}
    for kind in KINDS:
        value = fields.get(kind)
        if value is None:
            if kind == "input":
                raise PriceFileError(f"{where}.input: missing (every model needs an input price)")
            scaled[kind] = None
            continue
        # bool is an int to Python, not a price to anyone.
        if type(value) is bool or not isinstance(value, (int, Decimal)):
            raise PriceFileError(f"{where}.{kind}: {value!r} is not a number")
        # The range first: an absurd exponent (1e999999) is rejected before any arithmetic on it.
        if not 0 <= value <= MAX_PRICE:
            raise PriceFileError(f"{where}.{kind}: {value} is not between 0 and {MAX_PRICE} USD per 1M tokens")
        try:
            exact = Decimal(value) * SCALE
            integral = exact == exact.to_integral_value()
        except InvalidOperation:
            raise PriceFileError(f"{where}.{kind}: {value} is not a number") from None
        if not integral:
            raise PriceFileError(f"{where}.{kind}: {value} has more than 6 decimal places")
        scaled[kind] = int(exact)
    return Price(
        input=scaled["input"],  # type: ignore[arg-type]  # checked above: never None
        output=scaled["output"],
        cache_read=scaled["cache_read"],
        cache_write=scaled["cache_write"],
    )

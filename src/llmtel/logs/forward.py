"""``llmtel logs serve --forward URL``: pass every accepted OTLP request on to a real collector, unchanged.

One endpoint then serves both: the app exports once, to ``llmtel logs serve``, which keeps its records and hands
the same request (same path, body bytes, ``Content-Type`` and ``Content-Encoding``: nothing re-encoded) to the
collector. The sender is answered before the forward is attempted: requests wait in a bounded queue (by count and
by bytes) for one background thread, so a slow or absent collector never blocks ingestion and never grows memory
without bound. What cannot be queued or delivered is dropped and counted; a failing collector gives one warning
per outage (when the first request is lost), not one per request, and one line when it answers again.

Retries follow the OTLP/HTTP rules: 429, 502, 503 and 504, and a connection that could not be made or was cut,
are retried a few times with exponential backoff (a ``Retry-After`` in seconds is honoured, up to the cap); any
other answer, or a timeout (the collector may have the request already), is final. Redirects are not followed
and no proxy is used: headers configured for the collector (``--forward-header``, ``LLMTEL_FORWARD_HEADERS``)
go to that host only. Header values are never logged, only their names.

A forwarded request carries ``X-Llmtel-Forwarded-By``: the ids of the receivers it went through. A receiver
does not forward a request that has its own id, so ``--forward`` pointed (directly or around a chain) at the
receiver itself ends after one lap instead of looping at full speed; a chain of receivers keeps working.
"""

from __future__ import annotations

import http.client
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_logger = logging.getLogger(__name__)

HEADERS_ENV = "LLMTEL_FORWARD_HEADERS"
"""``key=value,key2=value2`` (values URL-encoded), the format of ``OTEL_EXPORTER_OTLP_HEADERS``: a secret in the
environment is not shown by ``ps`` as one on the command line would be."""

QUEUE_ITEMS = 512
QUEUE_BYTES = 64 * 1024 * 1024
"""What may wait for the collector: beyond either bound a new request is dropped (the oldest are sent first)."""
RETRYABLE = frozenset({429, 502, 503, 504})
RETRIES = 3
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
TIMEOUT_S = 10.0
FLUSH_S = 5.0
"""How long a graceful shutdown waits for the queue to drain."""

_HEADER_NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
VIA_HEADER = "X-Llmtel-Forwarded-By"
_ID = re.compile("[0-9a-f]{16}")
_OWN_HEADERS = frozenset(
    {"content-type", "content-encoding", "content-length", "host", "connection", VIA_HEADER.lower()}
)


def parse_headers(pairs: Iterable[str], separator: str | None = None) -> dict[str, str]:
    """``K=V`` words (or one ``K=V,K2=V2`` string split on ``separator``) as headers, checked: a name is an HTTP
    token, a value has no line break (it would smuggle another header), and the headers this module sets itself
    cannot be replaced. Raises ``ValueError`` naming the bad header, never quoting its value."""
    words: list[str] = []
    for pair in pairs:
        words += pair.split(separator) if separator else [pair]
    headers: dict[str, str] = {}
    for word in words:
        if not word.strip():
            continue
        name, equals, value = word.partition("=")
        name = unquote(name).strip() if separator else name.strip()
        value = unquote(value).strip() if separator else value.strip()
        if not equals or not name or not set(name) <= _HEADER_NAME_CHARS:
            raise ValueError(f"not a header K=V: {name[:40]!r}" if name else "not a header K=V")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name}: a line break in its value")
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"header {name}: set by the receiver itself")
        headers[name] = value
    return headers


def configured(url: str | None, header_words: Iterable[str], environ: Mapping[str, str]) -> Forwarder | None:
    """The forwarder ``--forward URL`` asks for (None without one): headers from :data:`HEADERS_ENV`, then the
    ``--forward-header`` words, which win. Raises ``ValueError`` for a bad URL or header."""
    if not url:
        return None
    headers = parse_headers([environ.get(HEADERS_ENV, "")], separator=",")
    headers.update(parse_headers(header_words))
    return Forwarder(url, headers)


@dataclass(frozen=True)
class _Request:
    path: str
    body: bytes
    content_type: str
    content_encoding: str
    via: str


@dataclass
class Stats:
    """Counts since start: requests ``forwarded`` (the collector answered 2xx), ``dropped`` (queue full, a final
    error answer, retries exhausted, or left over at shutdown) and ``retried`` (attempts beyond the first)."""

    forwarded: int = 0
    dropped: int = 0
    retried: int = 0


class Forwarder:
    """A queue and one thread that delivers it to ``url`` + the request's path (``/v1/traces`` …)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        retries: int = RETRIES,
        backoff_s: float = BACKOFF_S,
        timeout_s: float = TIMEOUT_S,
        max_items: int = QUEUE_ITEMS,
        max_bytes: int = QUEUE_BYTES,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"--forward: an http(s)://host[:port][/prefix] URL, not {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"--forward: bad port in {url!r}") from None
        if parts.username or parts.password:
            raise ValueError("--forward: no credentials in the URL (use --forward-header or " + HEADERS_ENV + ")")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, port
        self._prefix = parts.path.rstrip("/")
        self._headers = parse_headers(f"{k}={v}" for k, v in (headers or {}).items())
        self._retries, self._backoff_s, self._timeout_s = retries, backoff_s, timeout_s
        self._max_items, self._max_bytes = max_items, max_bytes
        self.stats = Stats()
        self.id = secrets.token_hex(8)
        self._queue: deque[_Request] = deque()
        self._queued_bytes = 0
        self._busy = False
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = float("inf")
        self._down = False
        self._outage_drops = 0
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="llmtel-forward", daemon=True)
        self._thread.start()

    @property
    def header_names(self) -> list[str]:
        return sorted(self._headers)

    # -- the request threads' side: never blocks -----------------------------------------------------------

    def submit(self, path: str, body: bytes, content_type: str, content_encoding: str, via: str = "") -> bool:
        """Queue one request for the collector; False (and counted as dropped) when the queue is full. ``via``:
        the request's own :data:`VIA_HEADER`; one that has already been through this receiver is not sent again
        (False, not counted: it was forwarded once)."""
        # the header is untrusted: only ids of our own shape are kept and passed on, and at most 16 of them
        ids = [part for part in (p.strip() for p in via.split(",")[-16:]) if _ID.fullmatch(part)]
        if self.id in ids:
            _logger.debug("llmtel logs serve: a request back from %s not forwarded again (a loop)", self.url)
            return False
        via = ",".join([*ids, self.id])
        with self._cond:
            if self._closing:
                self._lost(1, "the receiver is shutting down")
                return False
            if len(self._queue) >= self._max_items or self._queued_bytes + len(body) > self._max_bytes:
                self._lost(1, "its queue is full")
                return False
            self._queue.append(_Request(path, body, content_type, content_encoding, via))
            self._queued_bytes += len(body)
            self._cond.notify()
        return True

    def close(self, timeout_s: float = FLUSH_S) -> Stats:
        """Deliver what is queued, for at most ``timeout_s``; what is left is dropped. Returns the counts."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout_s
            self._cond.notify_all()
        self._thread.join(timeout_s + self._timeout_s + 1)
        with self._cond:
            if self._queue:
                self._lost(len(self._queue), "shutdown came first")
                self._queue.clear()
                self._queued_bytes = 0
        return self.stats

    def drained(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or being sent (tests, and a caller that wants to know)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout_s)

    # -- the forwarding thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closing)
                if not self._queue or time.monotonic() >= self._deadline:
                    self._busy = False
                    self._cond.notify_all()
                    break
                request = self._queue.popleft()
                self._queued_bytes -= len(request.body)
                self._busy = True
            try:
                delivered = self._deliver(request)
            except Exception as exc:  # never let the thread die: the queue would fill and stay full
                _logger.debug("llmtel logs serve: forwarding failed unexpectedly", exc_info=exc)
                delivered = False
            with self._cond:
                if delivered:
                    self.stats.forwarded += 1
                    if self._down:
                        self._down = False
                        _logger.warning(
                            "llmtel logs serve: forwarding to %s again; %d request(s) were dropped",
                            self.url,
                            self._outage_drops,
                        )
                else:
                    self._lost(1, self._why)
                self._busy = bool(self._queue)
                self._cond.notify_all()
        self._disconnect()

    _why = "it did not accept the request"

    def _deliver(self, request: _Request) -> bool:
        """One request, with retries; True once the collector answered 2xx."""
        self._why = "it did not accept the request"
        for attempt in range(self._retries + 1):
            if attempt:
                self.stats.retried += 1
            retry_after = self._attempt(request)
            if retry_after is None:
                return True
            if retry_after < 0 or attempt == self._retries:
                return False
            pause = min(max(retry_after, self._backoff_s * 2**attempt), BACKOFF_MAX_S)
            if not self._pause(pause):
                self._why = "shutdown came first"
                return False
        return False

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry; False when a shutdown's flush deadline would pass first (it wakes the wait)."""
        retry_at = time.monotonic() + seconds
        with self._cond:
            return not self._cond.wait_for(lambda: retry_at >= self._deadline, seconds)

    def _attempt(self, request: _Request) -> float | None:
        """None: delivered. A number >= 0: retryable, after that many seconds at least. -1: final failure."""
        headers = {
            **self._headers,
            "Content-Type": request.content_type,
            "Content-Length": str(len(request.body)),
            VIA_HEADER: request.via,
        }
        if request.content_encoding:
            headers["Content-Encoding"] = request.content_encoding
        try:
            conn = self._connection()
            conn.request("POST", self._prefix + request.path, body=request.body, headers=headers)
            response = conn.getresponse()
            response.read(64 * 1024)  # an export answer is small; read it so the connection can be reused
            status, retry_after = response.status, response.getheader("Retry-After", "")
            if response.will_close or not response.isclosed():
                self._disconnect()
        except TimeoutError:
            self._disconnect()
            self._why = "it did not answer in time"
            return -1  # not retried: the collector may have taken it, and a retry would duplicate it
        except (OSError, http.client.HTTPException) as exc:
            self._disconnect()
            self._why = f"it cannot be reached ({type(exc).__name__})"
            return 0.0
        if 200 <= status < 300:
            return None
        self._why = f"it answered {status}"
        if status in RETRYABLE:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return 0.0  # an HTTP date, or nothing: the backoff decides
        return -1

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host or "", self._port, timeout=self._timeout_s)
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _lost(self, count: int, why: str) -> None:
        """Count dropped requests (the lock held); warn once when an outage begins."""
        self.stats.dropped += count
        self._outage_drops = self._outage_drops + count if self._down else count
        if not self._down:
            self._down = True
            _logger.warning(
                "llmtel logs serve: forwarding to %s: request(s) dropped, %s; warned once until it recovers",
                self.url,
                why,
            )

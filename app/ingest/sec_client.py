"""The one way to talk to EDGAR: declared User-Agent, a process-wide rate limit, retries, a circuit breaker
for SEC fair-access blocks, and a forever-cache for immutable archive documents (protocol §1.1).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from app.config import Settings, get_settings
from app.errors import EdgarBlockedError, EdgarFetchError, EdgarNotFound
from app.ingest.urls import EdgarUrls

log = logging.getLogger(__name__)

# SEC answers fair-access violations with a 403 (sometimes 429) HTML page; these phrases identify it.
_BLOCK_MARKERS = (
    "request rate threshold exceeded",
    "undeclared automated tool",
    "automated tools outside of the acceptable policy",
)
# SEC: access "will be limited for 10 minutes"; hammering during the block extends it (protocol §1.1).
DEFAULT_BLOCK_PAUSE_S = 600.0
# Server-side timestamps jitter by a few ms; pace slightly slower than the cap so SEC never counts 11.
_PACING_MARGIN_S = 0.002
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Bodies are read incrementally up to a limit (a gzip bomb inflates ~1000x): filings up to
# Settings.max_document_bytes, indexes/JSON listings up to this (the largest real ones are a few MB).
MAX_LISTING_BYTES = 128_000_000
_INFLATE_STEP = 1 << 20  # decompressed bytes produced per step, so one network chunk cannot balloon


class RateLimiter:
    """Thread-safe interval limiter on a monotonic clock: request starts are spaced >= 1/rate apart."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: float | None = None

    def acquire(self, max_rps: float) -> float:
        """Wait for the next free slot at `max_rps`; return the time it was granted."""
        interval = 1.0 / max_rps + _PACING_MARGIN_S
        # The lock is held while sleeping: waiters queue on it, and spacing is measured from the
        # actual grant time, so a thread that wakes late can never squeeze the next request closer.
        with self._lock:
            now = self._clock()
            if self._next_slot is not None and self._next_slot > now:
                self._sleep(self._next_slot - now)
                now = self._clock()
            self._next_slot = now + interval
            return now

    def reset(self) -> None:
        """Forget the last slot (tests)."""
        with self._lock:
            self._next_slot = None


class CircuitBreaker:
    """Process-wide pause after an SEC block page: every request fails fast until the pause ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0
        self._reason = ""

    def remaining(self) -> float:
        """Seconds left in the current pause (0 when requests may flow)."""
        with self._lock:
            return max(0.0, self._until - self._clock())

    def trip(self, pause_s: float, reason: str) -> None:
        """Pause all requests for `pause_s` seconds (never shortens a longer pause already running)."""
        with self._lock:
            self._until = max(self._until, self._clock() + pause_s)
            self._reason = reason

    def check(self, url: str) -> None:
        """Raise EdgarBlockedError if a pause is running."""
        with self._lock:
            left, reason = self._until - self._clock(), self._reason
        if left > 0:
            raise EdgarBlockedError(
                f"EDGAR requests paused for another {left:.0f} s after: {reason}", url=url, retry_in_s=left
            )

    def reset(self) -> None:
        """End any pause (tests, or an operator who knows better)."""
        with self._lock:
            self._until = 0.0
            self._reason = ""


# Shared by every EdgarClient in the process: SEC's 10 req/s is a total, not per client or thread.
RATE_LIMITER = RateLimiter()
CIRCUIT_BREAKER = CircuitBreaker()
# Striped locks keyed by cache path: concurrent callers never download the same immutable document twice,
# and the lock table stays bounded however many documents pass through.
_CACHE_LOCKS = tuple(threading.Lock() for _ in range(64))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the wait in seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_block_page(status: int, body: bytes) -> bool:
    """Tell whether a 403/429 body is SEC's fair-access block page rather than an ordinary error."""
    if status not in (403, 429):
        return False
    text = body[:20_000].decode("utf-8", errors="replace").lower()
    return any(marker in text for marker in _BLOCK_MARKERS)


class EdgarClient:
    """Synchronous EDGAR HTTP client; one per worker is fine, the limit and the breaker are process-wide."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        block_pause_s: float = DEFAULT_BLOCK_PAUSE_S,
        limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        # Fail before any request: SEC blocks undeclared agents (protocol §1.1).
        user_agent = self.settings.require_user_agent()
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.urls = EdgarUrls.from_settings(self.settings)
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_retry_after_s = max_retry_after_s
        self.block_pause_s = block_pause_s
        self._limiter = limiter or RATE_LIMITER
        self._breaker = breaker or CIRCUIT_BREAKER
        self._sleep = sleep
        self._now = now
        self._rng = rng or random.Random()
        self._cache_dir = Path(self.settings.cache_dir)
        timeout = self.settings.edgar_timeout_s
        self._http = httpx.Client(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            transport=transport,
        )

    # --- public API ------------------------------------------------------------------------------
    def get_bytes(self, url: str, *, attempts: int | None = None) -> bytes:
        """GET `url` and return the (decompressed) body; archive documents come from the disk cache."""
        rel = self.urls.archive_cache_path(url)
        if rel is None:
            return self._fetch(url, attempts or self.max_attempts, MAX_LISTING_BYTES)
        path = self._cache_dir / "edgar" / rel
        with _CACHE_LOCKS[hash(rel) % len(_CACHE_LOCKS)]:
            if path.is_file():
                return path.read_bytes()
            body = self._fetch(url, attempts or self.max_attempts, self.settings.max_document_bytes)
            _atomic_write(path, body)
            return body

    def forget(self, url: str) -> None:
        """Drop the cached copy of an archive document so the next get_bytes fetches it again."""
        rel = self.urls.archive_cache_path(url)
        if rel is not None:
            (self._cache_dir / "edgar" / rel).unlink(missing_ok=True)

    def get_text(self, url: str, *, attempts: int | None = None) -> str:
        """GET `url` and decode it (UTF-8, falling back to Latin-1 as older EDGAR files use)."""
        body = self.get_bytes(url, attempts=attempts)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body.decode("latin-1")

    def get_json(self, url: str, *, attempts: int | None = None) -> Any:
        """GET `url` and parse JSON; an unparseable body is an EdgarFetchError."""
        body = self.get_bytes(url, attempts=attempts)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise EdgarFetchError(f"invalid JSON from {url}: {exc}", url=url) from exc

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> EdgarClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------------------
    def _fetch(self, url: str, max_attempts: int, max_bytes: int) -> bytes:
        """One logical GET: rate-limited attempts with backoff until success or a final error."""
        for attempt in range(1, max_attempts + 1):
            # Checked before every attempt: another thread may have tripped the breaker meanwhile.
            self._breaker.check(url)
            self._limiter.acquire(self.settings.edgar_max_rps)
            self._breaker.check(url)  # it may have tripped while this thread waited for its slot
            try:
                with self._http.stream("GET", url) as response:
                    body = _read_body(response, max_bytes, url)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                # Connect/read errors, timeouts, dropped connections, broken gzip: worth another try.
                if attempt == max_attempts:
                    raise EdgarFetchError(
                        f"GET {url} failed after {attempt} attempts: {exc!r}", url=url
                    ) from exc
                self._backoff(url, attempt, max_attempts, None, type(exc).__name__)
                continue

            status = response.status_code
            if status == 200:
                return body
            if is_block_page(status, body):
                self._breaker.trip(self.block_pause_s, f"HTTP {status} fair-access block on {url}")
                log.error(
                    "SEC fair-access block (HTTP %s) on %s: pausing all EDGAR requests for %.0f s",
                    status,
                    url,
                    self.block_pause_s,
                )
                raise EdgarBlockedError(
                    f"SEC blocked the request (HTTP {status}: rate threshold / undeclared tool); all EDGAR "
                    f"requests are paused for {self.block_pause_s:.0f} s. Check SEC_USER_AGENT and the "
                    "request rate.",
                    url=url,
                    status=status,
                    retry_in_s=self.block_pause_s,
                )
            if status == 404:
                raise EdgarNotFound(f"not found: {url}", url=url, status=404)
            if status in _RETRY_STATUSES and attempt < max_attempts:
                wait = parse_retry_after(response.headers.get("Retry-After"), self._now())
                if wait is not None and wait > self.max_retry_after_s:
                    raise EdgarFetchError(
                        f"GET {url}: HTTP {status} with Retry-After {wait:.0f} s (over the "
                        f"{self.max_retry_after_s:.0f} s we wait inline)",
                        url=url,
                        status=status,
                    )
                self._backoff(url, attempt, max_attempts, wait, f"HTTP {status}")
                continue
            raise EdgarFetchError(
                f"GET {url}: HTTP {status} after {attempt} attempt(s)", url=url, status=status
            )
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _backoff(
        self, url: str, attempt: int, max_attempts: int, retry_after: float | None, why: str
    ) -> None:
        """Sleep before the next attempt: Retry-After when given, else exponential backoff with jitter."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        # "Equal jitter": at least half the exponential step, so retries from many threads spread out.
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        log.warning("GET %s: %s (attempt %d/%d), retrying in %.2f s", url, why, attempt, max_attempts, delay)
        self._sleep(delay)


def _read_body(response: httpx.Response, limit: int, url: str) -> bytes:
    """Read and decompress a body, refusing more than `limit` bytes of content (not retried)."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        inflater = None
    elif encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    else:
        raise httpx.DecodingError(f"unsupported Content-Encoding {encoding!r}", request=response.request)
    body = bytearray()
    for raw in response.iter_raw():
        for piece in [raw] if inflater is None else _inflate(inflater, raw, response):
            body += piece
            if len(body) > limit:
                raise EdgarFetchError(
                    f"GET {url}: response body over the {limit:,}-byte limit (an oversize document or a "
                    "compression bomb)",
                    url=url,
                    status=response.status_code,
                )
    return bytes(body)


def _inflate(inflater: Any, data: bytes, response: httpx.Response) -> Iterator[bytes]:
    """Decompress `data` in steps of at most _INFLATE_STEP output bytes."""
    try:
        while data and not inflater.eof:
            yield inflater.decompress(data, _INFLATE_STEP)
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        # Same class httpx raises for a broken gzip body: the caller retries it as a transport error.
        raise httpx.DecodingError(f"invalid compressed body: {exc}", request=response.request) from exc


def _atomic_write(path: Path, body: bytes) -> None:
    """Write `body` to `path` via a temp file + rename so readers never see a half-written document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

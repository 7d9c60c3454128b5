"""A micro-cache for the public read-only pages: a successful GET response is kept for a few seconds
(PAGE_CACHE_SECONDS) and served again to the same URL, so a burst of readers costs one page build.

Pages are built from filings that arrive minutes apart, so a response a few seconds old says the same
thing; the cache makes the app's throughput under many readers independent of how heavy a page is.
Concurrent misses of one URL wait for the first build instead of all building it (single flight), and
a response past its TTL is served once more while it is rebuilt behind it (stale-while-revalidate).
Only allow-listed paths are cached, never a request carrying credentials, never a non-200 response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Public pages and their JSON/CSV/Atom twins. Status, health, admin and static files are not cached.
CACHEABLE_PREFIXES = (
    "/purchases",
    "/screener.csv",
    "/weekly",
    "/cluster/",
    "/filing/",
    "/ticker/",
    "/insider/",
    "/performance",
    "/market",
    "/feeds/",
    "/api/screener",
    "/api/purchases",
    "/api/weekly",
    "/api/clusters/",
    "/api/filings/",
    "/api/ticker/",
    "/api/insider/",
    "/api/performance",
    "/api/market",
)
MAX_BODY_BYTES = 4_000_000
logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    stored_at: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


CacheKey = tuple[str, bytes, bool]  # path, query string, whether the client takes gzip


def accepts_gzip(scope: Scope) -> bool:
    # The body differs with compression (GZipMiddleware sits inside this cache), so it is in the key.
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"])


def is_cacheable(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    if any(name in (b"authorization", b"cookie", b"x-admin-token") for name, _ in scope["headers"]):
        return False
    path: str = scope["path"]
    return path == "/" or path.startswith(CACHEABLE_PREFIXES)


class MicroCacheMiddleware:
    """Pure ASGI middleware: per-process LRU of whole responses, keyed by path, query string and
    whether the client accepts gzip."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        seconds: float,
        max_entries: int = 512,
        max_bytes: int = 128_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self.size = 0
        self.building: dict[CacheKey, asyncio.Event] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.seconds <= 0 or not is_cacheable(scope):
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope.get("query_string", b""), accepts_gzip(scope))
        entry, stale = self._lookup(key)
        if entry is None and (building := self.building.get(key)) is not None:
            await building.wait()  # another request is building this URL: use its response
            entry, stale = self._lookup(key)
            if entry is None:  # it was not cacheable (an error page, a big body): serve our own
                await self.app(scope, receive, send)
                return
        if entry is not None:
            if stale and key not in self.building:
                # Serve the previous response at once and rebuild behind it, so readers never queue
                # behind a rebuild (stale for at most one more TTL).
                # Claimed now, not when the task first runs: the next reader must see it as building.
                task = asyncio.create_task(self._rebuild(key, dict(scope), self._claim(key)))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            await self._replay(entry, send)
            return
        await self._single_build(key, scope, receive, send, self._claim(key))

    def _claim(self, key: CacheKey) -> asyncio.Event:
        claim = self.building[key] = asyncio.Event()
        return claim

    async def _single_build(
        self, key: CacheKey, scope: Scope, receive: Receive, send: Send, claim: asyncio.Event
    ) -> None:
        try:
            await self._build(key, scope, receive, send)
        finally:
            # Always release the waiters, whatever happened; never drop another build's claim.
            if self.building.get(key) is claim:
                del self.building[key]
            claim.set()

    async def _rebuild(self, key: CacheKey, scope: Scope, claim: asyncio.Event) -> None:
        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            return None

        try:
            await self._single_build(key, scope, no_body, discard, claim)
        except Exception:  # the next reader builds it again, and sees the error itself
            logger.exception("rebuilding %s in the background failed", scope.get("path"))

    def _lookup(self, key: CacheKey) -> tuple[_Entry | None, bool]:
        """The entry for `key` and whether it is past its TTL (None once past two TTLs)."""
        entry = self.entries.get(key)
        if entry is None:
            return None, False
        age = self.clock() - entry.stored_at
        if age > 2 * self.seconds:
            self._drop(key)
            return None, False
        self.entries.move_to_end(key)
        return entry, age > self.seconds

    async def _replay(self, entry: _Entry, send: Send) -> None:
        age = str(int(self.clock() - entry.stored_at)).encode()
        headers = [*entry.headers, (b"x-cache", b"HIT"), (b"age", age)]
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body, "more_body": False})

    async def _build(self, key: CacheKey, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, size, keep
            if message["type"] == "http.response.start":
                start = message
                headers = message.get("headers", [])
                keep = message["status"] == 200 and not any(k.lower() == b"set-cookie" for k, _ in headers)
                message = {**message, "headers": [*headers, (b"x-cache", b"MISS")]}
            elif message["type"] == "http.response.body" and keep:
                body = message.get("body", b"")
                size += len(body)
                if size > MAX_BODY_BYTES:
                    keep = False
                    chunks.clear()
                else:
                    chunks.append(body)
                if not message.get("more_body", False) and keep and start is not None:
                    self._store(
                        key, _Entry(self.clock(), start["status"], list(start["headers"]), b"".join(chunks))
                    )
            await send(message)

        await self.app(scope, receive, capture)

    def _store(self, key: CacheKey, entry: _Entry) -> None:
        self._drop(key)
        self.entries[key] = entry
        self.size += len(entry.body)
        while self.entries and (len(self.entries) > self.max_entries or self.size > self.max_bytes):
            self._drop(next(iter(self.entries)))

    def _drop(self, key: CacheKey) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry.body)

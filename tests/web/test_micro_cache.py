"""The public pages' micro-cache: same URL within the TTL served once built, never errors, credentials,
status or admin; concurrent misses build once; entries expire and the LRU stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.ingest.files import ingest_files
from app.main import create_app
from app.web.micro_cache import MicroCacheMiddleware
from tests.factories import Owner, purchase_filing

WINDOW = "from=2024-03-01&to=2024-03-31"


def _ingest(engine: Engine, path: Path, accession: str, owner: Owner, shares: str) -> None:
    path.write_bytes(
        purchase_filing(
            accession, "2024-03-05T16:30:00", owners=[owner], trade_date="2024-03-04", shares=shares
        )
    )
    assert ingest_files([path], engine=engine, max_bytes=5_000_000).stored == 1


@pytest.fixture
def cached_client(clean_engine: Engine) -> Iterator[TestClient]:
    url = clean_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url, page_cache_seconds=60))) as client:
        yield client


def test_same_url_is_served_from_the_cache_until_it_expires(
    cached_client: TestClient, clean_engine: Engine, tmp_path: Path
) -> None:
    _ingest(
        clean_engine,
        tmp_path / "a.txt",
        "0000000101-24-000001",
        Owner("0000000101", "ALICE A", director=True),
        "100",
    )
    first = cached_client.get(f"/api/screener?{WINDOW}")
    assert first.headers["x-cache"] == "MISS"
    assert len(first.json()["rows"]) == 1
    _ingest(
        clean_engine,
        tmp_path / "b.txt",
        "0000000102-24-000001",
        Owner("0000000102", "BOB B", director=True),
        "200",
    )
    again = cached_client.get(f"/api/screener?{WINDOW}")
    assert again.headers["x-cache"] == "HIT"
    assert again.content == first.content  # the stored response, not a rebuild
    assert "content-security-policy" in again.headers  # security headers still on every response
    other = cached_client.get(f"/api/screener?{WINDOW}&sort=latest")  # another URL: built now
    assert other.headers["x-cache"] == "MISS"
    assert other.json()["rows"][0]["n_buyers"] == 2


def test_errors_credentials_and_operational_pages_are_never_cached(cached_client: TestClient) -> None:
    for _ in range(2):
        bad = cached_client.get("/?n=1")
        assert bad.status_code == 422
        assert bad.headers["x-cache"] == "MISS"
    for path in ("/status", "/healthz", "/static/app.css"):
        for _ in range(2):
            assert "x-cache" not in cached_client.get(path).headers
    for _ in range(2):
        response = cached_client.get(f"/api/screener?{WINDOW}", headers={"x-admin-token": "t"})
        assert "x-cache" not in response.headers


class _CountingApp:
    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.calls = 0
        self.status = status
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        body = f"build {self.calls}".encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def _get_many(app: MicroCacheMiddleware, paths: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return list(await asyncio.gather(*(client.get(p) for p in paths)))


def test_concurrent_misses_build_once() -> None:
    inner = _CountingApp(delay=0.05)
    cache = MicroCacheMiddleware(inner, seconds=60)
    responses = asyncio.run(_get_many(cache, ["/weekly"] * 20))
    assert inner.calls == 1
    assert {r.text for r in responses} == {"build 1"}
    assert sorted(r.headers["x-cache"] for r in responses) == ["HIT"] * 19 + ["MISS"]


def test_concurrent_errors_are_each_served_their_own_response() -> None:
    inner = _CountingApp(status=503, delay=0.02)
    responses = asyncio.run(_get_many(MicroCacheMiddleware(inner, seconds=60), ["/weekly"] * 5))
    assert inner.calls == 5
    assert all(r.status_code == 503 for r in responses)


def test_entries_are_revalidated_then_expire_and_the_cache_stays_bounded() -> None:
    now = [1000.0]
    inner = _CountingApp()
    cache = MicroCacheMiddleware(inner, seconds=10, max_entries=3, clock=lambda: now[0])
    asyncio.run(_get_many(cache, ["/weekly"]))
    now[0] += 9
    (hit,) = asyncio.run(_get_many(cache, ["/weekly"]))
    assert (hit.headers["x-cache"], hit.headers["age"], hit.text) == ("HIT", "9", "build 1")
    now[0] += 2  # past the TTL: the old response once more, rebuilt behind it

    async def stale_then_fresh() -> tuple[httpx.Response, httpx.Response]:
        (stale,) = await _get_many(cache, ["/weekly"])
        await asyncio.gather(*cache.tasks)
        (fresh,) = await _get_many(cache, ["/weekly"])
        return stale, fresh

    stale, fresh = asyncio.run(stale_then_fresh())
    assert (stale.text, fresh.text) == ("build 1", "build 2")
    assert fresh.headers["age"] == "0"
    now[0] += 25  # past two TTLs: never served, built now
    (rebuilt,) = asyncio.run(_get_many(cache, ["/weekly"]))
    assert (rebuilt.headers["x-cache"], rebuilt.text) == ("MISS", "build 3")
    asyncio.run(_get_many(cache, [f"/cluster/{k}" for k in range(5)]))
    assert len(cache.entries) == 3
    assert cache.size == sum(len(e.body) for e in cache.entries.values())


def test_compressed_and_plain_responses_are_cached_apart(cached_client: TestClient) -> None:
    gz = {"accept-encoding": "gzip"}
    plain = {"accept-encoding": "identity"}
    first = cached_client.get("/weekly/archive", headers=gz)
    assert (first.headers["content-encoding"], first.headers["x-cache"]) == ("gzip", "MISS")
    other = cached_client.get("/weekly/archive", headers=plain)
    assert ("content-encoding" not in other.headers, other.headers["x-cache"]) == (True, "MISS")
    again = cached_client.get("/weekly/archive", headers=gz)
    assert (again.headers["content-encoding"], again.headers["x-cache"]) == ("gzip", "HIT")
    assert again.text == other.text  # the same page either way


def test_concurrent_readers_of_a_stale_entry_start_one_rebuild() -> None:
    # Regression (bench/load.py): two readers arriving before the rebuild task ran both started one; the
    # second's claim was deleted by the first, its own delete raised and its waiters hung for ever.
    now = [1000.0]
    inner = _CountingApp(delay=0.02)
    cache = MicroCacheMiddleware(inner, seconds=10, clock=lambda: now[0])
    asyncio.run(_get_many(cache, ["/weekly"]))
    now[0] += 11

    async def burst() -> list[httpx.Response]:
        responses = await _get_many(cache, ["/weekly"] * 30)
        await asyncio.wait_for(asyncio.gather(*cache.tasks), timeout=5)
        return responses

    responses = asyncio.run(burst())
    assert {r.text for r in responses} == {"build 1"}  # all served the previous response at once
    assert inner.calls == 2  # one rebuild
    assert cache.building == {}
    (fresh,) = asyncio.run(_get_many(cache, ["/weekly"]))
    assert fresh.text == "build 2"


def test_request_threads_are_bounded_by_the_connection_pool(clean_engine: Engine) -> None:
    from app.db import connection_capacity

    async def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    url = clean_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url))) as client:
        capacity = connection_capacity(client.app.state.engine)  # type: ignore[attr-defined]
        assert capacity == 15  # pool 5 + overflow 10
        assert client.portal.call(tokens) == capacity  # type: ignore[union-attr]

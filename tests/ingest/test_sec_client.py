"""EdgarClient against a real local HTTP server: identity, rate limit, retries, SEC blocks, archive cache."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from app.config import MissingUserAgentError, Settings
from app.errors import EdgarBlockedError, EdgarFetchError, EdgarNotFound
from app.ingest.sec_client import (
    DEFAULT_BLOCK_PAUSE_S,
    CircuitBreaker,
    EdgarClient,
    RateLimiter,
    is_block_page,
    parse_retry_after,
)
from tests.edgar_server import (
    THRESHOLD_PAGE,
    EdgarServer,
    delay,
    drop,
    garbage,
    retry_after,
    threshold,
    undeclared,
)
from tests.ingest.conftest import TEST_USER_AGENT

ARCHIVE_PATH = "/Archives/edgar/data/1750/0001127602-25-001055.txt"
ARCHIVE_BODY = b"<SEC-DOCUMENT>0001127602-25-001055.txt : 20250110\n<ACCEPTANCE-DATETIME>20250110160730\n"


class FakeClock:
    """Monotonic clock whose sleep() advances time instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class SleepRecorder:
    """Stands in for time.sleep in backoff so retry tests don't wait for real."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """Largest number of timestamps inside any half-open window [t, t + window)."""
    times = sorted(times)
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(edgar_settings: Settings, sleeps: SleepRecorder) -> EdgarClient:
    with EdgarClient(edgar_settings, sleep=sleeps, rng=random.Random(4)) as c:
        yield c


def url(server: EdgarServer, path: str) -> str:
    return server.base_url + path


class TestIdentity:
    def test_every_request_carries_the_user_agent(
        self, edgar_server: EdgarServer, client: EdgarClient
    ) -> None:
        edgar_server.put("/files/company_tickers_exchange.json", b'{"fields": [], "data": []}')
        edgar_server.put("/submissions/CIK0000320193.json", b"{}")
        edgar_server.fail("company_tickers", [503])
        client.get_json(client.urls.company_tickers_exchange())
        client.get_json(client.urls.submissions(320193))
        with pytest.raises(EdgarNotFound):
            client.get_bytes(client.urls.daily_index(date(2020, 3, 21)))
        assert len(edgar_server.requests) == 4
        for request in edgar_server.requests:
            assert request.headers["User-Agent"] == TEST_USER_AGENT
            assert "gzip" in request.headers["Accept-Encoding"]

    @pytest.mark.parametrize("agent", [None, "", "   "])
    def test_missing_user_agent_fails_before_any_request(
        self, edgar_server: EdgarServer, edgar_settings: Settings, agent: str | None
    ) -> None:
        settings = Settings(_env_file=None, sec_user_agent=agent, edgar_base_url=edgar_server.base_url)
        with pytest.raises(MissingUserAgentError, match="SEC_USER_AGENT"):
            EdgarClient(settings)
        assert edgar_server.requests == []


class TestRateLimit:
    def test_limiter_spaces_requests_at_the_configured_rate(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        slots = [limiter.acquire(10) for _ in range(100)]
        assert min(b - a for a, b in zip(slots, slots[1:], strict=False)) >= 0.1
        assert max_in_any_window(slots) <= 10
        assert slots[-1] - slots[0] >= 9.9

    def test_limiter_is_shared_across_threads(self) -> None:
        limiter = RateLimiter()  # real monotonic clock, real sleep
        slots: list[float] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(2):
                slot = limiter.acquire(10)
                with lock:
                    slots.append(slot)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        slots.sort()
        assert len(slots) == 8
        assert min(b - a for a, b in zip(slots, slots[1:], strict=False)) >= 0.1

    def test_measured_rate_at_the_server_never_exceeds_the_limit(
        self, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        for n in range(30):
            edgar_server.put(f"/files/doc{n}.json", b"{}")
        # Two clients, three threads each: the budget is per process, not per client or thread.
        clients = [EdgarClient(edgar_settings), EdgarClient(edgar_settings)]
        jobs = iter(range(30))
        lock = threading.Lock()

        def worker(c: EdgarClient) -> None:
            while True:
                with lock:
                    n = next(jobs, None)
                if n is None:
                    return
                c.get_bytes(url(edgar_server, f"/files/doc{n}.json"))

        threads = [threading.Thread(target=worker, args=(clients[i % 2],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clients:
            c.close()
        times = [r.t for r in edgar_server.requests]
        assert len(times) == 30
        assert max_in_any_window(times) <= 10
        assert max(times) - min(times) >= 2.9


class TestRetries:
    def test_503_is_retried_with_growing_backoff_then_succeeds(
        self, edgar_server: EdgarServer, client: EdgarClient, sleeps: SleepRecorder
    ) -> None:
        edgar_server.put("/files/x.json", b'{"ok": true}')
        edgar_server.fail(r"^/files/x\.json$", [503, 503])
        assert client.get_json(url(edgar_server, "/files/x.json")) == {"ok": True}
        assert edgar_server.paths() == ["/files/x.json"] * 3
        # Equal jitter around 0.5 s * 2^n: [0.25, 0.5] then [0.5, 1.0].
        assert len(sleeps.calls) == 2
        assert 0.25 <= sleeps.calls[0] <= 0.5 <= sleeps.calls[1] <= 1.0

    def test_attempts_are_bounded(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        edgar_server.fail("x", [502], repeat_last=True)
        with pytest.raises(EdgarFetchError) as info:
            client.get_bytes(url(edgar_server, "/files/x"))
        assert info.value.status == 502
        assert len(edgar_server.requests) == client.max_attempts

    def test_retry_after_seconds_is_honoured(
        self, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        edgar_server.put("/files/x.json", b"{}")
        edgar_server.fail("x", [retry_after(1)])
        with EdgarClient(edgar_settings) as real_sleeping_client:
            real_sleeping_client.get_bytes(url(edgar_server, "/files/x.json"))
        first, second = (r.t for r in edgar_server.requests)
        assert second - first >= 1.0

    def test_retry_after_http_date_is_honoured(
        self, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        now = datetime(2025, 12, 12, 23, 0, 0, tzinfo=UTC)
        edgar_server.put("/files/x.json", b"{}")
        edgar_server.fail("x", [retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), 503)])
        sleeps = SleepRecorder()
        with EdgarClient(edgar_settings, sleep=sleeps, now=lambda: now) as c:
            c.get_bytes(url(edgar_server, "/files/x.json"))
        assert sleeps.calls == [pytest.approx(7.0)]

    def test_retry_after_beyond_the_inline_limit_is_reported(
        self, edgar_server: EdgarServer, client: EdgarClient
    ) -> None:
        edgar_server.fail("x", [retry_after(3600)])
        with pytest.raises(EdgarFetchError, match="Retry-After"):
            client.get_bytes(url(edgar_server, "/files/x.json"))
        assert len(edgar_server.requests) == 1

    def test_dropped_connection_is_retried(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        edgar_server.put("/files/x.json", b"{}")
        edgar_server.fail("x", [drop(), drop()])
        assert client.get_bytes(url(edgar_server, "/files/x.json")) == b"{}"
        assert len(edgar_server.requests) == 3

    def test_read_timeout_is_retried(self, edgar_server: EdgarServer, edgar_settings: Settings) -> None:
        edgar_server.put("/files/x.json", b"{}")
        edgar_server.fail("x", [delay(1.0)])
        settings = edgar_settings.model_copy(update={"edgar_timeout_s": 0.3})
        with EdgarClient(settings, sleep=SleepRecorder()) as c:
            assert c.get_bytes(url(edgar_server, "/files/x.json")) == b"{}"
        assert len(edgar_server.requests) == 2

    def test_corrupt_gzip_body_is_retried(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        edgar_server.put("/files/x.json", b"{}")
        edgar_server.fail("x", [garbage(b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"})])
        assert client.get_bytes(url(edgar_server, "/files/x.json")) == b"{}"
        assert len(edgar_server.requests) == 2

    def test_garbage_json_is_a_fetch_error(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        edgar_server.fail("x", [garbage()])
        with pytest.raises(EdgarFetchError, match="invalid JSON"):
            client.get_json(url(edgar_server, "/files/x.json"))

    def test_404_is_not_found_and_not_retried(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        with pytest.raises(EdgarNotFound) as info:
            client.get_bytes(url(edgar_server, "/files/missing.json"))
        assert info.value.status == 404
        assert len(edgar_server.requests) == 1

    def test_plain_403_is_an_error_not_a_block(self, edgar_server: EdgarServer, client: EdgarClient) -> None:
        edgar_server.fail("x", [403])
        with pytest.raises(EdgarFetchError) as info:
            client.get_bytes(url(edgar_server, "/files/x.json"))
        assert not isinstance(info.value, EdgarBlockedError)
        assert len(edgar_server.requests) == 1


class TestSecBlock:
    @pytest.mark.parametrize(
        "step",
        [
            pytest.param(threshold(), id="403-threshold"),
            pytest.param(threshold(429), id="429-threshold"),
            pytest.param(undeclared(), id="403-undeclared"),
        ],
    )
    def test_block_page_pauses_every_client_without_hammering(
        self, edgar_server: EdgarServer, edgar_settings: Settings, step: object
    ) -> None:
        edgar_server.put("/files/a.json", b"{}")
        edgar_server.put("/files/b.json", b"{}")
        edgar_server.fail("a", [step], repeat_last=True)
        first, second = EdgarClient(edgar_settings), EdgarClient(edgar_settings)
        with pytest.raises(EdgarBlockedError, match="paused") as info:
            first.get_bytes(url(edgar_server, "/files/a.json"))
        assert info.value.retry_in_s == DEFAULT_BLOCK_PAUSE_S
        # Another client, another path: refused locally, before touching the network.
        with pytest.raises(EdgarBlockedError) as later:
            second.get_bytes(url(edgar_server, "/files/b.json"))
        assert 590 < later.value.retry_in_s <= DEFAULT_BLOCK_PAUSE_S
        assert len(edgar_server.requests) == 1
        first.close()
        second.close()

    def test_requests_resume_after_the_pause(
        self, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker(clock=clock)
        edgar_server.put("/files/a.json", b"{}")
        edgar_server.fail("a", [threshold()])
        with EdgarClient(edgar_settings, breaker=breaker) as c:
            with pytest.raises(EdgarBlockedError):
                c.get_bytes(url(edgar_server, "/files/a.json"))
            clock.now += DEFAULT_BLOCK_PAUSE_S - 1
            with pytest.raises(EdgarBlockedError):
                c.get_bytes(url(edgar_server, "/files/a.json"))
            clock.now += 2
            assert c.get_bytes(url(edgar_server, "/files/a.json")) == b"{}"
        assert len(edgar_server.requests) == 2

    def test_pause_length_is_configurable(self, edgar_server: EdgarServer, edgar_settings: Settings) -> None:
        edgar_server.fail("a", [threshold()])
        with EdgarClient(edgar_settings, block_pause_s=30) as c, pytest.raises(EdgarBlockedError) as info:
            c.get_bytes(url(edgar_server, "/files/a.json"))
        assert info.value.retry_in_s == 30


class TestArchiveCache:
    def test_archive_document_is_fetched_once(
        self, edgar_server: EdgarServer, edgar_settings: Settings, client: EdgarClient
    ) -> None:
        edgar_server.put(ARCHIVE_PATH, ARCHIVE_BODY)
        doc_url = client.urls.full_submission(1750, "0001127602-25-001055")
        assert client.get_bytes(doc_url) == ARCHIVE_BODY
        assert client.get_bytes(doc_url) == ARCHIVE_BODY
        with EdgarClient(edgar_settings) as fresh:  # a new client (or process) reads the same disk cache
            assert fresh.get_text(doc_url).startswith("<SEC-DOCUMENT>")
        assert edgar_server.paths() == [ARCHIVE_PATH]
        cached = Path(edgar_settings.cache_dir) / "edgar" / ARCHIVE_PATH.lstrip("/")
        assert cached.read_bytes() == ARCHIVE_BODY
        assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temp files left behind

    def test_concurrent_fetches_of_one_document_download_it_once(
        self, edgar_server: EdgarServer, client: EdgarClient
    ) -> None:
        edgar_server.put(ARCHIVE_PATH, ARCHIVE_BODY)
        results: list[bytes] = []
        threads = [
            threading.Thread(target=lambda: results.append(client.get_bytes(url(edgar_server, ARCHIVE_PATH))))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [ARCHIVE_BODY] * 8
        assert len(edgar_server.requests) == 1

    def test_failed_fetch_leaves_nothing_in_the_cache(
        self, edgar_server: EdgarServer, edgar_settings: Settings, client: EdgarClient
    ) -> None:
        with pytest.raises(EdgarNotFound):
            client.get_bytes(url(edgar_server, ARCHIVE_PATH))
        edgar_server.put(ARCHIVE_PATH, ARCHIVE_BODY)
        assert client.get_bytes(url(edgar_server, ARCHIVE_PATH)) == ARCHIVE_BODY
        assert len(edgar_server.requests) == 2

    @pytest.mark.parametrize(
        "path",
        [
            pytest.param("/Archives/edgar/daily-index/2020/QTR1/form.20200318.idx", id="daily-index"),
            pytest.param("/files/company_tickers_exchange.json", id="ticker-map"),
        ],
    )
    def test_mutable_documents_are_not_cached(
        self, edgar_server: EdgarServer, client: EdgarClient, path: str
    ) -> None:
        edgar_server.put(path, b"x")
        client.get_bytes(url(edgar_server, path))
        client.get_bytes(url(edgar_server, path))
        assert len(edgar_server.requests) == 2


class TestHelpers:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("5", 5.0),
            ("0", 0.0),
            ("Fri, 12 Dec 2025 23:00:30 GMT", 30.0),
            ("Fri, 12 Dec 2025 22:00:00 GMT", 0.0),
            ("soon", None),
            (None, None),
        ],
    )
    def test_parse_retry_after(self, value: str | None, expected: float | None) -> None:
        assert parse_retry_after(value, datetime(2025, 12, 12, 23, 0, 0, tzinfo=UTC)) == expected

    def test_block_page_detection(self) -> None:
        assert is_block_page(403, THRESHOLD_PAGE)
        assert is_block_page(429, b"<title>Request Rate Threshold Exceeded</title>")
        assert not is_block_page(403, b"Forbidden")
        assert not is_block_page(503, THRESHOLD_PAGE)

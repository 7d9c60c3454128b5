"""Server time of the pages on the generated 10-year PostgreSQL database (bench/generate.py).

    .venv/bin/python bench/pages.py [--url URL] [--requests 200] [--budget 60] [--only screener,weekly]
    .venv/bin/python bench/pages.py --profile "screener default"     # pyinstrument + slowest query plan

The app runs in-process (FastAPI TestClient, as the browser tests' server would), each request timed
from send to full body after a warm-up. Per endpoint: count, p50/p95/p99/max, and how much of the time
was SQL (cursor execute to fetch, via engine events) and how many statements ran. Routes that are not
in the app yet are reported as "not available". Add endpoints to ENDPOINTS.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from starlette.routing import Match

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/clusterbuy_bench"
TARGET_MS = 100.0


@dataclass
class Samples:
    """Ids sampled from the database that parametrized endpoints rotate through."""

    clusters: list[str]
    weeks: list[str]
    filings: list[str]
    cluster_filings: list[str]
    dashboard: str
    rng: random.Random = field(default_factory=lambda: random.Random(3))

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items) if items else "none"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: Callable[[Samples], str]
    # Run before each request, untimed (e.g. dropping a stored snapshot to time a first view).
    before: Callable[[Any, Samples], None] | None = None


def _drop_dashboard_snapshot(conn: Any, s: Samples) -> None:
    conn.execute(
        text(
            "DELETE FROM dashboard_snapshot WHERE issuer_cik IN "
            "(SELECT cik FROM issuer WHERE ticker = :t OR cik = :t)"
        ),
        {"t": s.dashboard},
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("healthz (client overhead)", lambda s: "/healthz"),
    Endpoint("screener default", lambda s: "/"),
    Endpoint(
        "screener 365d ≥$100k CEO/CFO latest",
        lambda s: "/?days=365&min_value=100000&role=ceo_cfo&sort=latest",
    ),
    Endpoint("screener 365d", lambda s: "/?days=365"),
    Endpoint(
        "screener 365d director ≥$1M page 2", lambda s: "/?days=365&role=director&min_value=1000000&page=2"
    ),
    Endpoint("screener 30d sort ΔOwn", lambda s: "/?sort=delta_own"),
    # The median ΔOwn of every company of a year: each buyer's first purchase in the window, for all.
    Endpoint("screener 365d sort ΔOwn", lambda s: "/?days=365&sort=delta_own"),
    Endpoint("screener 3650d ticker search", lambda s: f"/?days=3650&q={s.dashboard}"),
    Endpoint("screener 90d n=2 w=30 (badges)", lambda s: "/?days=90&n=2&w=30"),
    Endpoint("screener 90d n=2 w=30 clusters only", lambda s: "/?days=90&n=2&w=30&clusters_only=true"),
    Endpoint("screener 3650d q=A (stress)", lambda s: "/?days=3650&q=A"),
    # A user trying windows: each request's window selects another set of companies, so statements bound
    # to a list of them are planned afresh (the same URL repeated runs on prepared, generic plans).
    Endpoint(
        "screener 60-119d n=2 w=30 (badges, varied)", lambda s: f"/?days={s.rng.randint(60, 119)}&n=2&w=30"
    ),
    Endpoint(
        "screener 60-119d n=2 w=30 clusters only (varied)",
        lambda s: f"/?days={s.rng.randint(60, 119)}&n=2&w=30&clusters_only=true",
    ),
    Endpoint("screener 600-1190d q=A (varied)", lambda s: f"/?days={s.rng.randint(60, 119)}0&q=A"),
    Endpoint("purchases default", lambda s: "/purchases"),
    Endpoint("purchases 365d by value", lambda s: "/purchases?days=365&sort=value"),
    Endpoint("api screener", lambda s: "/api/screener"),
    Endpoint("weekly latest", lambda s: "/weekly"),
    Endpoint("weekly week", lambda s: f"/weekly/{s.weeks[0] if s.weeks else '2024-W10'}"),
    Endpoint("weekly random week", lambda s: f"/weekly/{s.pick(s.weeks)}"),
    Endpoint("weekly archive", lambda s: "/weekly/archive"),
    Endpoint("cluster", lambda s: f"/cluster/{s.pick(s.clusters)}"),
    Endpoint("filing (cluster member)", lambda s: f"/filing/{s.pick(s.cluster_filings)}"),
    Endpoint("filing (any)", lambda s: f"/filing/{s.pick(s.filings)}"),
    Endpoint("ticker dashboard", lambda s: f"/ticker/{s.dashboard}"),
    Endpoint("api ticker", lambda s: f"/api/ticker/{s.dashboard}"),
    Endpoint(
        "ticker dashboard first view (snapshot rebuilt)",
        lambda s: f"/ticker/{s.dashboard}",
        before=_drop_dashboard_snapshot,
    ),
    Endpoint("ticker dashboard 5y tables", lambda s: f"/ticker/{s.dashboard}?period=5y"),
    Endpoint("ticker dashboard all tables", lambda s: f"/ticker/{s.dashboard}?period=all"),
    Endpoint("performance", lambda s: "/performance"),
    Endpoint("api performance", lambda s: "/api/performance"),
    # Another rule with dates: its clusters found on request (whole history of the companies that may
    # hold one), then measured; this database has prices for few tickers, so it is mostly the finding.
    Endpoint(
        "performance n=2 w=30 one year (on request)",
        lambda s: "/performance?n=2&w=30&from=2025-01-01&to=2025-12-31",
    ),
    Endpoint(
        "performance n=5 w=90 three years (on request)",
        lambda s: "/performance?n=5&w=90&from=2019-01-01&to=2021-12-31",
    ),
    Endpoint("market", lambda s: "/market"),
)


class SqlTimer:
    """Time spent in SQL (execute + fetch is attributed to the cursor execute) and the statements."""

    def __init__(self, engine: Any) -> None:
        self.seconds = 0.0
        self.count = 0
        self.statements: list[tuple[float, str, Any]] = []
        self.keep = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.seconds, self.count, self.statements = 0.0, 0, []

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        took = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        self.seconds += took
        self.count += 1
        if self.keep:
            self.statements.append((took, statement, params))


def samples(client: TestClient, dashboard: str) -> Samples:
    """Sample cluster ids, weeks and accessions to rotate through."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:

        def col(sql: str) -> list[str]:
            return [r[0] for r in conn.execute(text(sql))]

        return Samples(
            clusters=col("SELECT id FROM cluster ORDER BY md5(id) LIMIT 300"),
            weeks=col("SELECT trigger_week FROM cluster GROUP BY 1 ORDER BY count(*) DESC, 1 DESC LIMIT 100"),
            filings=col("SELECT accession FROM filing TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT 300"),
            cluster_filings=col(
                "SELECT DISTINCT t.accession FROM cluster_member m JOIN insider_transaction t "
                "ON t.id = m.transaction_id ORDER BY 1 LIMIT 300"
            ),
            dashboard=dashboard,
        )


def available(client: TestClient, path: str) -> bool:
    """Whether any route of the app matches the path (not just a 404 for a missing id)."""
    scope = {"type": "http", "path": path.split("?")[0], "method": "GET", "root_path": ""}
    for route in client.app.router.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", None) == "/static":
            continue
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return True
    return False


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(
    client: TestClient,
    sql: SqlTimer,
    ep: Endpoint,
    s: Samples,
    *,
    requests: int,
    budget: float,
    warmup: int,
    min_requests: int,
) -> dict[str, Any] | None:
    """Time one endpoint; None when the app has no such route."""
    if not available(client, ep.path(s)):
        return None
    statuses: dict[int, int] = {}
    engine = client.app.state.engine  # type: ignore[attr-defined]

    def prepare() -> None:
        if ep.before is not None:
            with engine.begin() as conn:
                ep.before(conn, s)

    for k in range(warmup):
        prepare()
        t0 = time.perf_counter()
        client.get(ep.path(s))
        if k and time.perf_counter() - t0 > 1.0:
            break  # a page of seconds is warm after two requests
    times, sql_times, counts = [], [], []
    started = time.perf_counter()
    while len(times) < requests and (time.perf_counter() - started < budget or len(times) < min_requests):
        path = ep.path(s)
        prepare()
        sql.reset()
        t0 = time.perf_counter()
        response = client.get(path)
        _ = response.content
        times.append((time.perf_counter() - t0) * 1000)
        sql_times.append(sql.seconds * 1000)
        counts.append(sql.count)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return {
        "n": len(times),
        "p50": pct(times, 0.50),
        "p95": pct(times, 0.95),
        "p99": pct(times, 0.99),
        "max": max(times),
        "sql_p50": pct(sql_times, 0.50),
        "sql_share": sum(sql_times) / sum(times),
        "queries": statistics.median(counts),
        "statuses": statuses,
        "bytes": len(response.content),
    }


def profile(
    client: TestClient, sql: SqlTimer, ep: Endpoint, s: Samples, repeats: int, explain: int = 1
) -> None:
    """pyinstrument over `repeats` requests, then EXPLAIN ANALYZE of the `explain` slowest statements of one.

    Sync routes normally run in a worker thread, out of the profiler's sight: here FastAPI's
    run_in_threadpool is replaced by a direct call and requests go through httpx.ASGITransport on
    this thread's event loop, so the route, the services and the template rendering are all sampled.
    """
    import asyncio

    import fastapi.routing
    import httpx
    from pyinstrument import Profiler

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    async def requests(n: int) -> None:
        transport = httpx.ASGITransport(app=client.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for _ in range(n):
                (await http.get(ep.path(s))).read()

    original = fastapi.routing.run_in_threadpool
    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    try:
        asyncio.run(requests(1))
        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        asyncio.run(requests(repeats))
        profiler.stop()
    finally:
        fastapi.routing.run_in_threadpool = original
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    sql.reset()
    sql.keep = True
    t0 = time.perf_counter()
    client.get(ep.path(s))
    total = (time.perf_counter() - t0) * 1000
    sql.keep = False
    print(f"one request: {total:.1f} ms, SQL {sql.seconds * 1000:.1f} ms in {sql.count} statements")
    ranked = sorted(sql.statements, key=lambda x: -x[0])
    for took, statement, _ in ranked[:5]:
        print(f"  {took * 1000:8.2f} ms  {' '.join(statement.split())[:160]}")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    for rank, (took, statement, params) in enumerate(ranked[:explain], 1):
        with engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).fetchall()
        print(f"\nEXPLAIN ANALYZE of the slowest statement #{rank} ({took * 1000:.1f} ms):")
        print(_cut(" ".join(statement.split()), 2000))
        print(f"params: {_cut(str(params), 300)}")
        for (line,) in plan:
            print("  " + _cut(line, 300))  # a long IN list or array literal would fill the screen


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} chars)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--requests", type=int, default=200, help="requests per endpoint (at most)")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per endpoint")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--min-requests", type=int, default=10, help="even past the budget")
    ap.add_argument("--only", default="", help="comma-separated substrings of endpoint names")
    ap.add_argument("--dashboard-ticker", default="CLBY")
    ap.add_argument("--profile", default="", help="endpoint name (substring) to profile instead of timing")
    ap.add_argument("--profile-repeats", type=int, default=20)
    ap.add_argument(
        "--explain", type=int, default=1, help="with --profile: EXPLAIN ANALYZE this many statements"
    )
    ap.add_argument("--page-cache", type=float, default=0.0, help="PAGE_CACHE_SECONDS (default 0: no cache)")
    args = ap.parse_args()

    # The micro-cache is off by default here: these figures are what building each page costs.
    app = create_app(Settings(database_url=args.url, page_cache_seconds=args.page_cache))
    with TestClient(app) as client:
        sql = SqlTimer(app.state.engine)
        s = samples(client, args.dashboard_ticker)
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        chosen = [e for e in ENDPOINTS if not wanted or any(w in e.name.lower() for w in wanted)]
        if args.profile:
            for ep in [e for e in ENDPOINTS if args.profile.lower() in e.name.lower()]:
                print(f"=== {ep.name}: {ep.path(s)}")
                profile(client, sql, ep, s, args.profile_repeats, args.explain)
            return
        print(
            f"{'endpoint':40} {'n':>4} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'SQL p50':>8} "
            f"{'SQL%':>5} {'stmts':>5}  status / size"
        )
        slow = []
        for ep in chosen:
            result = run(
                client,
                sql,
                ep,
                s,
                requests=args.requests,
                budget=args.budget,
                warmup=args.warmup,
                min_requests=args.min_requests,
            )
            if result is None:
                print(f"{ep.name:40} not available ({ep.path(s)})")
                continue
            flag = "  SLOW" if result["p95"] > TARGET_MS and not ep.name.startswith("healthz") else ""
            if flag:
                slow.append(ep.name)
            statuses = ",".join(f"{k}×{v}" for k, v in sorted(result["statuses"].items()))
            print(
                f"{ep.name:40} {result['n']:>4} {result['p50']:>8.1f} {result['p95']:>8.1f} "
                f"{result['p99']:>8.1f} {result['max']:>8.1f} {result['sql_p50']:>8.1f} "
                f"{result['sql_share']:>5.0%} {result['queries']:>5.0f}  {statuses} / "
                f"{result['bytes'] / 1024:.0f} KiB{flag}",
                flush=True,
            )
        print(
            f"\ntimes in ms; target p95 < {TARGET_MS:.0f} ms; "
            + (f"over target: {', '.join(slow)}" if slow else "all within target")
        )


if __name__ == "__main__":
    main()

"""Benchmark the performance engine: a full recompute of every default-rule cluster's returns vs SPY, an
incremental refresh with nothing changed, and /performance server time from materialized results.

    .venv/bin/python bench/performance.py                        # synthetic 10 years, 1000 clusters/year
    .venv/bin/python bench/performance.py --clusters-per-year 200 --years 3      # a quick run
    .venv/bin/python bench/performance.py --url postgresql+psycopg://...  --no-generate   # an existing DB

The synthetic database (default clusterbuy_bench_perf) is dropped, migrated, and filled with COPY:
issuers with tickers, default-rule clusters spread over the years, and random-walk daily bars (split- and
dividend-adjusted close next to the raw OHLC) for SPY and every cluster ticker from a year before its first
cluster to the end, with 5% of the series stopping early (delistings). Clusters have no member rows: the
performance engine reads only the cluster, issuer and price tables.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.analytics import market_calendar as mc  # noqa: E402
from app.db import make_engine, session_scope  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.services import performance_refresh as performance_refresh_service  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/clusterbuy_bench_perf"
ET = ZoneInfo("America/New_York")
ROLE_SETS = [
    ["CEO", "officer", "director"],
    ["director"],
    ["CFO", "officer", "director"],
    ["officer", "director"],
    ["ten_percent_owner"],
    ["director", "ten_percent_owner"],
]
ROLE_WEIGHTS = [0.25, 0.35, 0.1, 0.15, 0.05, 0.1]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate(url: str) -> None:
    """Drop and create the database, then migrate it to the current schema."""
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()
    upgrade(url)


def _walk(rng: np.random.Generator, n: int, first: float, drift: float, vol: float) -> np.ndarray:
    steps = rng.normal(drift / 252, vol / math.sqrt(252), n)
    return first * np.exp(np.cumsum(steps))


def _bar_lines(ticker: str, days: list[date], rng: np.random.Generator, *, drift: float, vol: float) -> str:
    """COPY text of daily bars: raw OHLC, and an adjusted close that trails a 1.5%/yr dividend."""
    n = len(days)
    close = _walk(rng, n, float(rng.uniform(5, 200)), drift, vol)
    open_ = close * np.exp(rng.normal(0, vol / math.sqrt(252) / 3, n))
    high = np.maximum(open_, close) * 1.005
    low = np.minimum(open_, close) * 0.995
    # Adjusted close = close × a factor that rises to 1 by the last bar (dividends reinvested).
    adj = close * np.exp(-0.015 * (n - 1 - np.arange(n)) / 252)
    vol_shares = rng.integers(10_000, 5_000_000, n)
    out = io.StringIO()
    for i, d in enumerate(days):
        out.write(
            f"{ticker}\t{d.isoformat()}\t{open_[i]:.6f}\t{high[i]:.6f}\t{low[i]:.6f}\t{close[i]:.6f}\t"
            f"{adj[i]:.6f}\t{int(vol_shares[i])}\n"
        )
    return out.getvalue()


def generate(url: str, *, years: int, clusters_per_year: int, issuers: int, seed: int) -> dict[str, int]:
    """Fill the database with issuers, clusters and bars; return the counts."""
    rng = np.random.default_rng(seed)
    end = date(2025, 6, 30)
    start = date(end.year - years, 7, 1)
    sessions = mc.sessions_between(start - timedelta(days=370), end)
    now = datetime.now(UTC)
    n_clusters = clusters_per_year * years
    # Issuers: some names cluster again and again (Zipf-like reuse), most once or twice.
    weights = 1.0 / np.arange(1, issuers + 1) ** 0.6
    weights /= weights.sum()
    issuer_of = rng.choice(issuers, size=n_clusters, p=weights)
    span_days = (end - start).days
    clusters: dict[str, tuple] = {}
    first_cluster: dict[int, date] = {}
    for k in range(n_clusters):
        iss = int(issuer_of[k])
        trigger_day = start + timedelta(days=int(rng.integers(0, span_days)))
        minute = int(rng.integers(6 * 60, 22 * 60))
        trigger_at = datetime(
            trigger_day.year, trigger_day.month, trigger_day.day, minute // 60, minute % 60, tzinfo=ET
        ).astimezone(UTC)
        first_trade = trigger_day - timedelta(days=int(rng.integers(1, 10)))
        last_trade = first_trade + timedelta(days=int(rng.integers(0, 14)))
        cik = f"{iss + 1:010d}"
        cid = f"{cik}-{first_trade.isoformat()}"
        if cid in clusters:
            continue
        n_buyers = int(rng.choice([3, 4, 5, 6, 8], p=[0.7, 0.18, 0.07, 0.03, 0.02]))
        value = float(np.exp(rng.normal(13, 1.6)))
        roles = ROLE_SETS[int(rng.choice(len(ROLE_SETS), p=ROLE_WEIGHTS))]
        flags = []
        if rng.random() < 0.05:
            flags.append("10b5-1")
        if roles == ["ten_percent_owner"]:
            flags.append("ten_percent_owner_only")
        year, week, _ = trigger_at.astimezone(ET).isocalendar()
        clusters[cid] = (
            cid, cik, 3, 14, first_trade, last_trade, f"0000000000-{k % 100:02d}-{k:06d}", trigger_at,
            f"{year}-W{week:02d}", n_buyers, 3, round(value, 2), round(value / 20, 4), 20.0,
            round(value, 2), json.dumps(roles), json.dumps(flags), now,
        )  # fmt: skip
        first_cluster[iss] = min(first_cluster.get(iss, first_trade), first_trade)

    with psycopg.connect(_dsn(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY issuer (cik, name, ticker, exchange, sector, updated_at) FROM STDIN") as copy:
            for iss in sorted(first_cluster):
                copy.write_row(
                    (f"{iss + 1:010d}", f"ISSUER {iss}", f"T{iss:05d}", "NASDAQ", "Technology", now)
                )
        cols = (
            "id, issuer_cik, rule_n, rule_w, first_trade_date, last_trade_date, trigger_accession, "
            "trigger_at, trigger_week, n_buyers, n_buyers_at_trigger, total_value, total_shares, avg_price, "
            "week_value, roles, flags, updated_at"
        )
        with cur.copy(f"COPY cluster ({cols}) FROM STDIN") as copy:
            for row in clusters.values():
                copy.write_row(row)
        bars = 0
        with cur.copy(
            "COPY price_bar (ticker, bar_date, open, high, low, close, adj_close, volume) FROM STDIN"
        ) as copy:
            copy.write(_bar_lines("SPY", sessions, rng, drift=0.08, vol=0.17))
            bars += len(sessions)
            for iss, first in sorted(first_cluster.items()):
                begin = first - timedelta(days=365)
                days = [d for d in sessions if d >= begin]
                if rng.random() < 0.05:  # delisted: the series stops somewhere after its first cluster
                    cut = first + timedelta(days=int(rng.integers(30, 900)))
                    days = [d for d in days if d <= cut]
                copy.write(_bar_lines(f"T{iss:05d}", days, rng, drift=0.05, vol=0.45))
                bars += len(days)
        conn.commit()
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"issuers": len(first_cluster), "clusters": len(clusters), "bars": bars}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def time_pages(url: str, requests: int) -> list[tuple[str, float, float, int]]:
    """Server time per page (in-process TestClient: routing, service, template), p50 and p95 in ms."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    out = []
    with TestClient(create_app(Settings(database_url=url))) as client:
        for path, n in (
            ("/performance", requests),
            ("/api/performance", requests),
            ("/performance?role=ceo_cfo", requests),
            ("/performance?value=1m_10m", requests),
            ("/performance?role=ceo_cfo&h=3m", max(5, requests // 20)),  # computed on request
            ("/performance?from=2020-01-01&to=2020-12-31", max(5, requests // 20)),  # computed on request
        ):
            client.get(path)  # warm: template compile, first connection
            times = []
            for _ in range(n):
                t = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            out.append((path, statistics.median(times), _pct(times, 0.95), n))
    return out


def time_market(url: str, repeats: int) -> None:
    """Market pulse on a database with filings: live computation, snapshot build, page from the snapshot."""
    from sqlalchemy.orm import Session

    from app.schemas.market import MarketFilters, MarketFreq
    from app.services import market as market_service

    engine = make_engine(url)
    session = Session(bind=engine)
    try:  # the snapshot is written inside a transaction that is rolled back: the database is left as is
        n = session.execute(text("SELECT count(*) FROM insider_transaction")).scalar()
        for freq in MarketFreq:
            t = time.perf_counter()
            market_service.build_market_page(session, MarketFilters(freq=freq))
            print(
                f"market {freq.value}, live: {(time.perf_counter() - t) * 1000:.0f} ms ({n:,} transactions)"
            )
        t = time.perf_counter()
        market_service.refresh_snapshot(session)
        print(f"market snapshot (4 views): {time.perf_counter() - t:.1f}s")
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            page = market_service.build_market_page(session, MarketFilters(freq=MarketFreq.week))
            times.append((time.perf_counter() - t) * 1000)
        assert page.source == "snapshot"
        print(
            f"market weekly from the snapshot (service): p50 {statistics.median(times):.1f} ms, "
            f"p95 {_pct(times, 0.95):.1f} ms"
        )
    finally:
        session.rollback()
        session.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--clusters-per-year", type=int, default=1000)
    ap.add_argument("--issuers", type=int, default=4000, help="distinct issuers clusters are drawn from")
    ap.add_argument("--requests", type=int, default=200, help="requests per page timing")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--no-generate", action="store_true", help="use the database at --url as it is")
    ap.add_argument("--pages-only", action="store_true", help="skip the recompute (results already stored)")
    ap.add_argument("--market-url", help="also time the market pulse on this database (it needs filings)")
    args = ap.parse_args()

    if not args.no_generate:
        t = time.perf_counter()
        recreate(args.url)
        counts = generate(
            args.url,
            years=args.years,
            clusters_per_year=args.clusters_per_year,
            issuers=args.issuers,
            seed=args.seed,
        )
        print(
            f"generated {counts['clusters']:,} clusters on {counts['issuers']:,} tickers, {counts['bars']:,} "
            f"bars in {time.perf_counter() - t:.0f}s"
        )

    engine = make_engine(args.url)
    if not args.pages_only:
        t = time.perf_counter()
        with session_scope(engine, write=True) as session:
            full = performance_refresh_service.recompute_all(session)
        print(
            f"full recompute: {time.perf_counter() - t:.1f}s with commit — {json.dumps(full.as_dict())}",
            flush=True,
        )
        t = time.perf_counter()
        with session_scope(engine, write=True) as session:
            inc = performance_refresh_service.refresh(session)
        print(
            f"incremental refresh, nothing new: {time.perf_counter() - t:.1f}s — {dict(inc.reasons)}",
            flush=True,
        )
    for path, p50, p95, n in time_pages(args.url, args.requests):
        print(f"{path}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({n} requests)", flush=True)
    if args.market_url:
        time_market(args.market_url, 20)


if __name__ == "__main__":
    main()

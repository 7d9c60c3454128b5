"""Generate a PostgreSQL database holding years of Form 4 volume shaped like the real data, for the
page benchmarks (bench/pages.py).

    .venv/bin/python bench/generate.py --years 10 --scale 1.0 [--url postgresql+psycopg://...]
    .venv/bin/python bench/generate.py --scale 0.02          # a quick run (~50k filings)

The database is dropped and recreated, migrated with app.migrate.upgrade (the `clusterbuy db upgrade`
schema), filled with COPY (secondary indexes dropped during the load and recreated from their own
definitions, FK triggers off for the loading sessions only), then default-rule clusters are materialized
with app.services.clustering.refresh_all and the tables vacuumed and analyzed. Distributions are measured
from ../shared/edgar-samples (bench/gen_shape.py) and printed, with the generated counts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gen_filings import EVENT_SIZES, Generator, months_between  # noqa: E402
from gen_shape import measure, report  # noqa: E402
from gen_world import Bar, Issuer, World, build_world, daily_bars, dashboard_issuer  # noqa: E402

from app.db import make_engine, session_scope  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.repositories import clusters as clusters_repo  # noqa: E402
from app.services import clustering as clustering_service  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/clusterbuy_bench"
BULK_TABLES = ("filing", "filing_owner", "insider_transaction", "holding", "footnote")
COLUMNS = {
    "filing": (
        "accession document_type base_form is_amendment issuer_cik trading_symbol accepted_at known_at "
        "known_at_source filed_date period_of_report date_of_original_submission amends_accession aff10b5one "
        "not_subject_to_section16 remarks schema_version parser_version source source_ref content_sha256 "
        "signatures warnings ingested_at updated_at"
    ),
    "filing_owner": (
        "accession owner_cik position name_as_filed is_director is_officer officer_title "
        "is_ten_percent_owner is_other other_text"
    ),
    "insider_transaction": (
        "id accession known_at tx_table doc_index issuer_cik security_title transaction_date "
        "deemed_execution_date "
        "form_type code acquired_disposed shares total_value price price_low price_high price_source value "
        "shares_owned_after value_owned_after shares_owned_before direct_indirect nature_of_ownership "
        "equity_swap_involved timeliness conversion_or_exercise_price exercise_date expiration_date "
        "underlying_security_title underlying_shares underlying_value footnote_ids flags is_10b5_1 "
        "superseded_by is_eligible_purchase"
    ),
    "holding": (
        "id accession tx_table doc_index issuer_cik security_title shares_owned value_owned direct_indirect "
        "nature_of_ownership conversion_or_exercise_price exercise_date expiration_date "
        "underlying_security_title underlying_shares underlying_value footnote_ids superseded_by"
    ),
    "footnote": "accession footnote_id text",
    "issuer": "cik name ticker exchange sic sic_description sector updated_at",
    "reporting_owner": "cik name updated_at",
    "issuer_ticker": "issuer_cik ticker exchange first_seen_date last_seen_date",
    "price_bar": "ticker bar_date open high low close adj_close volume",
    "stock_split": "ticker ex_date ratio",
    "price_series_state": (
        "ticker source first_bar_date last_bar_date adjustment_digest last_attempt_at last_success_at "
        "last_error"
    ),
    "news_event": "issuer_cik source external_id event_date event_at form_type items title publisher url",
}
NEWS_ITEMS = (
    ("2.02,9.01", "Results of Operations and Financial Condition"),
    ("5.02", "Departure of Directors or Certain Officers; Election of Directors"),
    ("1.01,9.01", "Entry into a Material Definitive Agreement"),
    ("8.01", "Other Events"),
    ("5.07", "Submission of Matters to a Vote of Security Holders"),
)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class CopySink:
    """One COPY per table, each on its own connection, fed from buffered text lines."""

    def __init__(self, url: str, tables: tuple[str, ...]) -> None:
        self.stack = ExitStack()
        self.copies: dict[str, Any] = {}
        self.buffers: dict[str, list[str]] = {t: [] for t in tables}
        self.lines: Counter[str] = Counter()
        for table in tables:
            conn = self.stack.enter_context(psycopg.connect(_dsn(url)))
            # The loader writes consistent rows by construction; skipping per-row FK triggers for these
            # sessions only leaves the schema untouched (the constraints stay as migrated).
            conn.execute("SET session_replication_role = replica")
            conn.execute("SET synchronous_commit = off")
            cols = ", ".join(COLUMNS[table].split())
            cur = conn.cursor()
            # A writer thread pushes data while this thread builds the next rows (PG parses in parallel).
            copy = self.stack.enter_context(
                cur.copy(f"COPY {table} ({cols}) FROM STDIN", writer=QueuedLibpqWriter(cur))
            )
            self.copies[table] = copy

    def write(self, table: str, lines: list[str]) -> None:
        buf = self.buffers[table]
        buf.extend(lines)
        self.lines[table] += len(lines)
        if len(buf) >= 20_000:
            self.copies[table].write("".join(buf))
            buf.clear()

    def __enter__(self) -> CopySink:
        return self

    def __exit__(self, *exc: object) -> None:
        for table, buf in self.buffers.items():
            if buf and exc[0] is None:
                self.copies[table].write("".join(buf))
        self.stack.__exit__(*exc)  # type: ignore[arg-type]


def recreate_database(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def deferred_structures(conn: psycopg.Connection, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(DROP, CREATE) statements for the indexes worth building after the load: plain indexes, and
    PRIMARY KEY/UNIQUE constraints that no foreign key references and that are not on a serial `id`
    (rows arrive in id order, so those stay cheap to maintain). Re-created from their own catalog
    definitions, so the final schema is the migrated one."""
    out = []
    plain = conn.execute(
        """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           WHERE t.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
           ORDER BY i.relname""",
        (list(tables),),
    ).fetchall()
    out += [(f"DROP INDEX {name}", definition) for name, definition in plain]
    keys = conn.execute(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
           WHERE c.contype IN ('p', 'u') AND c.conrelid::regclass::text = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
           ORDER BY 1, 2""",
        (list(tables),),
    ).fetchall()
    for table, name, definition in keys:
        if definition != "PRIMARY KEY (id)":
            out.append(
                (
                    f"ALTER TABLE {table} DROP CONSTRAINT {name}",
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}",
                )
            )
    return out


SCHEMA_SQL = (
    """SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision,
              numeric_scale, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2""",
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "SELECT version_num FROM alembic_version",
)


def schema_of(url: str) -> list[tuple]:
    with psycopg.connect(_dsn(url)) as conn:
        return [tuple(row) for sql in SCHEMA_SQL for row in conn.execute(sql).fetchall()]


def check_schema(url: str) -> str:
    """Compare the catalog with a freshly migrated database (`clusterbuy db upgrade`)."""
    probe = make_url(url).set(database=f"{make_url(url).database}_schema_probe")
    probe_url = probe.render_as_string(hide_password=False)
    recreate_database(probe_url)
    try:
        upgrade(probe_url)
        want, got = schema_of(probe_url), schema_of(url)
    finally:
        admin = create_engine(probe.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{probe.database}" WITH (FORCE)'))
        admin.dispose()
    if want == got:
        return "identical to a fresh `db upgrade`"
    diff = sorted(set(want) ^ set(got))[:10]
    return f"DIFFERS from a fresh `db upgrade`: {diff}"


def _refresh_part(url: str, ciks: list[str]) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine, write=True) as session:
            return clustering_service.refresh_issuers(session, ciks)
    finally:
        engine.dispose()


def materialize_clusters(url: str, workers: int) -> int:
    """Default-rule clusters for every issuer: refresh_all, or the same refresh_issuers call over
    disjoint halves of its issuer list in parallel processes (each issuer's rows are independent)."""
    engine = make_engine(url)
    try:
        with session_scope(engine, write=True) as session:
            if workers <= 1:
                return clustering_service.refresh_all(session)
            ciks = clusters_repo.issuers_with_purchases(session)
    finally:
        engine.dispose()
    parts = [sorted(ciks)[k::workers] for k in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return sum(pool.map(_refresh_part, [url] * workers, parts))


def _timer() -> Any:
    start = time.perf_counter()
    return lambda: time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full volume (issuers too)")
    ap.add_argument("--issuers", type=int, default=7000, help="issuers at scale 1.0")
    ap.add_argument("--filings-per-year", type=float, default=250_000, help="at scale 1.0")
    ap.add_argument("--rows-per-filing", type=float, default=3.2, help="transaction rows per filing")
    ap.add_argument(
        "--clusters-per-year", type=float, default=1000, help="default-rule clusters at scale 1.0"
    )
    ap.add_argument("--dashboard-ticker", default="CLBY")
    ap.add_argument("--dashboard-filings", type=int, default=2000)
    ap.add_argument("--dashboard-years", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep-indexes", action="store_true", help="load with every index in place")
    ap.add_argument("--no-clusters", action="store_true", help="skip materializing clusters")
    ap.add_argument("--cluster-workers", type=int, default=2, help="1 = refresh_all in one process")
    args = ap.parse_args()

    total = _timer()
    now = datetime.now(UTC).replace(microsecond=0)
    end = now.date()
    start = end - timedelta(days=round(365.25 * args.years))
    dash_start = end - timedelta(days=round(365.25 * args.dashboard_years))
    n_issuers = max(50, round(args.issuers * args.scale))

    shape = measure()
    report(shape)

    t = _timer()
    recreate_database(args.url)
    upgrade(args.url)
    print(f"\ndatabase {make_url(args.url).database}: recreated and migrated in {t():.1f}s")

    t = _timer()
    world = build_world(
        shape, n_issuers=n_issuers, start=start, end=end, seed=args.seed, history_start=dash_start
    )
    rng = random.Random(args.seed + 2)
    splits = {
        world.cal.add(end - timedelta(days=round(365.25 * 11)), 0): 2.0,
        world.cal.add(end - timedelta(days=round(365.25 * 4)), 0): 4.0,
    }
    dash, dash_bars = dashboard_issuer(
        shape, world, ticker=args.dashboard_ticker, start=dash_start, end=end, rng=rng, splits=splits
    )
    spy = daily_bars(
        world.cal, dash_start, end, first=120.0, drift=0.075, vol=0.18, yield_=0.015, splits={}, rng=rng
    )
    gen = Generator(
        shape,
        world,
        filings_per_year=args.filings_per_year * args.scale,
        rows_per_filing=args.rows_per_filing,
        clusters_per_year=args.clusters_per_year * args.scale,
        seed=args.seed,
        now=now,
    )
    # Its clusters and amendments add about 7% to its background filings.
    gen.extra.append((dash, 0.93 * args.dashboard_filings / (args.dashboard_years * 261)))
    gen.plan_events(start, end)
    for _ in range(args.dashboard_years * 2):
        d0 = rng.choice([d for d in world.cal.days if dash_start <= d <= end])
        gen.event(dash, d0, int(rng.choices(list(EVENT_SIZES), weights=list(EVENT_SIZES.values()))[0]))
    print(
        f"world: {n_issuers:,} issuers + {args.dashboard_ticker}, {len(world.owners):,} insiders "
        f"in {t():.1f}s (row factors by main code {gen.plan_factors})"
    )

    with psycopg.connect(_dsn(args.url), autocommit=True) as conn:
        deferred = [] if args.keep_indexes else deferred_structures(conn, BULK_TABLES)
        for drop, _ in deferred:
            conn.execute(drop)

    t = _timer()
    with CopySink(args.url, BULK_TABLES) as sink:
        for year, month in months_between(dash_start, end):
            gen.emit(gen.plan_month(year, month), sink.write)
            if month == 12:
                print(
                    f"  {year}: {sink.lines['filing']:,} filings, {sink.lines['insider_transaction']:,} "
                    f"transactions ({t():.0f}s)",
                    flush=True,
                )
    load_s = t()
    print(f"loaded bulk tables in {load_s:.1f}s: " + ", ".join(f"{k} {v:,}" for k, v in sink.lines.items()))

    t = _timer()
    _small_tables(args.url, world, dash, dash_bars, spy, splits, now, rng)
    with psycopg.connect(_dsn(args.url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for _, create in deferred:
            conn.execute(create)
        for table in ("insider_transaction", "holding"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        # Statistics before clustering: without them every query plans blind (and JIT-compiles).
        conn.execute("ANALYZE")
    index_s = t()
    print(f"reference tables, prices, {len(deferred)} indexes/keys and ANALYZE in {index_s:.1f}s")

    cluster_s = 0.0
    if not args.no_clusters:
        t = _timer()
        n_clusters = materialize_clusters(args.url, args.cluster_workers)
        cluster_s = t()
        print(
            f"clusters: {n_clusters:,} default-rule clusters in {cluster_s:.1f}s "
            f"({'refresh_all' if args.cluster_workers <= 1 else f'refresh_issuers × {args.cluster_workers}'})"
        )

    t = _timer()
    with psycopg.connect(_dsn(args.url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    vacuum_s = t()
    print(f"VACUUM (ANALYZE) in {vacuum_s:.1f}s")
    print(f"schema: {check_schema(args.url)}")
    summary(args.url, gen, world, dash, start, end)
    print(
        f"\ntotal {total():.0f}s (load {load_s:.0f}s, indexes {index_s:.0f}s, clusters {cluster_s:.0f}s, "
        f"vacuum {vacuum_s:.0f}s)"
    )


def _lines(rows: list[tuple]) -> list[str]:
    return ["\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows]


def _small_tables(
    url: str,
    world: World,
    dash: Issuer,
    dash_bars: list[Bar],
    spy: list[Bar],
    splits: dict[date, float],
    now: datetime,
    rng: random.Random,
) -> None:
    ts = f"{now:%Y-%m-%d %H:%M:%S}+00"
    issuers = [*world.issuers, dash]
    rows = {
        "issuer": [
            (i.cik, i.name, i.ticker, i.exchange, i.sic, i.sic_description, i.sector, ts) for i in issuers
        ],
        "reporting_owner": [(o.cik, o.name, ts) for o in world.owners.values()],
        "issuer_ticker": [
            (i.cik, i.ticker, i.exchange, world.start if i is not dash else dash_bars[0].day, world.end)
            for i in issuers
        ],
        "price_bar": [
            (
                ticker,
                b.day,
                f"{b.open:.4f}",
                f"{b.high:.4f}",
                f"{b.low:.4f}",
                f"{b.close:.4f}",
                f"{b.adj_close:.6f}",
                b.volume * (30 if ticker == "SPY" else 1),
            )
            for ticker, bars in (("SPY", spy), (dash.ticker, dash_bars))
            for b in bars
        ],
        "stock_split": [(dash.ticker, d, f"{r:.10f}") for d, r in sorted(splits.items())],
        "price_series_state": [
            (ticker, "yfinance", bars[0].day, bars[-1].day, f"{ticker}-splits-{len(splits)}", ts, ts, None)
            for ticker, bars in (("SPY", spy), (dash.ticker, dash_bars))
        ],
        "news_event": [],
    }
    for k, b in enumerate(dash_bars):
        if rng.random() < 6 / 252:  # about six 8-Ks a year
            items, title = NEWS_ITEMS[0] if rng.random() < 0.5 else rng.choice(NEWS_ITEMS[1:])
            at = datetime(b.day.year, b.day.month, b.day.day, 21, 5, tzinfo=UTC)
            rows["news_event"].append(
                (
                    dash.cik,
                    "8-K",
                    f"{dash.cik}-{b.day:%y}-{k:06d}",
                    b.day,
                    f"{at:%Y-%m-%d %H:%M:%S}+00",
                    "8-K",
                    items,
                    title,
                    None,
                    None,
                )
            )
    with psycopg.connect(_dsn(url)) as conn:
        for table, data in rows.items():
            cols = ", ".join(COLUMNS[table].split())
            with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                copy.write("".join(_lines(data)))


def _quantiles(values: list[int]) -> str:
    if not values:
        return "none"
    values = sorted(values)
    pick = [values[min(len(values) - 1, int(q * len(values)))] for q in (0.5, 0.9, 0.99)]
    return f"median {pick[0]}, p90 {pick[1]}, p99 {pick[2]}, max {values[-1]}"


def summary(url: str, gen: Generator, world: World, dash: Issuer, start: date, end: date) -> None:
    """Print what was generated, from the database itself where it matters."""
    c = gen.counts
    with psycopg.connect(_dsn(url)) as conn:

        def one(sql: str) -> Any:
            return conn.execute(sql).fetchone()[0]  # type: ignore[index]

        counts = {
            t: one(f"SELECT count(*) FROM {t}")
            for t in (
                "issuer",
                "reporting_owner",
                "filing",
                "filing_owner",
                "insider_transaction",
                "holding",
                "footnote",
                "cluster",
                "cluster_member",
                "price_bar",
                "news_event",
            )
        }
        per_year = conn.execute(
            "SELECT extract(year FROM trigger_at)::int, count(*) FROM cluster GROUP BY 1 ORDER BY 1"
        ).fetchall()
        eligible = one("SELECT count(*) FROM insider_transaction WHERE is_eligible_purchase")
        dash_filings = one(f"SELECT count(*) FROM filing WHERE issuer_cik = '{dash.cik}'")
        size = one("SELECT pg_database_size(current_database())")
    print("\nGenerated (database counts):")
    print("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    filings = counts["filing"]
    print(
        f"  transactions per filing {counts['insider_transaction'] / filings:.2f}; owners per filing "
        f"{counts['filing_owner'] / filings:.3f}; footnotes per filing {counts['footnote'] / filings:.2f}; "
        f"database {size / 2**30:.1f} GiB"
    )
    forms = Counter(c.filings)
    print("  forms: " + ", ".join(f"{k} {v / filings:.1%}" for k, v in forms.most_common()))
    for table in ("non_derivative", "derivative"):
        codes = Counter({code: n for (t, code), n in c.codes.items() if t == table})
        n = sum(codes.values())
        print(
            f"  {table} codes ({n:,} rows, {n / max(1, counts['insider_transaction']):.1%}): "
            + ", ".join(f"{k} {v / n:.1%}" for k, v in codes.most_common(12))
        )
    buys = [c.purchases_by_issuer.get(i.idx, 0) for i in world.issuers]
    print(
        f"  eligible purchases {eligible:,}; per issuer {_quantiles(buys)}; "
        f"issuers with none {sum(1 for b in buys if b == 0):,}"
    )
    print(f"  insiders per issuer {_quantiles([len(i.insiders) for i in world.issuers])}")
    print(
        f"  amendments {c.amendments:,} ({c.amendments / filings:.1%}), superseded rows {c.superseded:,}; "
        f"injected purchase events {c.events:,}"
    )
    years = max(1.0, (end - start).days / 365.25)
    recent = [n for y, n in per_year if y >= start.year]
    print(
        f"  default-rule clusters per year: {', '.join(f'{y} {n}' for y, n in per_year)} "
        f"(mean {sum(recent) / years:,.0f}/yr over the main range)"
    )
    print(
        f"  dashboard ticker {dash.ticker} (CIK {dash.cik}): {dash_filings:,} filings, "
        f"{counts['price_bar']:,} price bars with SPY"
    )


if __name__ == "__main__":
    main()

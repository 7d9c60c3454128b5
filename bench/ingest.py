"""Benchmark the ingest paths: EDGAR fetch → parse → store (filings/s from the local test EDGAR server,
rate limit lifted) and bulk data-set import (rows/s into PostgreSQL, one synthetic quarter).

    .venv/bin/python bench/ingest.py edgar --filings 2000 [--db URL]
    .venv/bin/python bench/ingest.py bulk [--filings 30000 --rows 100000] [--pg postgresql+psycopg://...]

Each run creates a throwaway database (SQLite file, or a new PostgreSQL database that is dropped after).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings  # noqa: E402
from app.db import make_engine, session_scope  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import InsiderTransaction  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
EASTERN = ZoneInfo("America/New_York")


@contextmanager
def throwaway_db(kind: str, pg_admin: str, tmp: Path) -> Iterator[str]:
    """Yield the URL of a migrated empty database, dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    name = f"clusterbuy_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        from app.db import _engines

        for key in [k for k in _engines if k == url]:
            _engines.pop(key).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class NoLimit:
    """A rate limiter that never waits: measures the parse + store path, not SEC's 10 req/s."""

    def acquire(self, max_rps: float) -> float:
        return time.monotonic()

    def reset(self) -> None:
        pass


def edgar(args: argparse.Namespace) -> None:
    from app.ingest.backfill import process_day
    from app.ingest.sec_client import EdgarClient
    from tests.edgar_server import EdgarServer
    from tests.factories import Doc, Owner, Tx, form4_xml, submission_txt

    rng = random.Random(3)
    day = date(2024, 3, 6)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = EdgarServer(tmp / "mirror").start()
        lines = []
        for n in range(args.filings):
            acc = f"0000{rng.randint(100000, 999999)}-24-{n:06d}"
            issuer = f"{rng.randint(1000, 1000 + args.filings // 5):010d}"
            owners = [Owner(f"{rng.randint(2_000_000, 2_100_000):010d}", director=True)]
            txs = [
                Tx(
                    code=rng.choice("PSSAM"),
                    acquired_disposed="A",
                    shares=str(rng.randint(100, 90_000)),
                    price=f"{rng.randint(100, 9000) / 100:.2f}",
                    trade_date="2024-03-04",
                )
                for _ in range(rng.choice((1, 1, 2, 3, 5)))
            ]
            xml = form4_xml(Doc(issuer_cik=issuer, owners=owners, transactions=txs))
            accepted = datetime(2024, 3, 6, 9, tzinfo=EASTERN) + timedelta(seconds=n * 7)
            server.put(
                f"/Archives/edgar/data/{int(issuer)}/{acc}.txt",
                submission_txt(xml, accession=acc, accepted_at_et=accepted),
            )
            for cik in (issuer, owners[0].cik):  # listed once per party, as the real index does
                lines.append(
                    f"4           ISSUER {n:<50}{int(cik):<12}20240306    edgar/data/{int(cik)}/{acc}.txt"
                )
        header = "Form Type   Company Name   CIK   Date Filed  File Name\n" + "-" * 140 + "\n"
        server.put_daily_index(day, header + "\n".join(lines) + "\n")
        settings = Settings(
            _env_file=None,
            sec_user_agent="Clusterbuy bench bench@example.com",
            edgar_base_url=server.base_url,
            edgar_data_base_url=server.base_url,
            edgar_max_rps=10,
            cache_dir=tmp / "cache",
        )
        with throwaway_db(args.db, args.pg, tmp) as url:
            engine = make_engine(url)
            with EdgarClient(settings, limiter=NoLimit()) as client:  # type: ignore[arg-type]
                started = time.perf_counter()
                result = process_day(client, engine, day)
                elapsed = time.perf_counter() - started
            engine.dispose()
        server.stop()
    r = result.report
    print(
        f"edgar → {args.db}: {r.listed} filings listed ({len(lines)} index rows), {r.stored} stored, "
        f"{r.failed} failed in {elapsed:.2f}s = {r.listed / elapsed:,.0f} filings/s "
        f"(fetch over HTTP + parse + store + cluster refresh, rate limit lifted)"
    )


def bulk(args: argparse.Namespace) -> None:
    from app.ingest.bulk_import import import_bulk
    from bench.bulk_read import dataset_folder, zipped

    source = dataset_folder(args.filings, args.rows)
    if args.zip:
        source = zipped(source)
    with tempfile.TemporaryDirectory() as tmp_name, throwaway_db(args.db, args.pg, Path(tmp_name)) as url:
        engine = make_engine(url)
        started, started_cpu = time.perf_counter(), time.process_time()
        report = import_bulk(source, engine, batch_size=args.batch)
        first, first_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        with session_scope(engine) as session:
            rows = session.scalar(select(func.count()).select_from(InsiderTransaction)) or 0
        started = time.perf_counter()
        again = import_bulk(source, engine, batch_size=args.batch)
        second = time.perf_counter() - started
        engine.dispose()
    nd = report.summary.rows.get("NONDERIV_TRANS", 0) if report.summary else 0
    print(
        f"bulk → {args.db}: {source.name}: {report.filings} filings, {rows} transaction rows stored "
        f"({nd} NONDERIV_TRANS), {report.failed} failed, batch {args.batch}"
    )
    print(
        f"  import {first:.1f}s = {rows / first:,.0f} transaction rows/s, {report.filings / first:,.0f} "
        f"filings/s (read + store + cluster refresh); client CPU {first_cpu:.1f}s"
    )
    print(
        f"  re-import {second:.1f}s: {again.unchanged} unchanged, {again.stored} stored, "
        f"{again.updated} updated"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="part", required=True)
    p_edgar = sub.add_parser("edgar", help="filings/s from the local EDGAR server")
    p_edgar.add_argument("--filings", type=int, default=2000)
    p_edgar.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    p_bulk = sub.add_parser("bulk", help="bulk data-set import rows/s")
    p_bulk.add_argument("--filings", type=int, default=30_000)
    p_bulk.add_argument("--rows", type=int, default=100_000, help="non-derivative transaction rows")
    p_bulk.add_argument("--batch", type=int, default=500)
    p_bulk.add_argument("--zip", action="store_true")
    p_bulk.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    for p in (p_edgar, p_bulk):
        p.add_argument("--pg", default=PG_ADMIN, help="PostgreSQL admin URL (a database is created)")
    args = parser.parse_args()
    {"edgar": edgar, "bulk": bulk}[args.part](args)


if __name__ == "__main__":
    main()

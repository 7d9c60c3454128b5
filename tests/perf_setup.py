"""Clusters for the performance tests, made through the real ingest path, and the real price CSVs.

AAPL and SPY 2000-2012 (ml4t-Bill0412) and an "XYZ" series cut from the NVDA CSV at 2009-06-30 (an
early-ending series) are imported with app.services.prices.import_csv; nothing is copied into the repo.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from app.db import session_scope
from app.ingest.files import ingest_files
from app.services.prices import import_csv, parse_splits
from tests.factories import Owner, purchase_filing

AAPL_CSV = "ml4t-Bill0412__AAPL.daily.2000-2012.csv"
SPY_CSV = "ml4t-Bill0412__SPY.daily.2000-2012.csv"
NVDA_CSV = "ml4t-Drookoo__NVDA.daily.1999-01-22-2017-10-31.csv"
# AAPL's splits (ex-dates); the file is adjusted for all of them (its 2012 close is ~$24, not ~$670).
AAPL_SPLITS = parse_splits("2020-08-31:4,2014-06-09:7,2005-02-28:2,2000-06-21:2")
XYZ_LAST_DAY = date(2009, 6, 30)

AAPL_CIK = "0000320193"
XYZ_CIK = "0000009999"
NOTICKER_CIK = "0000008888"
NOPRICES_CIK = "0000007777"

ALICE = Owner("0000000101", "ALICE A", officer=True, title="Chief Executive Officer")
BOB = Owner("0000000102", "BOB B", director=True)
CAROL = Owner("0000000103", "CAROL C", officer=True, title="Chief Financial Officer")
DAN = Owner("0000000104", "DAN D", director=True)
ERIN = Owner("0000000105", "ERIN E", director=True)
FRED = Owner("0000000106", "FRED F", director=True)


@dataclass(frozen=True)
class Spec:
    """A three-buyer cluster: the third filing (accepted at `trigger_et`, US/Eastern) triggers it."""

    key: str
    issuer_cik: str
    ticker: str | None
    trade_dates: tuple[str, str, str]
    accepted_et: tuple[str, str, str]
    owners: tuple[Owner, Owner, Owner]
    price: str = "10.00"

    @property
    def cluster_id(self) -> str:
        return f"{self.issuer_cik}-{self.trade_dates[0]}"


SPECS = {
    # Accepted after the close on a Wednesday: enters at Thursday 2005-02-17's open; the 1m window
    # crosses AAPL's 2:1 split of 2005-02-28.
    "A": Spec(
        "A",
        AAPL_CIK,
        "AAPL",
        ("2005-02-10", "2005-02-11", "2005-02-14"),
        ("2005-02-11T17:00:00", "2005-02-14T12:00:00", "2005-02-16T18:00:00"),
        (ALICE, BOB, CAROL),
    ),
    # Accepted at 14:00 on Christmas Eve 2008, after its 13:00 early close: enters 2008-12-26 (Friday).
    "B": Spec(
        "B",
        AAPL_CIK,
        "AAPL",
        ("2008-12-17", "2008-12-18", "2008-12-22"),
        ("2008-12-18T17:00:00", "2008-12-19T17:00:00", "2008-12-24T14:00:00"),
        (ALICE, BOB, DAN),
    ),
    # Accepted during the session of Monday 2012-08-20: enters the next open, 2012-08-21; only 1w matures
    # before SPY's last bar (2012-09-11).
    "C": Spec(
        "C",
        AAPL_CIK,
        "AAPL",
        ("2012-08-14", "2012-08-15", "2012-08-16"),
        ("2012-08-15T17:00:00", "2012-08-17T16:30:00", "2012-08-20T10:00:00"),
        (BOB, DAN, ERIN),
        price="600.00",
    ),
    # Friday evening: enters Monday 2009-05-04; the XYZ series ends 2009-06-30, so 3m/6m/1y end early.
    "D": Spec(
        "D",
        XYZ_CIK,
        "XYZ",
        ("2009-04-28", "2009-04-29", "2009-04-30"),
        ("2009-04-29T17:00:00", "2009-04-30T17:00:00", "2009-05-01T19:00:00"),
        (DAN, ERIN, FRED),
    ),
    "E": Spec(
        "E",
        NOTICKER_CIK,
        None,
        ("2010-03-01", "2010-03-02", "2010-03-03"),
        ("2010-03-02T17:00:00", "2010-03-03T17:00:00", "2010-03-04T17:00:00"),
        (ALICE, BOB, CAROL),
    ),
    "F": Spec(
        "F",
        NOPRICES_CIK,
        "ZZZQ",
        ("2010-03-01", "2010-03-02", "2010-03-03"),
        ("2010-03-02T17:00:00", "2010-03-03T17:00:00", "2010-03-04T17:00:00"),
        (DAN, ERIN, FRED),
    ),
}


def ingest_specs(engine: Engine, folder: Path, specs: list[Spec]) -> None:
    """Write each spec's three filings and ingest them through app.ingest.files (clusters materialize)."""
    paths = []
    for n, spec in enumerate(specs):
        for k, (trade, accepted, owner) in enumerate(
            zip(spec.trade_dates, spec.accepted_et, spec.owners, strict=True)
        ):
            accession = f"{owner.cik}-{int(trade[2:4]):02d}-{n * 10 + k:06d}"
            data = purchase_filing(
                accession,
                accepted,
                owners=[owner],
                trade_date=trade,
                price=spec.price,
                issuer_cik=spec.issuer_cik,
                ticker=spec.ticker or "NONE",
                issuer_name=f"ISSUER {spec.key}",
            )
            path = folder / f"{accession}.txt"
            path.write_bytes(data)
            paths.append(path)
    report = ingest_files(paths, engine=engine, max_bytes=5_000_000)
    assert report.rejected == 0, report.rejections


def import_prices(engine: Engine, prices_dir: Path, tmp_path: Path) -> None:
    """Import AAPL and SPY from the shared CSVs, and XYZ = NVDA rows up to XYZ_LAST_DAY."""
    cut = tmp_path / "xyz.csv"
    with (prices_dir / NVDA_CSV).open(newline="") as src, cut.open("w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        writer.writerows(r for r in reader if date.fromisoformat(r[0]) <= XYZ_LAST_DAY)
    with session_scope(engine, write=True) as session:
        import_csv(session, prices_dir / SPY_CSV, "SPY")
        import_csv(session, prices_dir / AAPL_CSV, "AAPL", AAPL_SPLITS)
        import_csv(session, cut, "XYZ", basis="split_adjusted")


def csv_rows(path: Path) -> tuple[list[date], dict[date, dict[str, float]]]:
    """Sorted dates and Open/Close/Adj Close per date, read with the csv module (not the importer)."""
    with path.open(newline="") as fh:
        rows = {
            date.fromisoformat(r["Date"]): {
                "open": float(r["Open"]),
                "close": float(r["Close"]),
                "adj": float(r["Adj Close"]),
            }
            for r in csv.DictReader(fh)
        }
    return sorted(rows), rows

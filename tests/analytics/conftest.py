"""Raw rows of the real price CSVs, read with the csv module: expected figures never go through the engine."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from app.prices.csv_import import read_price_csv

SPY_1993 = "ml4t-Drookoo__SPY.daily.1993-01-29-2017-10-27.csv"
SPY_2000 = "ml4t-Bill0412__SPY.daily.2000-2012.csv"
AAPL_2000 = "ml4t-Bill0412__AAPL.daily.2000-2012.csv"
AAPL_2018 = "InsidersTradeMonitor__AAPL.daily.2018-2023.with-derived-cols.csv"
NVDA = "ml4t-Drookoo__NVDA.daily.1999-01-22-2017-10-31.csv"
AMD = "ml4t-Drookoo__AMD.daily.1980-03-17-2017-10-25.csv"
F = "ml4t-Drookoo__F.daily.1972-06-01-2017-10-31.csv"

Row = dict[str, float]


def _parse_day(text: str) -> date:
    if "/" in text:  # the InsidersTradeMonitor file writes M/D/YYYY
        month, day, year = text.split("/")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(text)


def raw_rows(path: Path) -> dict[date, Row]:
    """Map each CSV date to its Open/Close/Adj Close floats, exactly as written in the file."""
    with path.open(newline="") as fh:
        return {
            _parse_day(r["Date"]): {
                "open": float(r["Open"]),
                "close": float(r["Close"]),
                "adj": float(r["Adj Close"]),
            }
            for r in csv.DictReader(fh)
        }


@pytest.fixture(scope="session")
def prices_dir(samples_dir: Path) -> Path:
    return samples_dir / "prices"


@pytest.fixture(scope="session")
def raw(prices_dir: Path):
    """Cached raw-row lookups by file name: raw(NVDA)[date(2015, 3, 10)]["open"]."""
    cache: dict[str, dict[date, Row]] = {}

    def get(name: str) -> dict[date, Row]:
        if name not in cache:
            cache[name] = raw_rows(prices_dir / name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def frame(prices_dir: Path):
    """Cached engine input frames (via the CSV importer) by file name; each call returns a copy."""
    cache: dict[str, pd.DataFrame] = {}

    def get(name: str) -> pd.DataFrame:
        if name not in cache:
            cache[name] = read_price_csv(prices_dir / name)
        return cache[name].copy()

    return get

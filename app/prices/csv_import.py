"""Read a daily OHLCV price CSV (Yahoo, yfinance, Stooq, Alpha Vantage styles) into the standard frame.

Pure: bytes or a path in, a DataFrame out (DESIGN §3, "a CSV importer for offline use").
"""

from __future__ import annotations

import io
import re
from os import PathLike
from typing import IO, TYPE_CHECKING, cast

import pandas as pd

if TYPE_CHECKING:
    import numpy as np

STANDARD_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")

# Header spellings seen in the wild, compared after lower-casing and dropping non-alphanumerics.
_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "timestamp", "datetime", "time", "day", "tradedate", "pricedate"),
    "open": ("open", "openprice"),
    "high": ("high", "highprice"),
    "low": ("low", "lowprice"),
    "close": ("close", "closeprice", "closeraw", "rawclose", "unadjustedclose"),
    "adj_close": ("adjclose", "adjustedclose", "adjcloseprice", "adjustedcloseprice"),
    "volume": ("volume", "vol"),
}
_REQUIRED = ("date", "open", "high", "low", "close")
_ISO_PREFIX = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})")

CsvSource = str | bytes | PathLike[str] | IO[bytes] | IO[str]


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _map_columns(columns: pd.Index) -> dict[str, str]:
    by_key: dict[str, str] = {}
    for col in columns:
        by_key.setdefault(_key(col), col)
    found: dict[str, str] = {}
    for std, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in by_key:
                found[std] = by_key[alias]
                break
    missing = [std for std in _REQUIRED if std not in found]
    if missing:
        raise ValueError(
            f"price CSV is missing the {', '.join(repr(m) for m in missing)} column"
            f"{'s' if len(missing) > 1 else ''}; header was {list(map(str, columns))}"
        )
    return found


def _parse_dates(values: pd.Series) -> pd.Series:
    """Parse calendar dates, keeping the local date of timestamps such as yfinance's '...-04:00'."""
    text = values.astype("string").str.strip()
    iso = text.str.extract(_ISO_PREFIX, expand=False)
    # An ISO prefix is the exchange-local date; converting to UTC first would shift evening stamps.
    parsed = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    rest = parsed.isna() & text.notna()
    if rest.any():
        parsed[rest] = pd.to_datetime(text[rest], format="%m/%d/%Y", errors="coerce")
    rest = parsed.isna() & text.notna()
    if rest.any():
        numeric = pd.to_numeric(text[rest], errors="coerce")
        # Epoch seconds (Alpha Vantage intraday / some exports) when the column is numeric.
        parsed[rest] = pd.to_datetime(numeric, unit="s", errors="coerce").dt.normalize()
    return parsed


def read_price_csv(path_or_bytes: CsvSource) -> pd.DataFrame:
    """Read a daily price CSV into open/high/low/close/adj_close/volume indexed by ascending date."""
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    raw = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    cols = _map_columns(raw.columns)

    out = pd.DataFrame(index=raw.index)
    for std in STANDARD_COLUMNS:
        if std in cols:
            # "null", "", "-" and thousands separators all occur in hand-made and Yahoo CSVs.
            cleaned = raw[cols[std]].str.replace(",", "", regex=False).str.strip()
            out[std] = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    adj_missing = "adj_close" not in cols
    if adj_missing:
        # No adjusted column (Stooq, yfinance auto_adjust=True): the prices are taken as they are.
        out["adj_close"] = out["close"]
    if "volume" not in cols:
        out["volume"] = float("nan")

    dates = _parse_dates(raw[cols["date"]])
    n_rows = len(out)
    # One resolution whatever the source's date format (pandas 3 infers s/us otherwise).
    out.index = pd.DatetimeIndex(dates, name="date").astype("datetime64[ns]")
    # pandas-stubs type Index.notna() as an Index; it returns a boolean ndarray.
    dated = cast("np.ndarray", out.index.notna())
    keep = dated & (out["close"] > 0) & (out["adj_close"] > 0)
    out = out.loc[keep, list(STANDARD_COLUMNS)]
    out = out.sort_index(kind="stable")
    out = out[~out.index.duplicated(keep="last")]
    if out.empty:
        raise ValueError("price CSV has no row with a parseable date and a positive close")

    out.attrs["adj_close_missing"] = adj_missing
    out.attrs["volume_missing"] = "volume" not in cols
    out.attrs["rows_read"] = n_rows
    out.attrs["rows_dropped"] = n_rows - len(out)
    return out

"""Market-wide insider buy/sell ratios per week or month (DESIGN §2 "Market buy/sell ratio").

Pure pandas over a trades frame; formulas from reference/evidence.md §2.7.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import pandas as pd

DIGITS = 6
METRICS = ("ratio", "ceo_ratio", "dollar_ratio", "net_purchase_ratio")
TRADE_COLUMNS = ("insider_cik", "issuer_cik", "trade_date", "code", "value", "is_10b5_1", "is_ceo", "sector")
PAIR = ["insider_cik", "issuer_cik"]
PERIOD_COLUMNS = [
    "buy_pairs",
    "sell_pairs",
    "ratio",
    "ceo_buy_pairs",
    "ceo_sell_pairs",
    "ceo_ratio",
    "buy_value",
    "sell_value",
    "dollar_ratio",
    "net_purchase_ratio",
    *(f"{m}_{kind}" for m in METRICS for kind in ("pctile", "yoy")),
]
SECTOR_COLUMNS = [
    "buy_pairs",
    "sell_pairs",
    "ratio",
    "buy_value",
    "sell_value",
    "dollar_ratio",
    "net_purchase_ratio",
]

Freq = Literal["W", "M"]


@dataclass(frozen=True)
class MarketRatios:
    """Per-period ratios, a per-sector breakdown, and each metric's long-term average."""

    periods: pd.DataFrame  # indexed by period start (Monday of the ISO week, or 1st of the month)
    by_sector: pd.DataFrame  # indexed by (period, sector)
    long_term_average: dict[str, float | None] = field(default_factory=dict)


def _period_start(dates: pd.Series, freq: Freq) -> pd.Series:
    days = pd.to_datetime(dates).dt.normalize()
    if freq == "W":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days - pd.to_timedelta(days.dt.day - 1, unit="D")


def _safe_div(num: pd.Series, den: pd.Series) -> pd.Series:
    # Division by zero is "undefined", never an exception and never infinity.
    num, den = num.astype("float64"), den.astype("float64")
    return num / den.where(den != 0)


def _flag(values: pd.Series) -> pd.Series:
    # Unknown (None/NaN, e.g. 10b5-1 before the 2023 checkbox) counts as not flagged.
    return values.astype("boolean").fillna(False).astype(bool)


def _counts(trades: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Distinct (insider, issuer) pairs and dollars buying and selling, per group."""
    pairs = trades.drop_duplicates(subset=[*keys, "code", *PAIR])
    n = pairs.pivot_table(index=keys, columns="code", aggfunc="size")
    dollars = trades.pivot_table(index=keys, columns="code", values="value", aggfunc="sum")
    out = pd.DataFrame(
        {
            "buy_pairs": n.get("P"),
            "sell_pairs": n.get("S"),
            "buy_value": dollars.get("P"),
            "sell_value": dollars.get("S"),
        },
        index=n.index,
    )
    out = out.fillna(0.0)
    out[["buy_pairs", "sell_pairs"]] = out[["buy_pairs", "sell_pairs"]].astype("int64")
    out["ratio"] = _safe_div(out["buy_pairs"], out["sell_pairs"])
    # Buy ÷ sell dollars, the same direction as the headline ratio; show it on a log scale.
    out["dollar_ratio"] = _safe_div(out["buy_value"], out["sell_value"])
    # Lakonishok–Lee net purchase ratio on pair counts, bounded in [-1, 1].
    out["net_purchase_ratio"] = _safe_div(
        out["buy_pairs"] - out["sell_pairs"], out["buy_pairs"] + out["sell_pairs"]
    )
    return out


def _dates(s: pd.Series) -> pd.DatetimeIndex:
    # The period series are indexed by period start; the stubs only know a Series has some Index.
    return cast(pd.DatetimeIndex, s.index)


def _trailing_percentile(s: pd.Series, *, months: int, min_history: int) -> pd.Series:
    """Percent of the values in the trailing window (current included) that are <= the current one."""
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    values = s.to_numpy(dtype="float64")
    starts = _dates(s) - pd.DateOffset(months=months)
    for i, (t, current) in enumerate(zip(s.index, values, strict=True)):
        if np.isnan(current):
            continue
        mask = (s.index > starts[i]) & (s.index <= t)
        window = values[mask]
        window = window[~np.isnan(window)]
        if len(window) >= min_history:
            out.iloc[i] = 100.0 * float((window <= current).sum()) / len(window)
    return out


def _year_over_year(s: pd.Series, freq: Freq) -> pd.Series:
    # Weekly: the same ISO weekday 52 weeks earlier; monthly: the same month a year earlier.
    offset = pd.Timedelta(weeks=52) if freq == "W" else pd.DateOffset(years=1)
    prior = s.reindex(_dates(s) - offset)
    change: pd.Series = s - prior.to_numpy()
    return change


def _prepare(df: pd.DataFrame, freq: Freq, discretionary: bool) -> pd.DataFrame:
    missing = [c for c in TRADE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"trades frame is missing columns: {', '.join(missing)}")
    trades = df.loc[df["code"].isin(["P", "S"]), list(TRADE_COLUMNS)].copy()
    if discretionary:
        # DESIGN §2: the discretionary filter drops sales made under a 10b5-1 plan.
        trades = trades[~((trades["code"] == "S") & _flag(trades["is_10b5_1"]))]
    trades["value"] = pd.to_numeric(trades["value"].astype("float64"), errors="coerce").fillna(0.0)
    trades["is_ceo"] = _flag(trades["is_ceo"])
    trades["sector"] = trades["sector"].fillna("Unknown")
    trades["period"] = _period_start(trades["trade_date"], freq)
    return trades


def buy_sell_ratio(
    df: pd.DataFrame,
    freq: Freq = "W",
    discretionary: bool = False,
    *,
    window_months: int = 60,
    min_history: int = 12,
) -> MarketRatios:
    """Compute buy/sell pair ratios, CEO and dollar ratios, net purchase ratio, percentiles and YoY."""
    if freq not in ("W", "M"):
        raise ValueError(f"freq must be 'W' or 'M', not {freq!r}")
    trades = _prepare(df, freq, discretionary)
    if trades.empty:
        empty = pd.DataFrame(columns=PERIOD_COLUMNS, index=pd.DatetimeIndex([], name="period"))
        by_sector = pd.DataFrame(
            columns=SECTOR_COLUMNS,
            index=pd.MultiIndex.from_arrays(
                [pd.DatetimeIndex([]), pd.Index([], dtype=object)], names=["period", "sector"]
            ),
        )
        return MarketRatios(empty, by_sector, dict.fromkeys(METRICS))

    # Every period from the first to the last, so empty weeks exist (and count in the windows).
    grid = pd.date_range(
        trades["period"].min(), trades["period"].max(), freq="W-MON" if freq == "W" else "MS", name="period"
    )
    periods = _counts(trades, ["period"]).reindex(grid)
    for col in ("buy_pairs", "sell_pairs"):
        periods[col] = periods[col].fillna(0).astype("int64")
    for col in ("buy_value", "sell_value"):
        periods[col] = periods[col].fillna(0.0)
    ceo = _counts(trades[trades["is_ceo"]], ["period"]).reindex(grid) if trades["is_ceo"].any() else None
    periods["ceo_buy_pairs"] = 0 if ceo is None else ceo["buy_pairs"].fillna(0).astype("int64")
    periods["ceo_sell_pairs"] = 0 if ceo is None else ceo["sell_pairs"].fillna(0).astype("int64")
    periods["ceo_ratio"] = _safe_div(periods["ceo_buy_pairs"], periods["ceo_sell_pairs"])
    # Periods with no trades at all stay NaN (undefined), like any zero denominator.
    periods["ratio"] = _safe_div(periods["buy_pairs"], periods["sell_pairs"])
    periods["dollar_ratio"] = _safe_div(periods["buy_value"], periods["sell_value"])
    periods["net_purchase_ratio"] = _safe_div(
        periods["buy_pairs"] - periods["sell_pairs"], periods["buy_pairs"] + periods["sell_pairs"]
    )
    for metric in METRICS:
        # evidence §1c/§2.7: levels drift, so rank against the trailing 60 months instead of thresholds.
        periods[f"{metric}_pctile"] = _trailing_percentile(
            periods[metric], months=window_months, min_history=min_history
        )
        periods[f"{metric}_yoy"] = _year_over_year(periods[metric], freq)

    long_term: dict[str, float | None] = {}
    for metric in METRICS:
        mean = periods[metric].mean()
        long_term[metric] = None if pd.isna(mean) else round(float(mean), DIGITS)

    by_sector = _counts(trades, ["period", "sector"])[SECTOR_COLUMNS]
    periods = periods[PERIOD_COLUMNS]
    float_cols = [c for c in periods.columns if periods[c].dtype == "float64"]
    return MarketRatios(
        periods=periods.round(dict.fromkeys(float_cols, DIGITS)),
        by_sector=by_sector.round(DIGITS),
        long_term_average=long_term,
    )

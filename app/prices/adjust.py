"""Pure price adjustments: split factors, Yahoo-basis frames to as-traded rows, the adjustment digest,
the `--splits` syntax and CSV split-basis detection (no database, no network).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

from app.prices.csv_import import STANDARD_COLUMNS

Split = tuple[date, Decimal]  # (ex_date, new/old shares: 4 for a 4:1 split)
Basis = Literal["split_adjusted", "as_traded"]
PRICE_Q = Decimal("0.000001")  # the scale of the Price column
_RATIO_Q = Decimal("0.0000000001")  # the scale of StockSplit.ratio


class SplitFactors:
    """Cumulative split factor after a date: the product of the ratios of splits with a later ex-date."""

    def __init__(self, splits: Iterable[Split]) -> None:
        items = sorted((d, Decimal(r)) for d, r in splits)
        self._dates = [d for d, _ in items]
        self._suffix = [Decimal(1)] * (len(items) + 1)
        for i in range(len(items) - 1, -1, -1):
            self._suffix[i] = self._suffix[i + 1] * items[i][1]

    def __call__(self, day: date) -> Decimal:
        # A trade on the ex-date is already priced post-split, hence strictly later ex-dates.
        return self._suffix[bisect.bisect_right(self._dates, day)]


def split_factor_after(splits: Iterable[Split], day: date) -> Decimal:
    """Return the product of the split ratios whose ex-date is after `day` (1 when none)."""
    return SplitFactors(splits)(day)


def to_chart_basis(price: Decimal, trade_date: date, splits: Iterable[Split]) -> Decimal:
    """Put a price from `trade_date` on today's split-adjusted basis ($200 in 2019 -> $50 after a 4:1)."""
    factor = split_factor_after(splits, trade_date)
    return price if factor == 1 else (Decimal(price) / factor).quantize(PRICE_Q)


def _dec(value: float) -> Decimal | None:
    if value is None or math.isnan(value):
        return None
    # repr() is the shortest round-tripping string: the digits the file or Yahoo gave.
    return Decimal(repr(float(value)))


def bar_rows(ticker: str, bars: pd.DataFrame, splits: Iterable[Split]) -> list[dict[str, Any]]:
    """Rows for PriceBar from a split-adjusted frame: OHLC × later splits, volume ÷ later splits."""
    factors = SplitFactors(splits)
    rows: list[dict[str, Any]] = []
    for ts, o, h, lo, c, a, v in bars[list(STANDARD_COLUMNS)].itertuples(name=None):
        day = ts.date()
        f = factors(day)
        values = [_dec(x) for x in (o, h, lo, c)]
        o_d, h_d, l_d, c_d = (None if x is None else (x * f).quantize(PRICE_Q) for x in values)
        vol = _dec(v)
        rows.append(
            {
                "ticker": ticker,
                "bar_date": day,
                "open": o_d,
                "high": h_d,
                "low": l_d,
                "close": c_d,
                "adj_close": _dec(a).quantize(PRICE_Q),  # type: ignore[union-attr]  # frames drop NaN closes
                "volume": None if vol is None else int((vol / f).to_integral_value()),
            }
        )
    return rows


def adjustment_digest(splits: Iterable[Split], dividends: Iterable[Split]) -> str:
    """Return a stable hash of a series' adjustment history (its splits and dividends)."""

    def canon(x: Decimal) -> str:
        return format(Decimal(x).quantize(_RATIO_Q).normalize(), "f")

    lines = [f"S {d.isoformat()} {canon(r)}" for d, r in sorted(splits)]
    lines += [f"D {d.isoformat()} {canon(a)}" for d, a in sorted(dividends)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# --- CSV import helpers ------------------------------------------------------------------------------

_SPLIT_ITEM = re.compile(
    r"^(\d{4}-\d{2}-\d{2})\s*[:=]\s*(\d+(?:\.\d+)?)(?:\s*[:/]\s*(\d+(?:\.\d+)?))?(?:\s*-?for-?1)?$"
)


def parse_splits(text: str | None) -> list[Split]:
    """Parse "2020-08-31:4,2014-06-09:7" (also 3/2 or 4:1 ratios) into sorted (ex_date, ratio) pairs."""
    out: dict[date, Decimal] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        m = _SPLIT_ITEM.match(item)
        hint = "expected DATE:RATIO such as 2020-08-31:4 (a 4-for-1 split) or 2021-05-03:3/2"
        if not m:
            raise ValueError(f"bad split {item!r}: {hint}")
        try:
            ex_date = date.fromisoformat(m.group(1))
        except ValueError:
            raise ValueError(f"bad split {item!r}: {m.group(1)} is not a date") from None
        ratio = Decimal(m.group(2)) / Decimal(m.group(3) or 1)
        if ratio <= 0 or ratio == 1:
            raise ValueError(f"bad split {item!r}: the ratio must be positive and not 1")
        if ex_date in out:
            raise ValueError(f"split date {ex_date} given twice")
        out[ex_date] = ratio.quantize(_RATIO_Q).normalize()
    return sorted(out.items())


def detect_csv_basis(frame: pd.DataFrame, splits: Sequence[Split]) -> tuple[Basis | None, list[date]]:
    """Tell from the closes around in-range splits whether a CSV is split-adjusted or as traded."""
    closes = frame["close"]
    votes: Counter[Basis] = Counter()
    used: list[date] = []
    for ex_date, ratio in splits:
        pos = int(closes.index.searchsorted(pd.Timestamp(ex_date)))  # first bar on or after the ex-date
        if pos == 0 or pos >= len(closes):
            continue
        change = float(closes.iloc[pos]) / float(closes.iloc[pos - 1])
        if not change > 0:
            continue
        # As traded, the close drops by the ratio at the ex-date; split-adjusted (Yahoo), it does not.
        jump = abs(math.log(change) + math.log(float(ratio)))
        votes["as_traded" if jump < abs(math.log(change)) else "split_adjusted"] += 1
        used.append(ex_date)
    if not used:
        return None, []
    return ("as_traded" if votes["as_traded"] > votes["split_adjusted"] else "split_adjusted"), used

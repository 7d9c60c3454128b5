"""The dashboard chart's data: the price series, one marker per filing, trade date and kind (sized and
placed on the chart's split-adjusted basis), and 8-K news markers."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

from app.ingest.reference_data import EIGHT_K_ITEMS
from app.models import NewsEvent
from app.prices.adjust import SplitFactors
from app.schemas.ticker import NewsItem, NewsMarker, PriceSeries, SplitInfo, TradeMarker
from app.services import signals as signals_service

PRICE_Q = Decimal("0.0001")
MARKER_LABELS = {
    signals_service.BUY: "Purchase",
    signals_service.SELL: "Sale",
    signals_service.SELL_PLAN: "Sale (10b5-1 plan)",
    signals_service.SELL_EXERCISE: "Sale with same-day exercise",
    signals_service.EXERCISE: "Option exercise / conversion",
}
TAX_LABELS = {"F": "Shares withheld for tax / exercise price", "D": "Disposition to the issuer"}


class Filers(Protocol):
    """Who filed one filing, as the markers show it."""

    @property
    def names(self) -> str: ...

    @property
    def role_text(self) -> str: ...


def _floats(values: np.ndarray) -> list[float | None]:
    rounded = np.round(values.astype("float64"), 4)
    if not np.isnan(rounded).any():  # the usual case: no per-bar Python loop
        return rounded.tolist()  # type: ignore[no-any-return]
    return [None if math.isnan(x) else x for x in rounded.tolist()]


def _volumes(volume: np.ndarray) -> list[int | None]:
    if np.isfinite(volume).all():  # the usual case: int64 truncates as int() does
        return volume.astype(np.int64).tolist()  # type: ignore[no-any-return]
    return [None if math.isnan(v) else int(v) for v in volume.tolist()]


def price_series(ticker: str, frame: pd.DataFrame, splits: Sequence[tuple[date, Decimal]]) -> PriceSeries:
    # Sent once, whole (20 years is ~5k bars): the range buttons zoom in the browser.
    volume = frame["volume"].to_numpy(dtype="float64")
    return PriceSeries(
        ticker=ticker,
        dates=cast(pd.DatetimeIndex, frame.index).strftime("%Y-%m-%d").tolist(),
        open=_floats(frame["open"].to_numpy()),
        high=_floats(frame["high"].to_numpy()),
        low=_floats(frame["low"].to_numpy()),
        close=np.round(frame["close"].to_numpy(dtype="float64"), 4).tolist(),
        volume=_volumes(volume),
        splits=[SplitInfo(ex_date=d, ratio=r) for d, r in splits],
    )


def trade_markers(
    rows: Sequence[Any],
    kinds: dict[int, str],
    people: Mapping[str, Filers],
    splits: Sequence[tuple[date, Decimal]],
    frame: pd.DataFrame,
    bar_dates: list[date],
) -> list[TradeMarker]:
    """One marker per filing, trade date and kind: tranches of one filing are one point."""
    groups: dict[tuple[str, date, str, str], list[Any]] = defaultdict(list)
    for r in rows:
        kind = kinds.get(r.id)
        if kind is None or r.transaction_date is None or not r.shares:
            continue
        groups[(r.accession, r.transaction_date, kind, r.code or "")].append(r)
    factors = SplitFactors(splits)
    closes: list[float] = frame["close"].to_numpy().tolist() if bar_dates else []
    chart_group, exercise = signals_service.CHART_GROUP, signals_service.EXERCISE
    labels: dict[tuple[str, str], str] = {}
    out: list[TradeMarker] = []
    # A busy ticker has thousands of markers: plain loops, no per-marker helpers or numpy calls.
    for (accession, day, kind, code), items in groups.items():
        if len(items) == 1:
            first = items[0]
            shares, value, filed, plan = first.shares, first.value, [], bool(first.is_10b5_1)
        else:
            shares = sum((r.shares for r in items), Decimal(0))
            values = [r.value for r in items]
            value = None if None in values else sum(values, Decimal(0))
            filed = [p for r in items for p in (r.price, r.price_low, r.price_high) if p is not None]
            plan = any(bool(r.is_10b5_1) for r in items)
        avg = (value / shares).quantize(PRICE_Q) if value is not None and value > 0 else None
        # Exercises are filed at the strike, not a market price: plot those at the day's close.
        y: float | None
        if avg is not None and kind != exercise:
            y, y_from = round(float(avg / factors(day)), 4), "filed_price"
        else:
            y, y_from = None, "close"
            if bar_dates:
                pos = bisect.bisect_right(bar_dates, day) - 1
                # The last bar on or before the day, unless the series has a gap there.
                if pos >= 0 and (day - bar_dates[pos]).days <= 7:
                    y = round(closes[pos], 4)
        label = labels.get((kind, code))
        if label is None:
            label = labels[(kind, code)] = _marker_label(kind, code)
        filers = people[accession]
        out.append(
            {
                "kind": chart_group[kind],  # type: ignore[typeddict-item]
                "label": label,
                "date": day,
                "y": y,
                "y_from": y_from,  # type: ignore[typeddict-item]
                "insider": filers.names,
                "role_text": filers.role_text,
                "code": code,
                "shares": shares,
                "price": avg,
                "price_low": min(filed) if filed else None,
                "price_high": max(filed) if filed else None,
                "value": value,
                "n_rows": len(items),
                "accession": accession,
                "is_10b5_1": plan,
            }
        )
    out.sort(key=_MARKER_ORDER)
    return out


_MARKER_ORDER = itemgetter("date", "accession", "kind")


def _marker_label(kind: str, code: str) -> str:
    if kind == signals_service.TAX:
        return TAX_LABELS.get(code, "Tax / disposition")
    return MARKER_LABELS[kind]


def news_marker(e: NewsEvent) -> NewsMarker:
    items = [i.strip() for i in (e.items or "").split(",") if i.strip()]
    return NewsMarker(
        date=e.event_date,
        at=e.event_at,
        source=e.source,
        form_type=e.form_type,
        items=[NewsItem(code=i, text=EIGHT_K_ITEMS.get(i, "Item " + i)) for i in items],
        title=e.title,
        publisher=e.publisher,
        url=e.url if e.url and e.url.startswith(("https://", "http://")) else None,
    )

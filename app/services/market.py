"""Market pulse (DESIGN §2 "Market buy/sell ratio"): insiders' buy/sell pair ratios per week or month,
CEO-only, dollar and net purchase ratios, percentiles, year over year and by sector, with a snapshot."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import market_ratio
from app.repositories import market as market_repo
from app.repositories import performance as perf_repo
from app.schemas.market import MarketFilters, MarketFreq, MarketPage, MarketPoint, MarketView, SectorRow
from app.services import roles as roles_service

SNAPSHOT = "market.snapshot"
# A snapshot older than this is recomputed live; a younger one is served even if filings arrived since
# (the page says so): at 10 years of filings a live computation takes far longer than a page should.
SNAPSHOT_MAX_AGE = timedelta(hours=26)
_FREQ: dict[MarketFreq, market_ratio.Freq] = {MarketFreq.week: "W", MarketFreq.month: "M"}


@lru_cache(maxsize=65536)
def _is_ceo(officer_title: str | None, other_text: str | None) -> bool:
    # Roles come from the filer's titles the same way as everywhere else (services/roles.py).
    return roles_service.CEO in roles_service.classify_roles(
        False, False, officer_title, False, False, other_text
    )


def trades_frame(session: Session, freq: MarketFreq) -> pd.DataFrame:
    """The analytics input: one row per (period, code, insider, issuer, 10b5-1) with summed dollars."""
    rows = market_repo.pair_periods(session, _FREQ[freq])
    columns = list(market_ratio.TRADE_COLUMNS)
    if not rows:
        return pd.DataFrame(columns=columns)
    # The period start stands in for the trade date: the analytics map it to the same period.
    return pd.DataFrame(
        [
            (owner, issuer, period, code, value or 0.0, plan, _is_ceo(title, other), sector)
            for period, code, owner, issuer, sector, plan, title, other, value, _n in rows
        ],
        columns=columns,
    )


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compute_view(
    session: Session, freq: MarketFreq, discretionary: bool, *, frame: pd.DataFrame | None = None
) -> MarketView:
    """Compute every ratio for one frequency and discretionary setting from the stored filings."""
    trades = trades_frame(session, freq) if frame is None else frame
    result = market_ratio.buy_sell_ratio(trades, _FREQ[freq], discretionary)
    points = [
        MarketPoint(period=ts.date(), **{str(k): _clean(v) for k, v in row.items()})
        for ts, row in zip(result.periods.index, result.periods.to_dict("records"), strict=True)
    ]
    sector_period = None
    sectors: list[SectorRow] = []
    if len(result.by_sector):
        sector_period = result.by_sector.index.get_level_values("period").max()
        # A cross-section of the rows' period level is a frame (the stubs allow a Series too).
        latest = cast(pd.DataFrame, result.by_sector.xs(sector_period, level="period"))
        sectors = [
            SectorRow(sector=str(name), **{str(k): _clean(v) for k, v in row.items()})
            for name, row in zip(latest.index, latest.to_dict("records"), strict=True)
        ]
        sectors.sort(key=lambda s: (-(s.buy_pairs + s.sell_pairs), s.sector))
        sector_period = sector_period.date()
    return MarketView(
        freq=freq,
        discretionary=discretionary,
        points=points,
        long_term_average={k: _clean(v) for k, v in result.long_term_average.items()},
        sector_period=sector_period,
        sectors=sectors,
        computed_at=datetime.now(UTC),
        max_transaction_id=market_repo.max_transaction_id(session),
    )


def refresh_snapshot(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """Precompute the four views (week/month × all/discretionary) so the page reads one document."""
    now = now or datetime.now(UTC)
    views = {}
    for freq in MarketFreq:
        frame = trades_frame(session, freq)
        for discretionary in (False, True):
            view = compute_view(session, freq, discretionary, frame=frame)
            views[f"{freq.value}:{int(discretionary)}"] = view.model_dump(mode="json")
    value = {
        "max_transaction_id": market_repo.max_transaction_id(session),
        "computed_at": now.isoformat(),
        "views": views,
    }
    perf_repo.put_snapshot(session, SNAPSHOT, value, now=now)
    return value


def _view(session: Session, filters: MarketFilters, now: datetime) -> tuple[MarketView, str]:
    snapshot = perf_repo.get_snapshot(session, SNAPSHOT)
    stored = (snapshot or {}).get("views", {}).get(f"{filters.freq.value}:{int(filters.discretionary)}")
    if snapshot and stored:
        # Current while no transaction was stored after it (new filings raise the max id).
        if snapshot.get("max_transaction_id") == market_repo.max_transaction_id(session):
            return MarketView.model_validate(stored), "snapshot"
        built = datetime.fromisoformat(snapshot.get("computed_at", "1970-01-01T00:00:00+00:00"))
        if now - built < SNAPSHOT_MAX_AGE:
            return MarketView.model_validate(stored), "snapshot_behind"
    return compute_view(session, filters.freq, filters.discretionary), "live"


def build_market_page(session: Session, filters: MarketFilters, *, today: date | None = None) -> MarketPage:
    """The /market page (and /api/market): ratios over time, the current value in context, by sector."""
    now = datetime.now(UTC)
    view, source = _view(session, filters, now)
    current = view.points[-1] if view.points else None
    today = today or now.date()
    partial = False
    if current is not None:
        week = filters.freq is MarketFreq.week
        end = current.period + timedelta(days=7) if week else _next_month(current.period)
        partial = end > today  # the period has not ended yet: its counts are still growing
    shown = [
        p
        for p in view.points
        if (filters.from_date is None or p.period >= filters.from_date)
        and (filters.to_date is None or p.period <= filters.to_date)
    ]
    return MarketPage(
        filters=filters,
        view=view.model_copy(update={"points": shown}),
        current=current,
        current_partial=partial,
        source=source,
    )


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)

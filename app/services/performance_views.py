"""A performance view computed from a slice (summaries with bootstrap CIs, breakdowns, histograms,
the calendar-time portfolio), and the common views precomputed by each refresh."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import performance as pf
from app.repositories import performance as perf_repo
from app.repositories import prices as prices_repo
from app.schemas.performance import (
    Breakdown,
    GroupSummary,
    Histogram,
    HorizonSummary,
    PerformanceFilters,
    PerformanceView,
    Portfolio,
    RoleMix,
    ValueBucket,
)
from app.services.performance_groups import (
    BUYER_GROUPS,
    DEFAULT_H,
    DEFAULT_RULE,
    DEFAULT_SEED,
    HORIZONS,
    PLAN_GROUPS,
    ROLE_GROUPS,
    VALUE_GROUPS,
)
from app.services.performance_slices import Slice, load_materialized, narrow
from app.services.prices import BENCHMARK

# evidence §2.5: 10,000 month-block draws for the headline; breakdown cells use fewer to stay fast.
N_BOOT = 10_000
N_BOOT_GROUP = 2_000
HOLDING_DAYS = 21  # calendar-time portfolio: hold each cluster one month (evidence §2.5, JMZ style)
PORTFOLIO_MAX_CLUSTERS = 5_000  # filtered slices above this show no portfolio (too many bars per request)
HIST_EDGES = [round(-0.5 + 0.05 * i, 2) for i in range(21)]  # -50% .. +50% in 5-point bins


def _slim(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per horizon, only the columns summarize reads (pandas overhead dominates on wide frames)."""
    if not len(frame):
        return {}
    cols = frame[["horizon", "status", "excess", "stock_return", "trigger_at"]]
    cols = cols.assign(
        horizon=cols["horizon"].astype(object),
        status=cols["status"].astype(object),
        excess=pd.to_numeric(cols["excess"], errors="coerce"),
        stock_return=pd.to_numeric(cols["stock_return"], errors="coerce"),
        trigger_at=pd.to_datetime(cols["trigger_at"], utc=True),
    )
    return {str(h): part for h, part in cols.groupby("horizon", sort=False)}


def _summaries(
    frame: pd.DataFrame, *, seed: int, n_boot: int, horizons: Sequence[str] = tuple(HORIZONS)
) -> list[HorizonSummary]:
    parts = _slim(frame)
    out = []
    for label, days in HORIZONS.items():
        if label not in horizons:
            continue
        part = parts.get(label)
        if part is not None:
            s = pf.summarize(part, horizon=label, seed=seed, n_boot=n_boot)
            out.append(HorizonSummary(days=days, **asdict(s)))
        else:
            out.append(
                HorizonSummary(
                    horizon=label, days=days, n=0, mean=None, median=None, hit_rate=None,
                    share_positive=None, ci_low=None, ci_high=None, n_open=0, n_ended_early=0,
                )
            )  # fmt: skip
    return out


def compute_breakdowns(frame: pd.DataFrame, seed: int, horizons: Sequence[str]) -> list[Breakdown]:
    """Summarize each buyer-count, role-mix, value and 10b5-1 group at the given horizons."""
    dims = [
        ("buyers", "Number of buyers", BUYER_GROUPS),
        ("role_mix", "Role mix", ROLE_GROUPS),
        ("value_bucket", "Cluster value", VALUE_GROUPS),
        ("plan", "10b5-1 purchases", PLAN_GROUPS),
    ]
    out = []
    for column, label, groups in dims:
        cells = []
        for key, group_label in groups:
            part = frame[frame[column] == key] if len(frame) else frame
            cells.append(
                GroupSummary(
                    key=key,
                    label=group_label,
                    n_clusters=int(part["cluster_id"].nunique()) if len(part) else 0,
                    summaries=_summaries(part, seed=seed, n_boot=N_BOOT_GROUP, horizons=horizons),
                )
            )
        out.append(Breakdown(key=column, label=label, groups=cells))
    return out


def _histograms(frame: pd.DataFrame) -> list[Histogram]:
    out = []
    for label in HORIZONS:
        values = np.array([], dtype="float64")
        if len(frame):
            done = frame[(frame["horizon"] == label) & (frame["status"] == "done")]
            values = done["excess"].dropna().to_numpy(dtype="float64")
        counts, _ = np.histogram(values, bins=HIST_EDGES)
        # np.histogram puts the last edge into the last bin; count it as "above" instead.
        at_top = int((values == HIST_EDGES[-1]).sum())
        counts[-1] -= at_top
        out.append(
            Histogram(
                horizon=label,
                edges=HIST_EDGES,
                counts=[int(c) for c in counts],
                below=int((values < HIST_EDGES[0]).sum()),
                above=int((values >= HIST_EDGES[-1]).sum()),
            )
        )
    return out


def _portfolio_bars(session: Session, frame: pd.DataFrame, as_of: date) -> tuple[dict[str, pf.Bars], pf.Bars]:
    """Prepared bars covering each cluster's holding window (entry to the 1m exit, or as_of), and SPY's."""
    entries = frame[(frame["horizon"] == "1m") & frame["entry_date"].notna()]
    windows = [
        (t, e, x if isinstance(x, date) and s != "open" else as_of)
        for t, e, x, s in zip(
            entries["ticker"], entries["entry_date"], entries["exit_date"], entries["status"], strict=True
        )
    ]
    frames = perf_repo.bar_windows(session, windows)
    start = entries["entry_date"].min() if len(entries) else as_of
    spy = prices_repo.series_frame(session, BENCHMARK, start=start, end=as_of)
    return {t: pf.bars_from_arrays(*f, as_of) for t, f in frames.items()}, pf.prepare_bars(spy, as_of)


def _portfolio(
    session: Session,
    frame: pd.DataFrame,
    as_of: date | None,
    bars: dict[str, Any] | None,
    spy: pf.Bars | None = None,
    *,
    cap: bool = True,
) -> Portfolio:
    """Equal-weight calendar-time portfolio of clusters held HOLDING_DAYS sessions from entry, vs SPY."""
    base = Portfolio(holding_days=HOLDING_DAYS, n_clusters=0)
    if not len(frame) or as_of is None:
        return base
    entries = frame[(frame["horizon"] == "1m") & frame["entry_date"].notna()]
    if entries.empty:
        return base
    if cap and len(entries) > PORTFOLIO_MAX_CLUSTERS:
        base.note = f"{len(entries)} clusters: narrow the filters to {PORTFOLIO_MAX_CLUSTERS} or fewer."
        return base
    if bars is None or spy is None:
        bars, spy = _portfolio_bars(session, entries, as_of)
    daily = pf.calendar_time_portfolio(
        entries[["cluster_id", "ticker", "entry_date"]], bars, spy, holding_days=HOLDING_DAYS, as_of=as_of
    )
    if daily.empty:
        return base
    held = daily[daily["n_positions"] > 0]
    mean_excess = float(held["excess_ret"].mean()) if len(held) else math.nan
    return Portfolio(
        holding_days=HOLDING_DAYS,
        n_clusters=len(entries),
        dates=[d.date() for d in daily.index],
        port_cum=[float(x) for x in daily["port_cum"]],
        spy_cum=[float(x) for x in daily["spy_cum"]],
        n_positions=[int(x) for x in daily["n_positions"]],
        days_held=len(held),
        annualized_excess=round(mean_excess * 252, pf.DIGITS) if math.isfinite(mean_excess) else None,
        total_excess=float(daily["excess_cum"].iloc[-1]),
    )


def compute_view(
    session: Session,
    data: Slice,
    seed: int,
    horizons: Sequence[str],
    *,
    spy: pf.Bars | None = None,
) -> PerformanceView:
    """Compute a view; breakdown cells only for `horizons` (each cell is a bootstrap, and they add up)."""
    insider_ok = data.insider is not None
    insider = data.insider if data.insider is not None else pd.DataFrame()
    return PerformanceView(
        summaries=_summaries(data.frame, seed=seed, n_boot=N_BOOT),
        insider=_summaries(insider, seed=seed, n_boot=N_BOOT_GROUP),
        insider_available=insider_ok,
        breakdowns=compute_breakdowns(data.frame, seed, horizons),
        histograms=_histograms(data.frame),
        # Precomputed views (spy given) have no cap: the bars are loaded once for all of them.
        portfolio=_portfolio(session, data.frame, data.coverage.as_of, data.bars, spy, cap=spy is None),
        coverage=data.coverage,
    )


def view_key(filters: PerformanceFilters) -> str | None:
    """The stored view answering these filters: the whole set, or one role mix, or one value bucket."""
    if not filters.default_rule or filters.from_date or filters.to_date or filters.seed != DEFAULT_SEED:
        return None
    if filters.role is not RoleMix.any and filters.value is not ValueBucket.any:
        return None
    if (filters.role is not RoleMix.any or filters.value is not ValueBucket.any) and filters.h != DEFAULT_H:
        return None  # variants store their breakdowns at the default horizon only
    if filters.role is not RoleMix.any:
        return f"role={filters.role.value}"
    if filters.value is not ValueBucket.any:
        return f"value={filters.value.value}"
    return "all"


def store_views(session: Session, *, as_of: date, now: datetime) -> None:
    """Precompute the common views so the page renders from one stored document (DESIGN §5: p95 < 100 ms)."""
    version = perf_repo.returns_version(session)
    loaded = load_materialized(session, PerformanceFilters())
    bars, spy = _portfolio_bars(session, loaded.frame, as_of) if len(loaded.frame) else ({}, None)
    variants = [PerformanceFilters()]
    variants += [PerformanceFilters(role=r) for r in RoleMix if r is not RoleMix.any]
    variants += [PerformanceFilters(value=v) for v in ValueBucket if v is not ValueBucket.any]
    for filters in variants:
        data = narrow(loaded, filters)
        data.bars = bars
        # Breakdown cells are the cost (one bootstrap each): all horizons for the whole set only.
        horizons = tuple(HORIZONS) if filters.unfiltered else (DEFAULT_H,)
        view = compute_view(session, data, DEFAULT_SEED, horizons, spy=spy)
        key = view_key(filters)
        assert key is not None
        perf_repo.put_view(
            session,
            key,
            rule=DEFAULT_RULE,
            params=filters.query(),
            payload=view.model_dump(mode="json"),
            data_through=as_of,
            returns_version=version,
            now=now,
        )


def stored_view(session: Session, key: str) -> PerformanceView | None:
    """Return the stored view under key, or None when absent or older than the stored returns."""
    stored = perf_repo.get_view(session, key)
    if stored is None:
        return None
    # Stale when returns changed after it was built (a cluster deleted, rows written elsewhere).
    if (stored.returns_count, stored.returns_computed_at) != perf_repo.returns_version(session):
        return None
    return PerformanceView.model_validate(stored.payload)

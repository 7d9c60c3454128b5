"""Did cluster buys beat the S&P 500 (DESIGN §2)? Builds the /performance page and its CSV (stored
views, stored returns, or another N/W computed on request) and gives the cluster, weekly and ticker
pages each cluster's stored returns (returns_for_clusters)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from app.repositories import performance as perf_repo
from app.schemas.performance import ClusterReturnView, PerformanceFilters, PerformancePage
from app.services.performance_groups import DEFAULT_H, HORIZONS
from app.services.performance_published import published_figures
from app.services.performance_slices import Loaded, filter_bounds, load_slice, narrow, slice_frame
from app.services.performance_views import compute_breakdowns, compute_view, stored_view, view_key

MARKET_CAP_NOTE = (
    "No market-cap bucket: the database holds no shares-outstanding or market-cap data, so the "
    "size split of evidence §2.5 cannot be made yet."
)


def returns_for_clusters(session: Session, cluster_ids: Sequence[str]) -> dict[str, list[ClusterReturnView]]:
    """Stored returns per cluster id, shortest horizon first; clusters without prices map to []."""
    order = {h: i for i, h in enumerate(HORIZONS)}
    stored = perf_repo.returns_of(session, cluster_ids)
    out: dict[str, list[ClusterReturnView]] = {}
    for cid in cluster_ids:
        rows = sorted(stored.get(cid, []), key=lambda r: order.get(r.horizon, len(order)))
        out[cid] = [
            ClusterReturnView(
                horizon=r.horizon,
                days=HORIZONS.get(r.horizon, 0),
                status=r.status,
                entry_date=r.entry_date,
                entry_price=None if r.entry_price is None else float(r.entry_price),
                exit_date=r.exit_date,
                stock_return=r.stock_return,
                spy_return=r.spy_return,
                excess_return=r.excess_return,
                computed_at=r.computed_at,
            )
            for r in rows
        ]
    return out


def build_performance_page(session: Session, filters: PerformanceFilters) -> PerformancePage:
    """The /performance page (and /api/performance) for a slice of clusters."""
    key = view_key(filters)
    view = stored_view(session, key) if key else None
    note = None
    if view is None and filters.h != DEFAULT_H:
        # A stored role/value view at another horizon: only its breakdown cells depend on h.
        base_key = view_key(filters.model_copy(update={"h": DEFAULT_H}))
        base = stored_view(session, base_key) if base_key else None
        if base is not None:
            frame = slice_frame(session, filter_bounds(filters))
            frame = narrow(Loaded(frame, [], None, None), filters).frame
            view = base.model_copy(
                update={"breakdowns": compute_breakdowns(frame, filters.seed, (filters.h.value,))}
            )
    if view is None:
        data = load_slice(session, filters)
        view = compute_view(session, data, filters.seed, (filters.h.value,))
        note = data.note
    return PerformancePage(
        filters=filters,
        source="materialized" if filters.default_rule else "on_the_fly",
        note=note,
        view=view,
        published=published_figures(view),
        market_cap_note=MARKET_CAP_NOTE,
    )


CSV_HEADER = [
    "cluster_id", "ticker", "company", "sector", "trigger_at_utc", "first_trade_date", "last_trade_date",
    "n_buyers", "total_value", "role_mix", "value_bucket", "has_10b5_1", "horizon", "trading_days",
    "status", "entry_date", "entry_price_adj", "exit_date", "stock_return", "spy_return", "excess_return",
    "insider_stock_return_not_achievable", "insider_excess_return_not_achievable",
]  # fmt: skip


def csv_rows(session: Session, filters: PerformanceFilters) -> list[list[Any]]:
    """Header plus one row per cluster and horizon of the slice (the page's numbers come from these)."""
    data = load_slice(session, filters)
    insider: dict[tuple[str, str], tuple[Any, Any]] = {}
    if data.insider is not None and len(data.insider):
        for cid, h, status, stock, excess in zip(
            data.insider["cluster_id"], data.insider["horizon"], data.insider["status"],
            data.insider["stock_return"], data.insider["excess"], strict=True,
        ):  # fmt: skip
            insider[(cid, h)] = (stock, excess) if status == "done" else (None, None)
    out: list[list[Any]] = [CSV_HEADER]
    r: Any  # a namedtuple of the frame's columns: its fields' types are the frame's, unknown here
    for r in data.frame.itertuples(index=False):
        ins = insider.get((r.cluster_id, r.horizon), (None, None))
        out.append(
            [
                r.cluster_id, r.ticker, r.company, r.sector, _iso(r.trigger_at), _iso(r.first_trade_date),
                _iso(r.last_trade_date), int(r.n_buyers), round(float(r.total_value), 2), r.role_mix,
                r.value_bucket, r.plan == "with", r.horizon, HORIZONS.get(r.horizon), r.status,
                _iso(r.entry_date), _num(r.entry_price), _iso(r.exit_date), _num(r.stock_return),
                _num(r.spy_return), _num(r.excess), _num(ins[0]), _num(ins[1]),
            ]
        )  # fmt: skip
    return out


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    x = float(value)
    return None if math.isnan(x) else x

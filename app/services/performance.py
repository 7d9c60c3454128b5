"""Did cluster buys beat the S&P 500 (DESIGN §2)? Materializes ClusterReturn for the default rule
incrementally, builds the /performance page (stored returns, or any other N/W computed on request) and
gives the cluster, weekly and ticker pages each cluster's returns (returns_for_clusters)."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import market_calendar as mc
from app.analytics import performance as pf
from app.repositories import clusters as clusters_repo
from app.repositories import performance as perf_repo
from app.repositories import prices as prices_repo
from app.schemas.performance import (
    Breakdown,
    ClusterReturnView,
    Coverage,
    GroupSummary,
    Histogram,
    HorizonSummary,
    PerformanceFilters,
    PerformancePage,
    PerformanceView,
    Portfolio,
    PublishedFigure,
    RoleMix,
    ValueBucket,
)
from app.services import clustering as clustering_service
from app.services import roles as roles_service
from app.services.clustering_core import DEFAULT_N, DEFAULT_W, ClusterResult
from app.services.prices import BENCHMARK, normalize_ticker

log = logging.getLogger("clusterbuy.performance")

DEFAULT_RULE = (DEFAULT_N, DEFAULT_W)
HORIZONS = pf.HORIZONS
DEFAULT_SEED = PerformanceFilters().seed
DEFAULT_H = PerformanceFilters().h
# evidence §2.5: 10,000 month-block draws for the headline; breakdown cells use fewer to stay fast.
N_BOOT = 10_000
N_BOOT_GROUP = 2_000
HOLDING_DAYS = 21  # calendar-time portfolio: hold each cluster one month (evidence §2.5, JMZ style)
PORTFOLIO_MAX_CLUSTERS = 5_000  # filtered slices above this show no portfolio (too many bars per request)
CUSTOM_MAX_CLUSTERS = 500  # another N/W is computed per request: the most recent clusters only
TICKER_BATCH = 200
VIEW_SNAPSHOT = "performance.view"
INSIDER_SNAPSHOT = "performance.insider"
HIST_EDGES = [round(-0.5 + 0.05 * i, 2) for i in range(21)]  # -50% .. +50% in 5-point bins
# Bars loaded per cluster: from shortly before the last trade date to ~275 sessions after the trigger
# (a longer gap falls back to the whole series).
WINDOW_BEFORE = timedelta(days=10)
WINDOW_AFTER = timedelta(days=400)
MARKET_CAP_NOTE = (
    "No market-cap bucket: the database holds no shares-outstanding or market-cap data, so the "
    "size split of evidence §2.5 cannot be made yet."
)

BUYER_GROUPS = [("2", "2 buyers"), ("3", "3 buyers"), ("4", "4 buyers"), ("5+", "5 or more buyers")]
ROLE_GROUPS = [
    (RoleMix.ceo_cfo.value, "CEO or CFO among the buyers"),
    (RoleMix.directors_only.value, "Directors only"),
    (RoleMix.ten_percent_only.value, "10% owners only"),
    (RoleMix.other.value, "Other mixes"),
]
VALUE_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    ValueBucket.under_100k.value: (None, 100_000.0),
    ValueBucket.k100_1m.value: (100_000.0, 1_000_000.0),
    ValueBucket.m1_10m.value: (1_000_000.0, 10_000_000.0),
    ValueBucket.over_10m.value: (10_000_000.0, None),
}
VALUE_GROUPS = [
    (ValueBucket.under_100k.value, "Under $100k"),
    (ValueBucket.k100_1m.value, "$100k–$1M"),
    (ValueBucket.m1_10m.value, "$1M–$10M"),
    (ValueBucket.over_10m.value, "$10M or more"),
]
PLAN_GROUPS = [("with", "A 10b5-1 purchase among the members"), ("without", "No 10b5-1 flag")]


# --- classification of a cluster (pure) -----------------------------------------------------------------


def buyers_bucket(n_buyers: int) -> str:
    """2, 3, 4 or 5+ distinct buyers."""
    return "5+" if n_buyers >= 5 else str(n_buyers)


def role_mix(roles: Iterable[str], flags: Iterable[str]) -> str:
    """The cluster's role mix: ceo_cfo, directors_only, ten_percent_only or other."""
    present, flagged = set(roles), set(flags)
    if "ten_percent_owner_only" in flagged:
        return RoleMix.ten_percent_only.value
    if present & {roles_service.CEO, roles_service.CFO}:
        return RoleMix.ceo_cfo.value
    if present == {roles_service.DIRECTOR}:
        return RoleMix.directors_only.value
    return RoleMix.other.value


def value_bucket(total_value: float) -> str:
    """The value bucket of a cluster's total purchase value."""
    for key, (low, high) in VALUE_BOUNDS.items():
        if (low is None or total_value >= low) and (high is None or total_value < high):
            return key
    return ValueBucket.over_10m.value


# --- materialization -----------------------------------------------------------------------------------


@dataclass
class RefreshReport:
    """What a refresh did: how many clusters were measured, skipped, and why."""

    as_of: date | None = None
    clusters: int = 0
    computed: int = 0
    unchanged: int = 0
    no_ticker: int = 0
    no_prices: int = 0
    rows_written: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-friendly values."""
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "clusters": self.clusters,
            "computed": self.computed,
            "unchanged": self.unchanged,
            "no_ticker": self.no_ticker,
            "no_prices": self.no_prices,
            "rows_written": self.rows_written,
            "reasons": dict(self.reasons),
            "statuses": dict(self.statuses),
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


_NO_BARS = pd.DataFrame(
    {"open": [], "close": [], "adj_close": []}, index=pd.DatetimeIndex([], name="date"), dtype="float64"
)


@dataclass(frozen=True)
class _Item:
    cluster_id: str
    ticker: str | None
    trigger_at: datetime
    last_trade_date: date


def _as_of(session: Session, today: date | None) -> date | None:
    """The last complete SPY bar (on or before `today`): windows ending later are 'open'."""
    if today is None:
        return prices_repo.last_bar_dates(session, [BENCHMARK]).get(BENCHMARK)
    _, last = prices_repo.bar_date_range(session, BENCHMARK)
    if last is None or last <= today:
        return last
    frame = prices_repo.series_frame(session, BENCHMARK, end=today)
    return frame.index[-1].date() if len(frame) else None


def _changed_done(session: Session) -> set[str]:
    """Clusters whose stored 'done' returns no longer match the stored bars at entry and exit."""
    # A new dividend or split rescales all earlier adjusted prices by one factor, which leaves these
    # ratios unchanged; a refetch that corrected a bar, a re-import or a new ticker changes them.
    changed: set[str] = set()

    def ratio(end: float | None, op: float | None, close: float | None, adj: float | None) -> float | None:
        if None in (end, op, close, adj) or not close or not op:
            return None
        return round(end / (op * adj / close) - 1.0, pf.DIGITS)  # type: ignore[operator]

    def differs(stored: float | None, fresh: float | None) -> bool:
        if stored is None or fresh is None:
            return (stored is None) != (fresh is None)
        return abs(stored - fresh) > 2e-6

    for cid, stock, spy, so, sc, sa, sx, bo, bc, ba, bx in perf_repo.done_rows_with_bars(session, BENCHMARK):
        if differs(stock, ratio(sx, so, sc, sa)) or differs(spy, ratio(bx, bo, bc, ba)):
            changed.add(cid)
    return changed


def _todo(session: Session, items: Sequence[Any], *, full: bool, report: RefreshReport) -> list[Any]:
    """The incremental rule (documented in refresh)."""
    if full:
        report.reasons["full"] = len(items)
        return list(items)
    states = perf_repo.return_states(session)
    changed = _changed_done(session)
    todo = []
    for c in items:
        state = states.get(c.id)
        if state is None or state[0] < len(HORIZONS):
            reason = "missing"
        elif state[1] > 0:
            reason = "not_final"
        elif c.updated_at > state[2]:
            reason = "cluster_updated"
        elif c.id in changed:
            reason = "prices_changed"
        else:
            report.unchanged += 1
            continue
        report.reasons[reason] += 1
        todo.append(c)
    return todo


def _window(item: _Item, as_of: date) -> tuple[date, date]:
    trigger_day = item.trigger_at.astimezone(mc.ET).date()
    start = min(trigger_day, item.last_trade_date) - WINDOW_BEFORE
    end = min(max(trigger_day, item.last_trade_date) + WINDOW_AFTER, as_of)
    return start, max(start, end)


def _measure(
    item: _Item, stock: pf.Bars | pd.DataFrame, spy: pf.Bars, as_of: date
) -> tuple[list[pf.HorizonResult], list[pf.HorizonResult]]:
    trade = pf.cluster_returns(item.trigger_at, stock, spy, as_of=as_of)
    insider = pf.insider_returns(item.last_trade_date, stock, spy, as_of=as_of)
    return trade, insider


def _return_row(cluster_id: str, r: pf.HorizonResult, now: datetime) -> dict[str, Any]:
    if r.status == "ended_early":
        # The series stops before the exit: keep the return up to the last bar, labelled by status.
        stock, spy, exit_date = r.last_return, r.last_spy_return, r.last_date
        excess = None if stock is None or spy is None else round(stock - spy, pf.DIGITS)
    else:
        stock, spy, excess, exit_date = r.stock_return, r.spy_return, r.excess, r.exit_date
    return {
        "cluster_id": cluster_id,
        "horizon": r.horizon,
        "status": r.status,
        "entry_date": r.entry_date,
        "entry_price": None if r.entry_price is None else Decimal(str(r.entry_price)),
        "exit_date": exit_date,
        "stock_return": stock,
        "spy_return": spy,
        "excess_return": excess,
        "computed_at": now,
    }


def _insider_entry(results: Sequence[pf.HorizonResult]) -> list[list[Any]]:
    return [[r.status, r.stock_return, r.spy_return, r.excess] for r in results]


def _measure_batch(
    session: Session, items: Sequence[_Item], spy: pf.Bars, as_of: date
) -> dict[str, tuple[list[pf.HorizonResult], list[pf.HorizonResult]]]:
    """Measure items (all with tickers), loading only the bars their windows need."""
    windows = {i.cluster_id: _window(i, as_of) for i in items}
    frames = perf_repo.bar_windows(session, [(i.ticker or "", *windows[i.cluster_id]) for i in items])
    # One prepared series per ticker serves all its clusters (the adjusted arrays are built once).
    bars = {t: pf.bars_from_arrays(*f, as_of) for t, f in frames.items()}
    last_bars = prices_repo.last_bar_dates(session, {i.ticker for i in items if i.ticker})
    out = {}
    for item in items:
        # No bar near the cluster's dates: measured on no bars, so it is counted as no_entry.
        stock = bars.get(item.ticker or "", _NO_BARS)
        result = _measure(item, stock, spy, as_of)
        end = windows[item.cluster_id][1]
        last = last_bars.get(item.ticker or "")
        cut = any(r.status in ("ended_early", "open") for r in result[0] + result[1])
        if cut and end < as_of and last is not None and last > end:
            # A gap of many sessions pushed the exit past the window: measure on the whole series.
            full = prices_repo.series_frame(session, item.ticker or "", start=windows[item.cluster_id][0])
            result = _measure(item, full, spy, as_of)
        out[item.cluster_id] = result
    return out


def refresh(
    session: Session, *, full: bool = False, today: date | None = None, now: datetime | None = None
) -> RefreshReport:
    """Materialize default-rule cluster returns vs SPY: only what changed, or everything with full=True."""
    # The incremental rule: a cluster is (re)measured when
    #   1. it has fewer rows than horizons (new, or its ticker/prices arrived),
    #   2. a row is not final (open, ended_early, no_entry: new bars can mature or fill it),
    #   3. the cluster was re-materialized after its rows were computed (updated_at > computed_at:
    #      members, last trade date or flags may differ), or
    #   4. a 'done' row no longer matches the stored stock or SPY bars at its entry and exit dates.
    # Clusters without a ticker or without bars get no rows (any old ones are dropped) and are counted.
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    report = RefreshReport()
    as_of = _as_of(session, today)
    report.as_of = as_of
    if as_of is None:
        report.error = f"no {BENCHMARK} prices stored: import or refresh {BENCHMARK} first"
        log.warning("performance refresh: %s", report.error)
        return report
    clusters = perf_repo.default_clusters(session, rule=DEFAULT_RULE)
    report.clusters = len(clusters)
    todo = _todo(session, clusters, full=full, report=report)

    items = [_Item(c.id, _clean_ticker(c.ticker), c.trigger_at, c.last_trade_date) for c in todo]
    with_bars = set(prices_repo.last_bar_dates(session, {i.ticker for i in items if i.ticker}))
    unmeasured = []
    measurable = []
    for item in items:
        if item.ticker is None:
            report.no_ticker += 1
            unmeasured.append(item.cluster_id)
        elif item.ticker not in with_bars:
            report.no_prices += 1
            unmeasured.append(item.cluster_id)
        else:
            measurable.append(item)
    perf_repo.delete_returns(session, unmeasured)

    spy = pf.prepare_bars(prices_repo.series_frame(session, BENCHMARK, end=as_of), as_of)
    insider_snapshot = None if full else perf_repo.get_snapshot(session, INSIDER_SNAPSHOT)
    insider: dict[str, Any] = dict((insider_snapshot or {}).get("clusters", {}))
    for cid in unmeasured:
        insider.pop(cid, None)
    measurable.sort(key=lambda i: (i.ticker or "", i.cluster_id))
    tickers = sorted({i.ticker for i in measurable if i.ticker})
    for k in range(0, len(tickers), TICKER_BATCH):
        batch_tickers = set(tickers[k : k + TICKER_BATCH])
        batch = [i for i in measurable if i.ticker in batch_tickers]
        results = _measure_batch(session, batch, spy, as_of)
        rows = []
        for item in batch:
            trade, ins = results.get(item.cluster_id, ([], []))
            rows.extend(_return_row(item.cluster_id, r, now) for r in trade)
            report.statuses.update(r.status for r in trade)
            insider[item.cluster_id] = _insider_entry(ins)
        perf_repo.replace_returns(session, [i.cluster_id for i in batch], rows)
        report.rows_written += len(rows)
        report.computed += sum(1 for i in batch if i.cluster_id in results)
    live = {c.id for c in clusters}
    insider = {cid: v for cid, v in insider.items() if cid in live}
    perf_repo.put_snapshot(
        session,
        INSIDER_SNAPSHOT,
        {"as_of": as_of.isoformat(), "computed_at": now.isoformat(), "clusters": insider},
        now=now,
    )
    session.flush()
    _store_view_snapshots(session, as_of=as_of, now=now)
    session.flush()
    report.seconds = time.perf_counter() - started
    log.info("performance refresh: %s", report.as_dict())
    return report


def recompute_all(
    session: Session, *, today: date | None = None, now: datetime | None = None
) -> RefreshReport:
    """Recompute every default-rule cluster's returns from scratch."""
    return refresh(session, full=True, today=today, now=now)


def refresh_for_scheduler(session: Session, today: date | None = None) -> RefreshReport:
    """The after-price-refresh job body: incremental performance refresh, then the market snapshot."""
    from app.services import market as market_service  # a sibling service; imported late to stay light

    report = refresh(session, today=today)
    market_service.refresh_snapshot(session)
    return report


def _clean_ticker(ticker: str | None) -> str | None:
    if not ticker or ticker in {"NONE", "N/A", "NA"}:
        return None
    try:
        return normalize_ticker(ticker)
    except ValueError:
        return None


# --- returns for other pages ---------------------------------------------------------------------------


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


# --- the slice of clusters a page asks for ---------------------------------------------------------------


@dataclass
class _Slice:
    frame: pd.DataFrame  # perf_repo.SLICE_COLUMNS plus role_mix, buyers, value_bucket, plan
    insider: pd.DataFrame | None  # horizon, status, stock_return, excess, trigger_at, cluster_id
    coverage: Coverage
    bars: dict[str, pf.Bars] | None = None  # on-the-fly rule: prepared bars already loaded
    note: str | None = None


def _bounds(filters: PerformanceFilters) -> dict[str, Any]:
    def et_midnight(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=mc.ET).astimezone(UTC)

    low, high = VALUE_BOUNDS.get(filters.value.value, (None, None))
    return {
        "trigger_from": et_midnight(filters.from_date) if filters.from_date else None,
        "trigger_until": et_midnight(filters.to_date + timedelta(days=1)) if filters.to_date else None,
        "value_min": low,
        "value_max": high,
    }


def _classify(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["role_mix"] = [
        role_mix(r or [], f or []) for r, f in zip(frame["roles"], frame["flags"], strict=True)
    ]
    frame["buyers"] = [buyers_bucket(int(n)) for n in frame["n_buyers"]]
    frame["value_bucket"] = [value_bucket(float(v)) for v in frame["total_value"]]
    frame["plan"] = ["with" if "10b5-1" in (f or []) else "without" for f in frame["flags"]]
    return frame


def _slice_frame(session: Session, bounds: dict[str, Any]) -> pd.DataFrame:
    """Stored returns of a trigger-date/value range, one row per cluster and horizon, classified."""
    returns = perf_repo.slice_returns(session, rule=DEFAULT_RULE, **bounds)
    if not returns:
        return _empty_frame()
    clusters = pd.DataFrame(
        perf_repo.slice_clusters(session, rule=DEFAULT_RULE, **bounds),
        columns=list(perf_repo.CLUSTER_COLUMNS),
    )
    frame = clusters.merge(pd.DataFrame(returns, columns=list(perf_repo.RETURN_COLUMNS)), on="cluster_id")
    frame = frame.sort_values(["trigger_at", "cluster_id", "horizon"], kind="stable", ignore_index=True)
    return _classify(frame[list(perf_repo.SLICE_COLUMNS)])


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=[*perf_repo.SLICE_COLUMNS, "role_mix", "buyers", "value_bucket", "plan"])


def _insider_frame(frame: pd.DataFrame, snapshot: dict[str, Any] | None) -> pd.DataFrame | None:
    if snapshot is None:
        return None
    stored = snapshot.get("clusters", {})
    clusters = frame.drop_duplicates("cluster_id")
    rows = []
    for cid, trigger_at in zip(clusters["cluster_id"], clusters["trigger_at"], strict=True):
        for label, values in zip(HORIZONS, stored.get(cid, []), strict=False):
            status, stock, spy, excess = values
            rows.append((cid, trigger_at, label, status, stock, spy, excess))
    return pd.DataFrame(
        rows,
        columns=["cluster_id", "trigger_at", "horizon", "status", "stock_return", "spy_return", "excess"],
    )


@dataclass
class _Loaded:
    """The stored returns of a trigger-date range, before role and value filters."""

    frame: pd.DataFrame
    unmeasured: list[tuple[str | None, str, str, bool]]  # (ticker, role mix, value bucket, has bars)
    snapshot: dict[str, Any] | None
    as_of: date | None


def _load_materialized(session: Session, filters: PerformanceFilters) -> _Loaded:
    bounds = _bounds(filters)
    frame = _slice_frame(session, bounds)
    unmeasured = [
        (
            _clean_ticker(u.ticker),
            role_mix(u.roles or [], u.flags or []),
            value_bucket(u.total_value),
            u.has_bars,
        )
        for u in perf_repo.unmeasured_clusters(session, rule=DEFAULT_RULE, **bounds)
    ]
    snapshot = perf_repo.get_snapshot(session, INSIDER_SNAPSHOT)
    as_of = date.fromisoformat(snapshot["as_of"]) if snapshot else _as_of(session, None)
    return _Loaded(frame, unmeasured, snapshot, as_of)


def _narrow(loaded: _Loaded, filters: PerformanceFilters) -> _Slice:
    """Apply the role and value filters to loaded returns (pandas, so variants share one query)."""
    frame, unmeasured = loaded.frame, loaded.unmeasured
    if filters.role is not RoleMix.any:
        frame = frame[frame["role_mix"] == filters.role.value]
        unmeasured = [u for u in unmeasured if u[1] == filters.role.value]
    if filters.value is not ValueBucket.any:
        frame = frame[frame["value_bucket"] == filters.value.value]
        unmeasured = [u for u in unmeasured if u[2] == filters.value.value]
    no_ticker = sum(1 for u in unmeasured if u[0] is None)
    no_prices = sum(1 for u in unmeasured if u[0] is not None and not u[3])
    n_measured = int(frame["cluster_id"].nunique())
    snapshot = loaded.snapshot
    coverage = Coverage(
        clusters=n_measured + len(unmeasured),
        with_returns=n_measured,
        no_ticker=no_ticker,
        no_prices=no_prices,
        pending=len(unmeasured) - no_ticker - no_prices,
        as_of=loaded.as_of,
        computed_at=datetime.fromisoformat(snapshot["computed_at"]) if snapshot else None,
    )
    return _Slice(frame=frame, insider=_insider_frame(frame, snapshot), coverage=coverage)


def _materialized_slice(session: Session, filters: PerformanceFilters) -> _Slice:
    return _narrow(_load_materialized(session, filters), filters)


def _custom_roles_flags(
    session: Session, results: Sequence[ClusterResult]
) -> dict[str, tuple[list[str], list[str]]]:
    facts = clusters_repo.member_facts(session, [m.transaction_id for r in results for m in r.members])
    out = {}
    for r in results:
        by_buyer = clustering_service.buyer_roles(session, r)
        roles = sorted(set().union(*by_buyer.values()) if by_buyer else set())
        out[r.cluster_id] = (roles, clustering_service.cluster_flags(r, facts, by_buyer))
    return out


def _custom_slice(session: Session, filters: PerformanceFilters) -> _Slice:
    """Another N/W rule: find its clusters, then measure the most recent ones on the fly."""
    bounds = _bounds(filters)
    since = filters.from_date - timedelta(days=90) if filters.from_date else None
    found = clustering_service.clusters_for_rule(
        session, n=filters.n, w=filters.w, trade_since=since, trade_until=filters.to_date
    )
    found = [
        r
        for r in found
        if _in_dates(r, bounds)
        and (filters.value is ValueBucket.any or value_bucket(float(r.total_value)) == filters.value.value)
    ]
    found.sort(key=lambda r: r.trigger_at, reverse=True)
    # Roles need the member filings' owners: read them for a bounded number of recent clusters only.
    n_found = len(found)
    if filters.role is not RoleMix.any:
        checked = found[: CUSTOM_MAX_CLUSTERS * 4]
        roles_flags = _custom_roles_flags(session, checked)
        found = [r for r in checked if role_mix(*roles_flags[r.cluster_id]) == filters.role.value]
    total = len(found)
    found = found[:CUSTOM_MAX_CLUSTERS]
    if filters.role is RoleMix.any:
        roles_flags = _custom_roles_flags(session, found)
    note = f"N={filters.n}, W={filters.w} is computed on request: {total} clusters"
    if filters.role is not RoleMix.any and n_found > CUSTOM_MAX_CLUSTERS * 4:
        note += f" (role mix read for the {CUSTOM_MAX_CLUSTERS * 4} most recent of {n_found})"
    note += f"; the {CUSTOM_MAX_CLUSTERS} most recent are measured." if total > CUSTOM_MAX_CLUSTERS else "."
    issuers = perf_repo.issuer_tickers(session, [r.issuer_cik for r in found])
    as_of = _as_of(session, None)
    items, meta = [], {}
    no_ticker = 0
    for r in found:
        ticker, name, sector = issuers.get(r.issuer_cik, (None, None, None))
        ticker = _clean_ticker(ticker)
        if ticker is None:
            no_ticker += 1
            continue
        items.append(_Item(r.cluster_id, ticker, r.trigger_at, r.last_trade_date))
        meta[r.cluster_id] = (r, ticker, name, sector)
    rows, insider_rows, measured = [], [], set()
    bars: dict[str, pf.Bars] = {}
    if as_of is not None and items:
        spy_bars = pf.prepare_bars(prices_repo.series_frame(session, BENCHMARK, end=as_of), as_of)
        windows = [(i.ticker or "", *_window(i, as_of)) for i in items]
        frames = perf_repo.bar_windows(session, windows)
        bars = {t: pf.bars_from_arrays(*f, as_of) for t, f in frames.items()}
        for item in items:
            stock = bars.get(item.ticker or "")
            if stock is None or stock.n == 0:
                continue
            trade, ins = _measure(item, stock, spy_bars, as_of)
            r, ticker, name, sector = meta[item.cluster_id]
            roles, flags = roles_flags.get(r.cluster_id, ([], []))
            base = [item.cluster_id, ticker, name, sector, r.trigger_at, r.first_trade_date]
            base += [r.last_trade_date, r.n_buyers, float(r.total_value), roles, flags]
            for res in trade:
                row = _return_row(item.cluster_id, res, datetime.now(UTC))
                rows.append(
                    [
                        *base,
                        res.horizon,
                        res.status,
                        row["entry_date"],
                        res.entry_price,
                        row["exit_date"],
                        row["stock_return"],
                        row["spy_return"],
                        row["excess_return"],
                    ]
                )
            for res in ins:
                insider_rows.append(
                    (
                        item.cluster_id,
                        r.trigger_at,
                        res.horizon,
                        res.status,
                        res.stock_return,
                        res.spy_return,
                        res.excess,
                    )
                )
            measured.add(item.cluster_id)
    frame = _classify(pd.DataFrame(rows, columns=list(perf_repo.SLICE_COLUMNS))) if rows else _empty_frame()
    insider = pd.DataFrame(
        insider_rows,
        columns=["cluster_id", "trigger_at", "horizon", "status", "stock_return", "spy_return", "excess"],
    )
    coverage = Coverage(
        clusters=len(found),
        with_returns=len(measured),
        no_ticker=no_ticker,
        no_prices=len(items) - len(measured),
        as_of=as_of,
    )
    return _Slice(frame=frame, insider=insider, coverage=coverage, bars=bars, note=note)


def _in_dates(r: ClusterResult, bounds: dict[str, Any]) -> bool:
    return (bounds["trigger_from"] is None or r.trigger_at >= bounds["trigger_from"]) and (
        bounds["trigger_until"] is None or r.trigger_at < bounds["trigger_until"]
    )


def _slice(session: Session, filters: PerformanceFilters) -> _Slice:
    return _materialized_slice(session, filters) if filters.default_rule else _custom_slice(session, filters)


# --- the view (pure, from a slice) -----------------------------------------------------------------------


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


def _breakdowns(frame: pd.DataFrame, seed: int, horizons: Sequence[str]) -> list[Breakdown]:
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


def _view(
    session: Session,
    data: _Slice,
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
        breakdowns=_breakdowns(data.frame, seed, horizons),
        histograms=_histograms(data.frame),
        # Precomputed views (spy given) have no cap: the bars are loaded once for all of them.
        portfolio=_portfolio(session, data.frame, data.coverage.as_of, data.bars, spy, cap=spy is None),
        coverage=data.coverage,
    )


def _snapshot_key(filters: PerformanceFilters) -> str | None:
    """The stored view answering these filters: the whole set, or one role mix, or one value bucket."""
    if not filters.default_rule or filters.from_date or filters.to_date or filters.seed != DEFAULT_SEED:
        return None
    if filters.role is not RoleMix.any and filters.value is not ValueBucket.any:
        return None
    if (filters.role is not RoleMix.any or filters.value is not ValueBucket.any) and filters.h != DEFAULT_H:
        return None  # variants store their breakdowns at the default horizon only
    if filters.role is not RoleMix.any:
        return f"{VIEW_SNAPSHOT}.role={filters.role.value}"
    if filters.value is not ValueBucket.any:
        return f"{VIEW_SNAPSHOT}.value={filters.value.value}"
    return VIEW_SNAPSHOT


def _store_view_snapshots(session: Session, *, as_of: date, now: datetime) -> None:
    """Precompute the common views so the page renders from one stored document (DESIGN §5: p95 < 100 ms)."""
    version = list(perf_repo.returns_version(session))
    loaded = _load_materialized(session, PerformanceFilters())
    bars, spy = _portfolio_bars(session, loaded.frame, as_of) if len(loaded.frame) else ({}, None)
    variants = [PerformanceFilters()]
    variants += [PerformanceFilters(role=r) for r in RoleMix if r is not RoleMix.any]
    variants += [PerformanceFilters(value=v) for v in ValueBucket if v is not ValueBucket.any]
    for filters in variants:
        data = _narrow(loaded, filters)
        data.bars = bars
        # Breakdown cells are the cost (one bootstrap each): all horizons for the whole set only.
        horizons = tuple(HORIZONS) if filters.unfiltered else (DEFAULT_H,)
        view = _view(session, data, DEFAULT_SEED, horizons, spy=spy)
        key = _snapshot_key(filters)
        assert key is not None
        value = {"version": version, "as_of": as_of.isoformat(), "view": view.model_dump(mode="json")}
        perf_repo.put_snapshot(session, key, value, now=now)


def _stored_view(session: Session, key: str) -> PerformanceView | None:
    snapshot = perf_repo.get_snapshot(session, key)
    # Stale when returns changed after it was built (a cluster deleted, rows written elsewhere).
    if not snapshot or snapshot.get("version") != list(perf_repo.returns_version(session)):
        return None
    return PerformanceView.model_validate(snapshot["view"])


# --- published figures (reference/evidence.md, quoted as given) -------------------------------------------

PUBLISHED: list[dict[str, str]] = [
    {
        "study": "Alldredge & Blank (2019), J. Financial Research 42(2):331–360",
        "definition": "Daily US insider trades; purchases clustered with colleagues' purchases",
        "figure": "Clustered purchases earn abnormal returns of more than 2% in the following month.",
        "status": "V",
        "source": "https://papers.ssrn.com/sol3/papers.cfm?abstract_id=2781761",
        "compare": "summary:1m:mean",
    },
    {
        "study": "Kang, Kim & Wang (2018), cluster trades of insiders",
        "definition": "US insider trades; several insiders trading the same direction on the same or "
        "consecutive days",
        "figure": "Cluster purchases +3.8% over 21 trading days vs +2.0% for non-cluster",
        "status": "S",
        "source": "https://www.earningsfeed.com/blog/insider-trading-playbook-form4-patterns",
        "compare": "summary:1m:mean",
    },
    {
        "study": "Portfolio Lab (UK research lab)",
        "definition": "About 12,700 cluster events (≥2 owners buying in the same week); benchmark IWM",
        "figure": "About +1.5% one month once public (post-filing); t ≈ 8.6",
        "status": "P",
        "source": "https://portfolio-lab.co.uk/research-lab/signals/insider-cluster",
        "compare": "summary:1m:mean",
    },
    {
        "study": "Portfolio Lab (UK research lab)",
        "definition": "The same events measured from the trade",
        "figure": "+2.7% one month measured from the trade (not tradable)",
        "status": "P",
        "source": "https://portfolio-lab.co.uk/research-lab/signals/insider-cluster",
        "compare": "insider:1m:mean",
    },
    {
        "study": "Reddit backtest (reposted by buzzberg), Jan 2023–Mar 2026",
        "definition": "Cluster = ≥2 distinct insiders within 5 trading days (C-suite buys ≥$100k); entry at "
        "the next trading day's open after the filing date; excess over SPY minus 10 bp",
        "figure": "Clusters (N=820): +2.02% / +2.41% / +2.29% at 5/10/30d vs single buys (N=1,997) "
        "+0.62% / +0.50% / −0.20%",
        "status": "P",
        "source": "https://buzzberg.ai/video/reddit_1srl7qn/backtested-3-years-of-sec-form-4-data-insider-"
        "buying-is-a-10-day-signal-not-a-long-term-one",
        "compare": "summary:1w:mean",
    },
    {
        "study": "Form4API, Oct 2023–Feb 2026",
        "definition": "45,046 P buys (all buys, not only clusters); absolute split-adjusted returns from the "
        "first close on or after the filing date",
        "figure": "3m +8.6% (median +3.0%, hit rate 58%)",
        "status": "P",
        "source": "https://www.form4api.com/guides/insider-buying-returns-study",
        "compare": "summary:3m:share_positive",
    },
    {
        "study": "BuySideBrief (pre-registered), Apr 2025–Apr 2026",
        "definition": "N=3,537 filings; cluster = several insiders buying in the same week; cluster vs solo "
        "spread at 90d",
        "figure": "Clusters of 5+ underperformed by about 7 pp at 90d (p<0.0001)",
        "status": "P",
        "source": "https://www.buysidebrief.com/research/cluster-buy-signal-2026-05",
        "compare": "buyers=5+:3m:mean",
    },
    {
        "study": "StockFit (2018–2024)",
        "definition": "503 S&P 500 tickers; ≥3 distinct insiders in a rolling 30-day window → 45 clusters; "
        "vs SPY adjusted close",
        "figure": "Excess return peaks near +9.5% around day 270 and falls to +3.1% by day 365; mean "
        "positive, median slightly negative",
        "status": "P",
        "source": "https://developer.stockfit.io/blog/insider-cluster-buys-sp500",
        "compare": "summary:1y:mean",
    },
    {
        "study": "Jeng, Metrick & Zeckhauser (2003), REStat 85(2):453",
        "definition": "All reported insider trades 1975–1996; value-weighted calendar-time purchase "
        "portfolios",
        "figure": "Purchases earn abnormal returns of more than 6%/yr",
        "status": "V",
        "source": "https://direct.mit.edu/rest/article-abstract/85/2/453/57400/",
        "compare": "summary:1y:mean",
    },
    {
        "study": "Lakonishok & Lee (2001), RFS 14",
        "definition": "All NYSE/AMEX/Nasdaq firms, 1975–1995",
        "figure": "Stocks intensively bought by insiders beat the market by >7 pp/yr",
        "status": "S",
        "source": "https://www.insidermonkey.com/insider-trading/education-center/academic-studies-on-"
        "insider-trading",
        "compare": "summary:1y:mean",
    },
    {
        "study": "Lakonishok & Lee (2001), RFS 14",
        "definition": "All NYSE/AMEX/Nasdaq firms, 1975–1995",
        "figure": "10% owners show no abnormal returns",
        "status": "S",
        "source": "https://www.insidermonkey.com/insider-trading/education-center/academic-studies-on-"
        "insider-trading",
        "compare": "role_mix=ten_percent_only:1y:mean",
    },
    {
        "study": "Seyhun (1998), Investment Intelligence from Insider Trading",
        "definition": "US insider trades, 1975–1994; secondary sources quote conflicting numbers",
        "figure": "About 4–9% one-year outperformance after insider buying",
        "status": "S",
        "source": "https://www.secform4.com/training/what-do-the-researchers-say",
        "compare": "summary:1y:mean",
    },
]


def _ours(view: PerformanceView, compare: str) -> tuple[float | None, int | None]:
    where, horizon, stat = compare.split(":")
    if where == "summary":
        summaries = view.summaries
    elif where == "insider":
        summaries = view.insider
    else:
        dim, key = where.split("=")
        groups = next((b.groups for b in view.breakdowns if b.key == dim), [])
        summaries = next((g.summaries for g in groups if g.key == key), [])
    s = next((x for x in summaries if x.horizon == horizon), None)
    return (getattr(s, stat), s.n) if s else (None, None)


def published_figures(view: PerformanceView) -> list[PublishedFigure]:
    """The published figures of evidence.md §1 with our comparable number beside each."""
    out = []
    for item in PUBLISHED:
        ours, n = _ours(view, item["compare"])
        out.append(PublishedFigure(**item, ours=ours, ours_n=n))
    return out


# --- pages -----------------------------------------------------------------------------------------------


def build_performance_page(session: Session, filters: PerformanceFilters) -> PerformancePage:
    """The /performance page (and /api/performance) for a slice of clusters."""
    key = _snapshot_key(filters)
    view = _stored_view(session, key) if key else None
    note = None
    if view is None and filters.h != DEFAULT_H:
        # A stored role/value view at another horizon: only its breakdown cells depend on h.
        base_key = _snapshot_key(filters.model_copy(update={"h": DEFAULT_H}))
        base = _stored_view(session, base_key) if base_key else None
        if base is not None:
            frame = _slice_frame(session, _bounds(filters))
            frame = _narrow(_Loaded(frame, [], None, None), filters).frame
            view = base.model_copy(
                update={"breakdowns": _breakdowns(frame, filters.seed, (filters.h.value,))}
            )
    if view is None:
        data = _slice(session, filters)
        view = _view(session, data, filters.seed, (filters.h.value,))
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
    data = _slice(session, filters)
    insider: dict[tuple[str, str], tuple[Any, Any]] = {}
    if data.insider is not None and len(data.insider):
        for cid, h, status, stock, excess in zip(
            data.insider["cluster_id"], data.insider["horizon"], data.insider["status"],
            data.insider["stock_return"], data.insider["excess"], strict=True,
        ):  # fmt: skip
            insider[(cid, h)] = (stock, excess) if status == "done" else (None, None)
    out: list[list[Any]] = [CSV_HEADER]
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

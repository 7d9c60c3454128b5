"""The slice of clusters a performance page asks for: the stored default-rule returns narrowed by
trigger date, role mix and value, or another N/W rule found and measured on request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import market_calendar as mc
from app.analytics import performance as pf
from app.repositories import clusters as clusters_repo
from app.repositories import performance as perf_repo
from app.repositories import prices as prices_repo
from app.schemas.performance import Coverage, PerformanceFilters, RoleMix, ValueBucket
from app.services import clustering as clustering_service
from app.services import screener as screener_service
from app.services.clustering_core import ClusterResult
from app.services.performance_groups import (
    DEFAULT_RULE,
    HORIZONS,
    VALUE_BOUNDS,
    buyers_bucket,
    role_mix,
    value_bucket,
)
from app.services.performance_measure import (
    INSIDER_SNAPSHOT,
    MeasureItem,
    bar_window,
    benchmark_as_of,
    clean_ticker,
    measure,
    return_row,
)
from app.services.prices import BENCHMARK

EARLIEST_FILING = datetime(1990, 1, 1, tzinfo=UTC)  # before EDGAR: "from the start"
CUSTOM_MAX_CLUSTERS = 500  # another N/W is computed per request: the most recent clusters only


@dataclass
class Slice:
    """The clusters a page shows: returns per cluster and horizon, insider-timed returns, coverage."""

    frame: pd.DataFrame  # perf_repo.SLICE_COLUMNS plus role_mix, buyers, value_bucket, plan
    insider: pd.DataFrame | None  # horizon, status, stock_return, excess, trigger_at, cluster_id
    coverage: Coverage
    bars: dict[str, pf.Bars] | None = None  # on-the-fly rule: prepared bars already loaded
    note: str | None = None


def filter_bounds(filters: PerformanceFilters) -> dict[str, Any]:
    """Return the trigger-date (ET days, as UTC instants) and value bounds of the filters."""

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


def slice_frame(session: Session, bounds: dict[str, Any]) -> pd.DataFrame:
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
class Loaded:
    """The stored returns of a trigger-date range, before role and value filters."""

    frame: pd.DataFrame
    unmeasured: list[tuple[str | None, str, str, bool]]  # (ticker, role mix, value bucket, has bars)
    snapshot: dict[str, Any] | None
    as_of: date | None


def load_materialized(session: Session, filters: PerformanceFilters) -> Loaded:
    """Load the stored returns of the filters' trigger-date range, and the clusters without returns."""
    bounds = filter_bounds(filters)
    frame = slice_frame(session, bounds)
    unmeasured = [
        (
            clean_ticker(u.ticker),
            role_mix(u.roles or [], u.flags or []),
            value_bucket(u.total_value),
            u.has_bars,
        )
        for u in perf_repo.unmeasured_clusters(session, rule=DEFAULT_RULE, **bounds)
    ]
    snapshot = perf_repo.get_snapshot(session, INSIDER_SNAPSHOT)
    as_of = date.fromisoformat(snapshot["as_of"]) if snapshot else benchmark_as_of(session, None)
    return Loaded(frame, unmeasured, snapshot, as_of)


def narrow(loaded: Loaded, filters: PerformanceFilters) -> Slice:
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
    return Slice(frame=frame, insider=_insider_frame(frame, snapshot), coverage=coverage)


def _materialized_slice(session: Session, filters: PerformanceFilters) -> Slice:
    return narrow(load_materialized(session, filters), filters)


def _custom_roles_flags(
    session: Session, results: Sequence[ClusterResult]
) -> dict[str, tuple[list[str], list[str]]]:
    facts = clusters_repo.member_facts(session, [m.transaction_id for r in results for m in r.members])
    owners = clustering_service.member_owners(session, results)
    out = {}
    for r in results:
        by_buyer = clustering_service.buyer_roles(r, owners)
        roles = sorted(set().union(*by_buyer.values()) if by_buyer else set())
        out[r.cluster_id] = (roles, clustering_service.cluster_flags(r, facts, by_buyer))
    return out


def custom_rule_clusters(session: Session, filters: PerformanceFilters) -> list[ClusterResult]:
    """The clusters of another N/W rule triggered in the filters' dates, as a replay of every purchase
    finds them: each is the clusters of its issuer's whole history (buyer identities link filings of any
    date, a W-linked run may start years earlier, and later purchases still join a cluster)."""
    bounds = filter_bounds(filters)
    since, until = bounds["trigger_from"], bounds["trigger_until"]
    if since is None and until is None:
        found = clustering_service.clusters_for_rule(session, n=filters.n, w=filters.w)
    else:
        # A cluster's trigger filing is one of its members: only issuers with a group of purchases
        # filed in the dates that may hold one (as the screener finds them) are replayed.
        filed = (since or EARLIEST_FILING, until)
        whole, unsettled = screener_service.groups_in_window(session, filters.n, filters.w, filed)
        issuers = sorted({cik for cik, _, _ in whole} | unsettled)
        found = (
            clustering_service.clusters_for_rule(
                session, n=filters.n, w=filters.w, issuer_ciks=issuers, filed_between=filed
            )
            if issuers
            else []
        )
    return [r for r in found if _in_dates(r, bounds)]


def _custom_slice(session: Session, filters: PerformanceFilters) -> Slice:
    """Another N/W rule: find its clusters, then measure the most recent ones on the fly."""
    found = [
        r
        for r in custom_rule_clusters(session, filters)
        if filters.value is ValueBucket.any or value_bucket(float(r.total_value)) == filters.value.value
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
    as_of = benchmark_as_of(session, None)
    items, meta = [], {}
    no_ticker = 0
    for r in found:
        ticker, name, sector = issuers.get(r.issuer_cik, (None, None, None))
        ticker = clean_ticker(ticker)
        if ticker is None:
            no_ticker += 1
            continue
        items.append(MeasureItem(r.cluster_id, ticker, r.trigger_at, r.last_trade_date))
        meta[r.cluster_id] = (r, ticker, name, sector)
    rows, insider_rows, measured = [], [], set()
    bars: dict[str, pf.Bars] = {}
    if as_of is not None and items:
        spy_bars = pf.prepare_bars(prices_repo.series_frame(session, BENCHMARK, end=as_of), as_of)
        windows = [(i.ticker or "", *bar_window(i, as_of)) for i in items]
        frames = perf_repo.bar_windows(session, windows)
        bars = {t: pf.bars_from_arrays(*f, as_of) for t, f in frames.items()}
        for item in items:
            stock = bars.get(item.ticker or "")
            if stock is None or stock.n == 0:
                continue
            trade, ins = measure(item, stock, spy_bars, as_of)
            r, ticker, name, sector = meta[item.cluster_id]
            roles, flags = roles_flags.get(r.cluster_id, ([], []))
            base: list[Any] = [item.cluster_id, ticker, name, sector, r.trigger_at, r.first_trade_date]
            base += [r.last_trade_date, r.n_buyers, float(r.total_value), roles, flags]
            for res in trade:
                row = return_row(item.cluster_id, res, datetime.now(UTC))
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
    return Slice(frame=frame, insider=insider, coverage=coverage, bars=bars, note=note)


def _in_dates(r: ClusterResult, bounds: dict[str, Any]) -> bool:
    return (bounds["trigger_from"] is None or r.trigger_at >= bounds["trigger_from"]) and (
        bounds["trigger_until"] is None or r.trigger_at < bounds["trigger_until"]
    )


def load_slice(session: Session, filters: PerformanceFilters) -> Slice:
    """Return the slice for the filters: stored returns for the default rule, else measured on request."""
    return _materialized_slice(session, filters) if filters.default_rule else _custom_slice(session, filters)

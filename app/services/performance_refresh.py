"""Materialize ClusterReturn for the default rule incrementally (or recompute it all), then the
performance page's stored views; the bodies of the scheduler job and the CLI command."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import performance as pf
from app.repositories import performance as perf_repo
from app.repositories import prices as prices_repo
from app.services.performance_groups import DEFAULT_RULE, HORIZONS
from app.services.performance_measure import (
    INSIDER_SNAPSHOT,
    MeasureItem,
    bar_window,
    benchmark_as_of,
    clean_ticker,
    measure,
    return_row,
)
from app.services.performance_views import store_views
from app.services.prices import BENCHMARK

log = logging.getLogger("clusterbuy.performance")

TICKER_BATCH = 200


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


def _insider_entry(results: Sequence[pf.HorizonResult]) -> list[list[Any]]:
    return [[r.status, r.stock_return, r.spy_return, r.excess] for r in results]


def _measure_batch(
    session: Session, items: Sequence[MeasureItem], spy: pf.Bars, as_of: date
) -> dict[str, tuple[list[pf.HorizonResult], list[pf.HorizonResult]]]:
    """Measure items (all with tickers), loading only the bars their windows need."""
    windows = {i.cluster_id: bar_window(i, as_of) for i in items}
    frames = perf_repo.bar_windows(session, [(i.ticker or "", *windows[i.cluster_id]) for i in items])
    # One prepared series per ticker serves all its clusters (the adjusted arrays are built once).
    bars = {t: pf.bars_from_arrays(*f, as_of) for t, f in frames.items()}
    last_bars = prices_repo.last_bar_dates(session, {i.ticker for i in items if i.ticker})
    out = {}
    for item in items:
        # No bar near the cluster's dates: measured on no bars, so it is counted as no_entry.
        stock = bars.get(item.ticker or "", _NO_BARS)
        result = measure(item, stock, spy, as_of)
        end = windows[item.cluster_id][1]
        last = last_bars.get(item.ticker or "")
        cut = any(r.status in ("ended_early", "open") for r in result[0] + result[1])
        if cut and end < as_of and last is not None and last > end:
            # A gap of many sessions pushed the exit past the window: measure on the whole series.
            full = prices_repo.series_frame(session, item.ticker or "", start=windows[item.cluster_id][0])
            result = measure(item, full, spy, as_of)
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
    as_of = benchmark_as_of(session, today)
    report.as_of = as_of
    if as_of is None:
        report.error = f"no {BENCHMARK} prices stored: import or refresh {BENCHMARK} first"
        log.warning("performance refresh: %s", report.error)
        return report
    clusters = perf_repo.default_clusters(session, rule=DEFAULT_RULE)
    report.clusters = len(clusters)
    todo = _todo(session, clusters, full=full, report=report)

    items = [MeasureItem(c.id, clean_ticker(c.ticker), c.trigger_at, c.last_trade_date) for c in todo]
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
        rows: list[dict[str, Any]] = []
        for item in batch:
            trade, ins = results.get(item.cluster_id, ([], []))
            rows.extend(return_row(item.cluster_id, r, now) for r in trade)
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
    store_views(session, as_of=as_of, now=now)
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

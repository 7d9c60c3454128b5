"""The part of the ticker dashboard that reads an issuer's whole history: the price series, the trade
markers, the insider roster and the history-wide signals (sell clusters, large sales, buying into weakness,
net buying up to the latest trade).

None of it depends on the day or on the period asked for, and a busy ticker has thousands of rows and bars
behind it, so it is built once per change of its sources and stored (dashboard_snapshot). A page checks the
stored snapshot against a fingerprint of the issuer's filings, prices and splits (one small query) and
rebuilds it when they differ: it is never stale, only rebuilt later than the data changed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pandas as pd
from pydantic import TypeAdapter
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.ingest import codes
from app.models import Issuer
from app.repositories import dashboard_snapshots as snapshots_repo
from app.repositories import prices as prices_repo
from app.repositories import ticker_pages as repo
from app.repositories.dashboard_snapshots import StoredSnapshot
from app.repositories.ticker_pages import OwnerOnFiling
from app.schemas.ticker import (
    IssuerHistory,
    LargeSaleSignal,
    NetBuying,
    OwnerRef,
    SellClusterSignal,
    TradeMarker,
    WeaknessHit,
    html_safe_json,
)
from app.services import insider_roster as roster_service
from app.services import prices as prices_service
from app.services import signals as signals_service
from app.services import ticker_chart as chart
from app.services.signals import TradeFact

log = logging.getLogger(__name__)

# Part of every fingerprint: a change to what a snapshot holds or how it is built retires the stored ones.
SNAPSHOT_FORMAT = 1
SCREENER_DAYS = 30  # the default screener's window: its companies' snapshots are kept built
PRICE_Q = Decimal("0.0001")
TABLE_KINDS = frozenset({signals_service.BUY}) | signals_service.SALE_KINDS
SIGNAL_KINDS = frozenset({signals_service.BUY, signals_service.SELL, signals_service.SELL_PLAN})
ROLE_WORDS = {
    "officer": "Officer",
    "director": "Director",
    "ten_percent_owner": "10% owner",
    "other": "Other",
}
_TRADES = TypeAdapter(list[TradeMarker])
_CODES = TypeAdapter(dict[str, str])


@dataclass(frozen=True, slots=True)
class Snapshot:
    history: IssuerHistory
    series_json: str  # a PriceSeries or null, escaped for a <script> data island (html_safe_json)
    trades_json: str
    codes_json: str
    rebuilt: bool = False  # built by this call rather than read as stored


def load(session: Session, issuer: Issuer, price_ticker: str | None, *, now: datetime) -> Snapshot:
    """The issuer's snapshot as stored when it is current, else built now (and stored for the next page)."""
    fingerprint = _fingerprint(price_ticker, snapshots_repo.source_state(session, issuer.cik, price_ticker))
    stored = snapshots_repo.get(session, issuer.cik)
    if stored is not None and stored.fingerprint == fingerprint:
        return Snapshot(
            IssuerHistory.model_validate_json(stored.history_json),
            stored.series_json,
            stored.trades_json,
            stored.codes_json,
        )
    snapshot = build(session, issuer, price_ticker)
    _store(session, issuer.cik, fingerprint, snapshot, now)
    return snapshot


def price_ticker(issuer: Issuer) -> str | None:
    """The ticker the issuer's prices are stored under, if it has a usable one."""
    return prices_service.usable_ticker(issuer.ticker)


def issuers_to_refresh(
    session: Session, issuer_ciks: Iterable[str] | None = None, *, now: datetime
) -> list[str]:
    """The snapshots worth rebuilding after new data (for `issuer_ciks`, or every stored one): dashboards
    opened before, and those of the companies the default screener lists (a purchase filed in its last 30
    days), which are the ones its readers open next."""
    if issuer_ciks is None:
        return snapshots_repo.stored_issuers(session)
    wanted = sorted(set(issuer_ciks))
    recent = snapshots_repo.issuers_with_purchases_known_since(
        session, wanted, now - timedelta(days=SCREENER_DAYS)
    )
    return sorted(set(snapshots_repo.stored_issuers(session, wanted)) | set(recent))


def refresh_stored(session: Session, issuer_cik: str, *, now: datetime) -> bool:
    """Build or rebuild an issuer's snapshot unless the stored one is current; return whether it was built.

    Run after an ingest or a price refresh for `issuers_to_refresh`, so that their next view reads a current
    snapshot (other dashboards are built when first viewed)."""
    issuer = repo.issuer_by_cik(session, issuer_cik)
    return issuer is not None and load(session, issuer, price_ticker(issuer), now=now).rebuilt


def _fingerprint(price_ticker: str | None, state: tuple[Any, ...]) -> str:
    return hashlib.sha256(repr((SNAPSHOT_FORMAT, price_ticker, state)).encode()).hexdigest()


def _store(session: Session, issuer_cik: str, fingerprint: str, snapshot: Snapshot, now: datetime) -> None:
    stored = StoredSnapshot(
        fingerprint,
        snapshot.series_json,
        snapshot.trades_json,
        snapshot.codes_json,
        snapshot.history.model_dump_json(),
    )
    # A page must not fail because its cache could not be written (a read-only replica, a locked SQLite
    # file): the savepoint keeps the request's transaction usable, and the next view tries again.
    try:
        with session.begin_nested():
            snapshots_repo.store(session, issuer_cik, stored, built_at=now)
    except DBAPIError as exc:
        log.warning("dashboard snapshot of %s not stored: %s", issuer_cik, exc)


# --- building ------------------------------------------------------------------------------------------


def build(session: Session, issuer: Issuer, price_ticker: str | None) -> Snapshot:
    """Read every live row, holding, owner and bar of the issuer and compute the history-wide parts."""
    rows = repo.issuer_trades(session, issuer.cik)
    holdings = repo.issuer_holdings(session, issuer.cik)
    # Owners of every filing about the issuer; the trades and holdings name the ones that matter.
    wanted = {r.accession for r in rows} | {h.accession for h in holdings}
    owners = {a: o for a, o in repo.issuer_owners(session, issuer.cik).items() if a in wanted}
    who = people(owners)
    kinds = signals_service.classify(rows)
    # The signal rules read purchases and open-market sales only: the other rows need no TradeFact.
    facts = [trade_fact(r, who) for r in rows if kinds.get(r.id) in SIGNAL_KINDS]

    splits = prices_repo.splits(session, price_ticker) if price_ticker else []
    frame = (
        prices_service.chart_frame(session, price_ticker, splits=splits) if price_ticker else pd.DataFrame()
    )
    has_prices = not frame.empty
    # The bars' dates as Python dates, once: markers and the weakness rule look closes up by date.
    # (chart_frame's index is a DatetimeIndex; the stubs only know an Index.)
    bar_dates: list[date] = cast(pd.DatetimeIndex, frame.index).date.tolist() if has_prices else []
    trades = chart.trade_markers(rows, kinds, who, splits, frame, bar_dates)
    series = chart.price_series(price_ticker, frame, splits) if has_prices and price_ticker else None

    last = change = pct = None
    last_date = None
    if has_prices:
        closes = frame["close"].to_numpy()
        last, last_date = _dec(closes[-1]), frame.index[-1].date()
        if len(closes) > 1 and closes[-2] > 0:
            change = last - _dec(closes[-2])
            pct = round(float(closes[-1] / closes[-2] - 1.0), 6)
    weakness_closes: list[tuple[date, float]] = []
    if has_prices and any(k == signals_service.BUY for k in kinds.values()):
        weakness_closes = list(zip(bar_dates, frame["adj_close"].to_numpy().tolist(), strict=True))
    latest = signals_service.latest_discretionary_date(facts, kinds)
    history = IssuerHistory.model_construct(
        has_prices=has_prices,
        last_close=last,
        last_close_date=last_date,
        change=change,
        change_pct=pct,
        latest_trade_date=max(
            (r.transaction_date for r in rows if r.transaction_date and kinds.get(r.id) in TABLE_KINDS),
            default=None,
        ),
        roster=roster_service.build_roster(rows, holdings, owners, kinds),
        sell_clusters=_sell_clusters(facts, kinds, who),
        large_sales=_large_sales(facts, kinds, who),
        weakness_hits=[
            WeaknessHit(
                trade_date=h.trade_date,
                drop=h.drop,
                reference_date=h.reference_date,
                n_purchases=h.n_purchases,
                value=h.value,
            )
            for h in signals_service.buying_into_weakness(facts, kinds, weakness_closes)
        ],
        net_buying_latest=(
            None if latest is None else net_window(signals_service.net_buying(facts, kinds, latest))
        ),
    )
    meanings = {c: codes.describe(c) for c in dict.fromkeys(m["code"] for m in trades)}
    return Snapshot(
        history,
        html_safe_json(series.model_dump_json()) if series is not None else "null",
        html_safe_json(_TRADES.dump_json(trades).decode()),
        html_safe_json(_CODES.dump_json(meanings).decode()),
        rebuilt=True,
    )


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(PRICE_Q)


def _sell_clusters(
    facts: Sequence[TradeFact], kinds: dict[int, str], who: dict[str, Filers]
) -> list[SellClusterSignal]:
    names = {ref.cik: ref.name for filers in who.values() for ref in filers.refs}
    return [
        SellClusterSignal(
            first_trade_date=r.first_trade_date,
            last_trade_date=r.last_trade_date,
            trigger_at=r.trigger_at,
            n_sellers=r.n_buyers,
            sellers=[" / ".join(names.get(c, c) for c in seller) for seller in r.buyers],
            total_shares=r.total_shares,
            total_value=r.total_value,
        )
        for r in signals_service.sell_clusters(facts, kinds)
    ]


def _large_sales(
    facts: Sequence[TradeFact], kinds: dict[int, str], who: dict[str, Filers]
) -> list[LargeSaleSignal]:
    out = []
    for s in signals_service.large_sales(facts, kinds):
        filers = who.get(s.accession) or NO_FILERS
        out.append(
            LargeSaleSignal(
                accession=s.accession,
                insider=filers.names,
                owner_ciks=list(s.owner_ciks),
                roles=filers.roles,
                trade_date=s.trade_date,
                shares=s.shares,
                value=s.value,
                shares_before=s.shares_before,
                delta_own=round(s.delta_own, 6),
                direct_indirect=s.direct_indirect,
                is_10b5_1=s.is_10b5_1,
            )
        )
    return out


def net_window(w: signals_service.NetWindow) -> NetBuying:
    return NetBuying(
        start=w.start,
        end=w.end,
        bought=w.bought,
        sold=w.sold,
        net=w.net,
        n_purchases=w.n_purchases,
        n_sales=w.n_sales,
    )


# --- who filed -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filers:
    """The reporting owners of one filing as the page shows them."""

    ciks: tuple[str, ...]
    refs: list[OwnerRef]
    names: str
    roles: list[str]
    role_text: str


def people(owners: dict[str, list[OwnerOnFiling]]) -> dict[str, Filers]:
    """The filers of every filing, computed once per distinct set of owners and relationships."""
    # A busy ticker has thousands of filings by a few dozen insiders: classify each combination once.
    memo: dict[tuple[Any, ...], Filers] = {}
    out = {}
    for accession, items in owners.items():
        key = tuple(o[1:] for o in items)  # everything but the accession
        if key not in memo:
            memo[key] = _filers(items)
        out[accession] = memo[key]
    return out


def _filers(owners: Sequence[OwnerOnFiling]) -> Filers:
    roles = roster_service.roles_of(owners)
    return Filers(
        ciks=tuple(o.cik for o in owners),
        refs=[OwnerRef(cik=o.cik, name=o.name) for o in owners],
        names=" / ".join(dict.fromkeys(o.name for o in owners)) or "unknown reporting owner",
        roles=roles,
        role_text=", ".join(ROLE_WORDS.get(r, r) for r in roles),
    )


NO_FILERS = _filers([])


def trade_fact(r: Any, who: dict[str, Filers]) -> TradeFact:
    # Positional, in TradeFact's field order: keyword arguments cost ~3x more on thousands of rows.
    filers = who.get(r.accession)
    return TradeFact(
        r.id,
        r.accession,
        r.tx_table,  # table
        r.doc_index,
        r.code,
        r.acquired_disposed,
        r.transaction_date,  # trade_date
        r.known_at,
        r.shares,
        r.value,
        r.shares_owned_before,  # shares_before
        r.direct_indirect,
        r.nature_of_ownership,  # nature
        bool(r.is_10b5_1),
        bool(r.is_eligible_purchase),
        filers.ciks if filers is not None else (),  # owner_ciks
    )

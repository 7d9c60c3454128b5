"""The ticker dashboard (`/ticker/{symbol}`, issue 5 §2): header, price series with trade and news markers,
buys and sells side by side, the insider roster and the signals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from app.ingest import codes
from app.models import Issuer
from app.repositories import cluster_pages as cluster_pages_repo
from app.repositories import prices as prices_repo
from app.repositories import ticker_pages as repo
from app.repositories.ticker_pages import OwnerOnFiling
from app.schemas.ticker import (
    ChartMarkers,
    ClusterSignal,
    LargeSaleSignal,
    NetBuying,
    OwnerRef,
    Period,
    PriceNote,
    SellClusterSignal,
    Signals,
    TickerHeader,
    TickerPage,
    TradeRow,
    TradeTotals,
    WeaknessHit,
    WeaknessSignal,
)
from app.services import cluster_page as cluster_page_service
from app.services import insider_roster as roster_service
from app.services import prices as prices_service
from app.services import signals as signals_service
from app.services import ticker_chart as chart
from app.services import ticker_lookup as ticker_lookup_service
from app.services.clustering import is_late
from app.services.signals import TradeFact

EASTERN = ZoneInfo("America/New_York")
PERIOD_DAYS = {Period.m3: 91, Period.y1: 365, Period.y5: 1826, Period.all: None}
PRICE_Q = Decimal("0.0001")
CONTEXT_DAYS = 30  # market-wide context: clusters triggered in the last 30 days


# --- the page -------------------------------------------------------------------------------------------


def build_ticker_page(
    session: Session,
    symbol: str,
    period: Period = Period.y1,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> TickerPage:
    """Everything the dashboard shows for one company; trades and news show even without prices."""
    now = now or datetime.now(UTC)
    today = today or now.astimezone(EASTERN).date()
    issuer = ticker_lookup_service.resolve_issuer(session, symbol)
    rows = repo.issuer_trades(session, issuer.cik)
    holdings = repo.issuer_holdings(session, issuer.cik)
    # Owners of every filing about the issuer; the trades and holdings name the ones that matter.
    wanted = {r.accession for r in rows} | {h.accession for h in holdings}
    owners = {a: o for a, o in repo.issuer_owners(session, issuer.cik).items() if a in wanted}
    people = _people(owners)
    kinds = signals_service.classify(rows)
    # The signal rules read purchases and open-market sales only: the other rows need no TradeFact.
    facts = [_fact(r, people) for r in rows if kinds.get(r.id) in _SIGNAL_KINDS]

    price_ticker = _price_ticker(issuer)
    splits = prices_repo.splits(session, price_ticker) if price_ticker else []
    frame = (
        prices_service.chart_frame(session, price_ticker, splits=splits) if price_ticker else pd.DataFrame()
    )
    has_prices = not frame.empty
    # The bars' dates as Python dates, once: markers and the weakness rule look closes up by date.
    # (chart_frame's index is a DatetimeIndex; the stubs only know an Index.)
    bar_dates: list[date] = cast(pd.DatetimeIndex, frame.index).date.tolist() if has_prices else []

    period_days = PERIOD_DAYS[period]
    start = None if period_days is None else today - timedelta(days=period_days)
    purchases, sales = _tables(rows, kinds, people, start, today)
    dated = [r.transaction_date for r in rows if r.id in kinds and kinds[r.id] in _TABLE_KINDS]
    header = _header(session, issuer, price_ticker, frame, today, now)
    news = [chart.news_marker(e) for e in repo.issuer_news(session, issuer.cik)]
    trades = chart.trade_markers(rows, kinds, people, splits, frame, bar_dates)
    notes = []
    if not has_prices:
        notes.append(header.prices.message)
    if not news:
        notes.append("No 8-K filings or headlines are stored for this company.")
    return TickerPage(
        header=header,
        period=period,
        period_start=start,
        series=chart.price_series(price_ticker, frame, splits) if has_prices and price_ticker else None,
        # Built here from typed values: validating thousands of marker dicts again costs ~2 ms.
        markers=ChartMarkers.model_construct(
            trades=trades,
            news=news,
            codes={c: codes.describe(c) for c in dict.fromkeys(m["code"] for m in trades)},
        ),
        purchases=purchases,
        sales=sales,
        totals=_totals(purchases, sales),
        latest_trade_date=max((d for d in dated if d), default=None),
        roster=roster_service.build_roster(rows, holdings, owners, kinds),
        signals=_signals(session, issuer, facts, kinds, people, frame, bar_dates, today),
        notes=notes,
    )


_TABLE_KINDS = frozenset({signals_service.BUY}) | signals_service.SALE_KINDS
_SIGNAL_KINDS = frozenset({signals_service.BUY, signals_service.SELL, signals_service.SELL_PLAN})


def _fact(r: Any, people: dict[str, _Filers]) -> TradeFact:
    # Positional, in TradeFact's field order: keyword arguments cost ~3x more on thousands of rows.
    filers = people.get(r.accession)
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


def _price_ticker(issuer: Issuer) -> str | None:
    if not issuer.ticker:
        return None
    try:
        return prices_service.normalize_ticker(issuer.ticker)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Filers:
    """The reporting owners of one filing as the page shows them."""

    ciks: tuple[str, ...]
    refs: list[OwnerRef]
    names: str
    roles: list[str]
    role_text: str


def _people(owners: dict[str, list[OwnerOnFiling]]) -> dict[str, _Filers]:
    """The filers of every filing, computed once per distinct set of owners and relationships."""
    # A busy ticker has thousands of filings by a few dozen insiders: classify each combination once.
    memo: dict[tuple[Any, ...], _Filers] = {}
    out = {}
    for accession, items in owners.items():
        key = tuple(o[1:] for o in items)  # everything but the accession
        if key not in memo:
            memo[key] = _filers(items)
        out[accession] = memo[key]
    return out


def _filers(owners: Sequence[OwnerOnFiling]) -> _Filers:
    roles = roster_service.roles_of(owners)
    return _Filers(
        ciks=tuple(o.cik for o in owners),
        refs=[OwnerRef(cik=o.cik, name=o.name) for o in owners],
        names=" / ".join(dict.fromkeys(o.name for o in owners)) or "unknown reporting owner",
        roles=roles,
        role_text=", ".join(_ROLE_WORDS.get(r, r) for r in roles),
    )


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(PRICE_Q)


# --- header ---------------------------------------------------------------------------------------------


def _header(
    session: Session, issuer: Issuer, ticker: str | None, frame: pd.DataFrame, today: date, now: datetime
) -> TickerHeader:
    last = change = pct = None
    last_date = None
    if not frame.empty:
        closes = frame["close"].to_numpy()
        last, last_date = _dec(closes[-1]), frame.index[-1].date()
        if len(closes) > 1 and closes[-2] > 0:
            change = last - _dec(closes[-2])
            pct = round(float(closes[-1] / closes[-2] - 1.0), 6)
    return TickerHeader(
        issuer_cik=issuer.cik,
        ticker=issuer.ticker,
        company=issuer.name,
        sector=issuer.sector,
        industry=issuer.sic_description,
        exchange=issuer.exchange,
        last_close=last,
        last_close_date=last_date,
        change=change,
        change_pct=pct,
        prices=_price_note(session, ticker, today),
        clusters_30d=repo.clusters_triggered_since(session, now - timedelta(days=CONTEXT_DAYS)),
        as_of=today,
    )


def _price_note(session: Session, ticker: str | None, today: date) -> PriceNote:
    if ticker is None:
        return PriceNote(
            status="missing",
            last_bar_date=None,
            source=None,
            last_error=None,
            message="No ticker is known for this company, so there are no prices; trades and news are shown.",
        )
    f = prices_service.price_freshness(session, ticker, today)
    failed = f" The last refresh failed: {f.last_error}" if f.last_error else ""
    if f.status == "missing":
        message = (
            f"No price data for {ticker}: trades and news are shown without a chart. "
            f"Load prices with `clusterbuy prices refresh {ticker}` or `clusterbuy import-prices`.{failed}"
        )
    elif f.status == "stale":
        message = f"Prices are stale: the latest stored bar is {f.last_bar_date}.{failed}"
    else:
        message = f"Prices to {f.last_bar_date} ({f.source or 'stored'})."
    return PriceNote(
        status=f.status,
        last_bar_date=f.last_bar_date,
        source=f.source,
        last_error=f.last_error,
        message=message,
    )


# --- chart ----------------------------------------------------------------------------------------------


_ROLE_WORDS = {
    "officer": "Officer",
    "director": "Director",
    "ten_percent_owner": "10% owner",
    "other": "Other",
}


# --- tables ---------------------------------------------------------------------------------------------


def _tables(
    rows: Sequence[Any],
    kinds: dict[int, str],
    people: dict[str, _Filers],
    start: date | None,
    today: date,
) -> tuple[list[TradeRow], list[TradeRow]]:
    purchases: list[TradeRow] = []
    sales: list[TradeRow] = []
    for r in rows:
        kind = kinds.get(r.id)
        if kind not in _TABLE_KINDS:
            continue
        if start is not None and (r.transaction_date is None or not start <= r.transaction_date <= today):
            continue
        row = _trade_row(r, kind, people.get(r.accession) or _filers([]))
        (purchases if kind == signals_service.BUY else sales).append(row)
    for table in (purchases, sales):
        table.sort(key=lambda t: (t.trade_date or date.min, t.known_at or datetime.min.replace(tzinfo=UTC)))
        table.reverse()
    return purchases, sales


def _trade_row(r: Any, kind: str, filers: _Filers) -> TradeRow:
    sale = kind != signals_service.BUY
    ratio, new = signals_service.delta_own(r.shares, r.shares_owned_before, sale=sale)
    flags = []
    if r.is_10b5_1:
        flags.append("10b5-1")
    if kind == signals_service.SELL_EXERCISE:
        flags.append("exercise_sale")
    if r.is_amendment:
        flags.append("amended")
    if r.timeliness == "L" or is_late_row(r):
        flags.append("late_filing")
    if r.price_source == "footnote_range":
        flags.append("price_from_footnote")
    return TradeRow(
        transaction_id=r.id,
        accession=r.accession,
        side="sale" if sale else "purchase",
        owners=filers.refs,
        insider=filers.names,
        roles=filers.roles,
        code=r.code or "",
        trade_date=r.transaction_date,
        known_at=r.known_at,
        shares=r.shares,
        price=r.price,
        price_low=r.price_low,
        price_high=r.price_high,
        value=r.value,
        shares_owned_after=r.shares_owned_after,
        delta_own=ratio,
        delta_own_new=new,
        is_10b5_1=bool(r.is_10b5_1),
        flags=flags,
    )


def is_late_row(r: Any) -> bool:
    """Filed after the Form 4 deadline (amendments are judged by an explicit L only)."""
    # An amendment is filed later by nature: only the original's timing (or an explicit L) says late.
    if r.is_amendment or r.transaction_date is None or r.known_at is None:
        return False
    return is_late(r.transaction_date, r.known_at)


def _totals(purchases: Sequence[TradeRow], sales: Sequence[TradeRow]) -> TradeTotals:
    def total(rows: Iterable[TradeRow], attr: str) -> Decimal:
        return sum((getattr(r, attr) or Decimal(0) for r in rows), Decimal(0))

    plan = [s for s in sales if "10b5-1" in s.flags]
    exercise = [s for s in sales if "exercise_sale" in s.flags and "10b5-1" not in s.flags]
    bought, sold = total(purchases, "value"), total(sales, "value")
    discretionary = sold - total(plan, "value") - total(exercise, "value")
    return TradeTotals(
        n_purchases=len(purchases),
        purchase_shares=total(purchases, "shares"),
        purchase_value=bought,
        n_sales=len(sales),
        sale_shares=total(sales, "shares"),
        sale_value=sold,
        plan_sale_value=total(plan, "value"),
        exercise_sale_value=total(exercise, "value"),
        discretionary_sale_value=discretionary,
        net_value=bought - sold,
        discretionary_net_value=bought - discretionary,
    )


def csv_rows_ticker(page: TickerPage) -> Iterable[list[Any]]:
    """Header and rows of the purchases and sales tables as shown (same period, same order)."""
    yield [
        "side",
        "trade_date",
        "insider",
        "owner_ciks",
        "roles",
        "code",
        "shares",
        "price",
        "value",
        "shares_owned_after",
        "delta_own",
        "flags",
        "filed_et",
        "accession",
    ]
    for r in [*page.purchases, *page.sales]:
        yield [
            r.side,
            r.trade_date,
            r.insider,
            " ".join(o.cik for o in r.owners),
            " ".join(r.roles),
            r.code,
            r.shares,
            r.price,
            None if r.value is None else r.value.quantize(Decimal("0.01")),
            r.shares_owned_after,
            "new" if r.delta_own_new else (None if r.delta_own is None else round(r.delta_own, 6)),
            " ".join(r.flags),
            r.known_at.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M") if r.known_at else None,
            r.accession,
        ]


# --- signals --------------------------------------------------------------------------------------------


def _signals(
    session: Session,
    issuer: Issuer,
    facts: Sequence[TradeFact],
    kinds: dict[int, str],
    people: dict[str, _Filers],
    frame: pd.DataFrame,
    bar_dates: list[date],
    today: date,
) -> Signals:
    clusters = repo.issuer_clusters(session, issuer.cik)
    returns = cluster_pages_repo.returns_of(session, [c.id for c in clusters])
    cluster_signals = []
    for c in clusters:
        rows = cluster_page_service.return_rows(returns.get(c.id, []))
        cluster_signals.append(
            ClusterSignal(
                cluster_id=c.id,
                first_trade_date=c.first_trade_date,
                last_trade_date=c.last_trade_date,
                trigger_at=c.trigger_at,
                n_buyers=c.n_buyers,
                total_value=c.total_value,
                roles=list(c.roles or []),
                latest_return=cluster_page_service.latest_return(rows),
                returns=rows,
            )
        )
    names = {ref.cik: ref.name for filers in people.values() for ref in filers.refs}
    sell_clusters = [
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
    large = [
        LargeSaleSignal(
            accession=s.accession,
            insider=(people.get(s.accession) or _filers([])).names,
            owner_ciks=list(s.owner_ciks),
            roles=(people.get(s.accession) or _filers([])).roles,
            trade_date=s.trade_date,
            shares=s.shares,
            value=s.value,
            shares_before=s.shares_before,
            delta_own=round(s.delta_own, 6),
            direct_indirect=s.direct_indirect,
            is_10b5_1=s.is_10b5_1,
        )
        for s in signals_service.large_sales(facts, kinds)
    ]
    closes: list[tuple[date, float]] = []
    if not frame.empty and any(k == signals_service.BUY for k in kinds.values()):
        closes = list(zip(bar_dates, frame["adj_close"].to_numpy().tolist(), strict=True))
    hits = signals_service.buying_into_weakness(facts, kinds, closes)
    net = signals_service.net_buying(facts, kinds, today)
    latest = signals_service.latest_discretionary_date(facts, kinds)
    return Signals(
        clusters=cluster_signals,
        sell_clusters=sell_clusters,
        large_sales=large,
        weakness=WeaknessSignal(
            status=signals_service.weakness_status(hits, today, has_prices=not frame.empty),  # type: ignore[arg-type]
            hits=[
                WeaknessHit(
                    trade_date=h.trade_date,
                    drop=h.drop,
                    reference_date=h.reference_date,
                    n_purchases=h.n_purchases,
                    value=h.value,
                )
                for h in hits
            ],
        ),
        net_buying=_net(net),
        net_buying_latest=_net(signals_service.net_buying(facts, kinds, latest))
        if latest is not None and latest <= net.start
        else None,
    )


def _net(w: signals_service.NetWindow) -> NetBuying:
    return NetBuying(
        start=w.start,
        end=w.end,
        bought=w.bought,
        sold=w.sold,
        net=w.net,
        n_purchases=w.n_purchases,
        n_sales=w.n_sales,
    )

"""The ticker dashboard (`/ticker/{symbol}`, issue 5 §2): header, price series with trade and news markers,
buys and sells side by side, the insider roster and the signals. What reads the whole history comes from
the issuer's stored snapshot (services/ticker_history.py); this module adds what depends on the day and
the period: the header, the period's tables, 90-day net buying, cluster history and news."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.models import Issuer
from app.repositories import cluster_pages as cluster_pages_repo
from app.repositories import ticker_pages as repo
from app.schemas.ticker import (
    ClusterSignal,
    IssuerHistory,
    Period,
    PriceNote,
    Signals,
    TickerHeader,
    TickerPageBody,
    TickerView,
    TradeRow,
    TradeTotals,
    WeaknessSignal,
)
from app.services import cluster_page as cluster_page_service
from app.services import prices as prices_service
from app.services import signals as signals_service
from app.services import ticker_chart as chart
from app.services import ticker_history as history_service
from app.services import ticker_lookup as ticker_lookup_service
from app.services.clustering import is_late
from app.services.signals import TradeFact
from app.services.ticker_history import NO_FILERS, TABLE_KINDS, Filers

EASTERN = ZoneInfo("America/New_York")
PERIOD_DAYS = {Period.m3: 91, Period.y1: 365, Period.y5: 1826, Period.all: None}
CONTEXT_DAYS = 30  # market-wide context: clusters triggered in the last 30 days


# --- the page -------------------------------------------------------------------------------------------


def build_ticker_page(
    session: Session,
    symbol: str,
    period: Period = Period.y1,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> TickerView:
    """Everything the dashboard shows for one company; trades and news show even without prices."""
    now = now or datetime.now(UTC)
    today = today or now.astimezone(EASTERN).date()
    issuer = ticker_lookup_service.resolve_issuer(session, symbol)
    price_ticker = history_service.price_ticker(issuer)
    snapshot = history_service.load(session, issuer, price_ticker, now=now)
    history = snapshot.history

    period_days = PERIOD_DAYS[period]
    start = None if period_days is None else today - timedelta(days=period_days)
    # The period's tables and the 90-day net buying read only the rows traded since then.
    net_start = today - timedelta(days=signals_service.NET_BUYING_DAYS)
    rows = repo.issuer_trades(session, issuer.cik, since=None if start is None else min(start, net_start))
    who = history_service.people(repo.filing_owners(session, {r.accession for r in rows}))
    kinds = signals_service.classify(rows)
    purchases, sales = _tables(rows, kinds, who, start, today)
    net_facts = [history_service.trade_fact(r, who) for r in rows if kinds.get(r.id) in _NET_KINDS]

    header = _header(session, issuer, price_ticker, history, today, now)
    news = [chart.news_marker(e) for e in repo.issuer_news(session, issuer.cik)]
    notes = []
    if not history.has_prices:
        notes.append(header.prices.message)
    if not news:
        notes.append("No 8-K filings or headlines are stored for this company.")
    page = TickerPageBody(
        header=header,
        period=period,
        period_start=start,
        purchases=purchases,
        sales=sales,
        totals=_totals(purchases, sales),
        latest_trade_date=history.latest_trade_date,
        roster=history.roster,
        signals=_signals(session, issuer, history, net_facts, kinds, today),
        notes=notes,
    )
    return TickerView(
        page=page,
        news=news,
        series_json=snapshot.series_json,
        trades_json=snapshot.trades_json,
        codes_json=snapshot.codes_json,
    )


_NET_KINDS = frozenset({signals_service.BUY, signals_service.SELL})


# --- header ---------------------------------------------------------------------------------------------


def _header(
    session: Session, issuer: Issuer, ticker: str | None, history: IssuerHistory, today: date, now: datetime
) -> TickerHeader:
    return TickerHeader(
        issuer_cik=issuer.cik,
        ticker=issuer.ticker,
        company=issuer.name,
        sector=issuer.sector,
        industry=issuer.sic_description,
        exchange=issuer.exchange,
        last_close=history.last_close,
        last_close_date=history.last_close_date,
        change=history.change,
        change_pct=history.change_pct,
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


# --- tables ---------------------------------------------------------------------------------------------


def _tables(
    rows: Sequence[Any],
    kinds: dict[int, str],
    people: dict[str, Filers],
    start: date | None,
    today: date,
) -> tuple[list[TradeRow], list[TradeRow]]:
    purchases: list[TradeRow] = []
    sales: list[TradeRow] = []
    for r in rows:
        kind = kinds.get(r.id)
        if kind not in TABLE_KINDS:
            continue
        if start is not None and (r.transaction_date is None or not start <= r.transaction_date <= today):
            continue
        row = _trade_row(r, kind, people.get(r.accession) or NO_FILERS)
        (purchases if kind == signals_service.BUY else sales).append(row)
    for table in (purchases, sales):
        table.sort(key=lambda t: (t.trade_date or date.min, t.known_at or datetime.min.replace(tzinfo=UTC)))
        table.reverse()
    return purchases, sales


def _trade_row(r: Any, kind: str, filers: Filers) -> TradeRow:
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
    # Built from typed values as loaded: validating ~1,000 rows of a busy ticker's year cost ~10 ms.
    return TradeRow.model_construct(
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


def csv_rows_ticker(page: TickerPageBody) -> Iterable[list[Any]]:
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
    history: IssuerHistory,
    net_facts: Sequence[TradeFact],
    kinds: dict[int, str],
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
    net = history_service.net_window(signals_service.net_buying(net_facts, kinds, today))
    latest = history.net_buying_latest  # the 90 days to the latest discretionary trade
    hits = history.weakness_hits
    return Signals(
        clusters=cluster_signals,
        sell_clusters=history.sell_clusters,
        large_sales=history.large_sales,
        weakness=WeaknessSignal(
            status=signals_service.weakness_status(hits, today, has_prices=history.has_prices),  # type: ignore[arg-type]
            hits=hits,
        ),
        net_buying=net,
        # Shown when that trade is older than the window to today (the window is then empty of it).
        net_buying_latest=latest if latest is not None and latest.end <= net.start else None,
    )

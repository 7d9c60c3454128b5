"""SQL for daily price bars, stock splits and each ticker's price-series state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Float, Row, cast, delete, func, select
from sqlalchemy.orm import Session

from app.models import InsiderTransaction, Issuer, PriceBar, PriceSeriesState, StockSplit
from app.repositories.filings import _insert

_CHUNK = 2000
_BAR_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")


def _bars_select() -> Any:
    return select(
        PriceBar.bar_date,
        PriceBar.open,
        PriceBar.high,
        PriceBar.low,
        PriceBar.close,
        PriceBar.adj_close,
        PriceBar.volume,
    )


def upsert_bars(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert bars (dicts with ticker, bar_date and the price columns), overwriting stored ones by date."""
    for i in range(0, len(rows), _CHUNK):
        stmt = _insert(session, PriceBar)
        stmt = stmt.on_conflict_do_update(
            index_elements=[PriceBar.ticker, PriceBar.bar_date],
            set_={c: getattr(stmt.excluded, c) for c in _BAR_COLUMNS},
        )
        session.execute(stmt, list(rows[i : i + _CHUNK]))
    return len(rows)


def delete_bars(session: Session, ticker: str) -> int:
    """Delete every stored bar of a ticker; returns the number deleted."""
    result = session.execute(delete(PriceBar).where(PriceBar.ticker == ticker))
    return int(getattr(result, "rowcount", 0) or 0)


def replace_series(session: Session, ticker: str, rows: Sequence[dict[str, Any]]) -> int:
    """Replace a ticker's whole series (a refetch after a split or dividend rewrote its history)."""
    delete_bars(session, ticker)
    for i in range(0, len(rows), _CHUNK):
        session.execute(_insert(session, PriceBar), list(rows[i : i + _CHUNK]))
    return len(rows)


def series(
    session: Session, ticker: str, *, start: date | None = None, end: date | None = None
) -> list[Row[Any]]:
    """Return (bar_date, open, high, low, close, adj_close, volume) rows, oldest first, ends inclusive."""
    stmt = _bars_select().where(PriceBar.ticker == ticker)
    if start is not None:
        stmt = stmt.where(PriceBar.bar_date >= start)
    if end is not None:
        stmt = stmt.where(PriceBar.bar_date <= end)
    return list(session.execute(stmt.order_by(PriceBar.bar_date)).all())


def series_frame(
    session: Session, ticker: str, *, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Return the stored bars as floats indexed by date (the read_price_csv shape): charts, analytics."""
    # Read as floats in SQL: converting every value to Decimal costs more than the query (20 years ~ 5k rows).
    cols = [cast(getattr(PriceBar, c), Float).label(c) for c in _BAR_COLUMNS]
    stmt = select(PriceBar.bar_date, *cols).where(PriceBar.ticker == ticker)
    if start is not None:
        stmt = stmt.where(PriceBar.bar_date >= start)
    if end is not None:
        stmt = stmt.where(PriceBar.bar_date <= end)
    # Through the Connection: Session.execute's ORM row building costs ~20% more on 5k rows (flushing
    # first, as its autoflush would).
    session.flush()
    rows = session.connection().execute(stmt.order_by(PriceBar.bar_date)).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(_BAR_COLUMNS) + 1)
    index = pd.DatetimeIndex(list(columns[0]), name="date").astype("datetime64[ns]")
    data = {c: np.asarray(v, dtype="float64") for c, v in zip(_BAR_COLUMNS, columns[1:], strict=True)}
    return pd.DataFrame(data, index=index)


def last_bar(session: Session, ticker: str) -> PriceBar | None:
    """Return the most recent stored bar of a ticker."""
    stmt = select(PriceBar).where(PriceBar.ticker == ticker).order_by(PriceBar.bar_date.desc()).limit(1)
    return session.scalars(stmt).first()


def bar_date_range(session: Session, ticker: str) -> tuple[date | None, date | None]:
    """Return the first and last stored bar dates of a ticker (None, None when it has none)."""
    stmt = select(func.min(PriceBar.bar_date), func.max(PriceBar.bar_date)).where(PriceBar.ticker == ticker)
    first, last = session.execute(stmt).one()
    return first, last


def splits(session: Session, ticker: str) -> list[tuple[date, Decimal]]:
    """Return a ticker's splits as (ex_date, ratio), oldest first."""
    stmt = select(StockSplit.ex_date, StockSplit.ratio).where(StockSplit.ticker == ticker)
    return [(d, Decimal(r)) for d, r in session.execute(stmt.order_by(StockSplit.ex_date))]


def splits_for(session: Session, tickers: Iterable[str]) -> dict[str, list[tuple[date, Decimal]]]:
    """Return the splits of several tickers at once, keyed by ticker (tickers without splits omitted)."""
    wanted = sorted(set(tickers))
    out: dict[str, list[tuple[date, Decimal]]] = {}
    if not wanted:
        return out
    stmt = (
        select(StockSplit.ticker, StockSplit.ex_date, StockSplit.ratio)
        .where(StockSplit.ticker.in_(wanted))
        .order_by(StockSplit.ticker, StockSplit.ex_date)
    )
    for ticker, ex_date, ratio in session.execute(stmt):
        out.setdefault(ticker, []).append((ex_date, Decimal(ratio)))
    return out


def upsert_splits(session: Session, ticker: str, items: Iterable[tuple[date, Decimal]]) -> None:
    """Insert splits, overwriting the ratio of one already stored on the same ex-date."""
    rows = [{"ticker": ticker, "ex_date": d, "ratio": r} for d, r in items]
    if not rows:
        return
    stmt = _insert(session, StockSplit)
    stmt = stmt.on_conflict_do_update(
        index_elements=[StockSplit.ticker, StockSplit.ex_date], set_={"ratio": stmt.excluded.ratio}
    )
    session.execute(stmt, rows)


def replace_splits(session: Session, ticker: str, items: Iterable[tuple[date, Decimal]]) -> None:
    """Make `items` the ticker's whole split history (a full refetch is authoritative)."""
    session.execute(delete(StockSplit).where(StockSplit.ticker == ticker))
    upsert_splits(session, ticker, items)


def get_state(session: Session, ticker: str) -> PriceSeriesState | None:
    """Return what is known about a ticker's stored series, or None."""
    return session.get(PriceSeriesState, ticker)


def states_for(session: Session, tickers: Iterable[str]) -> dict[str, PriceSeriesState]:
    """Return the series states of several tickers, keyed by ticker."""
    wanted = sorted(set(tickers))
    if not wanted:
        return {}
    stmt = select(PriceSeriesState).where(PriceSeriesState.ticker.in_(wanted))
    return {s.ticker: s for s in session.scalars(stmt)}


def set_state(session: Session, ticker: str, **fields: Any) -> None:
    """Create or update a ticker's series state with the given columns (others keep their values)."""
    values = {"ticker": ticker, **fields}
    values.setdefault("source", "unknown")
    stmt = _insert(session, PriceSeriesState).values(**values)
    updates = {k: getattr(stmt.excluded, k) for k in fields}
    stmt = (
        stmt.on_conflict_do_update(index_elements=[PriceSeriesState.ticker], set_=updates)
        if updates
        else stmt.on_conflict_do_nothing(index_elements=[PriceSeriesState.ticker])
    )
    session.execute(stmt)
    # The identity map may hold a stale copy from an earlier get_state in this session.
    cached = session.identity_map.get(session.identity_key(PriceSeriesState, (ticker,)))
    if cached is not None:
        session.expire(cached)


def tickers_with_prices(session: Session) -> list[str]:
    """Return every ticker that has at least one stored bar, alphabetically."""
    return list(session.scalars(select(PriceBar.ticker).distinct().order_by(PriceBar.ticker)))


def last_bar_dates(session: Session, tickers: Iterable[str]) -> dict[str, date]:
    """Return the latest stored bar date of each ticker that has bars."""
    wanted = sorted(set(tickers))
    if not wanted:
        return {}
    stmt = (
        select(PriceBar.ticker, func.max(PriceBar.bar_date))
        .where(PriceBar.ticker.in_(wanted))
        .group_by(PriceBar.ticker)
    )
    return dict(session.execute(stmt).all())


def purchase_tickers(session: Session, *, since: date | None = None) -> list[str]:
    """Return tickers of issuers with eligible purchases (traded on or after `since`), alphabetically."""
    stmt = (
        select(Issuer.ticker)
        .join(InsiderTransaction, InsiderTransaction.issuer_cik == Issuer.cik)
        .where(InsiderTransaction.is_eligible_purchase.is_(True), Issuer.ticker.is_not(None))
        .distinct()
        .order_by(Issuer.ticker)
    )
    if since is not None:
        stmt = stmt.where(InsiderTransaction.transaction_date >= since)
    return [t for t in session.scalars(stmt) if t and t.strip()]

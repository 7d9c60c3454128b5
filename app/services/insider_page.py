"""The insider page (`/insider/{cik}`, issue 5 §3): every trade across companies, roles per company, the
track record of their purchases vs SPY, and routine vs opportunistic trades (Cohen, Malloy, Pomorski)."""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import performance
from app.errors import NotFoundError
from app.ingest import codes
from app.repositories import prices as prices_repo
from app.repositories import ticker_pages as repo
from app.schemas.ticker import (
    InsiderCompany,
    InsiderPage,
    InsiderTrade,
    TrackHorizon,
    TrackRow,
    TrackSummary,
)
from app.services import cluster_page as cluster_page_service
from app.services import prices as prices_service
from app.services import roles as roles_service
from app.services import signals as signals_service
from app.services import ticker_page as ticker_page_service
from app.services.signals import TradeFact

EASTERN = ZoneInfo("America/New_York")
TRACK_HORIZONS = {h: performance.HORIZONS[h] for h in ("1m", "3m", "6m")}
ROUTINE_YEARS = 3
WINDOW_DAYS = 400  # calendar days of bars read per purchase (6m = 126 sessions, ~183 days)
PRICE_Q = Decimal("0.0001")
_CIK = re.compile(r"^\d{1,10}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Pattern = Literal["routine", "opportunistic"]


def normalize_cik(text: str) -> str:
    """Return the 10-digit CIK for "320193" or "0000320193", or raise NotFoundError."""
    text = (text or "").strip()
    if not _CIK.match(text):
        raise NotFoundError(f"{text[:40]!r} is not a CIK: insider pages are at /insider/<CIK digits>.")
    return text.zfill(10)


def build_insider_page(
    session: Session,
    cik: str,
    *,
    page: int = 1,
    page_size: int = 100,
    today: date | None = None,
) -> InsiderPage:
    """Load one insider's filings and trades, classify them and measure their purchases."""
    owner_cik = normalize_cik(cik)
    owner = repo.owner_by_cik(session, owner_cik)
    if owner is None:
        raise NotFoundError(f"No insider with CIK {owner_cik} is stored.")
    today = today or datetime.now(EASTERN).date()
    filings = repo.owner_filings(session, owner_cik)
    rows = repo.owner_trades(session, owner_cik)
    issuers = repo.issuers(session, {f.issuer_cik for f in filings} | {r.issuer_cik for r in rows})
    facts = [_fact(r, owner_cik) for r in rows]
    kinds = signals_service.classify(facts)
    patterns = classify_patterns(rows)

    rows = sorted(rows, key=lambda r: (r.transaction_date or date.min, r.known_at or _EPOCH, r.doc_index))
    rows.reverse()
    total = len(rows)
    pages = max(1, math.ceil(total / page_size))
    start = (page - 1) * page_size
    trades = [_trade(r, kinds, patterns, issuers) for r in rows[start : start + page_size]]
    track = _track_record(session, rows, kinds, patterns, issuers, today)
    counted = [p for p in patterns.values() if p]
    return InsiderPage(
        owner_cik=owner_cik,
        name=owner.name or owner_cik,
        companies=_companies(filings, rows, issuers),
        trades=trades,
        total_trades=total,
        page=page,
        pages=pages,
        page_size=page_size,
        track_record=track,
        track_summary=_summary(track),
        n_routine=sum(1 for p in counted if p == "routine"),
        n_opportunistic=sum(1 for p in counted if p == "opportunistic"),
        as_of=today,
    )


def _fact(r: Any, owner_cik: str) -> TradeFact:
    return TradeFact(
        id=r.id,
        accession=r.accession,
        table=r.tx_table,
        doc_index=r.doc_index,
        code=r.code,
        acquired_disposed=r.acquired_disposed,
        trade_date=r.transaction_date,
        known_at=r.known_at,
        shares=r.shares,
        value=r.value,
        shares_before=r.shares_owned_before,
        direct_indirect=r.direct_indirect,
        nature=r.nature_of_ownership,
        is_10b5_1=bool(r.is_10b5_1),
        is_eligible_purchase=bool(r.is_eligible_purchase),
        owner_ciks=(owner_cik,),
    )


def classify_patterns(rows: Iterable[Any]) -> dict[int, Pattern | None]:
    """Routine or opportunistic for every open-market trade (P or S in the non-derivative table)."""
    # Cohen, Malloy & Pomorski (2012): a trade is routine when the insider traded the same company's
    # stock in the same calendar month in each of the three prior years; otherwise opportunistic.
    rows = list(rows)
    months: set[tuple[str, int, int]] = set()
    for r in rows:
        if _open_market(r):
            months.add((r.issuer_cik, r.transaction_date.year, r.transaction_date.month))
    out: dict[int, Pattern | None] = {}
    for r in rows:
        if not _open_market(r):
            out[r.id] = None
            continue
        y, m = r.transaction_date.year, r.transaction_date.month
        prior = all((r.issuer_cik, y - k, m) in months for k in range(1, ROUTINE_YEARS + 1))
        out[r.id] = "routine" if prior else "opportunistic"
    return out


def _open_market(r: Any) -> bool:
    return r.tx_table == "non_derivative" and r.code in ("P", "S") and r.transaction_date is not None


def _trade(
    r: Any, kinds: dict[int, str], patterns: dict[int, Pattern | None], issuers: dict[str, Any]
) -> InsiderTrade:
    issuer = issuers.get(r.issuer_cik)
    sale = r.acquired_disposed == "D"
    ratio, new = signals_service.delta_own(r.shares, r.shares_owned_before, sale=sale)
    flags = []
    if r.is_10b5_1:
        flags.append("10b5-1")
    if kinds.get(r.id) == signals_service.SELL_EXERCISE:
        flags.append("exercise_sale")
    if r.is_amendment:
        flags.append("amended")
    if r.timeliness == "L" or ticker_page_service.is_late_row(r):
        flags.append("late_filing")
    if r.price_source == "footnote_range":
        flags.append("price_from_footnote")
    return InsiderTrade(
        transaction_id=r.id,
        accession=r.accession,
        issuer_cik=r.issuer_cik,
        ticker=issuer.ticker if issuer else None,
        company=issuer.name if issuer else None,
        table=r.tx_table,
        trade_date=r.transaction_date,
        known_at=r.known_at,
        code=r.code,
        code_text=codes.describe(r.code),
        acquired_disposed=r.acquired_disposed,
        shares=r.shares,
        price=r.price,
        value=r.value,
        shares_owned_after=r.shares_owned_after,
        direct_indirect=r.direct_indirect,
        delta_own=ratio,
        delta_own_new=new,
        flags=flags,
        pattern=patterns.get(r.id),
    )


def _companies(filings: Sequence[Any], rows: Sequence[Any], issuers: dict[str, Any]) -> list[InsiderCompany]:
    by_issuer: dict[str, list[Any]] = defaultdict(list)
    for f in filings:
        by_issuer[f.issuer_cik].append(f)
    out = []
    for cik, items in by_issuer.items():
        items.sort(key=lambda f: (f.known_at or _EPOCH, f.accession))
        every: set[str] = set()
        for f in items:
            every |= _roles_of(f)
        issuer = issuers.get(cik)
        known = [f.known_at for f in items if f.known_at]
        out.append(
            InsiderCompany(
                issuer_cik=cik,
                ticker=issuer.ticker if issuer else None,
                company=issuer.name if issuer else None,
                roles=cluster_page_service.sort_roles(every),
                latest_roles=cluster_page_service.sort_roles(_roles_of(items[-1])),
                first_filed_at=min(known) if known else None,
                last_filed_at=max(known) if known else None,
                n_filings=len(items),
            )
        )
    out.sort(key=lambda c: c.last_filed_at or _EPOCH, reverse=True)
    return out


def _roles_of(f: Any) -> set[str]:
    return roles_service.classify_roles(
        f.is_director, f.is_officer, f.officer_title, f.is_ten_percent_owner, f.is_other, f.other_text
    )


# --- track record ---------------------------------------------------------------------------------------


def _track_record(
    session: Session,
    rows: Sequence[Any],
    kinds: dict[int, str],
    patterns: dict[int, Pattern | None],
    issuers: dict[str, Any],
    today: date,
) -> list[TrackRow]:
    """Each purchase filing (per trade date) measured from the first open after it became public."""
    groups: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for r in rows:
        if kinds.get(r.id) == signals_service.BUY and r.known_at and r.transaction_date and r.value:
            groups[(r.accession, r.transaction_date)].append(r)
    if not groups:
        return []
    # Read only the span the purchases' horizons can reach, once per ticker.
    first = min(day for _, day in groups) - timedelta(days=7)
    last = max(day for _, day in groups) + timedelta(days=WINDOW_DAYS)
    frames: dict[str, pd.DataFrame] = {}

    def frame(ticker: str | None) -> pd.DataFrame:
        if ticker is None:
            return pd.DataFrame()
        if ticker not in frames:
            frames[ticker] = prices_repo.series_frame(session, ticker, start=first, end=last)
        return frames[ticker]

    spy = frame(prices_service.BENCHMARK)
    out = []
    for (accession, day), items in groups.items():
        issuer = issuers.get(items[0].issuer_cik)
        ticker = _ticker(issuer)
        stock = frame(ticker)
        shares = sum((r.shares for r in items), Decimal(0))
        value = sum((r.value for r in items), Decimal(0))
        out.append(
            TrackRow(
                accession=accession,
                issuer_cik=items[0].issuer_cik,
                ticker=issuer.ticker if issuer else None,
                trade_date=day,
                known_at=items[0].known_at,
                shares=shares,
                value=value,
                avg_price=(value / shares).quantize(PRICE_Q),
                pattern=patterns.get(items[0].id) or "opportunistic",
                horizons=_horizons(items[0].known_at, day, stock, spy, today),
            )
        )
    out.sort(key=lambda t: (t.trade_date, t.known_at), reverse=True)
    return out


def _ticker(issuer: Any) -> str | None:
    return None if issuer is None else prices_service.usable_ticker(issuer.ticker)


def _horizons(
    known_at: datetime, trade_date: date, stock: pd.DataFrame, spy: pd.DataFrame, today: date
) -> list[TrackHorizon]:
    if stock.empty or spy.empty:
        return [
            TrackHorizon(
                horizon=h,
                status="no_prices",
                entry_date=None,
                exit_date=None,
                stock_return=None,
                spy_return=None,
                excess=None,
                insider_return=None,
                insider_excess=None,
            )
            for h in TRACK_HORIZONS
        ]
    # Only the bars a 6-month horizon can reach: the measure re-reads whatever frame it is given.
    stock, spy = _window(stock, trade_date), _window(spy, trade_date)
    # The public's entry: the open of the first session after the filing became known (DESIGN §2).
    public = performance.cluster_returns(known_at, stock, spy, as_of=today, horizons=TRACK_HORIZONS)
    # The insider's own return from the trade date's close: shown apart, not achievable by a follower.
    insider = {
        r.horizon: r
        for r in performance.insider_returns(trade_date, stock, spy, as_of=today, horizons=TRACK_HORIZONS)
    }
    return [
        TrackHorizon(
            horizon=r.horizon,
            status=r.status,
            entry_date=r.entry_date,
            exit_date=r.exit_date,
            stock_return=r.stock_return,
            spy_return=r.spy_return,
            excess=r.excess,
            insider_return=insider[r.horizon].stock_return,
            insider_excess=insider[r.horizon].excess,
        )
        for r in public
    ]


def _window(frame: pd.DataFrame, start: date) -> pd.DataFrame:
    # 126 sessions fit in WINDOW_DAYS calendar days with room for a late filing and holidays.
    index = frame.index
    lo = int(index.searchsorted(pd.Timestamp(start - timedelta(days=7))))
    hi = int(index.searchsorted(pd.Timestamp(start + timedelta(days=WINDOW_DAYS)), side="right"))
    return frame.iloc[lo:hi]


def _summary(track: Sequence[TrackRow]) -> list[TrackSummary]:
    out = []
    for h in TRACK_HORIZONS:
        cells = [c for t in track for c in t.horizons if c.horizon == h]
        excess = [c.excess for c in cells if c.status == "done" and c.excess is not None]
        insider = [c.insider_excess for c in cells if c.insider_excess is not None]
        out.append(
            TrackSummary(
                horizon=h,
                n=len(excess),
                mean_excess=round(statistics.fmean(excess), 6) if excess else None,
                hit_rate=round(sum(1 for x in excess if x > 0) / len(excess), 6) if excess else None,
                mean_insider_excess=round(statistics.fmean(insider), 6) if insider else None,
            )
        )
    return out


def csv_rows_insider(page: InsiderPage) -> Iterable[list[Any]]:
    """Header and rows of the insider's trade table as shown (this page)."""
    yield [
        "trade_date",
        "ticker",
        "company",
        "code",
        "acquired_disposed",
        "shares",
        "price",
        "value",
        "shares_owned_after",
        "direct_indirect",
        "delta_own",
        "pattern",
        "flags",
        "filed_et",
        "accession",
        "issuer_cik",
    ]
    for t in page.trades:
        yield [
            t.trade_date,
            t.ticker,
            t.company,
            t.code,
            t.acquired_disposed,
            t.shares,
            t.price,
            None if t.value is None else t.value.quantize(Decimal("0.01")),
            t.shares_owned_after,
            t.direct_indirect,
            "new" if t.delta_own_new else (None if t.delta_own is None else round(t.delta_own, 6)),
            t.pattern,
            " ".join(t.flags),
            t.known_at.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M") if t.known_at else None,
            t.accession,
            t.issuer_cik,
        ]

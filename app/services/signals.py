"""Dashboard signals as pure rules over loaded trades and prices (DESIGN §2 "Selling that says something",
"Buying into weakness", 90-day net buying): what each row is, sell clusters, large sales, weakness buys."""

from __future__ import annotations

import bisect
import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, Protocol

from app.services.clustering_core import (
    DEFAULT_N,
    DEFAULT_W,
    ClusterResult,
    PurchaseRecord,
    find_clusters,
)

# What a transaction row is, for the chart, the tables and the signals.
BUY = "buy"  # eligible purchase (DESIGN §2)
SELL = "sell"  # discretionary open-market sale: code S, not 10b5-1, not tied to an exercise
SELL_PLAN = "sell_plan"  # code S flagged 10b5-1
SELL_EXERCISE = "sell_exercise"  # code S on the filing and date of an option exercise (exercise-and-sell)
TAX = "tax"  # F (shares withheld for tax or exercise price) and D (disposed to the issuer)
EXERCISE = "exercise"  # M / X / C: shares acquired by exercising or converting a derivative
SALE_KINDS = frozenset({SELL, SELL_PLAN, SELL_EXERCISE})
# The chart's groups: tax/exercise dispositions are one group, hidden by default (issue 5 §2).
CHART_GROUP = {
    BUY: "buy",
    SELL: "sell",
    SELL_PLAN: "sell_plan",
    SELL_EXERCISE: "tax_exercise",
    TAX: "tax_exercise",
    EXERCISE: "tax_exercise",
}
EXERCISE_CODES = frozenset({"M", "X", "C"})

LARGE_SALE = -0.25  # ΔOwn at or below this is a large sale
WEAKNESS_DROP = -0.20  # fell at least 20 % ...
WEAKNESS_MONTHS = 3  # ... over the prior three months
NET_BUYING_DAYS = 90
# A reference close more than this before "three months ago" means the series has a gap there.
MAX_REFERENCE_GAP = timedelta(days=10)


class TradeFact(NamedTuple):
    """One live transaction row with what the rules read."""

    # A NamedTuple rather than a frozen dataclass (a busy ticker builds thousands): cheaper to create, and
    # the garbage collector stops tracking a tuple of plain values after its first pass.

    id: int
    accession: str
    table: str
    doc_index: int
    code: str | None
    acquired_disposed: str | None
    trade_date: date | None
    known_at: datetime | None
    shares: Decimal | None
    value: Decimal | None
    shares_before: Decimal | None
    direct_indirect: str | None
    nature: str | None
    is_10b5_1: bool
    is_eligible_purchase: bool
    owner_ciks: tuple[str, ...]


class Classifiable(Protocol):
    """What `classify` reads of a row: a TradeFact, or the repository's TradeRecord as loaded."""

    @property
    def id(self) -> int: ...
    @property
    def accession(self) -> str: ...
    @property
    def table(self) -> str: ...
    @property
    def code(self) -> str | None: ...
    @property
    def acquired_disposed(self) -> str | None: ...
    @property
    def trade_date(self) -> date | None: ...
    @property
    def is_10b5_1(self) -> bool | None: ...
    @property
    def is_eligible_purchase(self) -> bool: ...


def classify(trades: Iterable[Classifiable]) -> dict[int, str]:
    """Return the kind of every row the dashboard shows (ids of other rows are left out)."""
    rows = list(trades)
    # A sale filed with a same-day exercise sells the exercised shares: not a discretionary view
    # (DESIGN §2: discretionary means not M/F and not 10b5-1).
    exercised = {(t.accession, t.trade_date) for t in rows if t.code in EXERCISE_CODES}
    out: dict[int, str] = {}
    for t in rows:
        if t.is_eligible_purchase:
            out[t.id] = BUY
        elif t.table != "non_derivative":
            continue  # derivative rows carry the instrument's price, not the stock's
        elif t.code == "S" and t.acquired_disposed == "D":
            if t.is_10b5_1:
                out[t.id] = SELL_PLAN
            elif (t.accession, t.trade_date) in exercised:
                out[t.id] = SELL_EXERCISE
            else:
                out[t.id] = SELL
        elif t.code in ("F", "D") and t.acquired_disposed == "D":
            out[t.id] = TAX
        elif t.code in EXERCISE_CODES and t.acquired_disposed == "A":
            out[t.id] = EXERCISE
    return out


def delta_own(shares: Decimal | None, before: Decimal | None, *, sale: bool) -> tuple[float | None, bool]:
    """ΔOwn of one row: ± shares ÷ shares held before; (None, True) for a new position, None unknown."""
    if shares is None or before is None:
        return None, False
    if before <= 0:
        return None, not sale
    ratio = float(shares / before)
    return (-ratio if sale else ratio), False


# --- selling that says something ------------------------------------------------------------------------


def sell_clusters(
    trades: Sequence[TradeFact], kinds: dict[int, str], *, n: int = DEFAULT_N, w: int = DEFAULT_W
) -> list[ClusterResult]:
    """≥ n distinct sellers with discretionary sales linked within w days, newest first."""
    # The purchase cluster rule run on sales: same buyer identity, linking, span and trigger time.
    records = [
        PurchaseRecord(
            transaction_id=t.id,
            issuer_cik="",
            accession=t.accession,
            owner_ciks=frozenset(t.owner_ciks),
            trade_date=t.trade_date,
            known_at=t.known_at,
            shares=t.shares,
            price=(t.value / t.shares) if t.value is not None else Decimal(0),
            value=t.value if t.value is not None else Decimal(0),
        )
        for t in trades
        if kinds.get(t.id) == SELL
        and t.owner_ciks
        and t.known_at is not None
        and t.trade_date is not None
        and t.shares
    ]
    found = find_clusters(records, n=n, w=w)
    return sorted(found, key=lambda c: c.first_trade_date, reverse=True)


@dataclass(frozen=True, slots=True)
class SaleChain:
    """The sales of one filing along one holding chain (direct, or one indirect nature)."""

    accession: str
    trade_date: date
    shares: Decimal
    value: Decimal | None
    shares_before: Decimal
    delta_own: float
    direct_indirect: str | None
    is_10b5_1: bool
    owner_ciks: tuple[str, ...]


def large_sales(
    trades: Sequence[TradeFact], kinds: dict[int, str], *, threshold: float = LARGE_SALE
) -> list[SaleChain]:
    """Sales whose ΔOwn over the filing (per holding chain) is at or below `threshold`, newest first."""
    # DESIGN §2 ΔOwn per filing: all shares sold on it ÷ what was held before its first sale.
    chains: dict[tuple[str, str | None, str], list[TradeFact]] = defaultdict(list)
    for t in trades:
        if kinds.get(t.id) in (SELL, SELL_PLAN) and t.trade_date is not None and t.shares:
            chains[(t.accession, t.direct_indirect, (t.nature or "").strip().lower())].append(t)
    out = []
    for (accession, di, _), rows in chains.items():
        rows.sort(key=lambda t: t.doc_index)
        before = rows[0].shares_before
        if before is None or before <= 0:
            continue
        shares = sum((t.shares for t in rows if t.shares), Decimal(0))
        ratio = -float(shares / before)
        if ratio > threshold:
            continue
        values = [t.value for t in rows]
        out.append(
            SaleChain(
                accession=accession,
                trade_date=max(t.trade_date for t in rows if t.trade_date),
                shares=shares,
                # `None in values` ruled out the Nones, which mypy cannot narrow a list by.
                value=None if None in values else sum(values, Decimal(0)),  # type: ignore[type-var]
                shares_before=before,
                delta_own=ratio,
                direct_indirect=di,
                is_10b5_1=any(t.is_10b5_1 for t in rows),
                owner_ciks=rows[0].owner_ciks,
            )
        )
    out.sort(key=lambda s: (s.trade_date, s.accession), reverse=True)
    return out


# --- net buying -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetWindow:
    start: date  # exclusive
    end: date  # inclusive
    bought: Decimal
    sold: Decimal
    n_purchases: int
    n_sales: int

    @property
    def net(self) -> Decimal:
        return self.bought - self.sold


def net_buying(
    trades: Iterable[TradeFact], kinds: dict[int, str], end: date, *, days: int = NET_BUYING_DAYS
) -> NetWindow:
    """$ bought − $ sold (discretionary sales only) over the `days` days ending `end`."""
    start = end - timedelta(days=days)
    bought = sold = Decimal(0)
    n_buys = n_sales = 0
    for t in trades:
        if t.trade_date is None or not start < t.trade_date <= end:
            continue
        kind = kinds.get(t.id)
        if kind == BUY:
            bought += t.value or 0
            n_buys += 1
        elif kind == SELL:
            sold += t.value or 0
            n_sales += 1
    return NetWindow(start, end, bought, sold, n_buys, n_sales)


def latest_discretionary_date(trades: Iterable[TradeFact], kinds: dict[int, str]) -> date | None:
    """The newest trade date of a purchase or a discretionary sale."""
    dates = [t.trade_date for t in trades if t.trade_date and kinds.get(t.id) in (BUY, SELL)]
    return max(dates) if dates else None


# --- buying into weakness -------------------------------------------------------------------------------


def months_back(d: date, months: int) -> date:
    """The same day `months` calendar months earlier (clamped to that month's last day)."""
    year, month = divmod(d.year * 12 + d.month - 1 - months, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class WeaknessBuy:
    trade_date: date
    drop: float
    reference_date: date
    n_purchases: int
    value: Decimal


def buying_into_weakness(
    trades: Sequence[TradeFact],
    kinds: dict[int, str],
    closes: Sequence[tuple[date, float]],
    *,
    months: int = WEAKNESS_MONTHS,
    drop: float = WEAKNESS_DROP,
) -> list[WeaknessBuy]:
    """Purchase dates when the stock had fallen ≥ 20 % over the prior three months with no discretionary
    insider sale in that span (DESIGN §2), newest first. `closes` are (date, adjusted close), oldest first."""
    if not closes:
        return []
    days = [d for d, _ in closes]
    sale_dates = sorted(t.trade_date for t in trades if kinds.get(t.id) == SELL and t.trade_date)
    by_date: dict[date, list[TradeFact]] = defaultdict(list)
    for t in trades:
        if kinds.get(t.id) == BUY and t.trade_date:
            by_date[t.trade_date].append(t)
    out = []
    for day, buys in by_date.items():
        start = months_back(day, months)
        # Only what was known by the trade date: the last close on or before it and before the start.
        i_now = bisect.bisect_right(days, day) - 1
        i_ref = bisect.bisect_right(days, start) - 1
        if i_now < 0 or i_ref < 0 or i_ref >= i_now or start - days[i_ref] > MAX_REFERENCE_GAP:
            continue
        if day - days[i_now] > MAX_REFERENCE_GAP:
            continue
        change = closes[i_now][1] / closes[i_ref][1] - 1.0
        if change > drop:
            continue
        # No discretionary sale in (start, day].
        j = bisect.bisect_right(sale_dates, start)
        if j < len(sale_dates) and sale_dates[j] <= day:
            continue
        out.append(
            WeaknessBuy(
                trade_date=day,
                drop=round(change, 6),
                reference_date=days[i_ref],
                n_purchases=len(buys),
                value=sum((t.value or Decimal(0) for t in buys), Decimal(0)),
            )
        )
    out.sort(key=lambda h: h.trade_date, reverse=True)
    return out


class _Dated(Protocol):
    @property
    def trade_date(self) -> date: ...


def weakness_status(hits: Sequence[_Dated], today: date, *, has_prices: bool) -> str:
    """active (a weakness buy in the last three months), past, none, or no_prices."""
    if not has_prices:
        return "no_prices"
    if not hits:
        return "none"
    return "active" if hits[0].trade_date > months_back(today, WEAKNESS_MONTHS) else "past"

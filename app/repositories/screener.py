"""SQL behind the screener and purchases views: eligible purchases filed in a window, grouped by issuer
in SQL from their stored screener facts (EligiblePurchase), and the detail rows of one page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import reduce
from operator import itemgetter
from typing import Any, NamedTuple, TypeVarTuple

from sqlalchemy import (
    Boolean,
    Float,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute, Session, aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect, Subquery
from sqlalchemy.types import TypeDecorator

from app.models import (
    BuyerMonth,
    BuyerSince,
    ClusterMember,
    EligiblePurchase,
    InsiderTransaction,
    Issuer,
    PurchaseMonth,
    PurchasesSince,
)
from app.models.purchase import OWNER_CIK_SEPARATOR
from app.models.types import Money, Shares
from app.repositories.clusters import (
    FIRST_PURCHASE_ORDER,
    GROUP_KEYS,
    GROUP_TOTAL_KEYS,
    PURCHASE_INPUT_COLUMNS,
    TOTAL_KEYS,
    _chunks,
    combine_group_totals,
    core_rows,
)

EP = EligiblePurchase
Ts = TypeVarTuple("Ts")
# What a purchase adds to totals: a chain's copy of a block already counted adds nothing.
COUNTED_VALUE = type_coerce(case((EP.is_block_copy, literal(0)), else_=EP.value), Money)
COUNTED_SHARES = type_coerce(case((EP.is_block_copy, literal(0)), else_=EP.shares), Shares)


@dataclass(frozen=True, slots=True)
class RowFilter:
    """Which eligible purchases a view starts from: filed in [since, until), and per-row conditions."""

    since: datetime
    until: datetime | None = None
    role_mask: int = 0  # keep rows whose filers hold any of these role bits (0: any)
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_value: Decimal | None = None  # per row (the purchases view)
    exclude_roles_exactly: int | None = None  # drop rows whose role bits equal this (10%-owner only)
    default_cluster_only: bool = False
    issuer_ciks: Sequence[str] | None = None  # the sector and text filters, resolved (issuers_matching)

    def selects_by_window_and_issuer(self) -> bool:
        """Whether every purchase of a matching issuer filed in the window matches (no per-row condition)."""
        return not (
            self.role_mask
            or self.min_price is not None
            or self.max_price is not None
            or self.min_value is not None
            or self.exclude_roles_exactly is not None
            or self.default_cluster_only
        )


@dataclass(frozen=True, slots=True)
class IssuerTotals:
    """One issuer's purchases in the window, aggregated (chain copies of a block counted once)."""

    issuer_cik: str
    ticker: str | None
    company: str | None
    sector: str | None
    n_purchases: int
    n_buyers: int | None  # None when not computed (issuer_totals_page: only for the buyers sort/filter)
    total_value: Decimal
    total_shares: Decimal
    first_trade_date: date
    last_trade_date: date
    latest_known_at: datetime
    cluster_id: str | None  # latest default-rule cluster among the purchases
    ten_percent_only: bool | None  # every buyer is a 10% owner and none an officer or director


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filed_between(
    since: datetime, until: datetime | None, known_at: Any = EP.known_at
) -> ColumnElement[bool]:
    if until is None:
        result: ColumnElement[bool] = known_at >= since
        return result
    return and_(known_at >= since, known_at < until)


def _conditions(session: Session, f: RowFilter, p: Any = EP) -> list[ColumnElement[bool]]:
    """The conditions `f` puts on the purchases (p: EligiblePurchase or an alias of it)."""
    out: list[ColumnElement[bool]] = [_filed_between(f.since, f.until, p.known_at)]
    if f.role_mask:
        out.append(p.roles.op("&")(f.role_mask) != 0)
    if f.min_price is not None:
        out.append(p.price >= f.min_price)
    if f.max_price is not None:
        out.append(p.price <= f.max_price)
    if f.min_value is not None:
        out.append(p.value >= f.min_value)
    if f.exclude_roles_exactly is not None:
        out.append(p.roles != f.exclude_roles_exactly)
    if f.default_cluster_only:
        out.append(p.cluster_id.is_not(None))
    if f.issuer_ciks is not None:
        out.append(_one_of(session, p.issuer_cik, list(f.issuer_ciks)))
    return out


def _matching(session: Session, stmt: Select[*Ts], f: RowFilter, *, join_issuer: bool = False) -> Select[*Ts]:
    """`stmt` over eligible_purchase restricted to the rows `f` selects (joining issuer when the caller
    needs its columns)."""
    if join_issuer:
        stmt = stmt.join(Issuer, Issuer.cik == EP.issuer_cik)
    return stmt.where(*_conditions(session, f))


def issuers_matching(session: Session, *, q: str | None, sector: str | None) -> list[str]:
    """CIKs of the issuers in `sector` (any case) whose ticker or name contains `q` (any case). Resolved
    before the purchases are read: joined to them instead, the planner guesses ~1.6% of issuers match
    any pattern and scans every purchase (10 years: ~50 ms for one company)."""
    stmt = select(Issuer.cik)
    if sector:
        stmt = stmt.where(func.lower(Issuer.sector) == sector.lower())
    if q and q.strip():
        pattern = f"%{_like_escape(q.strip().lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Issuer.ticker).like(pattern, escape="\\"),
                func.lower(Issuer.name).like(pattern, escape="\\"),
            )
        )
    return sorted(cik for (cik,) in core_rows(session, stmt))


def _whole_months(since: datetime, until: datetime | None) -> tuple[datetime, datetime | None] | None:
    """The UTC calendar months that lie wholly in the filing window [since, until), as [first, end) of
    their starts (end None: every month from first on, the current one included, as the window has no
    end); None when there is no such month."""
    since = since.astimezone(UTC)
    first = datetime(since.year, since.month, 1, tzinfo=UTC)
    if first < since:
        first = datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)
    if until is None:
        return first, None
    until = until.astimezone(UTC)
    end = datetime(until.year, until.month, 1, tzinfo=UTC)
    return (first, end) if first < end else None


def _months_to_read(f: RowFilter) -> tuple[datetime, datetime | None] | None:
    """The whole months of `f`'s window (_whole_months) when `f` selects by window and issuer alone, so
    that the monthly totals tables can stand in for its purchases; else None."""
    return _whole_months(f.since, f.until) if f.selects_by_window_and_issuer() else None


def _month_reads(
    model: type[PurchaseMonth] | type[BuyerMonth],
    keys: Sequence[str],
    f: RowFilter,
    months: tuple[datetime, datetime | None],
) -> tuple[list[Any], list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """How a window's whole `months` (_whole_months) read a monthly totals table: its total columns
    (`keys`), which rows, and the conditions on the purchases of the partial months at either end. With
    no end, every month from the first whole one on: per owner, its totals from its first such month
    (`since_*`, at the row whose previous month is before the first)."""
    first, end = months
    partial = [_filed_between(f.since, first)]
    if end is None:
        return (
            [getattr(model, f"since_{key}") for key in keys],
            [
                model.month >= first.date(),
                or_(model.previous_month.is_(None), model.previous_month < first.date()),
            ],
            partial,
        )
    partial.append(_filed_between(end, f.until))
    in_window = [model.month >= first.date(), model.month < end.date()]
    return [getattr(model, key) for key in keys], in_window, partial


def _issuer_sums(session: Session, f: RowFilter) -> Subquery:
    """Per issuer with a purchase matching `f`: count, value and shares (chain copies of a block counted
    once), trade-date range, latest filing time and greatest default-rule cluster id. When `f` selects
    by window and issuer alone, the whole months of the window are added up from PurchaseMonth and only
    its partial months at either end read purchase by purchase: 10 years of a text search matching
    ~4,800 companies add ~51,000 month rows instead of ~185,000 purchases (~45 ms instead of ~100).
    A window with no end reads one row per issuer, its totals from the window's first whole month on
    (PurchaseMonth.since_*): ~4,800 rows, ~5 ms."""

    def totals(n: Any, value: Any, shares: Any, first: Any, last: Any, latest: Any, cluster: Any) -> Any:
        return (
            n.label("n_purchases"),
            type_coerce(func.sum(value), Money).label("value"),
            type_coerce(func.sum(shares), Shares).label("shares"),
            func.min(first).label("first_trade"),
            func.max(last).label("last_trade"),
            func.max(latest).label("latest"),
            func.max(cluster).label("cluster_id"),
        )

    per_purchase = (
        func.count(),
        COUNTED_VALUE,
        COUNTED_SHARES,
        EP.trade_date,
        EP.trade_date,
        EP.known_at,
        EP.cluster_id,
    )
    months = _months_to_read(f)
    if months is None:
        sums = select(EP.issuer_cik.label("issuer_cik"), *totals(*per_purchase))
        return _matching(session, sums, f).group_by(EP.issuer_cik).subquery("sums")
    PM = PurchaseMonth
    columns, in_window, partial = _month_reads(PM, TOTAL_KEYS, f, months)
    names = ("n_purchases", "value", "shares", "first_trade", "last_trade", "latest", "cluster_id")
    whole = select(
        PM.issuer_cik.label("issuer_cik"), *(c.label(name) for c, name in zip(columns, names, strict=True))
    ).where(*in_window)
    # The edges are grouped before the issuer list is applied (OFFSET 0 keeps PostgreSQL from pushing it
    # down): applied to eligible_purchase, the planner weighs every listed company against that
    # column's statistics (13.5 ms for ~4,800 companies).
    edges = (
        select(EP.issuer_cik.label("issuer_cik"), *totals(*per_purchase))
        .where(or_(*partial))
        .group_by(EP.issuer_cik)
        .offset(0)
        .subquery("edges")
    )
    edge_rows = select(edges)
    if f.issuer_ciks is not None:
        ciks = list(f.issuer_ciks)  # one parameter, sent once
        whole = whole.where(_one_of(session, PM.issuer_cik, ciks, name="sums_ciks"))
        edge_rows = edge_rows.where(_one_of(session, edges.c.issuer_cik, ciks, name="sums_ciks"))
    parts = union_all(whole, edge_rows).subquery("parts")
    c = parts.c
    return (
        select(
            c.issuer_cik,
            *totals(
                func.sum(c.n_purchases),
                c.value,
                c.shares,
                c.first_trade,
                c.last_trade,
                c.latest,
                c.cluster_id,
            ),
        )
        .group_by(c.issuer_cik)
        .subquery("sums")
    )


def reads_since_totals(f: RowFilter) -> bool:
    """Whether `f`'s window has no end and selects by window and issuer alone: then every company's and
    every buyer's purchases of the window are one PurchasesSince and one BuyerSince row."""
    return f.until is None and f.selects_by_window_and_issuer()


def _since_conditions(
    session: Session, model: type[PurchasesSince] | type[BuyerSince], f: RowFilter
) -> list[ColumnElement[bool]]:
    """The rows of `model` that hold the purchases filed from `f.since` on: one per owner (company or
    buyer), the one whose filing time is in the window and whose previous one is not."""
    out = [
        model.known_at >= f.since,
        or_(model.previous_known_at.is_(None), model.previous_known_at < f.since),
    ]
    if f.issuer_ciks is not None:
        out.append(_one_of(session, model.issuer_cik, list(f.issuer_ciks)))
    return out


def _since_per_issuer(session: Session, f: RowFilter) -> Subquery:
    """_per_issuer's columns (and the median ΔOwn's, `new` and `median`) from PurchasesSince."""
    PS = PurchasesSince
    return (
        select(
            PS.issuer_cik,
            PS.n_purchases,
            PS.n_buyers,
            PS.value,
            PS.shares,
            PS.first_trade_date.label("first_trade"),
            PS.last_trade_date.label("last_trade"),
            PS.latest_known_at.label("latest"),
            PS.cluster_id,
            case((PS.ten_percent_only, 1), else_=0).label("ten_only"),
            case((PS.delta_own_new, 1), else_=0).label("new"),
            PS.delta_own_median.label("median"),
        )
        .where(*_since_conditions(session, PS, f))
        .subquery("per_issuer")
    )


# _per_issuer's columns.
PER_ISSUER_COLUMNS = (
    "issuer_cik",
    "n_purchases",
    "n_buyers",
    "value",
    "shares",
    "first_trade",
    "last_trade",
    "latest",
    "cluster_id",
    "ten_only",
)


def _per_issuer(
    session: Session, f: RowFilter, *, ten_percent_bit: int, management_mask: int, count_buyers: bool = True
) -> Any:
    """Subquery of the issuers with a purchase matching `f`, with their totals (PER_ISSUER_COLUMNS).
    A window with no end that selects by window and issuer alone reads them from PurchasesSince,
    median ΔOwn included (`new`, `median`). Otherwise they are summed by _issuer_sums, and distinct
    buyers and "all buyers are 10% owners" are found per (issuer, buyer) first, then per issuer (no
    COUNT(DISTINCT)). Two passes over the window's rows cost less than one that carries the numeric sums
    through both levels. Without `count_buyers` the second pass is left out (its columns are NULL)."""
    if reads_since_totals(f):
        return _since_per_issuer(session, f)
    s = _issuer_sums(session, f)
    if session.get_bind().dialect.name == "postgresql":
        # Long windows group ~10^5 rows by (issuer, buyer): sort in memory, not in temp files.
        session.execute(text("SET LOCAL work_mem = '32MB'"))

    def per_issuer(n_buyers: Any, ten_only: Any) -> Select[*tuple[Any, ...]]:
        return select(
            s.c.issuer_cik,
            s.c.n_purchases,
            n_buyers,
            s.c.value,
            s.c.shares,
            s.c.first_trade,
            s.c.last_trade,
            s.c.latest,
            s.c.cluster_id,
            ten_only,
        )

    if not count_buyers:
        return per_issuer(null().label("n_buyers"), null().label("ten_only")).subquery("per_issuer")
    p = _buyer_parts(session, f).c
    has_ten = func.max(case((p.roles.op("&")(ten_percent_bit) != 0, 1), else_=0))
    has_management = func.max(case((p.roles.op("&")(management_mask) != 0, 1), else_=0))
    b = (
        select(
            p.issuer_cik.label("issuer_cik"),
            case((and_(has_ten == 1, has_management == 0), 1), else_=0).label("ten_only"),
        )
        .group_by(p.issuer_cik, p.buyer_key)
        .subquery("per_buyer")
    )
    buyers = (
        select(b.c.issuer_cik, func.count().label("n_buyers"), func.min(b.c.ten_only).label("ten_only"))
        .group_by(b.c.issuer_cik)
        .subquery("buyers")
    )
    return (
        per_issuer(buyers.c.n_buyers, buyers.c.ten_only)
        .join(buyers, buyers.c.issuer_cik == s.c.issuer_cik)
        .subquery("per_issuer")
    )


def _issuer_totals(rows: Any) -> list[IssuerTotals]:
    out = []
    for cik, n_purchases, n_buyers, value, shares, first, last, latest, cluster_id, ten_only, *rest in rows:
        out.append(
            IssuerTotals(
                issuer_cik=cik,
                ticker=rest[0],
                company=rest[1],
                sector=rest[2],
                n_purchases=int(n_purchases),
                n_buyers=None if n_buyers is None else int(n_buyers),
                total_value=value,
                total_shares=shares,
                first_trade_date=first,
                last_trade_date=last,
                latest_known_at=latest,
                cluster_id=cluster_id,
                ten_percent_only=None if ten_only is None else bool(ten_only),
            )
        )
    return out


def issuer_totals(
    session: Session, f: RowFilter, *, ten_percent_bit: int, management_mask: int
) -> list[IssuerTotals]:
    """Every issuer with a purchase matching `f`, aggregated (see _per_issuer)."""
    t = _per_issuer(session, f, ten_percent_bit=ten_percent_bit, management_mask=management_mask)
    rows = session.execute(
        select(
            *(t.c[name] for name in PER_ISSUER_COLUMNS), Issuer.ticker, Issuer.name, Issuer.sector
        ).outerjoin(Issuer, Issuer.cik == t.c.issuer_cik)
    )
    return _issuer_totals(rows)


@dataclass(frozen=True, slots=True)
class CompanyFilter:
    """Conditions on an issuer's totals (the screener's company-level filters)."""

    min_value: Decimal = Decimal(0)
    default_cluster_only: bool = False  # a default-rule cluster among the purchases
    exclude_ten_percent_only: bool = False


# Sort keys of the screener that the totals alone decide, as columns of _per_issuer; ties go to the
# lowest issuer CIK whichever the direction (what a stable sort after sorting by CIK gives).
TOTALS_ORDER: dict[str, tuple[str, ...]] = {
    "value": ("value",),
    "latest": ("latest",),
    "buyers": ("n_buyers", "value"),
    "shares": ("shares",),
    "first_trade": ("first_trade",),
    "last_trade": ("last_trade",),
}
# Sorts issuer_totals_page does in SQL: the totals' and the median buyer ΔOwn (_median_delta_own).
SQL_SORTS = frozenset((*TOTALS_ORDER, "delta_own"))


def issuer_totals_page(
    session: Session,
    f: RowFilter,
    cf: CompanyFilter,
    *,
    ten_percent_bit: int,
    management_mask: int,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[IssuerTotals], int, Decimal]:
    """One page of the issuers `f` and `cf` select, sorted in SQL by a SQL_SORTS key; with the number
    of such issuers and their summed value (so only the page's rows leave the database). Unless they are
    read from PurchasesSince with the totals, buyers are counted (and 10%-owner-only found) only when the
    sort or filter needs it: the rows shown get both from their buyers."""
    t = _per_issuer(
        session,
        f,
        ten_percent_bit=ten_percent_bit,
        management_mask=management_mask,
        count_buyers=sort == "buyers" or cf.exclude_ten_percent_only,
    )
    if sort == "delta_own":
        if "median" not in t.c:
            t = _with_median_delta_own(session, f, t)
        # A new position above any ratio, a company with no known holding below.
        keys = [case((t.c.new == 1, 2), (t.c.median.is_not(None), 1), else_=0), t.c.median]
    else:
        keys = [t.c[name] for name in TOTALS_ORDER[sort]]
    kept: list[ColumnElement[bool]] = [t.c.value >= cf.min_value]
    if cf.default_cluster_only:
        kept.append(t.c.cluster_id.is_not(None))
    if cf.exclude_ten_percent_only:
        kept.append(t.c.ten_only == 0)
    order = [k.desc() if descending else k.asc() for k in keys]
    stmt = (
        select(
            *(t.c[name] for name in PER_ISSUER_COLUMNS),
            Issuer.ticker,
            Issuer.name,
            Issuer.sector,
            func.count().over().label("n_kept"),
            type_coerce(func.sum(t.c.value).over(), Money).label("value_kept"),
        )
        .outerjoin(Issuer, Issuer.cik == t.c.issuer_cik)
        .where(*kept)
        .order_by(*order, t.c.issuer_cik.asc())
        .offset(offset)
        .limit(limit)
    )
    rows = session.execute(stmt).all()
    if rows:
        return _issuer_totals(r[:-2] for r in rows), int(rows[0][-2]), rows[0][-1]
    # A page past the end still reports how many issuers there are.
    n, value = session.execute(
        select(func.count(), type_coerce(func.sum(t.c.value), Money)).where(*kept)
    ).one()
    return [], int(n), value if value is not None else Decimal(0)


def _purchases_as_parts() -> Select[*tuple[Any, ...]]:
    """Eligible purchases one by one as buyer-group parts (GROUP_KEYS, then GROUP_TOTAL_KEYS as
    BuyerMonth holds them: each purchase its own first)."""
    return select(
        *(getattr(EP, key) for key in GROUP_KEYS),
        literal(1).label("n_purchases"),
        COUNTED_VALUE.label("value"),
        COUNTED_SHARES.label("shares"),
        EP.trade_date.label("first_trade_date"),
        EP.known_at.label("first_known_at"),
        EP.known_at.label("first_purchase_known_at"),
        EP.accession.label("first_purchase_accession"),
        EP.transaction_id.label("first_purchase_id"),
        EP.shares_owned_before.label("before_first_purchase"),
    )


def _month_parts(session: Session, f: RowFilter) -> CompoundSelect[*tuple[Any, ...]] | None:
    """When `f` selects by window and issuer alone and the window holds a whole month: its purchases as
    buyer-group parts (_purchases_as_parts' columns), the whole months from BuyerMonth and the partial
    ones at either end purchase by purchase; a window with no end reads one row per buyer group for all
    its whole months (BuyerMonth.since_*). None otherwise. A group's parts add up with
    combine_group_totals."""
    months = _months_to_read(f)
    if months is None:
        return None
    BM = BuyerMonth
    columns, in_window, partial = _month_reads(BM, GROUP_TOTAL_KEYS, f, months)
    whole = select(
        *(getattr(BM, key) for key in GROUP_KEYS),
        *(c.label(key) for c, key in zip(columns, GROUP_TOTAL_KEYS, strict=True)),
    ).where(*in_window)
    # As in _issuer_sums, the issuer list is applied after the edges are read (OFFSET 0).
    edges = _purchases_as_parts().where(or_(*partial)).offset(0).subquery("edges")
    edge_rows = select(edges)
    if f.issuer_ciks is not None:
        ciks = list(f.issuer_ciks)
        whole = whole.where(_one_of(session, BM.issuer_cik, ciks, name="parts_ciks"))
        edge_rows = edge_rows.where(_one_of(session, edges.c.issuer_cik, ciks, name="parts_ciks"))
    return union_all(whole, edge_rows)


def _buyer_parts(session: Session, f: RowFilter) -> Subquery:
    """The purchases `f` selects as buyer-group parts: by month where _month_parts can, else one by one."""
    parts = _month_parts(session, f)
    if parts is None:
        return _matching(session, _purchases_as_parts(), f).subquery("parts")
    return parts.subquery("parts")


class BuyerGroup(NamedTuple):
    """A buyer's purchases in the window that share one set of filer roles, flags and filer names (usually
    all of them)."""

    # A NamedTuple rather than a frozen dataclass: a year's page has ~1,000 of them and frozen dataclass
    # construction is several times slower.

    issuer_cik: str
    buyer_key: str
    roles: int
    flags: int
    owner_names: str  # the filers' names as filed, joined by OWNER_NAME_SEPARATOR
    n_purchases: int
    value: Decimal  # chain copies of a block counted once
    shares: Decimal
    has_first: bool  # holds the buyer's first purchase in the window (trade date, then filing order)
    before: Decimal | None  # when it does: the shares the buyer held before that purchase
    first_trade_date: date
    first_known_at: datetime


def _first_purchases(session: Session, f: RowFilter, first_day: Subquery) -> Subquery:
    """The purchases `f` selects of each buyer in `first_day` (issuer_cik, buyer_key, day: the buyer's
    first trade date among them) on that day, with their filing order among them as `rank` (1: the
    buyer's first purchase, by trade date, filing time, accession and row). An index probe per buyer,
    where numbering every purchase of the window in that order sorts the whole window."""
    p = aliased(EP)
    return (
        select(
            p.issuer_cik,
            p.buyer_key,
            p.roles,
            p.flags,
            p.owner_names,
            p.shares_owned_before,
            func.row_number()
            .over(
                partition_by=(p.issuer_cik, p.buyer_key), order_by=(p.known_at, p.accession, p.transaction_id)
            )
            .label("rank"),
        )
        .join(
            first_day,
            and_(
                first_day.c.issuer_cik == p.issuer_cik,
                first_day.c.buyer_key == p.buyer_key,
                first_day.c.day == p.trade_date,
            ),
        )
        # The companies are those of `first_day` already.
        .where(*_conditions(session, replace(f, issuer_ciks=None), p))
        .subquery("on_first_day")
    )


def buyer_groups(session: Session, f: RowFilter) -> list[BuyerGroup]:
    """Per (issuer, buyer, roles, flags, filer names): counts and totals, the earliest trade date and
    filing time, and the holding before the buyer's first purchase, for the rows a page shows. The groups
    are summed in one scan of the window, the first purchase found by _first_purchases: for 10 years of
    100 busy companies (~28,000 purchases, 1,343 buyers) ~40 ms instead of ~67 for ordering the window.
    When _month_parts applies, the groups are added up here from their monthly parts instead."""
    parts = _month_parts(session, f)
    if parts is not None:
        return _groups_of_parts(core_rows(session, parts))
    keys = [getattr(EP, key) for key in GROUP_KEYS]
    summed: Select[*tuple[Any, ...]] = select(
        *keys,
        func.count().label("n_purchases"),
        type_coerce(func.sum(COUNTED_VALUE), Money).label("value"),
        type_coerce(func.sum(COUNTED_SHARES), Shares).label("shares"),
        func.min(EP.trade_date).label("first_trade_date"),
        func.min(EP.known_at).label("first_known_at"),
    )
    groups = _matching(session, summed, f).group_by(*keys).cte("groups")
    first_day = (
        select(groups.c.issuer_cik, groups.c.buyer_key, func.min(groups.c.first_trade_date).label("day"))
        .group_by(groups.c.issuer_cik, groups.c.buyer_key)
        .subquery("first_day")
    )
    on_first_day = _first_purchases(session, f, first_day)
    g, first = groups.c, on_first_day.c
    # The first purchases come as rows of their own, matched to their groups here: joined in SQL, the
    # planner guesses one first purchase in all (three-column join) and may loop over the groups for it.
    stmt = union_all(
        select(
            *(g[key] for key in GROUP_KEYS),
            g.n_purchases,
            g.value,
            g.shares,
            g.first_trade_date,
            g.first_known_at,
        ),
        select(
            *(first[key] for key in GROUP_KEYS),
            literal(-1),  # a first purchase
            first.shares_owned_before,
            null(),
            null(),
            null(),
        ).where(first.rank == 1),
    )
    rows = core_rows(session, stmt)
    before_first = {tuple(r[:5]): r[6] for r in rows if r[5] == -1}
    out = []
    for cik, buyer, roles, flags, names, n, value, shares, first_trade_date, first_known_at in rows:
        if n != -1:
            key = (cik, buyer, roles, flags, names)
            has_first = key in before_first
            out.append(
                BuyerGroup(
                    *key, n, value, shares, has_first, before_first.get(key), first_trade_date, first_known_at
                )
            )
    return out


def _groups_of_parts(rows: Sequence[Any]) -> list[BuyerGroup]:
    """Buyer groups from their parts (_month_parts' rows: GROUP_KEYS, then GROUP_TOTAL_KEYS), each
    buyer's first purchase in the group whose parts hold the earliest (FIRST_PURCHASE_ORDER). Most
    groups are one part (a window with no end)."""
    n_keys = len(GROUP_KEYS)
    parts_of: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        parts_of[tuple(row[:n_keys])].append(tuple(row[n_keys:]))
    totals: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    first_of: dict[tuple[str, str], tuple[Any, ...]] = {}  # (issuer, buyer) -> its first group's key
    for key, parts in parts_of.items():
        if len(parts) > 1:
            as_totals = (dict(zip(GROUP_TOTAL_KEYS, part, strict=True)) for part in parts)
            summed = reduce(combine_group_totals, as_totals)
            parts = [tuple(summed[k] for k in GROUP_TOTAL_KEYS)]
        t = totals[key] = parts[0]
        earlier = first_of.get(key[:2])
        if earlier is None or _first_purchase_order(t) < _first_purchase_order(totals[earlier]):
            first_of[key[:2]] = key
    firsts = set(first_of.values())
    at = {key: i for i, key in enumerate(GROUP_TOTAL_KEYS)}
    return [
        BuyerGroup(
            key[0],
            key[1],
            key[2],
            key[3],
            key[4],
            t[at["n_purchases"]],
            t[at["value"]],
            t[at["shares"]],
            key in firsts,
            t[at["before_first_purchase"]] if key in firsts else None,
            t[at["first_trade_date"]],
            t[at["first_known_at"]],
        )
        for key, t in totals.items()
    ]


class BuyerTotals(NamedTuple):
    """A buyer's purchases of the window (a BuyerSince row): what the screener shows under its company."""

    issuer_cik: str
    buyer_key: str
    owner_names: str  # the filers' names, first named first, joined by OWNER_NAME_SEPARATOR
    roles: int
    flags: int
    value: Decimal  # chain copies of a block counted once
    shares: Decimal
    before: Decimal | None  # the shares held before the buyer's first purchase of the window


def buyers_since(session: Session, f: RowFilter) -> list[BuyerTotals]:
    """Every buyer of `f`'s issuers with a purchase in its window, one BuyerSince row each (for a window
    reads_since_totals accepts)."""
    BS = BuyerSince
    stmt = select(
        BS.issuer_cik,
        BS.buyer_key,
        BS.owner_names,
        BS.roles,
        BS.flags,
        BS.value,
        BS.shares,
        BS.before_first_purchase,
    ).where(*_since_conditions(session, BS, f))
    return list(map(BuyerTotals._make, core_rows(session, stmt)))


_first_purchase_order = itemgetter(*(GROUP_TOTAL_KEYS.index(key) for key in FIRST_PURCHASE_ORDER))


def _median_delta_own(session: Session, f: RowFilter) -> Subquery:
    """Per issuer with a purchase `f` selects: the median of its buyers' ΔOwn over the window (shares
    bought, chain copies of a block counted once, ÷ the holding before the buyer's first purchase), as
    the ΔOwn sort's key: `new` 1 when the median is a new position (nothing held before ranks above any
    ratio), else `median`, NULL when no buyer's holding is known. The median of an even count is the
    mean of the middle two, as the row's own (services/screener._company_row). Each buyer's first
    purchase comes from numbering the window's purchases in order once (or their monthly parts,
    _buyer_parts: a year has ~11,000 group rows for ~26,000 purchases): over thousands of companies,
    most buyers buy a few times, and one sort costs less than a probe per buyer."""
    p = _buyer_parts(session, f).c
    ranked = select(
        p.issuer_cik,
        p.buyer_key,
        p.shares,
        p.before_first_purchase,
        func.row_number()
        .over(
            partition_by=(p.issuer_cik, p.buyer_key),
            order_by=(
                p.first_trade_date,
                p.first_purchase_known_at,
                p.first_purchase_accession,
                p.first_purchase_id,
            ),
        )
        .label("rank"),
    ).subquery("ranked")
    r = ranked.c
    holdings = (
        select(
            r.issuer_cik,
            func.sum(r.shares).label("shares"),
            func.max(case((r.rank == 1, r.before_first_purchase), else_=None)).label("before"),
        )
        .group_by(r.issuer_cik, r.buyer_key)
        .subquery("holdings")
    )
    h = holdings.c
    is_new = case((h.before <= 0, 1), else_=0)
    ratio = case((h.before > 0, cast(h.shares, Float) / cast(h.before, Float)), else_=null())
    ordered = (
        select(
            h.issuer_cik,
            is_new.label("is_new"),
            ratio.label("ratio"),
            func.row_number().over(partition_by=h.issuer_cik, order_by=(is_new, ratio)).label("place"),
            func.count().over(partition_by=h.issuer_cik).label("n"),
        )
        .where(h.before.is_not(None))
        .subquery("ordered")
    )
    o = ordered.c
    new = func.max(o.is_new)
    return (
        select(
            o.issuer_cik, new.label("new"), case((new == 1, null()), else_=func.avg(o.ratio)).label("median")
        )
        .where(or_(o.place == (o.n + 1) // 2, o.place == (o.n + 2) // 2))  # the middle one or two
        .group_by(o.issuer_cik)
        .subquery("medians")
    )


def _with_median_delta_own(session: Session, f: RowFilter, t: Subquery) -> Subquery:
    """`t` (_per_issuer) with each issuer's median buyer ΔOwn (_median_delta_own: `new`, `median`).
    Merged by grouping the union of the two by issuer, not joined: the planner guesses a few dozen
    rows for each per-issuer aggregate and loops over one for each row of the other (a year of 3,300
    companies: 5.5M comparisons, ~500 ms)."""
    m = _median_delta_own(session, f)
    columns = [c.key for c in t.c if c.key != "issuer_cik"]
    both = union_all(
        select(t.c.issuer_cik, *(t.c[name] for name in columns), null().label("new"), null().label("median")),
        select(m.c.issuer_cik, *(null().label(name) for name in columns), m.c.new, m.c.median),
    ).subquery("with_median")
    b = both.c
    return (
        select(b.issuer_cik, *(func.max(b[name]).label(name) for name in (*columns, "new", "median")))
        .group_by(b.issuer_cik)
        .subquery("per_issuer")
    )


DETAIL_COLUMNS = (
    InsiderTransaction.id,
    InsiderTransaction.issuer_cik,
    InsiderTransaction.accession,
    InsiderTransaction.transaction_date,
    InsiderTransaction.shares,
    InsiderTransaction.price,
    InsiderTransaction.price_low,
    InsiderTransaction.price_high,
    InsiderTransaction.value,
    InsiderTransaction.shares_owned_after,
    InsiderTransaction.shares_owned_before,
    InsiderTransaction.is_10b5_1,
    EP.known_at,
    EP.buyer_key,
    EP.roles.label("role_bits"),
    EP.flags.label("flag_bits"),
    EP.cluster_id,
)


def purchases_by_id(session: Session, transaction_ids: Sequence[int]) -> list[Any]:
    """The purchases with everything a purchases-view row shows."""
    out: list[Any] = []
    for chunk in _chunks(list(transaction_ids)):
        stmt = (
            select(*DETAIL_COLUMNS)
            .join(InsiderTransaction, InsiderTransaction.id == EP.transaction_id)
            .where(EP.transaction_id.in_(chunk))
        )
        out.extend(session.execute(stmt))
    return out


# Sort keys of the purchases view, as SQL. ΔOwn ranks a new position above any ratio and unknown below.
_BEFORE = InsiderTransaction.shares_owned_before
PURCHASE_ORDER: dict[str, tuple[ColumnElement[Any] | QueryableAttribute[Any], ...]] = {
    "latest": (EP.known_at, EP.transaction_id),
    "value": (EP.value,),
    "trade_date": (EP.trade_date, EP.known_at),
    "ticker": (func.upper(func.coalesce(Issuer.ticker, "~")),),
    "price": (EP.price,),
    "delta_own": (
        case((_BEFORE.is_(None), 0), (_BEFORE <= 0, 2), else_=1),
        case((_BEFORE > 0, EP.shares / _BEFORE), else_=None),
    ),
}


def purchase_page_ids(
    session: Session, f: RowFilter, *, sort: str, descending: bool, offset: int, limit: int
) -> tuple[list[int], int]:
    """Ids of one page of matching purchases in display order (ties: oldest id first), and the total."""
    keys = PURCHASE_ORDER[sort]
    stmt = _matching(session, select(EP.transaction_id), f, join_issuer=sort == "ticker")
    if sort == "delta_own":
        stmt = stmt.join(InsiderTransaction, InsiderTransaction.id == EP.transaction_id)
    order = [k.desc().nulls_last() if descending else k.asc().nulls_first() for k in keys]
    stmt = stmt.order_by(*order, EP.transaction_id.asc()).offset(offset).limit(limit)
    total = session.execute(_matching(session, select(func.count()).select_from(EP), f)).scalar_one()
    return list(session.scalars(stmt)), int(total)


def matching_issuers(session: Session, f: RowFilter) -> list[str]:
    """The issuers with a purchase `f` selects."""
    return sorted(session.scalars(_matching(session, select(EP.issuer_cik), f).distinct()))


def purchase_dates(session: Session, f: RowFilter) -> list[tuple[int, str, date]]:
    """Id, issuer and trade date of every purchase `f` selects."""
    stmt = _matching(session, select(EP.transaction_id, EP.issuer_cik, EP.trade_date), f)
    return [(i, cik, trade_date) for i, cik, trade_date in core_rows(session, stmt)]


class _CikList(TypeDecorator[Sequence[str]]):
    """A list of CIKs bound as one comma-joined text and split into an array in SQL (PostgreSQL): psycopg
    dumps a list parameter element by element in Python (~3 ms for 4,800 CIKs)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[str] | None, dialect: Any) -> str | None:
        return None if value is None else ",".join(value)  # CIKs are digits

    def bind_expression(self, bindvalue: Any) -> Any:
        return func.string_to_array(bindvalue, ",", type_=postgresql.ARRAY(String))


def _one_of(
    session: Session, column: Any, values: Sequence[str] | None = None, *, name: str | None = None
) -> ColumnElement[bool]:
    """`column` IN `values` (or the list bound as `name` at execution): one array parameter on PostgreSQL,
    a list elsewhere. A list of thousands of literals costs PostgreSQL more to plan (~20 ms for 5,000)
    than a long window's query takes to run, and its statement text changes with its length."""
    if session.get_bind().dialect.name == "postgresql":
        result: ColumnElement[bool] = column == func.any(bindparam(name, value=values, type_=_CikList()))
        return result
    listed: ColumnElement[bool] = column.in_(bindparam(name, value=values, expanding=True))
    return listed


def _starts_run(purchase: Any, w: int) -> ColumnElement[bool]:
    """The purchase (EligiblePurchase or an alias) has none in the W days before it: a run starts."""
    return or_(purchase.days_after_previous.is_(None), purchase.days_after_previous > w)


def _run_starts(
    session: Session, *, since: datetime, until: datetime | None, w: int, bound_issuers: bool = True
) -> Subquery:
    """Per issuer bound as "ciks" (without `bound_issuers`: every issuer) with a purchase filed in
    [since, until): the start of the run of W-linked purchases (over its whole history) holding its
    first trade of such a purchase, i.e. the latest purchase on or before that date with no purchase in
    the W days before it (EligiblePurchase.days_after_previous). Every purchase filed in the window lies
    in that run or a later one, and the replay cuts the 90-day span from a run's first purchase, so the
    runs, groups and clusters read from there are those of the whole history."""
    in_window = [_filed_between(since, until)]
    if bound_issuers:
        in_window.append(_one_of(session, EP.issuer_cik, name="ciks"))
    first_trade = (
        select(
            EP.issuer_cik.label("issuer_cik"),
            func.min(EP.trade_date).label("first_trade"),
            func.min(case((_starts_run(EP, w), EP.trade_date))).label("first_run_start"),
        )
        .where(*in_window)
        .group_by(EP.issuer_cik)
        .subquery("first_trade")
    )
    prior = aliased(EP)
    latest_run_start = (
        select(func.max(prior.trade_date))
        .where(
            prior.issuer_cik == first_trade.c.issuer_cik,
            prior.trade_date <= first_trade.c.first_trade,
            _starts_run(prior, w),
        )
        .scalar_subquery()
    )
    # When a purchase of the window starts a run on its first trade date, that is the run start: most
    # issuers buy seldom, and the look-up (an index probe each) is left for the others.
    run_start = case(
        (first_trade.c.first_run_start == first_trade.c.first_trade, first_trade.c.first_trade),
        else_=latest_run_start,
    )
    # OFFSET 0: inlined, PostgreSQL looks the run start up again for each purchase it joins.
    return select(first_trade.c.issuer_cik, run_start.label("run_start")).offset(0).subquery("run_start")


def _from_run_start(
    session: Session, *, since: datetime, until: datetime | None, w: int, bound_issuers: bool = True
) -> Subquery:
    """The purchases of the issuers of _run_starts, each read from its run start."""
    starts = _run_starts(session, since=since, until=until, w=w, bound_issuers=bound_issuers)
    columns = (EP.issuer_cik, EP.trade_date, EP.owner_ciks, EP.buyer_key, EP.known_at)
    from_start = (EP.issuer_cik == starts.c.issuer_cik, EP.trade_date >= starts.c.run_start)
    if session.get_bind().dialect.name == "postgresql":
        # Each issuer's purchases read by index from its run start: joined instead, PostgreSQL hashes
        # the whole table (OFFSET 0 keeps it from flattening the LATERAL into that join). SQLite has no
        # LATERAL, and joins by the index on its own.
        purchases = select(*columns).where(*from_start).offset(0).lateral("purchases")
        return select(purchases).select_from(starts).join(purchases, true()).subquery("from_run_start")
    return select(*columns).join(starts, and_(*from_start)).subquery("from_run_start")


def replay_input_rows(
    session: Session, *, issuer_ciks: Sequence[str], since: datetime, until: datetime | None, w: int
) -> list[Any]:
    """The clustering input rows (clusters_repo.purchase_input_rows) of these issuers that a replay of
    their runs with a purchase filed in [since, until) needs: every purchase from each issuer's run
    start (_run_starts), and before it only those that say which filers are one buyer — the purchases
    of joint filings and those on a day the issuer has purchases on more than one filing (chain copies
    of a block). The others (most of a busy issuer's history) lie in earlier runs and link no filers."""
    starts = _run_starts(session, since=since, until=until, w=w)
    shared_days = (
        select(EP.issuer_cik.label("issuer_cik"), EP.trade_date.label("trade_date"))
        .where(_one_of(session, EP.issuer_cik, name="ciks"))
        .group_by(EP.issuer_cik, EP.trade_date)
        .having(func.min(EP.accession) != func.max(EP.accession))
        .subquery("shared_days")
    )
    stmt = (
        select(*PURCHASE_INPUT_COLUMNS)
        .join(starts, starts.c.issuer_cik == EP.issuer_cik)
        .outerjoin(
            shared_days,
            and_(shared_days.c.issuer_cik == EP.issuer_cik, shared_days.c.trade_date == EP.trade_date),
        )
        .where(
            or_(
                EP.trade_date >= starts.c.run_start,
                EP.owner_ciks.contains(OWNER_CIK_SEPARATOR, autoescape=True),
                shared_days.c.trade_date.is_not(None),
            )
        )
    )
    return _each_chunk(session, stmt, issuer_ciks)


def _each_chunk(session: Session, stmt: Any, issuer_ciks: Sequence[str]) -> list[Any]:
    """Rows of `stmt` for these issuers, bound as "ciks": on PostgreSQL all at once (one array),
    elsewhere in chunks of a list (SQLite's cap on bound parameters)."""
    chunk_size = 500 if session.get_bind().dialect.name == "sqlite" else len(issuer_ciks) or 1
    out: list[Any] = []
    for chunk in _chunks(sorted(issuer_ciks), chunk_size):
        out.extend(core_rows(session, stmt, {"ciks": list(chunk)}))
    return out


class RulePurchase(NamedTuple):
    """A purchase as a rule computed on request reads it (rule_purchases)."""

    issuer_cik: str
    trade_date: date
    owner_ciks: str  # the filing's filer set
    buyer_key: str  # the whole-history buyer
    filed_in_window: bool


def rule_purchases(
    session: Session, *, issuer_ciks: Sequence[str] | None, since: datetime, until: datetime | None, w: int
) -> list[RulePurchase]:
    """These issuers' purchases (None: every issuer with a purchase filed in [since, until)), each read
    from the start of the W-linked run holding its first trade filed in the window (_from_run_start), in
    no particular order. Cut into runs and groups in Python: one pass over rows read once cost less than
    PostgreSQL's sort and window passes over them, and the long runs needed a second read."""
    p = _from_run_start(session, since=since, until=until, w=w, bound_issuers=issuer_ciks is not None)
    # Distinct: a filing's several rows on one day are one (half the rows of a busy window).
    stmt = select(
        p.c.issuer_cik,
        p.c.trade_date,
        p.c.owner_ciks,
        p.c.buyer_key,
        type_coerce(_filed_between(since, until, p.c.known_at), Boolean),
    ).distinct()
    rows = core_rows(session, stmt) if issuer_ciks is None else _each_chunk(session, stmt, issuer_ciks)
    return list(map(RulePurchase._make, rows))


def issuers(session: Session, ciks: Sequence[str]) -> dict[str, Issuer]:
    out: dict[str, Issuer] = {}
    for chunk in _chunks(sorted(ciks)):
        for issuer in session.scalars(select(Issuer).where(Issuer.cik.in_(chunk))):
            out[issuer.cik] = issuer
    return out


def default_cluster_of(session: Session, transaction_ids: Sequence[int]) -> dict[int, str]:
    """The materialized default-rule cluster each purchase belongs to, if any."""
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(transaction_ids)):
        stmt = select(ClusterMember.transaction_id, ClusterMember.cluster_id).where(
            ClusterMember.transaction_id.in_(chunk)
        )
        out.update(dict(session.execute(stmt).all()))
    return out


def sectors(session: Session) -> list[str]:
    stmt = select(Issuer.sector).where(Issuer.sector.is_not(None)).distinct().order_by(Issuer.sector)
    return [s for s in session.scalars(stmt) if s]

"""The live screener: eligible purchases filed in a window, grouped by company, with distinct buyers,
roles, ΔOwn and the cluster rule applied (DESIGN §1, §2); services/purchases.py lists them one by one."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.models.purchase import OWNER_NAME_SEPARATOR
from app.repositories import screener as screener_repo
from app.repositories.screener import IssuerTotals
from app.schemas.screener import (
    BuyerSummary,
    Order,
    RoleFilter,
    ScreenerFilters,
    ScreenerPage,
    ScreenerRow,
    Window,
)
from app.services import roles as roles_service
from app.services.clustering import PURCHASE_FLAGS, clusters_for_rule, names_of, roles_bits
from app.services.clustering_core import DEFAULT_N, DEFAULT_W, MAX_SPAN_DAYS, ClusterResult, filed_in
from app.services.since_totals import (
    MANAGEMENT_MASK,
    TEN_PERCENT_BIT,
    delta_own,
    is_ten_percent_only,
    median_delta_own,
)

EASTERN = ZoneInfo("America/New_York")
PRICE_Q = Decimal("0.0001")


def window_of(filters: ScreenerFilters, now: datetime) -> Window:
    """The UTC [since, until) filing-time window a filter set selects (dates are ET calendar days)."""
    if filters.from_date is None and filters.to_date is None:
        return Window(since=now - timedelta(days=filters.days), until=None)
    start = filters.from_date or date(1990, 1, 1)
    since = datetime.combine(start, time(0), tzinfo=EASTERN).astimezone(UTC)
    until = None
    if filters.to_date is not None:
        until = datetime.combine(filters.to_date + timedelta(days=1), time(0), tzinfo=EASTERN).astimezone(UTC)
    return Window(since=since, until=until)


ROLE_MASKS = {
    RoleFilter.any: 0,
    RoleFilter.officer: roles_bits({roles_service.OFFICER}),
    RoleFilter.ceo_cfo: roles_bits({roles_service.CEO, roles_service.CFO}),
    RoleFilter.director: roles_bits({roles_service.DIRECTOR}),
}


def row_filter(session: Session, f: ScreenerFilters, window: Window, **extra: Any) -> screener_repo.RowFilter:
    """The repository's row filter for a filter set and its window (`extra`: the purchases view's own);
    the sector and text filters become the list of issuers they select."""
    issuer_ciks = None
    if f.sector or (f.q and f.q.strip()):
        issuer_ciks = screener_repo.issuers_matching(session, q=f.q, sector=f.sector)
    return screener_repo.RowFilter(
        since=window.since,
        until=window.until,
        role_mask=ROLE_MASKS[f.role],
        min_price=f.min_price,
        max_price=f.max_price,
        issuer_ciks=issuer_ciks,
        **extra,
    )


@cache
def roles_of_bits(bits: int) -> tuple[str, ...]:
    """Role names of a stored bit set, most senior first."""
    return tuple(names_of(bits, roles_service.ROLE_ORDER))


ClusterDates = tuple[str, date, date]  # an issuer's purchases traded from..to that are one cluster


def _rule_groups(
    session: Session,
    f: ScreenerFilters,
    rf: screener_repo.RowFilter,
    issuer_ciks: Collection[str] | None,
    *,
    all_members: bool,
) -> tuple[list[ClusterDates], list[ClusterResult]]:
    """Where a non-default rule has clusters with a purchase filed in the window: trade-date ranges whose
    purchases are one cluster as a whole, and the clusters of the issuers replayed point in time (every
    issuer with another group touching the window when `all_members`, else only those not already
    shown to have a cluster there). The same clusters as a replay of each issuer's whole history.

    Each issuer's purchases are read from the start of the W-linked run that holds its first trade filed
    in the window (screener_repo.rule_purchases) and cut into groups by settle_groups. An issuer with a
    group it cannot settle is replayed over its whole history (buyer identities link filings of any
    date). `issuer_ciks` None: every issuer with a purchase under `rf`."""
    if issuer_ciks is None and not rf.selects_by_window_and_issuer():
        issuer_ciks = screener_repo.matching_issuers(session, rf)
    elif issuer_ciks is None:
        # Every issuer (of the sector or text filter) with a purchase filed in the window: found by
        # the read itself, not listed first.
        issuer_ciks = rf.issuer_ciks
    if issuer_ciks is not None and not issuer_ciks:
        return [], []
    whole, to_replay = groups_in_window(session, f.n, f.w, (rf.since, rf.until), issuer_ciks)
    if not all_members:  # an issuer already shown to have a cluster in the window is done
        to_replay -= {cik for cik, _, _ in whole}
    results = (
        clusters_for_rule(
            session, n=f.n, w=f.w, issuer_ciks=sorted(to_replay), filed_between=(rf.since, rf.until)
        )
        if to_replay
        else []
    )
    return whole, results


def groups_in_window(
    session: Session,
    n: int,
    w: int,
    filed_between: tuple[datetime, datetime | None],
    issuer_ciks: Collection[str] | None = None,
) -> tuple[list[ClusterDates], set[str]]:
    """settle_groups over these issuers' purchases (None: every issuer with a purchase filed in the
    window), read from the start of the W-linked run holding each one's first trade filed then."""
    since, until = filed_between
    purchases = screener_repo.rule_purchases(
        session,
        issuer_ciks=None if issuer_ciks is None else sorted(issuer_ciks),
        since=since,
        until=until,
        w=w,
    )
    return settle_groups(purchases, n=n, w=w)


def settle_groups(
    purchases: Iterable[screener_repo.RulePurchase], *, n: int, w: int
) -> tuple[list[ClusterDates], set[str]]:
    """Cut each issuer's purchases (read from the start of a W-linked run) into runs of trade dates at
    most `w` days apart, and the runs into the replay's final groups by the maximum span from their first
    purchase. Of the groups with a purchase filed in the window: those with at least `n` whole-history
    buyers (the whole clusters), and the issuers of the others that may still hold a cluster.

    A run with fewer than `n` filer sets holds no cluster: every point-in-time group lies inside one run
    of the final data, and its buyers are unions of filer sets. A final group with at least `n` buyers
    is one cluster as a whole: when the replay last re-cuts that group, its buyers (merged over fewer
    filings) are at least `n`, so it holds a birth or an earlier one. A group with fewer buyers may
    still hold the birth of an earlier, differently cut group: its issuer must be replayed."""
    by_issuer: dict[str, list[screener_repo.RulePurchase]] = defaultdict(list)
    for p in purchases:
        by_issuer[p.issuer_cik].append(p)
    whole: list[ClusterDates] = []
    unsettled: set[str] = set()
    for cik, rows in by_issuer.items():
        rows.sort(key=lambda p: p.trade_date)
        runs: list[list[screener_repo.RulePurchase]] = []
        for p in rows:
            if not runs or (p.trade_date - runs[-1][-1].trade_date).days > w:
                runs.append([])
            runs[-1].append(p)
        for run in runs:
            if not any(p.filed_in_window for p in run) or len({p.owner_ciks for p in run}) < n:
                continue
            groups: list[list[screener_repo.RulePurchase]] = []
            for p in run:
                if not groups or (p.trade_date - groups[-1][0].trade_date).days > MAX_SPAN_DAYS:
                    groups.append([])
                groups[-1].append(p)
            for group in groups:
                if not any(p.filed_in_window for p in group):
                    continue
                if len({p.buyer_key for p in group}) >= n:
                    whole.append((cik, group[0].trade_date, group[-1].trade_date))
                else:
                    unsettled.add(cik)
    return whole, unsettled


def rule_members(
    session: Session, f: ScreenerFilters, rf: screener_repo.RowFilter, issuer_ciks: Collection[str] | None
) -> dict[int, str]:
    """Purchases of the window (under `rf`) that belong to a cluster under a non-default rule, with
    their issuer; `issuer_ciks`: the issuers to look at (None: every issuer with a purchase under
    `rf`)."""
    whole, results = _rule_groups(session, f, rf, issuer_ciks, all_members=True)
    runs_of: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for cik, first, last in whole:
        runs_of[cik].append((first, last))
    replayed = {m.transaction_id for r in results for m in r.members}  # met with the window rows below
    issuers = sorted(set(runs_of) | {r.issuer_cik for r in results})
    if not issuers:
        return {}
    return {
        i: cik
        for i, cik, trade_date in screener_repo.purchase_dates(session, replace(rf, issuer_ciks=issuers))
        if i in replayed or any(first <= trade_date <= last for first, last in runs_of.get(cik, ()))
    }


def rule_issuers(
    session: Session, f: ScreenerFilters, rf: screener_repo.RowFilter, issuer_ciks: Collection[str] | None
) -> set[str]:
    """Issuers with a purchase of the window (under `rf`) in a cluster under a non-default rule (see
    rule_members; `issuer_ciks` None: every issuer with a purchase under `rf`)."""
    if not rf.selects_by_window_and_issuer():
        return set(rule_members(session, f, rf, issuer_ciks).values())
    # Every purchase filed in the window counts: a run that holds one is enough.
    whole, results = _rule_groups(session, f, rf, issuer_ciks, all_members=False)
    return {cik for cik, _, _ in whole} | {
        r.issuer_cik for r in results if any(filed_in((rf.since, rf.until), m.known_at) for m in r.members)
    }


# --- screener (one row per company) ---------------------------------------------------------------------

# The sorts not done in SQL (screener_repo.SQL_SORTS), on the companies' totals (IssuerTotals).
SORT_KEYS: dict[str, Callable[[IssuerTotals], Any]] = {
    "ticker": lambda r: (r.ticker or "~").upper(),
    "company": lambda r: (r.company or "~").upper(),
    "avg_price": lambda r: _avg_price(r.total_value, r.total_shares),
}


def build_screener_page(
    session: Session, filters: ScreenerFilters, *, now: datetime | None = None
) -> ScreenerPage:
    """Group the window's eligible purchases by company (in SQL), apply the filters, sort and paginate;
    only the rows of the page shown load their purchases (buyers, roles, ΔOwn, flags)."""
    now = now or datetime.now(UTC)
    window = window_of(filters, now)
    rf = row_filter(session, filters, window)
    default_rule = (filters.n, filters.w) == (DEFAULT_N, DEFAULT_W)
    start, end = (filters.page - 1) * filters.page_size, filters.page * filters.page_size
    reverse = filters.order is Order.desc
    sort_in_sql = filters.sort.value in screener_repo.SQL_SORTS

    other_rule_as_filter = filters.clusters_only and not default_rule
    if other_rule_as_filter:
        # Its companies are found first, so that only they are totalled, and sorted and paged in SQL
        # like any other filter.
        in_rule = rule_issuers(session, filters, rf, None)
        rf = replace(rf, issuer_ciks=sorted(in_rule))

    def rule_met_by(companies: list[IssuerTotals]) -> set[str]:
        if default_rule:
            return {t.issuer_cik for t in companies if t.cluster_id}
        if other_rule_as_filter:
            return {t.issuer_cik for t in companies}
        return rule_issuers(session, filters, rf, [t.issuer_cik for t in companies])

    if sort_in_sql:
        # Sorted, filtered, counted and paged in SQL: only the page's companies are loaded at all.
        page_totals, total_rows, total_value = screener_repo.issuer_totals_page(
            session,
            rf,
            screener_repo.CompanyFilter(
                min_value=filters.min_value,
                default_cluster_only=filters.clusters_only and default_rule,
                exclude_ten_percent_only=filters.exclude_ten_percent_only,
            ),
            ten_percent_bit=TEN_PERCENT_BIT,
            management_mask=MANAGEMENT_MASK,
            sort=filters.sort.value,
            descending=reverse,
            offset=start,
            limit=filters.page_size,
        )
        shown = _company_rows(session, rf, page_totals, rule_met_by(page_totals))
        return _screener_page(session, filters, window, shown, total_rows, total_value)

    totals = screener_repo.issuer_totals(
        session, rf, ten_percent_bit=TEN_PERCENT_BIT, management_mask=MANAGEMENT_MASK
    )
    # Another rule is computed on request: over every company only when it filters them, otherwise just
    # for the badges of the rows shown.
    in_rule = rule_met_by(totals) if default_rule or filters.clusters_only else set()
    kept = [
        t
        for t in totals
        if t.total_value >= filters.min_value
        and (not filters.clusters_only or t.issuer_cik in in_rule)
        and not (filters.exclude_ten_percent_only and t.ten_percent_only)
    ]
    # Sorts by ticker, company or average price: the whole list (the other sorts read the SQL totals).
    kept.sort(key=lambda t: t.issuer_cik)
    kept.sort(key=SORT_KEYS[filters.sort.value], reverse=reverse)
    if not (default_rule or filters.clusters_only):
        in_rule = rule_met_by(kept[start:end])  # another rule's badges, for the rows shown
    shown = _company_rows(session, rf, kept[start:end], in_rule)
    return _screener_page(
        session, filters, window, shown, len(kept), sum((t.total_value for t in kept), Decimal(0))
    )


def _screener_page(
    session: Session,
    filters: ScreenerFilters,
    window: Window,
    rows: list[ScreenerRow],
    total_rows: int,
    total_value: Decimal,
) -> ScreenerPage:
    return ScreenerPage(
        filters=filters,
        window=window,
        rows=rows,
        total_rows=total_rows,
        page=filters.page,
        pages=max(1, math.ceil(total_rows / filters.page_size)),
        total_value=total_value,
        sectors=screener_repo.sectors(session),
    )


def _avg_price(value: Decimal, shares: Decimal) -> Decimal:
    return (value / shares).quantize(PRICE_Q, ROUND_HALF_EVEN) if shares else Decimal(0)


def _groups_by_buyer(
    session: Session, rf: screener_repo.RowFilter, ciks: list[str]
) -> dict[tuple[str, str], list[screener_repo.BuyerGroup]]:
    """The window's buyer groups of these issuers, by (issuer, buyer)."""
    by_buyer: dict[tuple[str, str], list[screener_repo.BuyerGroup]] = defaultdict(list)
    for start in range(0, len(ciks), 500):
        for g in screener_repo.buyer_groups(session, replace(rf, issuer_ciks=ciks[start : start + 500])):
            by_buyer[(g.issuer_cik, g.buyer_key)].append(g)
    return by_buyer


def _company_rows(
    session: Session, rf: screener_repo.RowFilter, totals: list[IssuerTotals], in_rule: set[str]
) -> list[ScreenerRow]:
    """Full rows (buyers with roles and ΔOwn, flags) for these issuers, in the order given; buyers are
    totalled in SQL or stored so (screener_repo.buyers_since), so a row costs the same whether its
    buyers made two purchases or two thousand."""
    buyers_of: dict[str, list[tuple[BuyerSummary, int, int]]] = defaultdict(list)
    ciks = [t.issuer_cik for t in totals]
    if screener_repo.reads_since_totals(rf):
        for start in range(0, len(ciks), 500):
            for b in screener_repo.buyers_since(session, replace(rf, issuer_ciks=ciks[start : start + 500])):
                names = b.owner_names.split(OWNER_NAME_SEPARATOR)
                buyers_of[b.issuer_cik].append(
                    _summary(b.buyer_key, names, b.shares, b.value, b.roles, b.flags, b.before)
                )
    else:
        for (cik, key), parts in _groups_by_buyer(session, rf, ciks).items():
            buyers_of[cik].append(_buyer_summary(key, parts))
    return [_company_row(t, buyers_of[t.issuer_cik], in_rule) for t in totals]


def _company_row(
    t: IssuerTotals, buyers_and_bits: list[tuple[BuyerSummary, int, int]], in_rule: set[str]
) -> ScreenerRow:
    """A company's row from its totals and its buyers (with each buyer's flag and role bits)."""
    buyers = [b for b, _, _ in buyers_and_bits]
    buyers.sort(key=lambda b: (roles_service.role_rank(b.roles), -b.value, b.key))
    median, new = median_delta_own((b.delta_own, b.delta_own_new) for b in buyers)
    flag_bits = 0
    role_bits = 0
    ten_percent_only = True  # every buyer a 10% owner and none an officer or director (as issuer_totals)
    for _, bits, buyer_roles in buyers_and_bits:
        flag_bits |= bits
        role_bits |= buyer_roles
        ten_percent_only &= is_ten_percent_only(buyer_roles)
    flags = names_of(flag_bits, PURCHASE_FLAGS)
    if ten_percent_only and buyers:
        flags.append("ten_percent_owner_only")
    # Built unvalidated (model_construct), as the buyers: every value already has its field's type, and
    # validating a page of rows and their buyers cost more than the SQL behind them.
    return ScreenerRow.model_construct(
        issuer_cik=t.issuer_cik,
        ticker=t.ticker,
        company=t.company,
        sector=t.sector,
        buyers=buyers,
        n_buyers=len(buyers),
        roles=list(roles_of_bits(role_bits)),
        meets_rule=t.issuer_cik in in_rule,
        cluster_id=t.cluster_id,
        total_value=t.total_value,
        total_shares=t.total_shares,
        avg_price=_avg_price(t.total_value, t.total_shares),
        first_trade_date=t.first_trade_date,
        last_trade_date=t.last_trade_date,
        latest_known_at=t.latest_known_at,
        delta_own_median=median,
        delta_own_new=new,
        n_purchases=t.n_purchases,
        flags=sorted(flags),
    )


def _buyer_names(parts: list[screener_repo.BuyerGroup]) -> list[str]:
    """The names a buyer's filers gave (their CIK where none), first seen first: by the earliest trade
    date, then filing time, then place on the filing of a purchase that names them."""
    if all(g.owner_names == parts[0].owner_names for g in parts):  # one set of filers, as usual
        return list(dict.fromkeys(parts[0].owner_names.split(OWNER_NAME_SEPARATOR)))
    seen: dict[str, tuple[date, datetime, int]] = {}
    for g in parts:
        for position, name in enumerate(g.owner_names.split(OWNER_NAME_SEPARATOR)):
            earlier = seen.get(name)
            if earlier is None:
                seen[name] = (g.first_trade_date, g.first_known_at, position)
            else:
                seen[name] = (
                    min(earlier[0], g.first_trade_date),
                    min(earlier[1], g.first_known_at),
                    min(earlier[2], position),
                )
    return [name for name, _ in sorted(seen.items(), key=lambda item: (*item[1], item[0]))]


def _buyer_summary(key: str, parts: list[screener_repo.BuyerGroup]) -> tuple[BuyerSummary, int, int]:
    """One buyer's window summary from its groups, and the unions of its purchases' flag and role bits."""
    shares, value, role_bits, flag_bits, before = _buyer_totals(parts)
    return _summary(key, _buyer_names(parts), shares, value, role_bits, flag_bits, before)


def _summary(
    key: str,
    names: list[str],
    shares: Decimal,
    value: Decimal,
    role_bits: int,
    flag_bits: int,
    before: Decimal | None,
) -> tuple[BuyerSummary, int, int]:
    """A buyer's window summary from its totals, with the unions of its purchases' flag and role bits."""
    # ΔOwn over the window: all shares this buyer bought ÷ what it held before its first purchase.
    ratio, new = delta_own(shares, before)
    summary = BuyerSummary.model_construct(
        key=key,
        name=" / ".join(names) or key,
        roles=list(roles_of_bits(role_bits)),
        shares=shares,
        value=value,
        delta_own=ratio,
        delta_own_new=new,
    )
    return summary, flag_bits, role_bits


def _buyer_totals(parts: list[screener_repo.BuyerGroup]) -> tuple[Decimal, Decimal, int, int, Decimal | None]:
    """A buyer's shares, value, role and flag bits over its groups, and its holding before the window."""
    shares = value = Decimal(0)
    role_bits = flag_bits = 0
    before = None
    for g in parts:
        shares += g.shares
        value += g.value
        role_bits |= g.roles
        flag_bits |= g.flags
        if g.has_first:
            before = g.before
    return shares, value, role_bits, flag_bits, before


def csv_rows_screener(page: ScreenerPage) -> Iterable[list[Any]]:
    """Header and rows of the screener table as shown (same filters, same order, this page)."""
    yield [
        "ticker",
        "company",
        "sector",
        "buyers",
        "roles",
        "cluster",
        "total_value",
        "shares",
        "avg_price",
        "first_trade_date",
        "last_trade_date",
        "latest_filing_et",
        "delta_own_median",
        "flags",
        "issuer_cik",
    ]
    for r in page.rows:
        yield [
            r.ticker,
            r.company,
            r.sector,
            r.n_buyers,
            " ".join(r.roles),
            "yes" if r.meets_rule else "",
            r.total_value.quantize(Decimal("0.01")),
            r.total_shares,
            r.avg_price,
            r.first_trade_date,
            r.last_trade_date,
            et_text(r.latest_known_at),
            "new" if r.delta_own_new else r.delta_own_median,
            " ".join(r.flags),
            r.issuer_cik,
        ]


def et_text(ts: datetime) -> str:
    """A UTC time as US/Eastern "YYYY-MM-DD HH:MM" (the CSV exports)."""
    return ts.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M")

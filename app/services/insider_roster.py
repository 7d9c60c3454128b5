"""The dashboard's insider roster: every insider with a filing about the company, their latest roles, last
trade and latest reported direct and indirect holdings (issue 5 §2)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from app.ingest import codes
from app.repositories.ticker_pages import OwnerOnFiling
from app.schemas.ticker import RosterRow
from app.services import cluster_page as cluster_page_service
from app.services import roles as roles_service
from app.services import signals as signals_service

EASTERN = ZoneInfo("America/New_York")


def roles_of(owners: Iterable[OwnerOnFiling]) -> list[str]:
    """Roles the reporting owners of a filing declared on it, most senior first."""
    roles: set[str] = set()
    for o in owners:
        roles |= roles_service.classify_roles(
            o.is_director, o.is_officer, o.officer_title, o.is_ten_percent_owner, o.is_other, o.other_text
        )
    return cluster_page_service.sort_roles(roles)


def build_roster(
    rows: Sequence[Any],
    holdings: Sequence[Any],
    owners: dict[str, list[OwnerOnFiling]],
    kinds: dict[int, str],
) -> list[RosterRow]:
    """Every insider with a filing here: latest roles, last trade, latest direct and indirect holdings."""
    epoch = _EPOCH
    # What a filing says is the same for each of its reporting owners, and a busy ticker has thousands
    # of rows: one pass gathers each filing's counts, latest trades and reported positions.
    filed_at: dict[str, datetime] = {}
    n_buys: dict[str, int] = {}
    n_sales: dict[str, int] = {}
    # Latest dated row of each table per filing by (trade date, row): the filing time is the same for
    # all its rows, and a row index is unique within a filing's table (no equals to break).
    last_stock: dict[str, tuple[tuple[date, int], Any]] = {}
    last_derivative: dict[str, tuple[tuple[date, int], Any]] = {}
    positions: dict[str, list[Any]] = {}  # stock rows that report the amount held after the filing
    for r in rows:
        accession = r.accession
        filed_at[accession] = r.known_at or epoch
        kind = kinds.get(r.id)
        if kind is not None:
            if kind == signals_service.BUY:
                n_buys[accession] = n_buys.get(accession, 0) + 1
            elif kind in signals_service.SALE_KINDS:
                n_sales[accession] = n_sales.get(accession, 0) + 1
        stock = r.tx_table == "non_derivative"
        if r.transaction_date:
            latest = last_stock if stock else last_derivative
            key = (r.transaction_date, r.doc_index)
            held = latest.get(accession)
            if held is None or key > held[0]:
                latest[accession] = (key, r)
        if stock and r.shares_owned_after is not None and r.direct_indirect in ("D", "I"):
            positions.setdefault(accession, []).append(r)
    held_rows: dict[str, list[Any]] = {}
    for h in holdings:
        filed_at[h.accession] = h.known_at or epoch
        if h.shares_owned is not None and h.direct_indirect in ("D", "I"):
            held_rows.setdefault(h.accession, []).append(h)
    amounts: dict[str, list[tuple[tuple[str, str], Decimal]]] = {
        a: _amounts(positions.get(a, ()), held_rows.get(a, ())) for a in positions.keys() | held_rows.keys()
    }

    by_owner: dict[str, list[str]] = defaultdict(list)
    for accession, filing_owners in owners.items():
        for o in filing_owners:
            by_owner[o.cik].append(accession)
    out = []
    for cik, accessions in by_owner.items():
        accessions.sort(key=lambda a: (filed_at.get(a, epoch), a))
        latest_filing = accessions[-1]
        me = next(o for o in owners[latest_filing] if o.cik == cik)
        # The last stock trade (a derivative one when there is none), first of equals in filing order.
        last = _last_trade(accessions, last_stock, filed_at) or _last_trade(
            accessions, last_derivative, filed_at
        )
        direct, indirect, as_of = _holdings(accessions, amounts, filed_at)
        out.append(
            RosterRow(
                owner_cik=cik,
                name=me.name,
                roles=roles_of([me]),
                last_trade_date=last.transaction_date if last else None,
                last_trade_code=last.code if last else None,
                last_trade_text=codes.describe(last.code) if last else None,
                last_trade_shares=last.shares if last else None,
                last_trade_acquired_disposed=last.acquired_disposed if last else None,
                direct_shares=direct,
                indirect_shares=indirect,
                holdings_as_of=as_of,
                n_purchases=sum(n_buys.get(a, 0) for a in accessions),
                n_sales=sum(n_sales.get(a, 0) for a in accessions),
                last_filed_at=filed_at.get(latest_filing) if filed_at.get(latest_filing) != epoch else None,
            )
        )
    out.sort(key=lambda r: (roles_service.role_rank(r.roles), -(r.last_trade_date or date.min).toordinal()))
    return out


_EPOCH = datetime.min.replace(tzinfo=UTC)
_BY_DOC_INDEX = attrgetter("doc_index")
_DIRECT = ("D", "")


def _last_trade(
    accessions: Sequence[str],
    latest: dict[str, tuple[tuple[date, int], Any]],
    filed_at: dict[str, datetime],
) -> Any:
    """The greatest of the filings' latest rows by (trade date, filed at, row), the first of equals."""
    best = best_key = None
    for accession in accessions:
        held = latest.get(accession)
        if held is None:
            continue
        (day, index), row = held
        key = (day, filed_at.get(accession) or _EPOCH, index)
        if best_key is None or key > best_key:
            best, best_key = row, key
    return best


def _amounts(rows: Sequence[Any], holdings: Sequence[Any]) -> list[tuple[tuple[str, str], Decimal]]:
    """Post-filing amounts per holding chain (direct; each indirect nature) that one filing reports."""
    amounts: dict[tuple[str, str], dict[str, Decimal]] = {}
    for h in sorted(holdings, key=_BY_DOC_INDEX) if len(holdings) > 1 else holdings:
        key = _DIRECT if h.direct_indirect == "D" else _chain("I", h.nature_of_ownership)
        amounts.setdefault(key, {})[h.security_title or ""] = h.shares_owned
    # The last row of each security on the chain holds the position after the filing.
    for r in sorted(rows, key=_BY_DOC_INDEX) if len(rows) > 1 else rows:
        key = _DIRECT if r.direct_indirect == "D" else _chain("I", r.nature_of_ownership)
        amounts.setdefault(key, {})[r.security_title or ""] = r.shares_owned_after
    return [(key, sum(by_title.values(), Decimal(0))) for key, by_title in amounts.items()]


def _holdings(
    accessions: Sequence[str],
    amounts: dict[str, list[tuple[tuple[str, str], Decimal]]],
    filed_at: dict[str, datetime],
) -> tuple[Decimal | None, Decimal | None, date | None]:
    """Latest post-transaction amounts per holding chain (direct; each indirect nature), summed."""
    # Walk filings oldest to newest; a later filing reporting a chain replaces what an earlier one said.
    chains: dict[tuple[str, str], tuple[Decimal, datetime]] = {}
    for accession in accessions:
        for key, amount in amounts.get(accession, ()):
            chains[key] = (amount, filed_at.get(accession))  # type: ignore[assignment]
    if not chains:
        return None, None, None
    direct = [v for (di, _), (v, _) in chains.items() if di == "D"]
    indirect = [v for (di, _), (v, _) in chains.items() if di == "I"]
    latest = max((t for _, t in chains.values() if t), default=None)
    return (
        sum(direct, Decimal(0)) if direct else None,
        sum(indirect, Decimal(0)) if indirect else None,
        latest.astimezone(EASTERN).date() if latest and latest.year > 1 else None,
    )


def _chain(direct_indirect: str, nature: str | None) -> tuple[str, str]:
    return direct_indirect, " ".join((nature or "").lower().split()) if direct_indirect == "I" else ""

"""The dashboard's insider roster: every insider with a filing about the company, their latest roles, last
trade and latest reported direct and indirect holdings (issue 5 §2)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
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
    epoch = datetime.min.replace(tzinfo=UTC)
    filed_at: dict[str, datetime] = {}
    for r in rows:
        filed_at[r.accession] = r.known_at or epoch
    for h in holdings:
        filed_at[h.accession] = h.known_at or epoch
    by_owner: dict[str, list[str]] = defaultdict(list)
    for accession, filing_owners in owners.items():
        for o in filing_owners:
            by_owner[o.cik].append(accession)
    rows_by_acc: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        rows_by_acc[r.accession].append(r)
    holds_by_acc: dict[str, list[Any]] = defaultdict(list)
    for h in holdings:
        holds_by_acc[h.accession].append(h)

    out = []
    for cik, accessions in by_owner.items():
        accessions.sort(key=lambda a: (filed_at.get(a, epoch), a))
        latest = accessions[-1]
        me = next(o for o in owners[latest] if o.cik == cik)
        trades = [r for a in accessions for r in rows_by_acc[a]]
        stock = [r for r in trades if r.tx_table == "non_derivative" and r.transaction_date] or [
            r for r in trades if r.transaction_date
        ]
        last = max(stock, key=lambda r: (r.transaction_date, r.known_at or epoch, r.doc_index), default=None)
        direct, indirect, as_of = _holdings(accessions, rows_by_acc, holds_by_acc, filed_at)
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
                n_purchases=sum(1 for r in trades if kinds.get(r.id) == signals_service.BUY),
                n_sales=sum(1 for r in trades if kinds.get(r.id) in signals_service.SALE_KINDS),
                last_filed_at=filed_at.get(latest) if filed_at.get(latest) != epoch else None,
            )
        )
    out.sort(key=lambda r: (roles_service.role_rank(r.roles), -(r.last_trade_date or date.min).toordinal()))
    return out


def _holdings(
    accessions: Sequence[str],
    rows_by_acc: dict[str, list[Any]],
    holds_by_acc: dict[str, list[Any]],
    filed_at: dict[str, datetime],
) -> tuple[Decimal | None, Decimal | None, date | None]:
    """Latest post-transaction amounts per holding chain (direct; each indirect nature), summed."""
    # Walk filings oldest to newest; a later filing reporting a chain replaces what an earlier one said.
    chains: dict[tuple[str, str], tuple[Decimal, datetime]] = {}
    for accession in accessions:
        amounts: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        for h in sorted(holds_by_acc.get(accession, ()), key=lambda h: h.doc_index):
            if h.shares_owned is not None and h.direct_indirect in ("D", "I"):
                amounts[_chain(h.direct_indirect, h.nature_of_ownership)][h.security_title or ""] = (
                    h.shares_owned
                )
        for r in sorted(rows_by_acc.get(accession, ()), key=lambda r: r.doc_index):
            if r.tx_table != "non_derivative" or r.shares_owned_after is None:
                continue
            if r.direct_indirect in ("D", "I"):
                # The last row of each security on the chain holds the position after the filing.
                amounts[_chain(r.direct_indirect, r.nature_of_ownership)][r.security_title or ""] = (
                    r.shares_owned_after
                )
        for key, by_title in amounts.items():
            chains[key] = (sum(by_title.values(), Decimal(0)), filed_at.get(accession))  # type: ignore[assignment]
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

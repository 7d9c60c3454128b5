"""Cluster buys from stored purchases: load eligible rows, run the pure core, materialize the default
rule (N=3, W=14) incrementally per issuer, and compute any other rule on request."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.models.purchase import OWNER_CIK_SEPARATOR, OWNER_NAME_SEPARATOR
from app.repositories import clusters as clusters_repo
from app.repositories import screener as screener_repo
from app.repositories.clusters import MemberFacts, OwnerRow, PurchaseRow
from app.schemas.overview import RuleFacts
from app.services import roles as roles_service
from app.services.clustering_core import (
    DEFAULT_N,
    DEFAULT_W,
    MAX_SPAN_DAYS,
    N_RANGE,
    W_RANGE,
    ClusterResult,
    PurchaseRecord,
    find_clusters,
    issuer_buyers,
    value_known_by,
)
from app.services.since_totals import since_totals

EASTERN = ZoneInfo("America/New_York")
BUSINESS_DAYS_TO_FILE = 2  # Form 4 is due within 2 business days of the trade (since 2002-08-29)


def purchase_records(session: Session, *, issuer_ciks: Iterable[str] | None = None) -> list[PurchaseRecord]:
    """Eligible purchases as clustering input, each with the owner CIKs of its filing, read from the
    stored screener facts (what any rule computed on request starts from)."""
    rows = clusters_repo.purchase_input_rows(session, issuer_ciks=issuer_ciks)
    return _records(rows, _owner_set)


def _owner_set(row: Any) -> frozenset[str]:
    return frozenset(row.owner_ciks.split(OWNER_CIK_SEPARATOR))


def _filers_of(owners: dict[str, list[OwnerRow]], row: Any) -> frozenset[str]:
    return frozenset(o.owner_cik for o in owners.get(row.accession, ()))


def _records(rows: Sequence[Any], owners_of: Callable[[Any], frozenset[str]]) -> list[PurchaseRecord]:
    """Clustering input from purchase rows; `owners_of(row)` gives its filing's owner CIKs, asked once per
    filing (the set is shared by the filing's purchases). A purchase without owners is left out."""
    records = []
    owner_sets: dict[str, frozenset[str]] = {}
    for r in rows:
        owner_ciks = owner_sets.get(r.accession)
        if owner_ciks is None:
            owner_ciks = owner_sets[r.accession] = owners_of(r)
        if not owner_ciks:
            continue
        # Positional, in PurchaseRecord's field order (thousands per rule computed on request). The price
        # is the effective one: explicit, or the footnote-range midpoint the value was built from.
        value = r.value
        records.append(
            PurchaseRecord(
                r.transaction_id,
                r.issuer_cik,
                r.accession,
                owner_ciks,
                r.trade_date,
                r.known_at,
                r.shares,
                value / r.shares,
                value,
            )
        )
    return records


def clusters_for_rule(
    session: Session,
    *,
    n: int,
    w: int,
    issuer_ciks: Iterable[str] | None = None,
    filed_between: tuple[datetime, datetime | None] | None = None,
) -> list[ClusterResult]:
    """Compute clusters under any rule (2 ≤ N ≤ 10, 1 ≤ W ≤ 90) without storing them (with
    `filed_between`, only those in runs of linked purchases with one filed then: see find_clusters)."""
    if filed_between is not None and issuer_ciks is not None:
        # Those runs need the issuers' purchases from the start of the run holding their first one filed
        # then, and before it only the ones that link filers into buyers.
        rows = screener_repo.replay_input_rows(
            session, issuer_ciks=sorted(issuer_ciks), since=filed_between[0], until=filed_between[1], w=w
        )
        records = _records(rows, _owner_set)
    else:
        records = purchase_records(session, issuer_ciks=issuer_ciks)
    return find_clusters(records, n=n, w=w, filed_between=filed_between)


def rule_facts() -> RuleFacts:
    """The default rule and the bounds users may choose from (for the definitions page)."""
    return RuleFacts(
        default_n=DEFAULT_N,
        default_w=DEFAULT_W,
        max_span_days=MAX_SPAN_DAYS,
        n_range=N_RANGE,
        w_range=W_RANGE,
    )


def iso_week_of(ts: datetime) -> str:
    """The ISO week, on the US/Eastern calendar, that a UTC timestamp falls in ("2024-W10")."""
    year, week, _ = ts.astimezone(EASTERN).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """UTC [start, end) of an ISO week label, Monday 00:00 ET to the next Monday 00:00 ET."""
    year, _, num = week.partition("-W")
    monday = date.fromisocalendar(int(year), int(num), 1)
    start = datetime.combine(monday, time(0), tzinfo=EASTERN)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=EASTERN)
    return start.astimezone(UTC), end.astimezone(UTC)


def member_owners(session: Session, results: Sequence[ClusterResult]) -> dict[str, list[OwnerRow]]:
    """The reporting owners of every member filing of these clusters, read at once."""
    accessions = sorted({m.accession for r in results for m in r.members})
    return clusters_repo.owners_by_accession(session, accessions)


def buyer_roles(result: ClusterResult, owners: dict[str, list[OwnerRow]]) -> dict[tuple[str, ...], set[str]]:
    """Roles of each buyer of a cluster, from the relationships declared on its member filings (their
    owners: member_owners)."""
    out: dict[tuple[str, ...], set[str]] = {}
    for m in result.members:
        roles = out.setdefault(m.buyer, set())
        for o in owners.get(m.accession, ()):
            roles |= roles_service.classify_roles(
                o.is_director, o.is_officer, o.officer_title, o.is_ten_percent_owner, o.is_other, o.other_text
            )
    return out


def cluster_flags(
    result: ClusterResult, facts: dict[int, MemberFacts], roles_by_buyer: dict[tuple[str, ...], set[str]]
) -> list[str]:
    """DESIGN §2 flags: amended, 10b5-1, late, footnote price, 10%-owner only, private placement."""
    flags: set[str] = set()
    for m in result.members:
        f = facts.get(m.transaction_id)
        if f is None:
            continue
        flags.update(
            row_flags(f.is_10b5_1, f.is_amendment, f.timeliness, f.price_source, m.trade_date, m.known_at)
        )
        if roles_service.mentions_private_placement(f.footnote_texts):
            flags.add("possible_private_placement")
    if roles_service.is_ten_percent_owner_only(roles_by_buyer.values()):
        flags.add("ten_percent_owner_only")
    return sorted(flags)


def is_late(trade_date: date, known_at: datetime) -> bool:
    """Filed after the 2-business-day Form 4 deadline (weekends skipped; holidays not)."""
    due, left = trade_date, BUSINESS_DAYS_TO_FILE
    while left:
        due += timedelta(days=1)
        if due.weekday() < 5:
            left -= 1
    return known_at.astimezone(EASTERN).date() > due


def refresh_issuers(session: Session, issuer_ciks: Iterable[str], *, now: datetime | None = None) -> int:
    """Recompute and store the default-rule clusters of these issuers, and their purchases' screener
    facts (app.models.EligiblePurchase); return how many clusters they have."""
    ciks = sorted(set(issuer_ciks))
    if not ciks:
        return 0
    now = now or datetime.now(UTC)
    total = 0
    for start in range(0, len(ciks), 200):
        batch = ciks[start : start + 200]
        # Lock before reading: a concurrent ingest refreshing the same issuer waits, then sees our rows.
        clusters_repo.lock_issuers(session, batch)
        rows = clusters_repo.eligible_purchases(session, issuer_ciks=batch)
        owners = clusters_repo.owners_by_accession(session, sorted({r.accession for r in rows}))
        records = _records(rows, partial(_filers_of, owners))
        results = find_clusters(records, n=DEFAULT_N, w=DEFAULT_W)
        _store(session, batch, results, now=now)
        facts = _purchase_facts(rows, records, owners, results)
        clusters_repo.replace_issuer_purchases(
            session, issuer_ciks=batch, purchases=facts, since_rows=since_totals(facts)
        )
        total += len(results)
    session.flush()
    return total


def refresh_all(session: Session) -> int:
    """Recompute every issuer's default-rule clusters (after a rule or eligibility change)."""
    return refresh_issuers(session, clusters_repo.issuers_with_purchases(session))


def refresh_missing_facts(session: Session) -> int:
    """Refresh the issuers whose purchases have no screener facts yet (after migration 0005, or a
    database filled by other means), and compute the totals from each filing time on of those whose
    facts have none (after migration 0013); return how many issuers that was."""
    ciks = clusters_repo.issuers_missing_purchase_facts(session)
    refresh_issuers(session, ciks)
    without_since = clusters_repo.issuers_missing_since_totals(session)
    for start in range(0, len(without_since), 200):
        batch = without_since[start : start + 200]
        facts = clusters_repo.purchase_facts(session, batch)
        clusters_repo.replace_since_totals(session, issuer_ciks=batch, since_rows=since_totals(facts))
    return len(ciks) + len(without_since)


# Purchase flags stored as bits on EligiblePurchase.flags (DESIGN §2 flags that belong to one row).
PURCHASE_FLAGS = ("10b5-1", "amended", "late_filing", "price_from_footnote")


def row_flags(
    is_10b5_1: bool | None,
    is_amendment: bool,
    timeliness: str | None,
    price_source: str | None,
    trade_date: date,
    known_at: datetime,
) -> list[str]:
    """A purchase row's own flags (DESIGN §2), in PURCHASE_FLAGS order."""
    flags = []
    if is_10b5_1:
        flags.append("10b5-1")
    if is_amendment:
        flags.append("amended")
    if timeliness == "L" or is_late(trade_date, known_at):
        flags.append("late_filing")
    if price_source == "footnote_range":
        flags.append("price_from_footnote")
    return flags


def purchase_flags(r: PurchaseRow) -> list[str]:
    return row_flags(r.is_10b5_1, r.is_amendment, r.timeliness, r.price_source, r.trade_date, r.known_at)


def bits_of(names: Iterable[str], order: Sequence[str]) -> int:
    return sum(1 << order.index(name) for name in set(names))


def names_of(bits: int, order: Sequence[str]) -> list[str]:
    return [name for k, name in enumerate(order) if bits & (1 << k)]


def roles_bits(roles: Iterable[str]) -> int:
    """The roles as a bit set over ROLE_ORDER (how EligiblePurchase.roles stores them)."""
    return bits_of(roles, roles_service.ROLE_ORDER)


def _purchase_facts(
    rows: Sequence[PurchaseRow],
    records: list[PurchaseRecord],
    owners: dict[str, list[OwnerRow]],
    results: list[ClusterResult],
) -> list[dict[str, object]]:
    cluster_of = {m.transaction_id: r.cluster_id for r in results for m in r.members}
    roles_of: dict[str, int] = {}
    for accession, filing_owners in owners.items():
        roles: set[str] = set()
        for o in filing_owners:
            roles |= roles_service.classify_roles(
                o.is_director, o.is_officer, o.officer_title, o.is_ten_percent_owner, o.is_other, o.other_text
            )
        roles_of[accession] = roles_bits(roles)
    buyers = issuer_buyers(records)
    row_of = {r.transaction_id: r for r in rows}
    days_after_previous: dict[int, int | None] = {}
    previous: dict[str, date] = {}
    for p in sorted(records, key=lambda r: (r.trade_date, r.transaction_id)):  # as migration 0009
        before = previous.get(p.issuer_cik)
        days_after_previous[p.transaction_id] = None if before is None else (p.trade_date - before).days
        previous[p.issuer_cik] = p.trade_date
    return [
        {
            "transaction_id": p.transaction_id,
            "issuer_cik": p.issuer_cik,
            "accession": p.accession,
            "known_at": p.known_at,
            "trade_date": p.trade_date,
            "buyer_key": buyer_key(buyers[p.transaction_id].buyer),
            "roles": roles_of[p.accession],
            "is_block_copy": buyers[p.transaction_id].duplicate_of is not None,
            "shares": p.shares,
            "value": p.value,
            "price": p.price,
            "cluster_id": cluster_of.get(p.transaction_id),
            "flags": bits_of(purchase_flags(row_of[p.transaction_id]), PURCHASE_FLAGS),
            "shares_owned_before": row_of[p.transaction_id].shares_owned_before,
            "owner_ciks": OWNER_CIK_SEPARATOR.join(sorted(p.owner_ciks)),
            "owner_names": OWNER_NAME_SEPARATOR.join(
                o.owner_cik if o.name_as_filed is None else o.name_as_filed for o in owners[p.accession]
            ),
            "days_after_previous": days_after_previous[p.transaction_id],
        }
        for p in records
    ]


def _store(
    session: Session, issuer_ciks: Sequence[str], results: list[ClusterResult], *, now: datetime
) -> None:
    facts = clusters_repo.member_facts(session, [m.transaction_id for r in results for m in r.members])
    owners = member_owners(session, results)
    clusters: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    aliases: list[dict[str, Any]] = []
    for r in results:
        roles_by_buyer = buyer_roles(r, owners)
        roles = set().union(*roles_by_buyer.values()) if roles_by_buyer else set()
        week = iso_week_of(r.trigger_at)
        _, week_end = week_bounds(week)
        clusters.append(
            {
                "id": r.cluster_id,
                "issuer_cik": r.issuer_cik,
                "rule_n": r.n,
                "rule_w": r.w,
                "first_trade_date": r.first_trade_date,
                "last_trade_date": r.last_trade_date,
                "trigger_accession": r.trigger_accession,
                "trigger_at": r.trigger_at,
                "trigger_week": week,
                "n_buyers": r.n_buyers,
                "n_buyers_at_trigger": r.n_buyers_at_trigger,
                "total_value": r.total_value,
                "total_shares": r.total_shares,
                "avg_price": r.avg_price,
                "week_value": value_known_by(r, week_end - timedelta(microseconds=1)),
                "roles": sorted(roles, key=lambda x: roles_service.ROLE_ORDER.index(x)),
                "flags": cluster_flags(r, facts, roles_by_buyer),
                "updated_at": now,
            }
        )
        members.extend(
            {
                "cluster_id": r.cluster_id,
                "transaction_id": m.transaction_id,
                "buyer_key": buyer_key(m.buyer),
                "duplicate_of": m.duplicate_of,
                "known_at": m.known_at,
            }
            for m in r.members
        )
        aliases.extend({"alias_id": a, "cluster_id": r.cluster_id} for a in r.alias_ids if a != r.cluster_id)
    clusters_repo.replace_issuer_clusters(
        session, issuer_ciks=issuer_ciks, clusters=clusters, members=members, aliases=aliases
    )


BUYER_KEY_MAX = 200  # ClusterMember.buyer_key column width


def buyer_key(owner_ciks: Sequence[str]) -> str:
    """The "+"-joined owner CIKs of a buyer; a very long chain keeps its head and a digest of the whole."""
    key = "+".join(owner_ciks)
    if len(key) <= BUYER_KEY_MAX:
        return key
    # Twenty-odd entities filing one block separately are one buyer (DESIGN §2): still one stable key.
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: BUYER_KEY_MAX - len(digest) - 2]}+#{digest}"

"""Cluster buys from stored purchases: load eligible rows, run the pure core, materialize the default
rule (N=3, W=14) incrementally per issuer, and compute any other rule on request."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.repositories import clusters as clusters_repo
from app.repositories.clusters import MemberFacts
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
    value_known_by,
)

EASTERN = ZoneInfo("America/New_York")
BUSINESS_DAYS_TO_FILE = 2  # Form 4 is due within 2 business days of the trade (since 2002-08-29)


def purchase_records(
    session: Session,
    *,
    issuer_ciks: Iterable[str] | None = None,
    trade_since: date | None = None,
    trade_until: date | None = None,
) -> list[PurchaseRecord]:
    """Eligible purchases as clustering input, each with the owner CIKs of its filing."""
    rows = clusters_repo.eligible_purchases(
        session, issuer_ciks=issuer_ciks, trade_since=trade_since, trade_until=trade_until
    )
    owners = clusters_repo.owners_by_accession(session, sorted({r.accession for r in rows}))
    records = []
    for r in rows:
        owner_ciks = frozenset(o.owner_cik for o in owners.get(r.accession, ()))
        if not owner_ciks:
            continue
        records.append(
            PurchaseRecord(
                transaction_id=r.transaction_id,
                issuer_cik=r.issuer_cik,
                accession=r.accession,
                owner_ciks=owner_ciks,
                trade_date=r.trade_date,
                known_at=r.known_at,
                shares=r.shares,
                # The effective price: explicit, or the footnote-range midpoint the value was built from.
                price=(r.value / r.shares),
                value=r.value,
            )
        )
    return records


def clusters_for_rule(
    session: Session,
    *,
    n: int,
    w: int,
    issuer_ciks: Iterable[str] | None = None,
    trade_since: date | None = None,
    trade_until: date | None = None,
) -> list[ClusterResult]:
    """Compute clusters under any rule (2 ≤ N ≤ 10, 1 ≤ W ≤ 90) without storing them."""
    records = purchase_records(
        session, issuer_ciks=issuer_ciks, trade_since=trade_since, trade_until=trade_until
    )
    return find_clusters(records, n=n, w=w)


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


def buyer_roles(session: Session, result: ClusterResult) -> dict[tuple[str, ...], set[str]]:
    """Roles of each buyer of a cluster, from the relationships declared on its member filings."""
    owners = clusters_repo.owners_by_accession(session, sorted({m.accession for m in result.members}))
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
        if f.is_amendment:
            flags.add("amended")
        if f.is_10b5_1:
            flags.add("10b5-1")
        if f.timeliness == "L" or is_late(m.trade_date, m.known_at):
            flags.add("late_filing")
        if f.price_source == "footnote_range":
            flags.add("price_from_footnote")
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
    """Recompute and store the default-rule clusters of these issuers; return how many they have."""
    ciks = sorted(set(issuer_ciks))
    if not ciks:
        return 0
    now = now or datetime.now(UTC)
    total = 0
    for start in range(0, len(ciks), 200):
        batch = ciks[start : start + 200]
        # Lock before reading: a concurrent ingest refreshing the same issuer waits, then sees our rows.
        clusters_repo.lock_issuers(session, batch)
        results = find_clusters(purchase_records(session, issuer_ciks=batch), n=DEFAULT_N, w=DEFAULT_W)
        _store(session, batch, results, now=now)
        total += len(results)
    session.flush()
    return total


def refresh_all(session: Session) -> int:
    """Recompute every issuer's default-rule clusters (after a rule or eligibility change)."""
    return refresh_issuers(session, clusters_repo.issuers_with_purchases(session))


def _store(
    session: Session, issuer_ciks: Sequence[str], results: list[ClusterResult], *, now: datetime
) -> None:
    facts = clusters_repo.member_facts(session, [m.transaction_id for r in results for m in r.members])
    clusters, members, aliases = [], [], []
    for r in results:
        roles_by_buyer = buyer_roles(session, r)
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

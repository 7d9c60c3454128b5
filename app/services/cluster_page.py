"""The cluster permalink (`/cluster/{id}`) and the Atom feed of new clusters: every member purchase,
totals, trigger, flags and returns of a materialized default-rule cluster (DESIGN §2)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy.orm import Session

from app.errors import NotFoundError
from app.models import ClusterReturn
from app.repositories import cluster_pages as pages_repo
from app.repositories import clusters as clusters_repo
from app.repositories import screener as screener_repo
from app.repositories.cluster_pages import MemberRow
from app.repositories.clusters import OwnerRow
from app.schemas.clusters import (
    BuyerBrief,
    ClusterFeed,
    ClusterPage,
    FeedEntry,
    MemberPurchase,
    ReturnRow,
)
from app.services import roles as roles_service
from app.services.clustering import is_late
from app.services.clustering_core import MAX_SPAN_DAYS
from app.services.since_totals import delta_own

EASTERN = ZoneInfo("America/New_York")
# Same keys as analytics.performance.HORIZONS, shortest first (kept here so pages need no pandas).
HORIZON_ORDER = ("1w", "1m", "3m", "6m", "1y")
FEED_SIZE = 50
ROLE_WORDS = {"ten_percent_owner": "10% owner", "other": "other reporting person"}
ATOM_NS = "http://www.w3.org/2005/Atom"
# XML 1.0 forbids most control characters; names from bulk data sets can carry them.
_NOT_XML_CHAR = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- shared by the weekly page and the feed -------------------------------------------------------------


def owner_roles(owner: OwnerRow) -> set[str]:
    """Roles one reporting owner declared on one filing."""
    return roles_service.classify_roles(
        owner.is_director,
        owner.is_officer,
        owner.officer_title,
        owner.is_ten_percent_owner,
        owner.is_other,
        owner.other_text,
    )


def sort_roles(roles: Iterable[str]) -> list[str]:
    """Roles most senior first (CEO, CFO, officer, director, 10% owner, other)."""
    return sorted(set(roles), key=roles_service.ROLE_ORDER.index)


def buyer_briefs(members: Sequence[MemberRow], owners: dict[str, list[OwnerRow]]) -> list[BuyerBrief]:
    """Distinct buyers of these members, names and roles from their filings, most senior first."""
    names: dict[str, dict[str, None]] = defaultdict(dict)
    roles: dict[str, set[str]] = defaultdict(set)
    value: dict[str, Decimal] = defaultdict(Decimal)
    for m in members:
        for o in owners.get(m.accession, ()):
            names[m.buyer_key][o.name_as_filed or o.owner_cik] = None
            roles[m.buyer_key] |= owner_roles(o)
        if m.duplicate_of is None and m.value is not None:
            value[m.buyer_key] += m.value
    keys = list(dict.fromkeys(m.buyer_key for m in members))
    keys.sort(key=lambda k: (roles_service.role_rank(roles[k]), -value[k]))
    return [BuyerBrief(key=k, name=" / ".join(names[k]) or k, roles=sort_roles(roles[k])) for k in keys]


def return_rows(rows: Iterable[ClusterReturn]) -> list[ReturnRow]:
    """Stored returns as view rows, shortest horizon first."""
    order = {h: i for i, h in enumerate(HORIZON_ORDER)}
    return [
        ReturnRow(
            horizon=r.horizon,
            status=r.status,
            entry_date=r.entry_date,
            entry_price=r.entry_price,
            exit_date=r.exit_date,
            stock_return=r.stock_return,
            spy_return=r.spy_return,
            excess_return=r.excess_return,
        )
        for r in sorted(rows, key=lambda r: (order.get(r.horizon, len(order)), r.horizon))
    ]


def latest_return(rows: list[ReturnRow]) -> ReturnRow | None:
    """The longest horizon that has a return (the cluster's return "so far")."""
    known = [r for r in rows if r.stock_return is not None and r.excess_return is not None]
    return known[-1] if known else None


# --- the permalink --------------------------------------------------------------------------------------


def build_cluster_page(session: Session, cluster_id: str) -> ClusterPage:
    """Load a cluster by id (or by an old id merged into it); its `id` tells callers to redirect."""
    cluster = pages_repo.get_cluster(session, cluster_id)
    if cluster is None:
        target = pages_repo.alias_target(session, cluster_id)
        cluster = pages_repo.get_cluster(session, target) if target else None
    if cluster is None:
        raise NotFoundError(
            f"No cluster {cluster_id[:64]!r}. Cluster ids are the issuer CIK and the first trade date "
            "(e.g. 0000320193-2024-03-04); a cluster disappears if an amendment leaves it below the rule."
        )
    members = pages_repo.members_of(session, [cluster.id])
    owners = clusters_repo.owners_by_accession(session, sorted({m.accession for m in members}))
    notes = pages_repo.footnotes_of(session, [m.accession for m in members])
    issuer = screener_repo.issuers(session, [cluster.issuer_cik]).get(cluster.issuer_cik)
    return ClusterPage(
        id=cluster.id,
        issuer_cik=cluster.issuer_cik,
        ticker=issuer.ticker if issuer else None,
        company=issuer.name if issuer else None,
        sector=issuer.sector if issuer else None,
        rule_n=cluster.rule_n,
        rule_w=cluster.rule_w,
        max_span_days=MAX_SPAN_DAYS,
        first_trade_date=cluster.first_trade_date,
        last_trade_date=cluster.last_trade_date,
        trigger_accession=cluster.trigger_accession,
        trigger_at=cluster.trigger_at,
        trigger_week=cluster.trigger_week,
        n_buyers=cluster.n_buyers,
        n_buyers_at_trigger=cluster.n_buyers_at_trigger,
        total_value=cluster.total_value,
        total_shares=cluster.total_shares,
        avg_price=cluster.avg_price,
        week_value=cluster.week_value,
        roles=list(cluster.roles or []),
        flags=list(cluster.flags or []),
        buyers=buyer_briefs(members, owners),
        members=[
            _member(m, owners.get(m.accession, []), notes, cluster.trigger_at, cluster.trigger_accession)
            for m in members
        ],
        returns=return_rows(pages_repo.returns_of(session, [cluster.id]).get(cluster.id, [])),
    )


def _member(
    m: MemberRow,
    owners: list[OwnerRow],
    notes: dict[tuple[str, str], str],
    trigger_at: datetime,
    trigger_accession: str,
) -> MemberPurchase:
    ratio, new = delta_own(m.shares, m.shares_owned_before) if m.shares is not None else (None, False)
    return MemberPurchase(
        transaction_id=m.transaction_id,
        accession=m.accession,
        buyer_key=m.buyer_key,
        buyer=" / ".join(dict.fromkeys(o.name_as_filed or o.owner_cik for o in owners)) or m.buyer_key,
        owner_ciks=[o.owner_cik for o in owners],
        roles=sort_roles(r for o in owners for r in owner_roles(o)),
        trade_date=m.trade_date,
        known_at=m.known_at,
        shares=m.shares,
        price=m.price,
        price_low=m.price_low,
        price_high=m.price_high,
        price_source=m.price_source,
        value=m.value,
        shares_owned_after=m.shares_owned_after,
        delta_own=ratio,
        delta_own_new=new,
        duplicate_of=m.duplicate_of,
        is_trigger=m.accession == trigger_accession,
        after_trigger=m.known_at > trigger_at,
        flags=member_flags(m, notes),
    )


def member_flags(m: MemberRow, notes: dict[tuple[str, str], str]) -> list[str]:
    """Per-purchase flags, on the same rules as the cluster's (clustering.cluster_flags)."""
    flags = set()
    if m.is_10b5_1:
        flags.add("10b5-1")
    if m.is_amendment:
        flags.add("amended")
    if m.timeliness == "L" or (m.trade_date is not None and is_late(m.trade_date, m.known_at)):
        flags.add("late_filing")
    if m.price_source == "footnote_range":
        flags.add("price_from_footnote")
    ids = sorted({fid for fids in (m.footnote_ids or {}).values() for fid in fids})
    if roles_service.mentions_private_placement(notes.get((m.accession, fid)) for fid in ids):
        flags.add("possible_private_placement")
    return sorted(flags)


# --- the Atom feed --------------------------------------------------------------------------------------


def build_cluster_feed(
    session: Session, *, limit: int = FEED_SIZE, now: datetime | None = None
) -> ClusterFeed:
    """The newest default-rule clusters by trigger time, with their buyers."""
    clusters = pages_repo.newest_clusters(session, limit=limit)
    members = pages_repo.members_of(session, [c.id for c in clusters])
    owners = clusters_repo.owners_by_accession(session, sorted({m.accession for m in members}))
    issuers = screener_repo.issuers(session, sorted({c.issuer_cik for c in clusters}))
    by_cluster: dict[str, list[MemberRow]] = defaultdict(list)
    for m in members:
        by_cluster[m.cluster_id].append(m)
    entries = []
    for c in clusters:
        issuer = issuers.get(c.issuer_cik)
        entries.append(
            FeedEntry(
                cluster_id=c.id,
                issuer_cik=c.issuer_cik,
                ticker=issuer.ticker if issuer else None,
                company=issuer.name if issuer else None,
                n_buyers=c.n_buyers,
                total_value=c.total_value,
                first_trade_date=c.first_trade_date,
                last_trade_date=c.last_trade_date,
                trigger_at=c.trigger_at,
                buyers=buyer_briefs(by_cluster[c.id], owners),
            )
        )
    updated = max((e.trigger_at for e in entries), default=now or datetime.now(UTC))
    return ClusterFeed(entries=entries, updated=updated)


def render_atom(feed: ClusterFeed, *, base_url: str) -> bytes:
    """Serialize the feed as Atom 1.0 (RFC 4287); lxml escapes every text node."""
    base = base_url.rstrip("/") + "/"
    # lxml-stubs allow only str prefixes; lxml takes None as the default namespace's.
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
    _sub(root, "id", f"{base}feeds/clusters.atom")
    _sub(root, "title", "Clusterbuy: new insider cluster buys")
    _sub(root, "subtitle", "Three or more distinct insiders buying the same stock within 14 days.")
    _sub(root, "updated", _rfc3339(feed.updated))
    _sub(root, "link", rel="self", type="application/atom+xml", href=f"{base}feeds/clusters.atom")
    _sub(root, "link", rel="alternate", type="text/html", href=f"{base}weekly")
    author = _sub(root, "author")
    _sub(author, "name", "Clusterbuy")
    for e in feed.entries:
        url = f"{base}cluster/{e.cluster_id}"
        entry = _sub(root, "entry")
        _sub(entry, "id", url)  # the permalink never changes (DESIGN §2 identity)
        _sub(entry, "title", entry_title(e))
        _sub(entry, "updated", _rfc3339(e.trigger_at))
        _sub(entry, "published", _rfc3339(e.trigger_at))
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        _sub(entry, "summary", entry_summary(e), type="text")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def entry_title(e: FeedEntry) -> str:
    """ "TICKER: N insiders bought $X"."""
    who = e.ticker or e.company or f"CIK {int(e.issuer_cik)}"
    return f"{who}: {e.n_buyers} insiders bought {_dollars(e.total_value)}"


def entry_summary(e: FeedEntry) -> str:
    """One plain-text sentence: who bought, what, when the cluster triggered."""
    buyers = "; ".join(f"{b.name} ({', '.join(b.roles)})" if b.roles else b.name for b in e.buyers)
    trigger = e.trigger_at.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M ET")
    company = e.company or e.ticker or f"CIK {int(e.issuer_cik)}"
    return (
        f"{company}: {_dollars(e.total_value)} bought by {e.n_buyers} insiders "
        f"between {e.first_trade_date} and {e.last_trade_date}, triggered {trigger}. Buyers: {buyers}."
    )


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    clean = {k: _NOT_XML_CHAR.sub("", v) for k, v in attrs.items()}
    el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", clean)
    if text is not None:
        el.text = _NOT_XML_CHAR.sub("", text)
    return el


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dollars(value: Decimal) -> str:
    return f"${value:,.0f}"

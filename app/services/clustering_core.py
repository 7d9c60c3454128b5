"""Pure cluster detection over eligible purchases: buyers, linking, point-in-time triggers, ids.

Implements DESIGN §2 (Buyer, Cluster, Trigger time, Identity) over in-memory records; no database,
no framework. The caller feeds eligible purchases and materializes the returned clusters.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter
from typing import NamedTuple

DEFAULT_N = 3
DEFAULT_W = 14
MAX_SPAN_DAYS = 90
N_RANGE = (2, 10)
W_RANGE = (1, 90)
PRICE_QUANTUM = Decimal("0.0001")

BuyerKey = tuple[str, ...]  # sorted owner CIKs of one buyer, as seen on the cluster's member filings


class PurchaseRecord(NamedTuple):
    """One eligible purchase row (code P, non-derivative, acquired, shares>0, price>0, not superseded)."""

    # A NamedTuple, as ClusterMember: a rule computed on request builds thousands of them.

    transaction_id: int
    issuer_cik: str
    accession: str
    owner_ciks: frozenset[str]
    trade_date: date
    known_at: datetime  # tz-aware UTC EDGAR acceptance time of the filing (DESIGN §2, trigger time)
    shares: Decimal
    price: Decimal
    value: Decimal


class ClusterMember(NamedTuple):
    """A purchase inside a cluster, with its buyer and, for chain duplicates, the row it repeats."""

    # A NamedTuple rather than a frozen dataclass: clusters hold ~10^5 members and frozen dataclass
    # construction is about five times slower.

    transaction_id: int
    accession: str
    buyer: BuyerKey
    trade_date: date
    known_at: datetime
    shares: Decimal
    price: Decimal
    value: Decimal
    duplicate_of: int | None  # transaction_id of the first-known copy of the same block, else None


@dataclass(frozen=True, slots=True)
class ClusterResult:
    """A linked group of one issuer's purchases that reached N distinct buyers at trigger_at."""

    cluster_id: str
    issuer_cik: str
    n: int
    w: int
    id_date: date  # first trade date of the group when it triggered; the id is built from it
    first_trade_date: date
    last_trade_date: date
    trigger_accession: str
    trigger_at: datetime
    n_buyers_at_trigger: int
    n_buyers: int
    buyers: tuple[BuyerKey, ...]
    members: tuple[ClusterMember, ...]
    total_value: Decimal  # duplicates excluded
    total_shares: Decimal  # duplicates excluded
    avg_price: Decimal  # total_value / total_shares, quantized to PRICE_QUANTUM
    alias_ids: tuple[str, ...] = ()  # ids of clusters that later purchases merged into this one


def cluster_id(issuer_cik: str, first_trade_date: date) -> str:
    """Return the stable cluster id: issuer CIK plus the group's first trade date."""
    return f"{issuer_cik}-{first_trade_date.isoformat()}"


def validate_rule(n: int, w: int, max_span_days: int = MAX_SPAN_DAYS) -> None:
    """Raise ValueError unless N, W and the span limit are within the user-facing bounds."""
    for name, value, (low, high) in (("n", n, N_RANGE), ("w", w, W_RANGE)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    if isinstance(max_span_days, bool) or not isinstance(max_span_days, int) or max_span_days < 1:
        raise ValueError(f"max_span_days must be a positive integer, got {max_span_days!r}")


def filed_in(window: tuple[datetime, datetime | None], known_at: datetime) -> bool:
    """Whether a filing known at `known_at` falls in the window [since, until) (until None: open)."""
    since, until = window
    return since <= known_at and (until is None or known_at < until)


def value_known_by(result: ClusterResult, t: datetime) -> Decimal:
    """Sum the value of the cluster's non-duplicate members whose filing was accepted at or before t."""
    return sum((m.value for m in result.members if m.duplicate_of is None and m.known_at <= t), Decimal(0))


def link_purchases(
    purchases: Iterable[PurchaseRecord], *, w: int = DEFAULT_W, max_span_days: int = MAX_SPAN_DAYS
) -> list[tuple[PurchaseRecord, ...]]:
    """Split purchases into linked groups (per issuer, by date), ignoring buyers and filing times."""
    validate_rule(DEFAULT_N, w, max_span_days)
    by_issuer: dict[str, list[PurchaseRecord]] = defaultdict(list)
    for p in purchases:
        by_issuer[p.issuer_cik].append(p)
    out: list[tuple[PurchaseRecord, ...]] = []
    for issuer in sorted(by_issuer):
        rows = sorted(by_issuer[issuer], key=_date_key)
        ords = [r.trade_date.toordinal() for r in rows]
        for start, end in _split(list(range(len(rows))), ords, w, max_span_days):
            out.append(tuple(rows[start:end]))
    return out


def find_clusters(
    purchases: Iterable[PurchaseRecord],
    *,
    n: int = DEFAULT_N,
    w: int = DEFAULT_W,
    max_span_days: int = MAX_SPAN_DAYS,
    filed_between: tuple[datetime, datetime | None] | None = None,
) -> list[ClusterResult]:
    """Find every cluster under rule (n, w), ordered by issuer CIK then first trade date.

    With `filed_between` = (since, until), only the runs of linked purchases with one filed in
    [since, until) are replayed: clusters elsewhere are left out, those kept are unchanged."""
    validate_rule(n, w, max_span_days)
    rows = list(purchases)
    _validate_records(rows)
    by_issuer: dict[str, list[PurchaseRecord]] = defaultdict(list)
    for p in rows:
        by_issuer[p.issuer_cik].append(p)
    results: list[ClusterResult] = []
    for issuer in sorted(by_issuer):
        results.extend(
            _IssuerReplay(issuer, by_issuer[issuer], n, w, max_span_days, filed_between).clusters()
        )
    return results


_date_key = attrgetter("trade_date", "known_at", "accession", "transaction_id")
_arrival_key = attrgetter("known_at", "accession", "transaction_id")


def _validate_records(rows: list[PurchaseRecord]) -> None:
    """Raise ValueError on records the point-in-time replay cannot order or attribute."""
    ids = [p.transaction_id for p in rows]
    if len(set(ids)) != len(ids):
        dup = min(i for i, count in Counter(ids).items() if count > 1)
        raise ValueError(f"duplicate transaction_id {dup}")
    for p in rows:
        if p.known_at.tzinfo is None:
            raise ValueError(f"transaction {p.transaction_id}: known_at must be timezone-aware")
        if not p.owner_ciks:
            raise ValueError(f"transaction {p.transaction_id}: owner_ciks is empty")


def _split(
    positions: Sequence[int], ords: Sequence[int], w: int, span: int, lo: int = 0
) -> list[tuple[int, int]]:
    """Cut date-sorted positions[lo:] into [start, end) index ranges of linked groups.

    Single linkage: a gap > w days ends the group; so does a purchase > span days after the group's
    first one (DESIGN §2: maximum span of 90 days), which starts the next group.
    """
    end = len(positions)
    if lo >= end:
        return []
    groups: list[tuple[int, int]] = []
    start = lo
    first = prev = ords[positions[lo]]
    for j in range(lo + 1, end):
        d = ords[positions[j]]
        if d - prev > w or d - first > span:
            groups.append((start, j))
            start, first = j, d
        prev = d
    groups.append((start, end))
    return groups


@dataclass(slots=True)
class _Birth:
    """The moment a point-in-time group first reached N buyers (its trigger)."""

    anchor: int  # ordinal of the group's first trade date at that moment -> the cluster id
    trigger_at: datetime
    trigger_accession: str
    n_buyers: int


class _IssuerReplay:
    """Replay one issuer's filings in acceptance order to find when each cluster first existed.

    Point in time (DESIGN §2, trigger time): at each acceptance time t the linking and the buyer
    identities use only filings accepted by t. A group that reaches N buyers and does not already
    contain an earlier trigger's anchor date gives birth to a cluster; births are never undone, so
    filings accepted later can add members or merge clusters but never move a trigger.
    """

    def __init__(
        self,
        issuer: str,
        rows: list[PurchaseRecord],
        n: int,
        w: int,
        span: int,
        filed_between: tuple[datetime, datetime | None] | None = None,
    ) -> None:
        self.issuer, self.n, self.w, self.span = issuer, n, w, span
        self.filed_between = filed_between
        rows.sort(key=_date_key)
        self.rows = rows
        self.ords = [r.trade_date.toordinal() for r in rows]
        self.rep: list[str] = []  # one owner CIK per row, to find its buyer; filled when needed
        self.parent: dict[str, str] = {}
        self.duplicate_of: dict[int, int] = {}
        self.births: dict[int, _Birth] = {}
        self.anchors: list[int] = []  # sorted birth anchors

    # -- union-find over owner CIKs (DESIGN §2, buyer) --
    def _find(self, cik: str) -> str:
        parent = self.parent
        root = parent.setdefault(cik, cik)
        while parent[root] != root:
            parent[root] = parent[parent[root]]
            root = parent[root]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            # Deterministic root (smallest CIK) keeps results independent of input order.
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra

    def _candidate_chains(self) -> list[tuple[int, int]]:
        """Return final chains (gap ≤ W runs) that could ever hold N buyers."""
        # Every point-in-time group lies inside one final chain, and its buyer count never exceeds
        # the chain's number of distinct owner sets (a buyer is a union of filings' owner sets).
        rows, n = self.rows, self.n
        chains = [c for c in _split(range(len(rows)), self.ords, self.w, 1 << 30) if c[1] - c[0] >= n]
        if self.filed_between is not None:
            # Births, re-cuts and results stay inside a chain; only buyer identities (the union-find,
            # which _replay runs over every row) cross chains.
            window = self.filed_between
            chains = [
                (s, e) for s, e in chains if any(filed_in(window, rows[i].known_at) for i in range(s, e))
            ]
        return [(s, e) for s, e in chains if len({rows[i].owner_ciks for i in range(s, e)}) >= n]

    def clusters(self) -> list[ClusterResult]:
        chains = self._candidate_chains()
        if not chains:
            return []
        rows = self.rows
        self.rep = [min(r.owner_ciks) for r in rows]
        chain_of = [-1] * len(rows)
        for c, (s, e) in enumerate(chains):
            for i in range(s, e):
                chain_of[i] = c
        self._replay(chain_of, len(chains))
        out: list[ClusterResult] = []
        for s, e in chains:
            for gs, ge in _split(range(s, e), self.ords, self.w, self.span):
                result = self._result(list(range(s + gs, s + ge)))
                if result is not None:
                    out.append(result)
        return out

    def _replay(self, chain_of: list[int], n_chains: int) -> None:
        rows, ords, rep, union = self.rows, self.ords, self.rep, self._union
        known: list[list[int]] = [[] for _ in range(n_chains)]  # per chain: positions known so far
        starts: list[list[int]] = [[] for _ in range(n_chains)]  # per chain: group start indices
        # Chain duplicates need two accessions on one trade date; skip the block lookup elsewhere.
        accession_on: dict[int, str] = {}
        shared_days: set[int] = set()
        for i, r in enumerate(rows):
            if accession_on.setdefault(ords[i], r.accession) != r.accession:
                shared_days.add(ords[i])
        # Block (trade date, shares, price) -> first-known rows carrying it (DESIGN §2, buyer).
        originals: dict[tuple[int, Decimal, Decimal], list[int]] = {}
        arrival = sorted(range(len(rows)), key=list(map(_arrival_key, rows)).__getitem__)
        done: set[str] = set()
        touched: dict[int, list[int]] = {}
        t = rows[arrival[0]].known_at
        accession, owners, head = "", frozenset[str](), 0
        nth_in_filing: dict[tuple[int, Decimal, Decimal], int] = {}
        for i in arrival:
            r = rows[i]
            if r.accession != accession:
                if r.known_at != t:  # every filing accepted at t is in: look for births
                    for c, new_positions in touched.items():
                        self._insert(known[c], starts[c], new_positions, t)
                    touched.clear()
                    t = r.known_at
                accession, owners, head = r.accession, r.owner_ciks, i
                if accession in done:
                    raise ValueError(f"filing {accession}: rows disagree on known_at")
                done.add(accession)
                if len(owners) > 1:
                    for cik in owners:
                        union(rep[i], cik)  # joint filers of one filing are one buyer
                nth_in_filing.clear()
            elif r.owner_ciks != owners:
                raise ValueError(f"filing {accession}: rows disagree on owner_ciks")
            d = ords[i]
            if d in shared_days:
                key = (d, r.shares, r.price)
                copies = originals.setdefault(key, [])
                nth = nth_in_filing.get(key, 0)
                nth_in_filing[key] = nth + 1
                # Match the nth identical row of this filing to the nth first-known copy, so
                # legitimate identical tranches within one filing are never collapsed.
                if nth < len(copies):
                    self.duplicate_of[r.transaction_id] = rows[copies[nth]].transaction_id
                    union(rep[head], rep[copies[nth]])
                else:
                    copies.append(i)
            c = chain_of[i]
            if c >= 0:
                touched.setdefault(c, []).append(i)
        for c, new_positions in touched.items():
            self._insert(known[c], starts[c], new_positions, t)

    def _insert(self, known: list[int], starts: list[int], new_positions: list[int], t: datetime) -> None:
        """Add newly known positions to a chain, re-cut its groups and record any birth."""
        new_positions.sort()
        # Cutting is greedy from the left, so groups ending before the first new purchase keep
        # their bounds; re-cut from the group holding its predecessor (usually the last group).
        i0 = bisect_left(known, new_positions[0])
        base = 0 if i0 == 0 else starts[bisect_right(starts, i0 - 1) - 1]
        if i0 == len(known):
            known.extend(new_positions)
        else:
            for i in new_positions:
                insort(known, i)
        del starts[bisect_left(starts, base) :]
        groups = _split(known, self.ords, self.w, self.span, base)
        starts.extend(gs for gs, _ in groups)
        self._check_births(known, groups, t)

    def _check_births(self, known: list[int], groups: list[tuple[int, int]], t: datetime) -> None:
        rows, ords, anchors, rep, find = self.rows, self.ords, self.anchors, self.rep, self._find
        for gs, ge in groups:
            if ge - gs < self.n:
                continue
            first, last = ords[known[gs]], ords[known[ge - 1]]
            a = bisect_left(anchors, first)
            if a < len(anchors) and anchors[a] <= last:
                continue  # this group already holds an earlier cluster's birth
            members = known[gs:ge]
            n_buyers = len({find(rep[i]) for i in members})
            if n_buyers < self.n:
                continue
            in_group = [rows[i].accession for i in members if rows[i].known_at == t]
            trigger = min(in_group) if in_group else self._resplit_trigger(known, gs, t)
            insort(anchors, first)
            self.births[first] = _Birth(first, t, trigger, n_buyers)

    def _resplit_trigger(self, known: list[int], gs: int, t: datetime) -> str:
        """Return the filing accepted at t whose purchase earlier in the run re-split this group."""
        # The span limit cuts greedily from the run's first purchase, so a purchase added earlier in
        # the same gap-linked run can re-cut the groups after it (DESIGN §2, 90-day span).
        ords, rows = self.ords, self.rows
        j = gs
        while j > 0 and ords[known[j]] - ords[known[j - 1]] <= self.w:
            j -= 1
        return min(rows[i].accession for i in known[j:gs] if rows[i].known_at == t)

    def _result(self, positions: list[int]) -> ClusterResult | None:
        rows, ords, anchors = self.rows, self.ords, self.anchors
        first, last = ords[positions[0]], ords[positions[-1]]
        lo, hi = bisect_left(anchors, first), bisect_left(anchors, last + 1)
        if lo == hi:
            return None
        births = sorted((self.births[a] for a in anchors[lo:hi]), key=lambda b: (b.trigger_at, b.anchor))
        birth = births[0]
        # Buyer key: the owners that appear on this cluster's filings, grouped by buyer.
        find, rep, duplicate_of = self._find, self.rep, self.duplicate_of
        roots = [find(rep[i]) for i in positions]
        ciks_by_root: dict[str, set[str]] = defaultdict(set)
        for root, owners in {(root, rows[i].owner_ciks) for root, i in zip(roots, positions, strict=True)}:
            ciks_by_root[root].update(owners)
        key_of = {root: tuple(sorted(ciks)) for root, ciks in ciks_by_root.items()}
        members = [
            ClusterMember(
                r.transaction_id, r.accession, key_of[root], r.trade_date, r.known_at,
                r.shares, r.price, r.value, duplicate_of.get(r.transaction_id),
            )
            for root, r in zip(roots, map(rows.__getitem__, positions), strict=True)
        ]  # fmt: skip
        counted = [m for m in members if m.duplicate_of is None]
        total_value = sum((m.value for m in counted), Decimal(0))
        total_shares = sum((m.shares for m in counted), Decimal(0))
        buyers = tuple(dict.fromkeys(key_of[root] for root in roots))  # order of first purchase
        avg = (total_value / total_shares).quantize(PRICE_QUANTUM, ROUND_HALF_EVEN)
        return ClusterResult(
            cluster_id=cluster_id(self.issuer, date.fromordinal(birth.anchor)),
            issuer_cik=self.issuer,
            n=self.n,
            w=self.w,
            id_date=date.fromordinal(birth.anchor),
            first_trade_date=date.fromordinal(first),
            last_trade_date=date.fromordinal(last),
            trigger_accession=birth.trigger_accession,
            trigger_at=birth.trigger_at,
            n_buyers_at_trigger=birth.n_buyers,
            n_buyers=len(buyers),
            buyers=buyers,
            members=tuple(members),
            total_value=total_value,
            total_shares=total_shares,
            avg_price=avg,
            alias_ids=tuple(cluster_id(self.issuer, date.fromordinal(b.anchor)) for b in births[1:]),
        )


class PurchaseBuyer(NamedTuple):
    """A purchase's buyer over the issuer's whole history, and the row it repeats if a chain copy."""

    buyer: BuyerKey
    duplicate_of: int | None


def issuer_buyers(purchases: Iterable[PurchaseRecord]) -> dict[int, PurchaseBuyer]:
    """Resolve every purchase's buyer over all of its issuer's purchases (DESIGN §2, buyer).

    Owners of one filing are one buyer; buyers sharing an owner CIK are one; the nth identical block
    (trade date, shares, price) of a later filing repeats the nth first-known copy and joins its buyer —
    the same matching the point-in-time replay uses, but with every filing known (the screener's view).
    """
    by_issuer: dict[str, list[PurchaseRecord]] = defaultdict(list)
    for p in purchases:
        by_issuer[p.issuer_cik].append(p)
    out: dict[int, PurchaseBuyer] = {}
    for rows in by_issuer.values():
        out.update(_one_issuer_buyers(sorted(rows, key=_arrival_key)))
    return out


def _one_issuer_buyers(rows: list[PurchaseRecord]) -> dict[int, PurchaseBuyer]:
    parent: dict[str, str] = {}

    def find(cik: str) -> str:
        root = parent.setdefault(cik, cik)
        while parent[root] != root:
            parent[root] = parent[parent[root]]
            root = parent[root]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    originals: dict[tuple[date, Decimal, Decimal], list[PurchaseRecord]] = {}
    nth_in_filing: dict[tuple[date, Decimal, Decimal], int] = {}
    duplicate_of: dict[int, int] = {}
    accession = ""
    for r in rows:
        if r.accession != accession:
            accession = r.accession
            nth_in_filing.clear()
            first = min(r.owner_ciks)
            for cik in r.owner_ciks:
                union(first, cik)
        key = (r.trade_date, r.shares, r.price)
        copies = originals.setdefault(key, [])
        nth = nth_in_filing.get(key, 0)
        nth_in_filing[key] = nth + 1
        if nth < len(copies):
            duplicate_of[r.transaction_id] = copies[nth].transaction_id
            union(min(r.owner_ciks), min(copies[nth].owner_ciks))
        else:
            copies.append(r)
    members: dict[str, set[str]] = defaultdict(set)
    for cik in list(parent):
        members[find(cik)].add(cik)
    keys = {root: tuple(sorted(ciks)) for root, ciks in members.items()}
    return {
        r.transaction_id: PurchaseBuyer(keys[find(min(r.owner_ciks))], duplicate_of.get(r.transaction_id))
        for r in rows
    }

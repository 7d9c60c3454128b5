"""Tests for the pure clustering core: DESIGN §2 buyer, cluster, trigger time and identity."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.clustering_core import (
    ClusterResult,
    PurchaseBuyer,
    PurchaseRecord,
    cluster_id,
    find_clusters,
    issuer_buyers,
    link_purchases,
    value_known_by,
)

ISSUER = "0000320193"
D0 = date(2024, 3, 5)
T0 = datetime(2024, 3, 5, 21, 0, tzinfo=UTC)

_ids = iter(range(1, 10**9))


def buy(
    accession: str,
    owners: str | set[str],
    day: int,
    known_day: int,
    *,
    shares: str = "100",
    price: str = "10",
    issuer: str = ISSUER,
    minute: int = 0,
    tid: int | None = None,
) -> PurchaseRecord:
    """Build a purchase `day` days after D0, accepted `known_day` days after T0."""
    owner_set = frozenset({owners} if isinstance(owners, str) else owners)
    sh, pr = Decimal(shares), Decimal(price)
    return PurchaseRecord(
        transaction_id=next(_ids) if tid is None else tid,
        issuer_cik=issuer,
        accession=accession,
        owner_ciks=owner_set,
        trade_date=D0 + timedelta(days=day),
        known_at=T0 + timedelta(days=known_day, minutes=minute),
        shares=sh,
        price=pr,
        value=sh * pr,
    )


def only(results: list[ClusterResult]) -> ClusterResult:
    assert len(results) == 1, results
    return results[0]


class TestCluster:
    def test_three_insiders_within_w_trigger_on_third_buyers_filing(self) -> None:
        a = buy("acc-a", "A", 0, 2)
        b = buy("acc-b", "B", 3, 4)
        c = buy("acc-c", "C", 9, 10, minute=37)
        result = only(find_clusters([c, a, b]))
        assert result.trigger_accession == "acc-c"
        assert result.trigger_at == c.known_at
        assert result.cluster_id == cluster_id(ISSUER, D0) == "0000320193-2024-03-05"
        assert (result.first_trade_date, result.last_trade_date) == (D0, D0 + timedelta(days=9))
        assert result.n_buyers == result.n_buyers_at_trigger == 3
        assert result.buyers == (("A",), ("B",), ("C",))
        assert (result.n, result.w) == (3, 14)

    def test_trigger_is_first_filing_reaching_n_not_last_member(self) -> None:
        rows = [buy("acc-a", "A", 0, 1), buy("acc-b", "B", 1, 2), buy("acc-c", "C", 2, 3)]
        rows.append(buy("acc-d", "D", 5, 6))
        result = only(find_clusters(rows))
        assert result.trigger_accession == "acc-c"
        assert result.n_buyers == 4

    def test_two_buyers_are_not_a_cluster_at_default_n(self) -> None:
        rows = [buy("acc-a", "A", 0, 1), buy("acc-b", "B", 1, 2), buy("acc-a2", "A", 2, 3)]
        assert find_clusters(rows) == []
        assert only(find_clusters(rows, n=2)).trigger_accession == "acc-b"

    def test_out_of_order_filings_trigger_when_third_buyer_is_known(self) -> None:
        # C traded first but filed last: the public could only know the cluster at C's acceptance.
        rows = [buy("acc-c", "C", 0, 9), buy("acc-a", "A", 4, 5), buy("acc-b", "B", 6, 7)]
        result = only(find_clusters(rows))
        assert result.trigger_accession == "acc-c"
        assert result.id_date == D0

    def test_same_second_acceptances_pick_smallest_accession(self) -> None:
        rows = [buy("acc-1", "A", 0, 1), buy("acc-3", "B", 1, 3), buy("acc-2", "C", 2, 3)]
        assert only(find_clusters(rows)).trigger_accession == "acc-2"


class TestBuyers:
    def test_filings_sharing_an_owner_cik_are_one_buyer(self) -> None:
        rows = [buy("acc-1", "A", 0, 1), buy("acc-2", {"A", "B"}, 1, 2), buy("acc-3", "C", 2, 3)]
        assert find_clusters(rows) == []
        result = only(find_clusters(rows, n=2))
        assert result.buyers == (("A", "B"), ("C",))

    def test_union_is_transitive_across_filings(self) -> None:
        rows = [buy("acc-1", {"A", "B"}, 0, 1), buy("acc-2", {"B", "C"}, 1, 2), buy("acc-3", "C", 2, 3)]
        rows.append(buy("acc-4", "D", 3, 4))
        assert only(find_clusters(rows, n=2)).buyers == (("A", "B", "C"), ("D",))

    def test_joint_filing_fund_gp_manager_is_one_buyer(self) -> None:
        joint = {"FUND", "GP", "MGR"}
        rows = [buy("acc-j", joint, 0, 1), buy("acc-j", joint, 1, 1), buy("acc-x", "X", 2, 3)]
        assert find_clusters(rows) == []
        result = only(find_clusters(rows, n=2))
        assert result.buyers == (("FUND", "GP", "MGR"), ("X",))
        assert {m.buyer for m in result.members} == {("FUND", "GP", "MGR"), ("X",)}

    def test_chain_duplicate_block_counts_once(self) -> None:
        fund = buy("acc-f", "FUND", 0, 1, shares="5000", price="12.5")
        gp = buy("acc-g", "GP", 0, 1, shares="5000", price="12.50", minute=5)  # same block, copy
        mgr = buy("acc-m", "MGR", 0, 2, shares="5000", price="12.5")
        other = buy("acc-x", "X", 3, 4, shares="100", price="13")
        assert find_clusters([fund, gp, mgr, other]) == []  # 2 buyers, not 4
        result = only(find_clusters([fund, gp, mgr, other], n=2))
        assert result.total_value == Decimal("62500") + Decimal("1300")
        assert result.total_shares == Decimal("5100")
        dups = {m.transaction_id: m.duplicate_of for m in result.members}
        assert dups == {
            fund.transaction_id: None,
            gp.transaction_id: fund.transaction_id,
            mgr.transaction_id: fund.transaction_id,
            other.transaction_id: None,
        }
        assert result.buyers[0] == ("FUND", "GP", "MGR")

    def test_identical_tranches_in_one_filing_are_not_duplicates(self) -> None:
        rows = [buy("acc-1", "A", 0, 1), buy("acc-1", "A", 0, 1), buy("acc-2", "B", 1, 2)]
        result = only(find_clusters(rows, n=2))
        assert result.total_shares == Decimal("300")
        assert all(m.duplicate_of is None for m in result.members)

    def test_chain_copy_matches_tranches_one_to_one(self) -> None:
        # Fund reports two identical tranches; the GP's copy repeats only one of them.
        f1, f2 = buy("acc-f", "FUND", 0, 1), buy("acc-f", "FUND", 0, 1)
        g1, g2 = buy("acc-g", "GP", 0, 2), buy("acc-g", "GP", 0, 2)
        g3 = buy("acc-g", "GP", 0, 2)
        x = buy("acc-x", "X", 1, 2)
        result = only(find_clusters([f1, f2, g1, g2, g3, x], n=2))
        dups = {m.transaction_id: m.duplicate_of for m in result.members}
        assert dups[g1.transaction_id] == f1.transaction_id
        assert dups[g2.transaction_id] == f2.transaction_id
        assert dups[g3.transaction_id] is None  # a third tranche nobody reported before
        assert result.total_shares == Decimal("400")

    def test_duplicate_filed_later_does_not_add_a_buyer(self) -> None:
        rows = [buy("acc-a", "A", 0, 1, shares="777"), buy("acc-b", "B", 1, 2)]
        rows.append(buy("acc-a-copy", "A-PARENT", 0, 5, shares="777"))
        assert find_clusters(rows) == []


class TestLinking:
    def test_gap_of_exactly_w_links(self) -> None:
        rows = [buy("a", "A", 0, 1), buy("b", "B", 14, 15), buy("c", "C", 28, 29)]
        assert only(find_clusters(rows)).last_trade_date == D0 + timedelta(days=28)

    def test_gap_larger_than_w_splits(self) -> None:
        rows = [buy("a", "A", 0, 1), buy("b", "B", 14, 15), buy("c", "C", 29, 30)]
        assert find_clusters(rows) == []
        assert [len(g) for g in link_purchases(rows)] == [2, 1]
        assert only(find_clusters(rows, w=15)).n_buyers == 3

    def test_single_linkage_chains_past_w(self) -> None:
        rows = [buy(f"acc-{k}", f"O{k}", 10 * k, 10 * k + 1) for k in range(6)]
        assert [len(g) for g in link_purchases(rows)] == [6]

    def test_span_limit_starts_a_new_group(self) -> None:
        rows = [buy(f"acc-{k}", f"O{k % 3}", 10 * k, 10 * k + 1) for k in range(13)]  # days 0..120
        groups = link_purchases(rows)
        assert [(g[0].trade_date - D0).days for g in groups] == [0, 100]
        assert [(g[-1].trade_date - D0).days for g in groups] == [90, 120]
        results = find_clusters(rows)
        assert [r.id_date for r in results] == [D0, D0 + timedelta(days=100)]
        assert max((r.last_trade_date - r.first_trade_date).days for r in results) <= 90

    def test_issuers_are_separate_and_ordered(self) -> None:
        rows = []
        for issuer, offset in (("0000000002", 0), ("0000000001", 40)):
            rows += [
                buy(f"{issuer}-{k}", f"O{k}", offset + k, offset + k + 1, issuer=issuer) for k in range(3)
            ]
        rows += [buy(f"late-{k}", f"O{k}", k, k + 1, issuer="0000000001") for k in range(3)]
        results = find_clusters(rows)
        assert [(r.issuer_cik, r.first_trade_date) for r in results] == [
            ("0000000001", D0),
            ("0000000001", D0 + timedelta(days=40)),
            ("0000000002", D0),
        ]


class TestRuleValidation:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param({"n": 1}, "n must be an integer from 2 to 10", id="n-too-small"),
            pytest.param({"n": 11}, "n must be an integer from 2 to 10", id="n-too-large"),
            pytest.param({"n": 3.0}, "n must be an integer", id="n-float"),
            pytest.param({"n": True}, "n must be an integer", id="n-bool"),
            pytest.param({"w": 0}, "w must be an integer from 1 to 90", id="w-zero"),
            pytest.param({"w": 91}, "w must be an integer from 1 to 90", id="w-too-large"),
            pytest.param({"max_span_days": 0}, "max_span_days", id="span-zero"),
        ],
    )
    def test_bad_rule_raises(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            find_clusters([], **kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize(("n", "w"), [(2, 1), (10, 90)])
    def test_bounds_are_inclusive(self, n: int, w: int) -> None:
        assert find_clusters([], n=n, w=w) == []

    def test_inconsistent_filing_rows_raise(self) -> None:
        rows = [buy("acc-1", "A", 0, 1), buy("acc-1", "B", 1, 1), buy("acc-2", "C", 1, 1)]
        with pytest.raises(ValueError, match="acc-1"):
            find_clusters(rows, n=2)

    def test_naive_known_at_raises(self) -> None:
        rows = [buy("acc-1", "A", 0, 1), buy("acc-2", "B", 1, 1), buy("acc-3", "C", 1, 1)]
        rows[0] = PurchaseRecord(**{**_fields(rows[0]), "known_at": datetime(2024, 3, 6)})  # noqa: DTZ001
        with pytest.raises(ValueError, match="timezone-aware"):
            find_clusters(rows)

    def test_duplicate_transaction_id_raises(self) -> None:
        with pytest.raises(ValueError, match="duplicate transaction_id 5"):
            find_clusters([buy("a", "A", 0, 1, tid=5), buy("b", "B", 0, 1, tid=5)])


def _fields(p: PurchaseRecord) -> dict[str, object]:
    return {name: getattr(p, name) for name in PurchaseRecord._fields}


class TestPointInTime:
    def test_late_bridge_purchase_does_not_make_cluster_exist_earlier(self) -> None:
        early = [buy("a", "A", 0, 1), buy("b", "B", 2, 3), buy("c", "C", 30, 31), buy("d", "D", 32, 33)]
        assert find_clusters(early) == []  # two groups of two buyers
        bridge = buy("e", "E", 16, 60)  # traded in between, filed weeks late
        result = only(find_clusters([*early, bridge]))
        assert result.trigger_accession == "e"
        assert result.trigger_at == bridge.known_at
        assert result.n_buyers == 5

    def test_late_earlier_trade_extends_cluster_but_keeps_id_and_trigger(self) -> None:
        base = [buy("a", "A", 10, 11), buy("b", "B", 12, 13), buy("c", "C", 14, 15)]
        before = only(find_clusters(base))
        late = buy("z", "Z", 3, 40)
        after = only(find_clusters([*base, late]))
        assert after.first_trade_date == D0 + timedelta(days=3)
        assert (after.cluster_id, after.id_date) == (before.cluster_id, D0 + timedelta(days=10))
        assert (after.trigger_at, after.trigger_accession) == (before.trigger_at, before.trigger_accession)

    def test_bridged_clusters_keep_earlier_trigger_and_alias_the_other(self) -> None:
        first = [buy("a", "A", 0, 1), buy("b", "B", 1, 2), buy("c", "C", 2, 3)]
        second = [buy("d", "D", 30, 31), buy("e", "E", 31, 32), buy("f", "F", 32, 33)]
        ids = [r.cluster_id for r in find_clusters(first + second)]
        merged = only(find_clusters([*first, *second, buy("g", "G", 16, 50)]))
        assert merged.cluster_id == ids[0]
        assert merged.alias_ids == (ids[1],)
        assert merged.trigger_accession == "c"

    def test_buyers_merged_by_later_filing_keep_the_published_cluster(self) -> None:
        rows = [buy("a", "A", 0, 1), buy("b", "B", 1, 2), buy("c", "C", 2, 3)]
        joint = buy("ab", {"A", "B"}, 40, 41)  # later reveals A and B are one economic actor
        result = only(find_clusters([*rows, joint]))
        assert result.n_buyers_at_trigger == 3
        assert result.n_buyers == 2
        assert result.trigger_accession == "c"

    def test_value_known_by_sums_members_filed_up_to_t(self) -> None:
        rows = [
            buy("a", "A", 0, 1, shares="10", price="2"),
            buy("b", "B", 1, 2, shares="10", price="3"),
            buy("c", "C", 2, 3, shares="10", price="5"),
            buy("c-copy", "C-PARENT", 2, 4, shares="10", price="5"),
            buy("d", "D", 8, 20, shares="1", price="7"),
        ]
        result = only(find_clusters(rows))
        assert value_known_by(result, T0) == Decimal(0)
        assert value_known_by(result, T0 + timedelta(days=3)) == Decimal("100")
        assert value_known_by(result, T0 + timedelta(days=4)) == Decimal("100")  # the copy adds nothing
        assert value_known_by(result, T0 + timedelta(days=20)) == result.total_value == Decimal("107")

    def test_totals_and_weighted_average_price(self) -> None:
        rows = [
            buy("a", "A", 0, 1, shares="3", price="10"),
            buy("b", "B", 1, 2, shares="3", price="10.01"),
            buy("c", "C", 2, 3, shares="1", price="9.99"),
        ]
        result = only(find_clusters(rows))
        assert result.total_shares == Decimal("7")
        assert result.total_value == Decimal("70.02")
        assert result.avg_price == Decimal("10.0029")  # 10.002857… quantized to 4 places


# ---------------------------------------------------------------------------------------------
# Property tests. `reference_clusters` restates DESIGN §2 naively: at every acceptance time it
# relinks everything then known and recounts buyers from scratch.


def _reference_buyers(rows: list[PurchaseRecord]) -> tuple[dict[int, frozenset[str]], dict[int, int]]:
    """Map transaction id -> buyer (set of CIKs) and duplicate -> original, naively."""
    by_issuer: dict[str, list[PurchaseRecord]] = defaultdict(list)
    for r in rows:
        by_issuer[r.issuer_cik].append(r)
    buyer: dict[int, frozenset[str]] = {}
    dup: dict[int, int] = {}
    for issuer_rows in by_issuer.values():
        arrival = sorted(issuer_rows, key=lambda r: (r.known_at, r.accession, r.transaction_id))
        edges = [set(r.owner_ciks) for r in arrival]
        firsts: dict[tuple[object, ...], list[PurchaseRecord]] = defaultdict(list)
        nth: dict[tuple[object, ...], int] = defaultdict(int)
        for r in arrival:
            key = (r.trade_date, r.shares, r.price)
            k = nth[(r.accession, *key)]
            nth[(r.accession, *key)] += 1
            if k < len(firsts[key]):
                dup[r.transaction_id] = firsts[key][k].transaction_id
                edges.append(set(r.owner_ciks) | firsts[key][k].owner_ciks)
            else:
                firsts[key].append(r)
        components: list[set[str]] = []
        for e in edges:
            touching = [c for c in components if c & e]
            merged = set(e).union(*touching)
            components = [c for c in components if not c & e] + [merged]
        for r in issuer_rows:
            buyer[r.transaction_id] = frozenset(next(c for c in components if r.owner_ciks <= c))
    return buyer, dup


def reference_clusters(rows: list[PurchaseRecord], n: int, w: int) -> list[tuple[object, ...]]:
    births: dict[tuple[str, date], tuple[datetime, str]] = {}
    for t in sorted({r.known_at for r in rows}):
        known = [r for r in rows if r.known_at <= t]
        buyer, _ = _reference_buyers(known)
        for group in link_purchases(known, w=w):
            issuer, first, last = group[0].issuer_cik, group[0].trade_date, group[-1].trade_date
            if any(i == issuer and first <= a <= last for i, a in births):
                continue
            if len({buyer[r.transaction_id] for r in group}) < n:
                continue
            now = [r.accession for r in group if r.known_at == t]
            if not now:  # re-cut by the span limit: the filing that re-cut the run
                run = [g for g in link_purchases(known, w=w, max_span_days=10**6) if group[0] in g][0]
                now = [r.accession for r in run if r.known_at == t and r.trade_date < first]
            births[(issuer, first)] = (t, min(now))
    buyer, dup = _reference_buyers(rows)
    out = []
    for group in link_purchases(rows, w=w):
        issuer, first, last = group[0].issuer_cik, group[0].trade_date, group[-1].trade_date
        inside = sorted((t, a) for (i, a), (t, _) in births.items() if i == issuer and first <= a <= last)
        if inside:
            anchor = inside[0][1]
            members = tuple(sorted((r.transaction_id, dup.get(r.transaction_id)) for r in group))
            out.append(
                (cluster_id(issuer, anchor), *births[(issuer, anchor)], members,
                 len({buyer[r.transaction_id] for r in group}))
            )  # fmt: skip
    return out


def summary(results: list[ClusterResult]) -> list[tuple[object, ...]]:
    return [
        (
            r.cluster_id,
            r.trigger_at,
            r.trigger_accession,
            tuple(sorted((m.transaction_id, m.duplicate_of) for m in r.members)),
            r.n_buyers,
        )
        for r in results
    ]


OWNER_SETS = [{"A"}, {"B"}, {"C"}, {"D"}, {"E"}, {"A", "F"}, {"G", "H"}, {"H"}, {"I"}]


@st.composite
def purchase_sets(draw: st.DrawFn, max_filings: int = 14, max_day: int = 200) -> list[PurchaseRecord]:
    """Small issuers' worth of filings with late filings, joint filers and chain copies."""
    issuers = draw(st.sampled_from([["0000000001"], ["0000000001", "0000000002"]]))
    rows: list[PurchaseRecord] = []
    tid = 0
    for f in range(draw(st.integers(0, max_filings))):
        owners = frozenset(draw(st.sampled_from(OWNER_SETS)))
        known = T0 + timedelta(days=draw(st.integers(0, max_day + 60)), hours=draw(st.integers(0, 2)))
        issuer = draw(st.sampled_from(issuers))
        for _ in range(draw(st.integers(1, 3))):
            tid += 1
            day = draw(st.integers(0, max_day))
            shares = Decimal(draw(st.sampled_from(["100", "250", "1000"])))
            price = Decimal(draw(st.sampled_from(["10", "10.50"])))
            rows.append(
                PurchaseRecord(tid, issuer, f"acc-{f:03d}", owners, D0 + timedelta(days=day),
                               known, shares, price, shares * price)
            )  # fmt: skip
    return rows


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
rules = st.tuples(st.integers(2, 4), st.sampled_from([1, 7, 14, 30]))


class TestProperties:
    @settings(PROPERTY, max_examples=200)
    @given(purchase_sets(), rules)
    def test_matches_naive_point_in_time_reference(
        self, rows: list[PurchaseRecord], rule: tuple[int, int]
    ) -> None:
        n, w = rule
        assert summary(find_clusters(rows, n=n, w=w)) == reference_clusters(rows, n, w)

    @PROPERTY
    @given(purchase_sets(max_filings=20, max_day=400), st.sampled_from([1, 7, 14, 30, 90]))
    def test_linking_rule(self, rows: list[PurchaseRecord], w: int) -> None:
        groups = link_purchases(rows, w=w)
        assert sorted(r.transaction_id for g in groups for r in g) == sorted(r.transaction_id for r in rows)
        for g in groups:
            assert len({r.issuer_cik for r in g}) == 1
            days = [r.trade_date for r in g]
            assert days == sorted(days)
            assert all((b - a).days <= w for a, b in zip(days, days[1:], strict=False))
            assert (days[-1] - days[0]).days <= 90
        for g, h in zip(groups, groups[1:], strict=False):
            if g[0].issuer_cik != h[0].issuer_cik:
                continue
            gap = (h[0].trade_date - g[-1].trade_date).days
            assert gap > w or (h[0].trade_date - g[0].trade_date).days > 90

    @PROPERTY
    @given(purchase_sets(), rules)
    def test_static_snapshot_clusters_are_groups_with_n_buyers(
        self, rows: list[PurchaseRecord], rule: tuple[int, int]
    ) -> None:
        n, w = rule
        rows = [PurchaseRecord(**{**_fields(r), "known_at": T0}) for r in rows]
        buyer, _ = _reference_buyers(rows)
        expected = [
            g[0].trade_date
            for g in link_purchases(rows, w=w)
            if len({buyer[r.transaction_id] for r in g}) >= n
        ]
        results = find_clusters(rows, n=n, w=w)
        assert [r.first_trade_date for r in results] == expected
        assert all(r.id_date == r.first_trade_date and r.n_buyers >= n for r in results)

    @PROPERTY
    @given(purchase_sets(), purchase_sets(max_filings=6), rules)
    def test_later_known_purchases_never_move_a_trigger(
        self, rows: list[PurchaseRecord], extra: list[PurchaseRecord], rule: tuple[int, int]
    ) -> None:
        n, w = rule
        before = find_clusters(rows, n=n, w=w)
        horizon = max((r.known_at for r in rows), default=T0)
        shifted = [
            PurchaseRecord(**{**_fields(r), "transaction_id": 10_000 + r.transaction_id,
                              "accession": "late-" + r.accession, "known_at": r.known_at + (horizon - T0)
                              + timedelta(seconds=1)})
            for r in extra
        ]  # fmt: skip
        after = find_clusters(rows + shifted, n=n, w=w)
        by_id = {r.cluster_id: r for r in after}
        for old in before:
            assert old.n_buyers_at_trigger >= n
            if old.cluster_id in by_id:
                new = by_id[old.cluster_id]
                assert (new.trigger_at, new.trigger_accession) == (old.trigger_at, old.trigger_accession)
            else:  # merged into an earlier-born cluster, which lists the old id as an alias
                holder = next(r for r in after if old.cluster_id in r.alias_ids)
                assert holder.trigger_at <= old.trigger_at
            holder = next(r for r in after if old.cluster_id in (r.cluster_id, *r.alias_ids))
            old_members = {m.transaction_id for m in old.members}
            assert holder.first_trade_date <= old.id_date <= holder.last_trade_date
            assert old_members & {m.transaction_id for m in holder.members}

    @PROPERTY
    @given(purchase_sets(), rules, st.randoms(use_true_random=False))
    def test_results_independent_of_input_order(
        self, rows: list[PurchaseRecord], rule: tuple[int, int], rnd: random.Random
    ) -> None:
        n, w = rule
        expected = find_clusters(rows, n=n, w=w)
        shuffled = list(rows)
        rnd.shuffle(shuffled)
        assert find_clusters(shuffled, n=n, w=w) == expected
        assert find_clusters(rows, n=n, w=w) == expected
        keys = [(r.issuer_cik, r.first_trade_date) for r in expected]
        assert keys == sorted(keys)
        assert len({r.cluster_id for r in expected}) == len(expected)


class TestIssuerBuyers:
    """The screener's buyers: DESIGN §2 applied with every filing of the issuer known."""

    def test_joint_filers_and_shared_ciks_are_one_buyer(self) -> None:
        joint = buy("acc-1", {"fund", "gp", "manager"}, 0, 0)
        gp_alone = buy("acc-2", "gp", 30, 30)  # shares a CIK with the joint filing, months later
        other = buy("acc-3", "alice", 1, 1)
        buyers = issuer_buyers([joint, gp_alone, other])
        assert buyers[joint.transaction_id].buyer == ("fund", "gp", "manager")
        assert buyers[gp_alone.transaction_id].buyer == ("fund", "gp", "manager")
        assert buyers[other.transaction_id].buyer == ("alice",)
        assert all(b.duplicate_of is None for b in buyers.values())

    def test_chain_copies_of_a_block_join_the_first_buyer_and_are_marked(self) -> None:
        first = buy("acc-1", "fund-a", 0, 0, shares="500", price="12.5")
        copy = buy("acc-2", "fund-b", 0, 1, shares="500", price="12.5")
        other_block = buy("acc-3", "fund-c", 0, 1, shares="501", price="12.5")
        buyers = issuer_buyers([copy, other_block, first])  # input order does not matter
        assert buyers[copy.transaction_id] == PurchaseBuyer(("fund-a", "fund-b"), first.transaction_id)
        assert buyers[first.transaction_id] == PurchaseBuyer(("fund-a", "fund-b"), None)
        assert buyers[other_block.transaction_id] == PurchaseBuyer(("fund-c",), None)

    def test_identical_tranches_in_one_filing_are_not_copies(self) -> None:
        a1 = buy("acc-1", "alice", 0, 0, tid=1)
        a2 = buy("acc-1", "alice", 0, 0, tid=2)
        b1 = buy("acc-2", "bob", 0, 1, tid=3)  # repeats the first tranche only
        buyers = issuer_buyers([a1, a2, b1])
        assert [buyers[i].duplicate_of for i in (1, 2, 3)] == [None, None, 1]

    def test_issuers_are_resolved_separately(self) -> None:
        a = buy("acc-1", "fund", 0, 0, issuer="0000000001")
        b = buy("acc-2", "fund", 0, 1, issuer="0000000002")  # same block, another issuer
        buyers = issuer_buyers([a, b])
        assert buyers[b.transaction_id].duplicate_of is None

    @given(
        st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(1, 3)), min_size=1, max_size=30)
    )
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_final_cluster_buyers_agree_with_the_issuer_view(self, spec: list[tuple[int, int, int]]) -> None:
        # Every cluster's buyers, once all its filings are known, are unions the issuer view also makes:
        # two members the replay calls one buyer are one buyer here too.
        rows = [
            buy(f"acc-{k}", f"owner-{owner}", day, k, shares=str(100 * size))
            for k, (owner, day, size) in enumerate(spec)
        ]
        buyers = issuer_buyers(rows)
        for result in find_clusters(rows, n=2, w=14):
            by_replay: dict[tuple[str, ...], set[tuple[str, ...]]] = defaultdict(set)
            for m in result.members:
                by_replay[m.buyer].add(buyers[m.transaction_id].buyer)
            assert all(len(keys) == 1 for keys in by_replay.values())

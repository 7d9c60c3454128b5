"""A rule computed on request (the screener's N and W): the runs and groups that settle most companies,
the replay restricted to runs touching the window, and the stored owner sets it reads, give exactly the
members a full point-in-time replay of every purchase gives. Random filings through the real ingest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from app.db import session_scope
from app.models import EligiblePurchase, FilingOwner
from app.repositories import screener as screener_repo
from app.schemas.performance import PerformanceFilters
from app.schemas.screener import ScreenerFilters
from app.services import clustering as clustering_service
from app.services import performance_slices
from app.services import screener as screener_service
from app.services.clustering_core import DEFAULT_N, DEFAULT_W, ClusterResult
from tests.factories import (
    Doc,
    Owner,
    Tx,
    form4_xml,
    ingest_submissions,
    random_purchase_filings,
    submission_txt,
)


def _full_replay_members(session, f: ScreenerFilters, rf, totals) -> dict[int, str]:
    """The reference: the whole history of the window's companies replayed, then the members filed in
    the window and selected by the row filter."""
    ciks = [t.issuer_cik for t in totals]
    results = clustering_service.clusters_for_rule(session, n=f.n, w=f.w, issuer_ciks=ciks) if ciks else []
    members = {m.transaction_id: r.issuer_cik for r in results for m in r.members}
    window_ids = {i for i, _, _ in screener_repo.purchase_dates(session, rf)}
    return {i: cik for i, cik in members.items() if i in window_ids}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rule_on_request_matches_the_full_replay(clean_engine: Engine, tmp_path: Path, seed: int) -> None:
    ingest_submissions(clean_engine, tmp_path, random_purchase_filings(seed))
    now = datetime(2024, 11, 20, tzinfo=UTC)
    checked = met = 0
    kinds: set[str] = set()
    with session_scope(clean_engine) as s:
        for n, w in [(2, 3), (2, 30), (3, 14), (4, 60), (3, 90), (10, 1)]:
            for query in (
                {"days": 60},
                {"days": 200},
                {"from": "2024-03-01", "to": "2024-05-31"},
                {"days": 200, "role": "director"},
                {"days": 120, "min_price": "12"},
                {"days": 200, "q": "rnd1"},
            ):
                f = ScreenerFilters.model_validate({**query, "n": n, "w": w})
                rf = screener_service.row_filter(s, f, screener_service.window_of(f, now))
                totals = screener_repo.issuer_totals(
                    s,
                    rf,
                    ten_percent_bit=screener_service.TEN_PERCENT_BIT,
                    management_mask=screener_service.MANAGEMENT_MASK,
                )
                expected = _full_replay_members(s, f, rf, totals)
                if (n, w) == (DEFAULT_N, DEFAULT_W):
                    # The stored default rule is the same whole-history replay.
                    stored = screener_repo.purchase_dates(s, replace(rf, default_cluster_only=True))
                    assert expected == {i: cik for i, cik, _ in stored}
                issuers = screener_repo.matching_issuers(s, rf)
                assert issuers == sorted(t.issuer_cik for t in totals)
                assert screener_service.rule_members(s, f, rf, issuers) == expected, (n, w, query)
                assert screener_service.rule_issuers(s, f, rf, issuers) == set(expected.values()), (
                    n,
                    w,
                    query,
                )
                # Every issuer with a purchase filed in the window looked at (None), the filters apply.
                assert screener_service.rule_members(s, f, rf, None) == expected, (n, w, query)
                assert screener_service.rule_issuers(s, f, rf, None) == set(expected.values()), (n, w, query)
                # A company's result does not depend on which other companies are looked at (a sector
                # or text filter, another window's late filings).
                some = issuers[::2]
                assert screener_service.rule_members(s, f, rf, some) == {
                    i: cik for i, cik in expected.items() if cik in some
                }, (n, w, query)
                checked += 1
                met += bool(expected)
                if issuers:
                    purchases = screener_repo.rule_purchases(
                        s, issuer_ciks=issuers, since=rf.since, until=rf.until, w=w
                    )
                    whole, unsettled = screener_service.settle_groups(purchases, n=n, w=w)
                    kinds.update(["whole"] * bool(whole) + ["replayed"] * bool(unsettled))
    # The data exercises the rule: most combinations find members, some none; some groups are settled as
    # whole clusters, some issuers replayed.
    assert checked == 36
    assert 10 <= met < checked
    assert kinds == {"whole", "replayed"}


def test_stored_owner_sets_and_names_follow_the_filing(clean_engine: Engine, tmp_path: Path) -> None:
    ingest_submissions(clean_engine, tmp_path, random_purchase_filings(4))
    with session_scope(clean_engine) as s:
        owners: dict[str, list[FilingOwner]] = {}
        for o in s.scalars(select(FilingOwner).order_by(FilingOwner.position)):
            owners.setdefault(o.accession, []).append(o)
        facts = list(s.scalars(select(EligiblePurchase)))
        assert facts
        for p in facts:
            filers = owners[p.accession]
            assert p.owner_ciks == "+".join(sorted(o.owner_cik for o in filers))
            assert p.owner_names == "\n".join(o.name_as_filed or o.owner_cik for o in filers)
        assert any("+" in p.owner_ciks for p in facts)  # the joint filings


def test_another_rule_on_the_performance_page_is_the_whole_history_replay(
    clean_engine: Engine, tmp_path: Path
) -> None:
    """/performance with another N/W and dates: the clusters triggered then, each as a replay of every
    purchase finds it (same members, trigger and total, even when its run starts long before the dates
    or later purchases join it after them)."""
    ingest_submissions(clean_engine, tmp_path, random_purchase_filings(5))
    compared = 0
    with session_scope(clean_engine) as s:
        for n, w in [(2, 30), (3, 90), (2, 3), (4, 60)]:
            everything = clustering_service.clusters_for_rule(s, n=n, w=w)
            for start, end in [
                (date(2024, 3, 1), date(2024, 5, 31)),
                (date(2024, 6, 15), None),
                (None, date(2024, 4, 30)),
                (date(2024, 8, 1), date(2024, 8, 31)),
            ]:
                filters = PerformanceFilters.model_validate({"n": n, "w": w, "from": start, "to": end})
                bounds = performance_slices.filter_bounds(filters)
                expected = [
                    r
                    for r in everything
                    if (start is None or r.trigger_at >= bounds["trigger_from"])
                    and (end is None or r.trigger_at < bounds["trigger_until"])
                ]
                got = performance_slices.custom_rule_clusters(s, filters)

                def key(r: ClusterResult) -> tuple[object, ...]:
                    ids = tuple(sorted(m.transaction_id for m in r.members))
                    return (r.cluster_id, r.trigger_at, r.total_value, ids)

                assert sorted(map(key, got)) == sorted(map(key, expected)), (n, w, start, end)
                compared += len(expected)
    assert compared > 20


def test_filers_linked_long_before_the_window_are_one_buyer(clean_engine: Engine, tmp_path: Path) -> None:
    """A fund and its GP filed one joint Form 4 a year earlier: when each later buys on its own, they are
    still one buyer, so with an insider they are two buyers, not the three a rule of N=3 needs."""
    fund = Owner("0000008101", "FUND LP", ten_percent=True)
    gp = Owner("0000008102", "FUND GP LLC", ten_percent=True)
    insider = Owner("0000008103", "JANE INSIDER", director=True)
    filings = [
        ("2023-03-01", [fund, gp], "100"),  # the joint filing: one buyer from then on
        ("2024-03-01", [fund], "200"),
        ("2024-03-04", [gp], "300"),
        ("2024-03-06", [insider], "400"),
    ]
    files: dict[str, bytes] = {}
    for i, (day, owners, shares) in enumerate(filings):
        doc = Doc(
            issuer_cik="0000008100",
            ticker="LNKD",
            owners=owners,
            period=day,
            transactions=[Tx(shares=shares, price="10.00", trade_date=day)],
        )
        accession = f"0000008100-24-{i:06d}"
        files[f"{accession}.txt"] = submission_txt(
            form4_xml(doc), accession=accession, accepted_at_et=f"{day}T18:00:00"
        )
    ingest_submissions(clean_engine, tmp_path, files)
    window = (datetime(2024, 2, 1, tzinfo=UTC), None)
    with session_scope(clean_engine) as s:
        for n, expected in [(3, 0), (2, 1)]:
            whole = clustering_service.clusters_for_rule(s, n=n, w=14, issuer_ciks=["0000008100"])
            found = clustering_service.clusters_for_rule(
                s, n=n, w=14, issuer_ciks=["0000008100"], filed_between=window
            )
            assert len(found) == expected
            assert [(r.cluster_id, r.n_buyers_at_trigger, r.total_value) for r in found] == [
                (r.cluster_id, r.n_buyers_at_trigger, r.total_value) for r in whole
            ]

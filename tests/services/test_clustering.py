"""Cluster semantics (DESIGN §2) on filings written for the tests, through parse -> store -> materialize."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from app.db import session_scope
from app.models import Cluster, ClusterMember
from app.services import clustering as clustering_service
from tests.factories import Doc, Owner, Tx, form4_xml, ingest_submissions, purchase_filing, submission_txt


def _clusters(engine: Engine) -> list[Cluster]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Cluster).order_by(Cluster.id)))


def _members(engine: Engine, cluster_id: str) -> list[ClusterMember]:
    with session_scope(engine) as s:
        return list(s.scalars(select(ClusterMember).where(ClusterMember.cluster_id == cluster_id)))


ALICE = Owner("0000000101", "ALICE A", officer=True, title="Chief Executive Officer")
BOB = Owner("0000000102", "BOB B", director=True)
CAROL = Owner("0000000103", "CAROL C", officer=True, title="EVP, Chief Financial Officer")
DAVE = Owner("0000000104", "DAVE D", director=True)


def _three_buyers() -> dict[str, bytes]:
    return {
        "a.txt": purchase_filing(
            "0000000101-24-000001",
            "2024-03-05T16:30:00",
            owners=[ALICE],
            trade_date="2024-03-04",
            shares="1000",
            price="10.00",
        ),
        "b.txt": purchase_filing(
            "0000000102-24-000001",
            "2024-03-08T18:00:00",
            owners=[BOB],
            trade_date="2024-03-07",
            shares="2000",
            price="10.50",
        ),
        "c.txt": purchase_filing(
            "0000000103-24-000001",
            "2024-03-13T09:15:00",
            owners=[CAROL],
            trade_date="2024-03-12",
            shares="500",
            price="11.00",
        ),
    }


class TestDefaultRule:
    def test_three_distinct_insiders_within_w_make_one_cluster(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        ingest_submissions(clean_engine, tmp_path, _three_buyers())
        (cluster,) = _clusters(clean_engine)
        assert cluster.id == "0000001234-2024-03-04"
        assert cluster.n_buyers == 3
        # Trigger: the acceptance of the third buyer's filing, 09:15 EDT on 2024-03-13 = 13:15 UTC.
        assert cluster.trigger_accession == "0000000103-24-000001"
        assert cluster.trigger_at == datetime(2024, 3, 13, 13, 15, tzinfo=UTC)
        assert cluster.trigger_week == "2024-W11"
        assert cluster.total_value == Decimal("36500")  # 10,000 + 21,000 + 5,500
        assert cluster.total_shares == Decimal("3500")
        assert cluster.avg_price == Decimal("10.4286")
        assert cluster.first_trade_date.isoformat() == "2024-03-04"
        assert cluster.last_trade_date.isoformat() == "2024-03-12"
        assert cluster.roles == ["CEO", "CFO", "officer", "director"]

    def test_two_buyers_are_not_a_cluster(self, clean_engine: Engine, tmp_path: Path) -> None:
        files = _three_buyers()
        files.pop("c.txt")
        ingest_submissions(clean_engine, tmp_path, files)
        assert _clusters(clean_engine) == []

    def test_a_gap_longer_than_w_splits_the_group(self, clean_engine: Engine, tmp_path: Path) -> None:
        files = _three_buyers()
        files["c.txt"] = purchase_filing(
            "0000000103-24-000001", "2024-03-23T09:15:00", owners=[CAROL], trade_date="2024-03-22"
        )  # 15 days after Bob's trade
        ingest_submissions(clean_engine, tmp_path, files)
        assert _clusters(clean_engine) == []

    def test_joint_filers_of_one_filing_count_as_one_buyer(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        fund, gp, manager = (
            Owner(f"00000009{i:02d}", f"FUND ENTITY {i}", ten_percent=True) for i in range(3)
        )
        files = {
            "joint.txt": purchase_filing(
                "0000000900-24-000001",
                "2024-03-05T16:30:00",
                owners=[fund, gp, manager],
                trade_date="2024-03-04",
            ),
            "b.txt": _three_buyers()["b.txt"],
        }
        ingest_submissions(clean_engine, tmp_path, files)
        assert _clusters(clean_engine) == []  # only two buyers

    def test_filings_sharing_an_owner_are_one_buyer(self, clean_engine: Engine, tmp_path: Path) -> None:
        files = _three_buyers()
        # Carol's filing also names Alice (a joint filing): she is then the same buyer as Alice.
        files["c.txt"] = purchase_filing(
            "0000000103-24-000001", "2024-03-13T09:15:00", owners=[CAROL, ALICE], trade_date="2024-03-12"
        )
        ingest_submissions(clean_engine, tmp_path, files)
        assert _clusters(clean_engine) == []

    def test_the_same_block_filed_by_each_entity_of_a_chain_counts_once(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        chain = [Owner(f"00000008{i:02d}", f"CHAIN ENTITY {i}", ten_percent=True) for i in range(3)]
        files = {
            f"chain{i}.txt": purchase_filing(
                f"0000000800-24-00000{i}",
                f"2024-03-05T16:3{i}:00",
                owners=[o],
                trade_date="2024-03-04",
                shares="10000",
                price="5.00",
            )
            for i, o in enumerate(chain)
        }
        files["b.txt"] = _three_buyers()["b.txt"]
        files["c.txt"] = _three_buyers()["c.txt"]
        ingest_submissions(clean_engine, tmp_path, files)
        (cluster,) = _clusters(clean_engine)
        assert cluster.n_buyers == 3  # the chain is one buyer, plus Bob and Carol
        assert cluster.total_value == Decimal("50000") + Decimal("21000") + Decimal("5500")
        members = _members(clean_engine, cluster.id)
        assert sum(1 for m in members if m.duplicate_of is not None) == 2

    def test_a_restating_amendment_does_not_double_count(self, clean_engine: Engine, tmp_path: Path) -> None:
        files = _three_buyers()
        amended = Doc(
            owners=[BOB],
            document_type="4/A",
            period="2024-03-07",
            original_date="2024-03-08",
            transactions=[Tx(shares="2000", price="10.50", trade_date="2024-03-07")],
        )
        files["b_amend.txt"] = submission_txt(
            form4_xml(amended),
            accession="0000000102-24-000002",
            accepted_at_et="2024-03-11T10:00:00",
            form_type="4/A",
        )
        ingest_submissions(clean_engine, tmp_path, files)
        (cluster,) = _clusters(clean_engine)
        assert cluster.total_value == Decimal("36500")
        assert "amended" in cluster.flags
        assert len(_members(clean_engine, cluster.id)) == 3

    def test_a_derivative_table_purchase_never_counts(self, clean_engine: Engine, tmp_path: Path) -> None:
        files = _three_buyers()
        calls = Doc(
            owners=[CAROL],
            period="2024-03-12",
            transactions=[Tx(code="P", table="derivative", trade_date="2024-03-12")],
        )
        files["c.txt"] = submission_txt(
            form4_xml(calls), accession="0000000103-24-000001", accepted_at_et="2024-03-13T09:15:00"
        )
        ingest_submissions(clean_engine, tmp_path, files)
        assert _clusters(clean_engine) == []

    def test_footnote_only_price_is_used_and_flagged(self, clean_engine: Engine, tmp_path: Path) -> None:
        files = _three_buyers()
        ranged = Doc(
            owners=[CAROL],
            period="2024-03-12",
            transactions=[Tx(shares="500", price=None, price_footnote="F1", trade_date="2024-03-12")],
            footnotes={"F1": "Weighted average; prices ranged from $10.80 to $11.20."},
        )
        files["c.txt"] = submission_txt(
            form4_xml(ranged), accession="0000000103-24-000001", accepted_at_et="2024-03-13T09:15:00"
        )
        ingest_submissions(clean_engine, tmp_path, files)
        (cluster,) = _clusters(clean_engine)
        assert cluster.total_value == Decimal("36500")  # midpoint 11.00 x 500
        assert "price_from_footnote" in cluster.flags

    def test_later_purchases_extend_the_cluster_but_never_move_its_trigger(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        ingest_submissions(clean_engine, tmp_path, _three_buyers())
        (before,) = _clusters(clean_engine)
        later = {
            "d.txt": purchase_filing(
                "0000000104-24-000001",
                "2024-03-20T12:00:00",
                owners=[DAVE],
                trade_date="2024-03-19",
                shares="100",
                price="12.00",
            )
        }
        ingest_submissions(clean_engine, tmp_path, later)
        (after,) = _clusters(clean_engine)
        assert after.id == before.id
        assert (after.trigger_at, after.trigger_accession) == (before.trigger_at, before.trigger_accession)
        assert after.n_buyers == 4
        assert after.last_trade_date.isoformat() == "2024-03-19"
        assert after.total_value == before.total_value + Decimal("1200")
        # Weekly ranking counts only what was filed by the end of the trigger week (2024-W11).
        assert after.week_value == before.week_value == Decimal("36500")

    def test_ids_survive_reingest_and_full_recompute(self, clean_engine: Engine, tmp_path: Path) -> None:
        ingest_submissions(clean_engine, tmp_path, _three_buyers())
        first = [(c.id, c.trigger_at, c.total_value) for c in _clusters(clean_engine)]
        ingest_submissions(clean_engine, tmp_path, _three_buyers())
        with session_scope(clean_engine, write=True) as s:
            clustering_service.refresh_all(s)
        assert [(c.id, c.trigger_at, c.total_value) for c in _clusters(clean_engine)] == first


@pytest.mark.parametrize(
    ("n", "w", "expected"),
    [
        pytest.param(2, 14, 1, id="n2-one-cluster"),
        pytest.param(3, 14, 1, id="default"),
        pytest.param(4, 14, 0, id="n4-none"),
        pytest.param(3, 3, 0, id="w3-splits"),
    ],
)
def test_any_rule_on_request(clean_engine: Engine, tmp_path: Path, n: int, w: int, expected: int) -> None:
    ingest_submissions(clean_engine, tmp_path, _three_buyers())
    with session_scope(clean_engine) as s:
        assert len(clustering_service.clusters_for_rule(s, n=n, w=w)) == expected

"""Storing parsed filings: derived fields, idempotency, amendments, concurrency (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

from app.db import session_scope
from app.ingest import form4_parser
from app.ingest.files import ingest_files
from app.models import Filing, Holding, IngestError, InsiderTransaction
from tests.dbdump import canonical_dump
from tests.factories import Doc, Hold, Owner, Tx, form4_xml, submission_txt
from tests.stable_dump import stable_dump

MAX = 5_000_000


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _rows(engine: Engine) -> list[InsiderTransaction]:
    with session_scope(engine) as s:
        return list(
            s.scalars(
                select(InsiderTransaction).order_by(
                    InsiderTransaction.accession, InsiderTransaction.tx_table, InsiderTransaction.doc_index
                )
            )
        )


class TestStoreFiling:
    def test_purchase_gets_value_eligibility_and_known_at(self, clean_engine: Engine, tmp_path: Path) -> None:
        doc = Doc(
            owners=[Owner("0000000101", officer=True, title="Chief Executive Officer")],
            transactions=[Tx(shares="1,500", price="12.3456", after="11500")],
        )
        path = _write(
            tmp_path,
            "a.txt",
            submission_txt(
                form4_xml(doc), accession="0000000101-24-000001", accepted_at_et="2024-03-05T17:45:12"
            ),
        )
        report = ingest_files([path], engine=clean_engine, max_bytes=MAX)
        assert (report.stored, report.rejected) == (1, 0)
        (row,) = _rows(clean_engine)
        assert row.shares == Decimal("1500")
        assert row.price == Decimal("12.3456")
        assert row.value == Decimal("18518.400000")
        assert row.shares_owned_before == Decimal("10000")
        assert row.is_eligible_purchase is True
        with session_scope(clean_engine) as s:
            filing = s.get(Filing, "0000000101-24-000001")
            assert filing is not None
            # 17:45:12 EST on 2024-03-05 is 22:45:12 UTC.
            assert filing.accepted_at == datetime(2024, 3, 5, 22, 45, 12, tzinfo=UTC)
            assert filing.known_at == filing.accepted_at
            assert filing.known_at_source == "accepted"

    def test_footnote_only_price_uses_range_midpoint_and_is_flagged(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        doc = Doc(
            transactions=[Tx(shares="100", price=None, price_footnote="F1")],
            footnotes={
                "F1": "The price reported is a weighted average price. These shares were purchased "
                "in multiple transactions at prices ranging from $10.00 to $11.00, inclusive."
            },
        )
        path = _write(tmp_path, "0000000101-24-000002.xml", form4_xml(doc))
        ingest_files([path], engine=clean_engine, max_bytes=MAX)
        (row,) = _rows(clean_engine)
        assert row.price is None
        assert (row.price_low, row.price_high) == (Decimal("10.00"), Decimal("11.00"))
        assert row.price_source == "footnote_range"
        assert row.value == Decimal("1050.000000")
        assert row.is_eligible_purchase is True

    def test_non_purchases_are_not_eligible(self, clean_engine: Engine, tmp_path: Path) -> None:
        doc = Doc(
            transactions=[
                Tx(code="P", table="derivative"),  # buying calls is not buying stock
                Tx(code="P", equity_swap=True),
                Tx(code="S", acquired_disposed="D"),
                Tx(code="A", price="0"),
                Tx(code="P", price="0"),
            ]
        )
        path = _write(tmp_path, "0000000101-24-000003.xml", form4_xml(doc))
        ingest_files([path], engine=clean_engine, max_bytes=MAX)
        assert [r.is_eligible_purchase for r in _rows(clean_engine)] == [False, False, False, False, False]

    def test_bare_xml_without_header_gets_deadline_estimate(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        doc = Doc(period="2024-03-08", transactions=[Tx(trade_date="2024-03-08")])  # a Friday
        path = _write(tmp_path, "0000000101-24-000004.xml", form4_xml(doc))
        ingest_files([path], engine=clean_engine, max_bytes=MAX)
        with session_scope(clean_engine) as s:
            filing = s.get(Filing, "0000000101-24-000004")
            assert filing is not None
            assert filing.accepted_at is None
            assert filing.known_at_source == "deadline"
            # Two business days after Friday 2024-03-08 is Tuesday 03-12; 22:00 EDT = 02:00 UTC next day.
            assert filing.known_at == datetime(2024, 3, 13, 2, 0, tzinfo=UTC)


class TestIdempotency:
    def test_reingest_changes_nothing(self, clean_engine: Engine, tmp_path: Path) -> None:
        doc = Doc(
            transactions=[Tx(), Tx(shares="5", price="11")], holdings=[Hold()], footnotes={"F1": "By spouse"}
        )
        path = _write(
            tmp_path,
            "x.txt",
            submission_txt(
                form4_xml(doc), accession="0000000101-24-000010", accepted_at_et="2024-03-05T10:00:00"
            ),
        )
        first = ingest_files([path], engine=clean_engine, max_bytes=MAX)
        before = canonical_dump(clean_engine)
        second = ingest_files([path], engine=clean_engine, max_bytes=MAX)
        assert (first.stored, second.unchanged, second.stored) == (1, 1, 0)
        assert canonical_dump(clean_engine) == before

    def test_rejected_document_is_recorded_and_the_run_goes_on(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        bad = _write(tmp_path, "0000000101-24-000020.xml", b"<html><body>Not found</body></html>")
        good = _write(tmp_path, "0000000101-24-000021.xml", form4_xml(Doc(transactions=[Tx()])))
        report = ingest_files([bad, good], engine=clean_engine, max_bytes=MAX)
        assert (report.stored, report.rejected) == (1, 1)
        with session_scope(clean_engine) as s:
            (error,) = s.scalars(select(IngestError)).all()
            assert error.accession == "0000000101-24-000020"
            assert error.stage == "parse"
            assert error.reason
        # Ingesting the bad file again counts the repeat instead of adding a row.
        ingest_files([bad], engine=clean_engine, max_bytes=MAX)
        with session_scope(clean_engine) as s:
            assert s.scalar(select(func.count()).select_from(IngestError)) == 1
            assert s.scalar(select(IngestError.occurrences)) == 2

    def test_two_concurrent_ingests_leave_no_duplicates(self, clean_engine: Engine, tmp_path: Path) -> None:
        paths = []
        for i in range(12):
            doc = Doc(owners=[Owner(f"00000002{i:02d}")], transactions=[Tx(shares=str(100 + i))])
            paths.append(_write(tmp_path, f"0000000200-24-0000{i:02d}.xml", form4_xml(doc)))
        errors: list[BaseException] = []

        def run() -> None:
            try:
                ingest_files(paths, engine=clean_engine, max_bytes=MAX)
            except BaseException as exc:  # surface thread failures in the test
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with session_scope(clean_engine) as s:
            assert s.scalar(select(func.count()).select_from(Filing)) == 12
            assert s.scalar(select(func.count()).select_from(InsiderTransaction)) == 12


ORIGINAL = Doc(
    owners=[Owner("0000000101", director=True)],
    period="2024-03-04",
    transactions=[Tx(shares="1000", price="10.00"), Tx(shares="500", price="10.50")],
    holdings=[Hold(shares="300")],
)
# The amendment corrects the purchases (one row, different count) and says nothing about holdings.
AMENDMENT = Doc(
    owners=[Owner("0000000101", director=True)],
    document_type="4/A",
    period="2024-03-04",
    original_date="2024-03-05",
    transactions=[Tx(shares="1200", price="10.00")],
)


def _amendment_files(tmp_path: Path) -> tuple[Path, Path]:
    original = _write(
        tmp_path,
        "orig.txt",
        submission_txt(
            form4_xml(ORIGINAL), accession="0000000101-24-000100", accepted_at_et="2024-03-05T16:00:00"
        ),
    )
    amendment = _write(
        tmp_path,
        "amend.txt",
        submission_txt(
            form4_xml(AMENDMENT),
            accession="0000000101-24-000200",
            accepted_at_et="2024-03-07T09:00:00",
            form_type="4/A",
        ),
    )
    return original, amendment


class TestAmendments:
    def test_amendment_supersedes_only_the_sections_it_restates(
        self, clean_engine: Engine, tmp_path: Path
    ) -> None:
        original, amendment = _amendment_files(tmp_path)
        ingest_files([original, amendment], engine=clean_engine, max_bytes=MAX)
        rows = _rows(clean_engine)
        assert [(r.accession, r.shares, r.superseded_by, r.is_eligible_purchase) for r in rows] == [
            ("0000000101-24-000100", Decimal("1000"), "0000000101-24-000200", False),
            ("0000000101-24-000100", Decimal("500"), "0000000101-24-000200", False),
            ("0000000101-24-000200", Decimal("1200"), None, True),
        ]
        with session_scope(clean_engine) as s:
            (holding,) = s.scalars(select(Holding)).all()
            assert holding.superseded_by is None  # the amendment did not restate holdings
            assert s.get(Filing, "0000000101-24-000200").amends_accession == "0000000101-24-000100"

    def test_either_arrival_order_gives_the_same_state(self, clean_engine: Engine, tmp_path: Path) -> None:
        original, amendment = _amendment_files(tmp_path)
        ingest_files([original, amendment], engine=clean_engine, max_bytes=MAX)
        # Rows get other surrogate ids in the other order: compare them by their natural keys.
        in_order = stable_dump(clean_engine, skip_tables=frozenset({"ingest_error"}))
        from tests.conftest import truncate_all

        truncate_all(clean_engine)
        ingest_files([amendment, original], engine=clean_engine, max_bytes=MAX)
        assert stable_dump(clean_engine, skip_tables=frozenset({"ingest_error"})) == in_order

    def test_amendment_without_its_original_stays_live(self, clean_engine: Engine, tmp_path: Path) -> None:
        _, amendment = _amendment_files(tmp_path)
        ingest_files([amendment], engine=clean_engine, max_bytes=MAX)
        (row,) = _rows(clean_engine)
        assert row.superseded_by is None
        assert row.is_eligible_purchase is True


def test_parser_output_round_trips_through_store(db_session, tmp_path: Path) -> None:
    """The store works inside a caller-owned transaction (rolled back by the fixture)."""
    from app.ingest.store import store_filing

    data = submission_txt(
        form4_xml(Doc(transactions=[Tx()])),
        accession="0000000101-24-000300",
        accepted_at_et="2024-03-05T12:00:00",
    )
    outcome = store_filing(db_session, form4_parser.parse(data), source="submission", source_ref=None)
    assert outcome == "stored"
    assert db_session.scalar(select(func.count()).select_from(InsiderTransaction)) == 1

"""import-bulk: a small complete data set (written for the tests) into SQLite and PostgreSQL."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from app.db import session_scope
from app.ingest import bulk_import, form4_parser
from app.ingest.bulk_import import import_bulk
from app.ingest.files import store_with_retry
from app.models import Filing, IngestError, InsiderTransaction
from tests.conftest import truncate_all
from tests.dbdump import canonical_dump
from tests.factories import Owner, purchase_filing
from tests.ingest.test_bulk_datasets import A, base_tables, write_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "2025q2_form345", base_tables())


def _tx_count(engine: Engine, accession: str | None = None) -> int:
    stmt = select(func.count()).select_from(InsiderTransaction)
    if accession:
        stmt = stmt.where(InsiderTransaction.accession == accession)
    with session_scope(engine) as s:
        return s.scalar(stmt) or 0


class TestImportBulk:
    def test_import_then_reimport_changes_nothing(self, clean_engine: Engine, dataset: Path) -> None:
        first = import_bulk(dataset, clean_engine, batch_size=2)
        after_first = canonical_dump(clean_engine)
        again = import_bulk(dataset, clean_engine, batch_size=2)
        assert (first.filings, first.stored, first.failed) == (5, 5, 0)
        assert (again.unchanged, again.stored, again.updated) == (5, 0, 0)
        assert canonical_dump(clean_engine) == after_first
        with session_scope(clean_engine) as s:
            filing = s.get(Filing, A)
            assert filing is not None
            # Data sets carry no acceptance time: known at 22:00 ET on the filing date, and marked so.
            assert (filing.source, filing.accepted_at, filing.known_at_source) == ("bulk", None, "filed_date")

    def test_filing_stored_from_edgar_is_not_duplicated(self, clean_engine: Engine, dataset: Path) -> None:
        body = purchase_filing(
            A,
            "2025-04-02T17:45:00",
            owners=[Owner("0001500001")],
            trade_date="2025-03-31",
            issuer_cik="0000320193",
        )
        store_with_retry(clean_engine, form4_parser.parse(body), source="submission", source_ref="edgar")
        report = import_bulk(dataset, clean_engine)
        assert (report.stored, report.unchanged) == (4, 1)
        with session_scope(clean_engine) as s:
            filing = s.get(Filing, A)
            assert filing is not None
            assert (filing.source, filing.known_at_source) == ("submission", "accepted")
        assert _tx_count(clean_engine, A) == 1  # the submission's one row, not the data set's

    def test_a_failing_batch_is_redone_filing_by_filing(
        self, clean_engine: Engine, dataset: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import_bulk(dataset, clean_engine, batch_size=10)
        expected = canonical_dump(clean_engine)
        truncate_all(clean_engine)

        def broken(*_args: object, **_kw: object) -> None:
            raise RuntimeError("simulated batch failure")

        monkeypatch.setattr(bulk_import, "store_filings", broken)
        report = import_bulk(dataset, clean_engine, batch_size=10)
        assert (report.batches_redone, report.stored, report.failed) == (1, 5, 0)
        assert canonical_dump(clean_engine) == expected

    def test_cli_imports_a_zip_and_rejects_a_partial_folder(
        self,
        clean_engine: Engine,
        dataset: Path,
        tmp_path: Path,
        samples_dir: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from app.cli import cli
        from app.config import get_settings

        archive = tmp_path / "2025q2_form345.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for path in dataset.iterdir():
                zf.write(path, f"2025q2_form345/{path.name}")
        monkeypatch.setenv("DATABASE_URL", clean_engine.url.render_as_string(hide_password=False))
        get_settings.cache_clear()
        try:
            runner = CliRunner()
            ok = runner.invoke(cli, ["import-bulk", str(archive)])
            # The shared real samples are partial (no SUBMISSION.tsv): a clear message, exit 2.
            partial = runner.invoke(cli, ["import-bulk", str(samples_dir / "bulk" / "2024q4_form345")])
        finally:
            get_settings.cache_clear()
        assert ok.exit_code == 0, ok.output
        assert "5 stored" in ok.output
        assert partial.exit_code == 2
        assert "SUBMISSION.tsv not found" in partial.output
        with session_scope(clean_engine) as s:
            assert s.scalar(select(func.count()).select_from(Filing)) == 5
            assert s.scalar(select(func.count()).select_from(IngestError)) == 0

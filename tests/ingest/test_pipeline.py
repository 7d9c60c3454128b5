"""Fetch → parse → store against the local EDGAR server (real HTTP), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from app.config import Settings
from app.db import session_scope
from app.ingest.daily_index import parse_form_index
from app.ingest.pipeline import FilingRef, dedupe, ingest_filings
from app.ingest.sec_client import EdgarClient
from app.models import Cluster, Filing, IngestError, InsiderTransaction
from tests.edgar_server import EdgarServer, layout_samples, threshold
from tests.ingest.conftest import TEST_USER_AGENT
from tests.ingest.mirror import MirrorFiling, document

DAY = date(2020, 3, 18)


def _filings(n: int, *, issuer: str = "0000001234") -> list[MirrorFiling]:
    return [
        MirrorFiling(
            accession=f"0000{900000 + i}-20-{i:06d}",
            issuer_cik=issuer,
            owner_cik=f"{2000 + i:010d}",
            day=DAY,
            accepted_at_et=f"2020-03-18T1{i % 10}:15:00",
        )
        for i in range(n)
    ]


def _archive_requests(server: EdgarServer) -> list[str]:
    return [p for p in server.paths() if p.startswith("/Archives/edgar/data/")]


class TestIngestFilings:
    def test_real_daily_index_dedupes_to_one_fetch_per_filing(self, samples_dir: Path) -> None:
        entries = parse_form_index((samples_dir / "index" / "form.20200318.idx").read_text())
        form4 = [e for e in entries if e.form_type == "4"]
        refs = dedupe(FilingRef(e.cik, e.accession) for e in form4)
        assert (len(form4), len(refs)) == (2040, 974)

    def test_listed_filings_from_the_real_index_are_stored_or_recorded_as_not_found(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path
    ) -> None:
        # The first parties listed in the real index; documents are served for three of the filings
        # (written for the test under the real accession and CIK path), the others answer 404.
        entries = parse_form_index((samples_dir / "index" / "form.20200318.idx").read_text())
        rows = [e for e in entries if e.form_type == "4"][:12]
        refs = [FilingRef(e.cik, e.accession) for e in rows]
        unique = dedupe(refs)
        served = unique[:3]
        for i, ref in enumerate(served):
            f = MirrorFiling(ref.accession, "0000001234", f"{3000 + i:010d}", DAY, "2020-03-18T16:05:00")
            edgar_server.put(f"/Archives/edgar/data/{int(ref.cik)}/{ref.accession}.txt", document(f))
        with EdgarClient(edgar_settings) as client:
            report = ingest_filings(client, clean_engine, refs)

        assert report.listed == len(unique)
        assert (report.stored, report.failed) == (3, len(unique) - 3)
        assert report.touched_issuers == {"0000001234"}
        # One request per distinct filing although the index lists each once per party.
        archive = _archive_requests(edgar_server)
        assert len(archive) == len(set(archive)) == len(unique)
        assert all(r.headers.get("User-Agent") == TEST_USER_AGENT for r in edgar_server.requests)
        with session_scope(clean_engine) as s:
            errors = {e.accession: (e.stage, e.reason) for e in s.scalars(select(IngestError))}
        missing = {r.accession for r in unique[3:]}
        assert set(errors) == missing
        assert all(stage == "fetch" and reason.startswith("not found:") for stage, reason in errors.values())

    def test_stored_filings_are_never_fetched_again(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings, tmp_path: Path
    ) -> None:
        filings = _filings(3)
        for f in filings:
            edgar_server.put(f.path, document(f))
        refs = [FilingRef(f.issuer_cik, f.accession) for f in filings]
        with EdgarClient(edgar_settings) as client:
            first = ingest_filings(client, clean_engine, refs)
        # A fresh cache: only the database can say these are stored.
        fresh = edgar_settings.model_copy(update={"cache_dir": tmp_path / "other-cache"})
        before = len(edgar_server.requests)
        with EdgarClient(fresh) as client:
            second = ingest_filings(client, clean_engine, refs)
        assert first.stored == 3
        assert (second.already_stored, second.stored, second.fetched) == (3, 0, 0)
        assert len(edgar_server.requests) == before

    def test_real_submission_keeps_its_acceptance_time(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path
    ) -> None:
        layout_samples(edgar_server.root, samples_dir, only=["archives"])
        with EdgarClient(edgar_settings) as client:
            report = ingest_filings(client, clean_engine, [FilingRef("1806647", "0001127602-25-001055")])
        assert report.stored == 1
        with session_scope(clean_engine) as s:
            filing = s.get(Filing, "0001127602-25-001055")
            assert filing is not None
            assert filing.source == "submission"
            # <ACCEPTANCE-DATETIME>20250110160730 is New York wall-clock time (protocol §3.3).
            assert filing.accepted_at == datetime(2025, 1, 10, 21, 7, 30, tzinfo=UTC)
            assert filing.known_at_source == "accepted"

    def test_unparseable_document_is_recorded_and_the_run_goes_on(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        good, bad = _filings(2)
        edgar_server.put(good.path, document(good))
        edgar_server.put(bad.path, b"<SEC-DOCUMENT>garbage, no ownership document here\n")
        refs = [FilingRef(bad.issuer_cik, bad.accession), FilingRef(good.issuer_cik, good.accession)]
        with EdgarClient(edgar_settings) as client:
            report = ingest_filings(client, clean_engine, refs)
        assert (report.stored, report.failed) == (1, 1)
        with session_scope(clean_engine) as s:
            (error,) = s.scalars(select(IngestError))
            assert (error.accession, error.stage) == (bad.accession, "parse")
            assert error.reason

    def test_sec_block_stops_the_run_and_is_reported(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        filings = _filings(4)
        for f in filings:
            edgar_server.put(f.path, document(f))
        edgar_server.fail(filings[1].accession, threshold())
        with EdgarClient(edgar_settings) as client:
            report = ingest_filings(
                client, clean_engine, [FilingRef(f.issuer_cik, f.accession) for f in filings]
            )
        assert report.blocked
        assert "paused" in report.blocked
        assert (report.stored, report.failed) == (1, 0)
        # Nothing after the block was requested, and the blocked filing is not an ingest error.
        assert len(_archive_requests(edgar_server)) == 2
        with session_scope(clean_engine) as s:
            assert s.scalar(select(func.count()).select_from(IngestError)) == 0

    def test_clusters_are_refreshed_for_touched_issuers(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        from app.ingest.pipeline import refresh_clusters_for

        filings = _filings(3, issuer="0000005555")
        for f in filings:
            edgar_server.put(f.path, document(f))
        with EdgarClient(edgar_settings) as client:
            report = ingest_filings(
                client, clean_engine, [FilingRef(f.issuer_cik, f.accession) for f in filings]
            )
        refresh_clusters_for(clean_engine, report.touched_issuers)
        with session_scope(clean_engine) as s:
            assert s.scalar(select(func.count()).select_from(InsiderTransaction)) == 3
            (cluster,) = s.scalars(select(Cluster))
            assert cluster.issuer_cik == "0000005555"

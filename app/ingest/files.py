"""Ingest ownership documents from local files or folders: parse, store one filing per transaction."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from app.db import session_scope
from app.ingest import form4_parser
from app.ingest.store import store_filing
from app.repositories import filings as filings_repo
from app.schemas.form4 import Form4ParseError, ParsedForm4
from app.services import clustering as clustering_service
from app.services import ticker_history as ticker_history_service

ACCESSION_IN_NAME = re.compile(r"(\d{10}-\d{2}-\d{6})")
DOCUMENT_SUFFIXES = {".xml", ".txt"}
LOCAL_ACCESSION_PREFIX = "local-"

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    touched_issuers: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.stored + self.updated + self.unchanged + self.rejected

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and every .xml/.txt below given folders, sorted for a stable order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)
            )
        else:
            out.append(path)
    return out


def accession_from_name(path: Path) -> str | None:
    match = ACCESSION_IN_NAME.search(path.name)
    return match.group(1) if match else None


def parse_file(path: Path, *, max_bytes: int) -> ParsedForm4:
    """Read and parse one document, raising Form4ParseError with a one-line reason."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Form4ParseError(f"cannot read file: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise Form4ParseError(f"document is {size} bytes, over the {max_bytes}-byte limit")
    data = path.read_bytes()
    doc = parse_guarded(data, accession=accession_from_name(path), max_bytes=max_bytes)
    if not doc.accession:
        # A bare XML with no accession in its name (a saved primary document): give it a stable local
        # identity from its content so it can be stored, re-ingested idempotently and told apart.
        doc.accession = local_accession(doc.xml)
    return doc


def parse_guarded(data: bytes, *, accession: str | None, max_bytes: int) -> ParsedForm4:
    """form4_parser.parse, with any other exception (a parser bug) turned into a Form4ParseError."""
    try:
        return form4_parser.parse(data, accession=accession, max_bytes=max_bytes)
    except Form4ParseError:
        raise
    except Exception as exc:
        # One document that trips a parser bug must not stop a run over thousands: it is refused,
        # recorded with this reason (shown on /status) and the run goes on.
        raise Form4ParseError(f"parser failure, please report: {type(exc).__name__}: {exc}") from exc


def local_accession(xml: bytes) -> str:
    """A 20-character identity for a document that has no EDGAR accession (never a real one)."""
    return LOCAL_ACCESSION_PREFIX + hashlib.sha256(xml).hexdigest()[:14]


def ingest_files(
    paths: Iterable[Path],
    *,
    engine: Engine,
    max_bytes: int,
    on_progress: Callable[[Path, str], None] | None = None,
) -> IngestReport:
    """Parse and store every document; a bad one is recorded with its reason and the run goes on."""
    report = IngestReport()
    unchanged_issuers: set[str] = set()
    for path, outcome, detail in _ingest_iter(expand_paths(paths), engine=engine, max_bytes=max_bytes):
        report.add(outcome)
        if outcome == "rejected":
            report.rejections.append((str(path), detail))
        elif outcome in ("stored", "updated"):
            report.touched_issuers.add(detail)
        else:
            unchanged_issuers.add(detail)
        if on_progress:
            on_progress(path, outcome)
    # Unchanged issuers too: a run killed between storing and this refresh left their clusters stale,
    # and the rerun finds their filings already stored (same rule as the backfill's resumable refresh).
    refresh_clusters(engine, report.touched_issuers | unchanged_issuers)
    return report


def refresh_clusters(engine: Engine, issuer_ciks: set[str]) -> None:
    """Bring the materialized clusters of the issuers an ingest touched up to date."""
    if issuer_ciks:
        with session_scope(engine, write=True) as session:
            clustering_service.refresh_issuers(session, issuer_ciks)
        refresh_dashboards(engine, issuer_ciks)


def refresh_dashboards(engine: Engine, issuer_ciks: Iterable[str] | None = None) -> int:
    """Build the dashboard snapshots new data has outdated (ticker_history.issuers_to_refresh: dashboards
    opened before, and the default screener's companies among `issuer_ciks`); return how many were built.
    One transaction each: a long rebuild never holds a write lock for long."""
    with session_scope(engine) as session:
        targets = ticker_history_service.issuers_to_refresh(session, issuer_ciks, now=datetime.now(UTC))
    rebuilt = 0
    for cik in targets:
        try:
            with session_scope(engine, write=True) as session:
                rebuilt += ticker_history_service.refresh_stored(session, cik, now=datetime.now(UTC))
        except (IntegrityError, OperationalError) as exc:
            # The data is stored; a snapshot left outdated is rebuilt by the dashboard's next view.
            log.warning("dashboard snapshot of %s not refreshed: %s", cik, exc)
    return rebuilt


def _ingest_iter(paths: list[Path], *, engine: Engine, max_bytes: int) -> Iterator[tuple[Path, str, str]]:
    """Yield (path, outcome, detail): the rejection reason, or the issuer CIK of the filing."""
    for path in paths:
        try:
            doc = parse_file(path, max_bytes=max_bytes)
        except Form4ParseError as exc:
            _record_rejection(engine, path, str(exc))
            yield path, "rejected", str(exc)
            continue
        source = "xml" if path.suffix.lower() == ".xml" else "submission"
        outcome = store_with_retry(engine, doc, source=source, source_ref=str(path))
        yield path, outcome, doc.issuer.cik


def store_with_retry(engine: Engine, doc: ParsedForm4, *, source: str, source_ref: str | None) -> str:
    """Store one filing in its own transaction; a concurrent writer of the same accession wins and
    this attempt re-reads the result (so two ingests of the same files leave no duplicates)."""
    for attempt in range(5):
        try:
            with session_scope(engine, write=True) as session:
                return store_filing(session, doc, source=source, source_ref=source_ref)
        except (IntegrityError, OperationalError):
            # Unique violation (PostgreSQL) or a deadlock/lock timeout: the other writer committed
            # or will commit; retry sees its row and reports it unchanged.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _record_rejection(engine: Engine, path: Path, reason: str) -> None:
    with session_scope(engine, write=True) as session:
        filings_repo.record_ingest_error(
            session,
            source_key=accession_from_name(path) or str(path),
            accession=accession_from_name(path),
            source_ref=str(path),
            stage="parse",
            reason=reason,
            now=datetime.now(UTC),
        )

"""Import SEC's quarterly Insider Transactions Data Sets (zip or folder) into the filing tables.

Filings are stored in batches (one transaction per `batch_size` filings) for speed; a batch that fails
is redone one filing per transaction so a single bad filing loses nothing else. Copies already stored
from XML or a full submission win (store.SOURCE_RANK); re-importing a data set changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from app.db import session_scope
from app.ingest.bulk_datasets import iter_dataset_filings
from app.ingest.bulk_tsv import BulkRowError, DatasetSummary
from app.ingest.files import store_with_retry
from app.ingest.pipeline import refresh_clusters_for
from app.ingest.store import store_filings
from app.repositories import filings as filings_repo
from app.schemas.form4 import ParsedForm4

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500


@dataclass
class BulkImportReport:
    source: str = ""
    filings: int = 0
    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0  # filings that could not be stored (recorded as ingest errors)
    row_errors: int = 0  # data-set rows or accessions the reader rejected (recorded)
    transactions: int = 0  # transaction rows in the filings read
    batches_redone: int = 0
    touched_issuers: set[str] = field(default_factory=set)
    summary: DatasetSummary | None = None

    def as_stats(self) -> dict[str, Any]:
        """Return the counts as a JSON-able dict."""
        return {
            "source": self.source,
            "filings": self.filings,
            "stored": self.stored,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "row_errors": self.row_errors,
            "transactions": self.transactions,
            "issuers": len(self.touched_issuers),
        }


def import_bulk(
    path: Path,
    engine: Engine,
    *,
    batch_size: int = DEFAULT_BATCH,
    refresh_clusters: bool = True,
    summary: DatasetSummary | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> BulkImportReport:
    """Stream one data set into the database; return counts (rejected rows are recorded as errors).

    `summary` (filled while reading) tells a progress bar the total once the tables are read.
    """
    summary = summary if summary is not None else DatasetSummary()
    report = BulkImportReport(source=str(path), summary=summary)
    ref = Path(path).name
    for batch, errors in _batches(iter_dataset_filings(Path(path), summary=summary), batch_size):
        if errors:
            _record_row_errors(engine, errors, ref)
            report.row_errors += len(errors)
        if not batch:
            continue
        touched = _store_batch(engine, batch, ref, report)
        report.filings += len(batch)
        report.transactions += sum(len(d.transactions) for d in batch)
        if refresh_clusters and touched:
            refresh_clusters_for(engine, touched)
        report.touched_issuers |= touched
        if on_progress:
            on_progress(len(batch))
    return report


def _batches(
    items: Iterable[ParsedForm4 | BulkRowError], size: int
) -> Iterator[tuple[list[ParsedForm4], list[BulkRowError]]]:
    batch: list[ParsedForm4] = []
    errors: list[BulkRowError] = []
    for item in items:
        if isinstance(item, BulkRowError):
            errors.append(item)
        else:
            batch.append(item)
        if len(batch) >= size or len(errors) >= size:
            yield batch, errors
            batch, errors = [], []
    if batch or errors:
        yield batch, errors


def _store_batch(engine: Engine, batch: list[ParsedForm4], ref: str, report: BulkImportReport) -> set[str]:
    """Store a batch in one transaction, or filing by filing if that fails; return touched issuers."""
    outcomes: list[tuple[ParsedForm4, str]] = []
    try:
        with session_scope(engine, write=True) as session:
            stored = store_filings(session, batch, source="bulk", source_ref=ref, keep_xml=False)
            outcomes = list(zip(batch, stored, strict=True))
    except Exception as exc:  # any failure rolls the batch back; the slow path isolates the culprit
        log.warning("bulk batch of %d failed (%s); storing one filing per transaction", len(batch), exc)
        report.batches_redone += 1
        outcomes = []
        for doc in batch:
            try:
                outcomes.append((doc, store_with_retry(engine, doc, source="bulk", source_ref=ref)))
            except Exception as one_exc:  # recorded with its reason; the import goes on
                report.failed += 1
                _record_store_error(engine, doc.accession or "", ref, f"{type(one_exc).__name__}: {one_exc}")
    touched: set[str] = set()
    for doc, outcome in outcomes:
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome in ("stored", "updated"):
            touched.add(doc.issuer.cik)
    return touched


def _record_row_errors(engine: Engine, errors: list[BulkRowError], ref: str) -> None:
    now = datetime.now(UTC)
    with session_scope(engine, write=True) as session:
        for e in errors:
            # Keyed by table and line, not the bare accession: storing the filing's other rows must not
            # clear the record of the row that was dropped.
            key = f"bulk:{ref}:{e.table}:{e.line if e.line is not None else '-'}:{e.accession or ''}"
            filings_repo.record_ingest_error(
                session,
                source_key=key,
                accession=e.accession,
                source_ref=ref,
                stage="bulk",
                reason=f"{e.table} line {e.line}: {e.reason}"[:2000],
                now=now,
            )


def _record_store_error(engine: Engine, accession: str, ref: str, reason: str) -> None:
    with session_scope(engine, write=True) as session:
        filings_repo.record_ingest_error(
            session,
            source_key=accession or f"bulk:{ref}",
            accession=accession or None,
            source_ref=ref,
            stage="store",
            reason=reason[:2000],
            now=datetime.now(UTC),
        )

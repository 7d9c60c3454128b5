"""Read SEC's quarterly Insider Transactions Data Sets (Form 3/4/5 TSVs) into ParsedForm4 documents.

Pure apart from reading the zip or folder: each SUBMISSION row becomes one ParsedForm4 assembled from
the other seven tables (joined on ACCESSION_NUMBER), so bulk history takes the XML storage path.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from app.ingest.bulk_columns import (
    FOOTNOTE_COLS,
    HOLDING_COLS,
    OWNER_COLS,
    SIGNATURE_COLS,
    SUBMISSION_COLS,
    TABLES,
    TX_COLS,
)
from app.ingest.bulk_filing import build_filing
from app.ingest.bulk_tsv import BulkDatasetError, BulkRowError, DatasetSummary, open_source, read_grouped
from app.ingest.bulk_values import Converter
from app.schemas.form4 import ParsedForm4

EASTERN = ZoneInfo("America/New_York")


def known_at_estimate(filed_date: date) -> datetime:
    """Return 22:00 ET on the filing date as UTC: the latest a Form 3/4/5 can be accepted that day."""
    return datetime.combine(filed_date, time(22, 0), tzinfo=EASTERN).astimezone(UTC)


def iter_dataset_filings(
    path: Path, *, summary: DatasetSummary | None = None
) -> Iterator[ParsedForm4 | BulkRowError]:
    """Yield one ParsedForm4 per SUBMISSION row of a quarterly data set (zip or folder), plus row errors."""
    summary = summary if summary is not None else DatasetSummary()
    summary.source = str(path)
    errors: list[BulkRowError] = []
    # Reading builds ~10^6 small tuples that live until the end; cyclic GC passes over them cost ~40% of
    # the read and can free nothing, so pause it for this phase only (not across yields).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with open_source(path) as members:
            if "SUBMISSION" not in members:
                raise BulkDatasetError(f"SUBMISSION.tsv not found in {path}")
            summary.missing_files = [f"{t}.tsv" for t in TABLES if t not in members]
            read = partial(read_grouped, members=members, summary=summary, errors=errors)
            submissions = read("SUBMISSION", wanted=SUBMISSION_COLS, unique=True)
            owners = read("REPORTINGOWNER", wanted=OWNER_COLS)
            nd_tx = read("NONDERIV_TRANS", wanted=TX_COLS)
            d_tx = read("DERIV_TRANS", wanted=TX_COLS)
            nd_hold = read("NONDERIV_HOLDING", wanted=HOLDING_COLS)
            d_hold = read("DERIV_HOLDING", wanted=HOLDING_COLS)
            footnotes = read("FOOTNOTES", wanted=FOOTNOTE_COLS)
            signatures = read("OWNER_SIGNATURE", wanted=SIGNATURE_COLS)
    finally:
        if gc_was_enabled:
            gc.enable()
    has_footnotes = "FOOTNOTES" in members

    summary.row_errors += len(errors)
    yield from errors
    dropped: dict[str, list[str]] = {}  # the filing keeps a note of each of its rows that was dropped
    for e in errors:
        if e.accession is not None:
            dropped.setdefault(e.accession, []).append(f"{e.table}.tsv line {e.line}: {e.reason}")

    children = {
        "REPORTINGOWNER": owners,
        "NONDERIV_TRANS": nd_tx,
        "DERIV_TRANS": d_tx,
        "NONDERIV_HOLDING": nd_hold,
        "DERIV_HOLDING": d_hold,
        "FOOTNOTES": footnotes,
        "OWNER_SIGNATURE": signatures,
    }
    for accession, rows in submissions.items():
        conv = Converter()
        line, sub = rows[0]
        result = build_filing(
            conv,
            accession,
            line,
            sub,
            owners.pop(accession, ()),
            nd_tx.pop(accession, ()),
            d_tx.pop(accession, ()),
            nd_hold.pop(accession, ()),
            d_hold.pop(accession, ()),
            footnotes.pop(accession, ()),
            signatures.pop(accession, ()),
            has_footnotes,
        )
        if isinstance(result, BulkRowError):
            summary.row_errors += 1
        else:
            summary.filings += 1
            result.warnings.extend(f"row dropped: {note}" for note in dropped.get(accession, ()))
        yield result

    # Whatever is left in the child tables has no SUBMISSION row (popped above as consumed).
    orphans: dict[str, list[str]] = {}
    for table, grouped in children.items():
        for accession, rows in grouped.items():
            orphans.setdefault(accession, []).append(f"{table} ({len(rows)})")
    summary.orphan_accessions = len(orphans)
    summary.row_errors += len(orphans)
    for accession, where in orphans.items():
        reason = f"rows in {', '.join(where)} but no SUBMISSION row"
        yield BulkRowError("SUBMISSION", None, accession, reason)

"""Live ingestion: poll EDGAR's current-filings feed for new Form 4/4A and store them within minutes.

The accessions already seen live in an IngestCheckpoint; the feed is for latency only, the nightly
daily-index reconcile catches anything a poll missed (protocol §2.3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from app.db import session_scope
from app.ingest.current_feed import fetch_current_form4
from app.ingest.pipeline import (
    FilingRef,
    PipelineReport,
    ingest_filings,
    record_edgar_health,
    refresh_clusters_of_accessions,
)
from app.ingest.sec_client import EdgarClient
from app.repositories import ops as ops_repo

log = logging.getLogger(__name__)

FEED_CHECKPOINT = "edgar.current_feed"
# A busy day has ~1,000 Form 4s; remembering a few days' worth stops the pager at the right page.
KNOWN_LIMIT = 5000


@dataclass
class PollReport:
    feed_entries: int = 0
    new: int = 0
    without_cik: int = 0
    filings: PipelineReport = field(default_factory=PipelineReport)

    def as_stats(self) -> dict[str, Any]:
        """Return the counts as a JSON-able dict."""
        return {
            "feed_entries": self.feed_entries,
            "new": self.new,
            **({"without_cik": self.without_cik} if self.without_cik else {}),
            **self.filings.as_stats(),
        }


def poll_current(client: EdgarClient, engine: Engine, *, max_pages: int = 10) -> PollReport:
    """Page the current feed back to the last accession seen, store the new filings, advance the mark."""
    with session_scope(engine) as session:
        checkpoint = ops_repo.get_checkpoint(session, FEED_CHECKPOINT) or {}
    known: list[str] = list(checkpoint.get("known", []))
    entries = fetch_current_form4(client, known=set(known), max_pages=max_pages)
    record_edgar_health(engine, ok=True)

    report = PollReport(feed_entries=len(entries))
    known_set = set(known)
    fresh = [e for e in entries if e.accession not in known_set]
    report.new = len(fresh)
    refs = []
    for entry in fresh:
        if entry.cik is None:
            # The archive path needs a party's CIK; the daily index will list this filing tonight.
            report.without_cik += 1
            log.warning("feed entry %s has no CIK; left to the daily index", entry.accession)
            continue
        refs.append(FilingRef(entry.cik, entry.accession))
    report.filings = ingest_filings(client, engine, refs)
    refresh_clusters_of_accessions(engine, [r.accession for r in refs])

    # Remember what was handled; filings left behind by an SEC block are retried by the next poll.
    blocked = report.filings.blocked
    handled = set(report.filings.done) if blocked else {r.accession for r in refs}
    newest_first = [e for e in fresh if e.accession in handled or e.cik is None]
    if newest_first:
        now = datetime.now(UTC)
        value = {
            "known": ([e.accession for e in newest_first] + known)[:KNOWN_LIMIT],
            "newest_at": max(e.updated_at for e in newest_first).isoformat(),
        }
        with session_scope(engine, write=True) as session:
            ops_repo.set_checkpoint(session, FEED_CHECKPOINT, value, now=now)
    return report

"""Fetch → parse → store for a list of EDGAR filings, then refresh the clusters of the issuers touched.

One request per filing (the full submission .txt, protocol §3.3); accessions already stored are never
fetched; a bad filing is recorded as an ingest error and the run goes on; an SEC block stops the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from app.db import session_scope
from app.errors import EdgarBlockedError, EdgarFetchError, EdgarNotFound
from app.ingest.files import parse_guarded, refresh_dashboards, store_with_retry
from app.ingest.sec_client import EdgarClient
from app.repositories import filings as filings_repo
from app.repositories import ops as ops_repo
from app.schemas.form4 import Form4ParseError

log = logging.getLogger(__name__)

# Checkpoint holding the outcome of the latest EDGAR request made by a job or command (status page).
EDGAR_HEALTH = "edgar.health"


@dataclass(frozen=True, slots=True)
class FilingRef:
    """A filing to fetch: any party's CIK (EDGAR serves the .txt under each) and the accession."""

    cik: str
    accession: str


@dataclass
class PipelineReport:
    listed: int = 0  # distinct accessions asked for
    already_stored: int = 0
    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    blocked: str | None = None  # the SEC block message when the run stopped early
    fetched: int = 0  # documents requested (from the network or the archive cache)
    fetch_errors: int = 0  # transport/HTTP failures other than 404 (EDGAR may be unreachable)
    touched_issuers: set[str] = field(default_factory=set)  # issuers whose filings were stored/updated
    errors: list[tuple[str, str]] = field(default_factory=list)  # (accession, reason)
    done: list[str] = field(default_factory=list)  # accessions handled (stored or recorded as errors)

    def as_stats(self) -> dict[str, Any]:
        """Return the counts as a JSON-able dict (for JobRun.stats)."""
        return {
            "listed": self.listed,
            "already_stored": self.already_stored,
            "stored": self.stored,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "issuers": len(self.touched_issuers),
            **({"blocked": self.blocked} if self.blocked else {}),
        }

    def merge(self, other: PipelineReport) -> None:
        """Add `other`'s counts to this report."""
        for name in (
            "listed",
            "already_stored",
            "stored",
            "updated",
            "unchanged",
            "failed",
            "fetched",
            "fetch_errors",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.blocked = self.blocked or other.blocked
        self.touched_issuers |= other.touched_issuers
        self.errors += other.errors
        self.done += other.done


def dedupe(refs: Iterable[FilingRef]) -> list[FilingRef]:
    """Keep the first reference per accession (an index lists a filing once per party)."""
    seen: dict[str, FilingRef] = {}
    for ref in refs:
        seen.setdefault(ref.accession, ref)
    return list(seen.values())


def ingest_filings(
    client: EdgarClient,
    engine: Engine,
    refs: Iterable[FilingRef],
    *,
    on_progress: Callable[[str, str], None] | None = None,
) -> PipelineReport:
    """Fetch, parse and store every filing in `refs` not stored yet; return what happened.

    Does not refresh clusters: callers do that per batch (see refresh_clusters_for).
    """
    report = PipelineReport()
    todo = dedupe(refs)
    report.listed = len(todo)
    with session_scope(engine) as session:
        stored = ops_repo.stored_accessions(session, (r.accession for r in todo))
    report.already_stored = len(stored)
    for ref in todo:
        if ref.accession in stored:
            continue
        outcome = _ingest_one(client, engine, ref, report)
        if outcome == "blocked":
            break
        report.done.append(ref.accession)
        if on_progress:
            on_progress(ref.accession, outcome)
    if report.fetched and report.fetch_errors == report.fetched:
        # Every request failed in transport: say so on the status page.
        record_edgar_health(engine, ok=False, error=report.errors[-1][1] if report.errors else None)
    elif report.fetched:
        record_edgar_health(engine, ok=True)
    if report.blocked:
        record_edgar_health(engine, ok=False, error=report.blocked)
    return report


def _ingest_one(client: EdgarClient, engine: Engine, ref: FilingRef, report: PipelineReport) -> str:
    url = client.urls.full_submission(ref.cik, ref.accession)
    stage = "fetch"
    try:
        report.fetched += 1
        body = client.get_bytes(url)
        stage = "parse"
        doc = parse_guarded(body, accession=ref.accession, max_bytes=client.settings.max_document_bytes)
        stage = "store"
        outcome = store_with_retry(engine, doc, source="submission", source_ref=url)
    except EdgarBlockedError as exc:
        report.blocked = str(exc)
        log.error("EDGAR blocked the run at %s: %s", ref.accession, exc)
        return "blocked"
    except (EdgarNotFound, EdgarFetchError, Form4ParseError) as exc:
        if isinstance(exc, EdgarFetchError) and not isinstance(exc, EdgarNotFound):
            report.fetch_errors += 1
        if isinstance(exc, Form4ParseError):
            # A 200 body that does not parse may be a substituted error page or a cut-off transfer;
            # the archive cache must not keep it forever, or a retry could never heal the filing.
            client.forget(url)
        reason = f"not found: {url}" if isinstance(exc, EdgarNotFound) else str(exc)
        _record_error(engine, ref.accession, url, stage, reason)
        report.failed += 1
        report.errors.append((ref.accession, reason))
        return "failed"
    setattr(report, outcome, getattr(report, outcome) + 1)
    if outcome in ("stored", "updated"):
        report.touched_issuers.add(doc.issuer.cik)
    return outcome


def _record_error(engine: Engine, accession: str, url: str, stage: str, reason: str) -> None:
    with session_scope(engine, write=True) as session:
        filings_repo.record_ingest_error(
            session,
            source_key=accession,
            accession=accession,
            source_ref=url,
            stage=stage,
            reason=reason[:2000],
            now=datetime.now(UTC),
        )


def refresh_clusters_for(engine: Engine, issuer_ciks: Iterable[str]) -> int:
    """Recompute the materialized clusters of `issuer_ciks` in one transaction; return the count."""
    from app.services import clustering as clustering_service  # imports the ingest layer itself

    ciks = sorted(set(issuer_ciks))
    if not ciks:
        return 0
    for attempt in range(3):
        try:
            with session_scope(engine, write=True) as session:
                count = clustering_service.refresh_issuers(session, ciks)
            refresh_dashboards(engine, ciks)
            return count
        except (IntegrityError, OperationalError):
            # Another process refreshed the same issuer at the same moment (e.g. a CLI backfill next
            # to the scheduler); a retry recomputes from what both committed.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def refresh_clusters_of_accessions(engine: Engine, accessions: Iterable[str]) -> int:
    """Refresh the clusters of the issuers of every stored filing among `accessions`.

    Used after a batch whose earlier attempt may have been killed between storing and refreshing:
    deriving the issuers from the database (not from this run's outcomes) makes the refresh resumable.
    """
    with session_scope(engine) as session:
        ciks = ops_repo.issuers_of(session, accessions)
    return refresh_clusters_for(engine, ciks)


def record_edgar_health(engine: Engine, *, ok: bool, error: str | None = None) -> None:
    """Remember whether the latest EDGAR exchange worked (the status page reads it; no call on load)."""
    now = datetime.now(UTC)
    with session_scope(engine, write=True) as session:
        previous = ops_repo.get_checkpoint(session, EDGAR_HEALTH) or {}
        value: dict[str, Any] = {"ok": ok, "checked_at": now.isoformat(), "error": None if ok else error}
        value["last_ok_at"] = now.isoformat() if ok else previous.get("last_ok_at")
        ops_repo.set_checkpoint(session, EDGAR_HEALTH, value, now=now)

"""Keep reference data current: the ticker map with point-in-time history (protocol §5), and issuer
metadata (SIC → sector, exchange) plus 8-K events from the submissions JSON for issuers with purchases.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from app.db import session_scope
from app.errors import EdgarBlockedError, EdgarFetchError
from app.ingest.pipeline import record_edgar_health
from app.ingest.reference_data import (
    EIGHT_K_ITEMS,
    EightKFiling,
    IssuerMetadata,
    TickerRow,
    fetch_company_tickers_exchange,
    fetch_submissions,
    sic_to_sector,
)
from app.ingest.sec_client import EdgarClient
from app.repositories import filings as filings_repo
from app.repositories import ops as ops_repo
from app.repositories import reference as reference_repo

log = logging.getLogger(__name__)

EASTERN = ZoneInfo("America/New_York")
ISSUERS_CHECKPOINT = "reference.issuers"
# Warrants, units, rights and preferreds: never an issuer's main ticker when a common stock exists.
_NON_COMMON = re.compile(r"-(WT|WS|W|UN|U|R|RT|P[A-Z]?)$|\.(WS|U|R)$")


@dataclass
class TickerRefreshReport:
    rows: int = 0
    issuers: int = 0

    def as_stats(self) -> dict[str, Any]:
        return {"rows": self.rows, "issuers": self.issuers}


@dataclass
class IssuerRefreshReport:
    candidates: int = 0
    refreshed: int = 0
    unknown: int = 0
    failed: int = 0
    events: int = 0
    blocked: str | None = None

    def as_stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "candidates": self.candidates,
            "refreshed": self.refreshed,
            "unknown": self.unknown,
            "failed": self.failed,
            "events": self.events,
        }
        if self.blocked:
            out["blocked"] = self.blocked
        return out


def primary_listings(rows: list[TickerRow]) -> dict[str, TickerRow]:
    """Pick one ticker per CIK: the first common-stock-looking row in file order (SEC lists the main
    class first), else the first row."""
    chosen: dict[str, TickerRow] = {}
    for row in rows:
        kept = chosen.get(row.cik)
        if kept is None or (_NON_COMMON.search(kept.ticker) and not _NON_COMMON.search(row.ticker)):
            chosen[row.cik] = row
    return chosen


def refresh_tickers(client: EdgarClient, engine: Engine, *, today: date | None = None) -> TickerRefreshReport:
    """Load company_tickers_exchange.json: set each issuer's ticker/exchange and extend ticker history."""
    rows = fetch_company_tickers_exchange(client)
    record_edgar_health(engine, ok=True)
    today = today or datetime.now(UTC).astimezone(EASTERN).date()
    now = datetime.now(UTC)
    listings = primary_listings(rows)
    issuers = [
        {"cik": r.cik, "name": r.name or None, "ticker": r.ticker, "exchange": r.exchange}
        for r in listings.values()
    ]
    sightings = list(
        {
            (r.cik, r.ticker): {"issuer_cik": r.cik, "ticker": r.ticker, "exchange": r.exchange} for r in rows
        }.values()
    )
    with session_scope(engine, write=True) as session:
        reference_repo.upsert_issuer_listings(session, issuers, now=now)
        reference_repo.record_ticker_sightings(session, sightings, seen=today)
    return TickerRefreshReport(rows=len(rows), issuers=len(issuers))


def refresh_issuers(
    client: EdgarClient,
    engine: Engine,
    *,
    since_days: int = 400,
    max_age: timedelta = timedelta(hours=20),
    limit: int = 1000,
    now: datetime | None = None,
) -> IssuerRefreshReport:
    """Refresh metadata and 8-K events of issuers with eligible purchases in the last `since_days`,
    most recent purchase first, skipping those refreshed within `max_age`; at most `limit` requests."""
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        since = (now - timedelta(days=since_days)).date()
        candidates = reference_repo.purchase_issuers(session, since=since)
        checkpoint = ops_repo.get_checkpoint(session, ISSUERS_CHECKPOINT) or {}
    done: dict[str, str] = dict(checkpoint.get("at", {}))
    cutoff = now - max_age
    due = [c for c in candidates if c not in done or datetime.fromisoformat(done[c]) < cutoff][:limit]
    report = IssuerRefreshReport(candidates=len(due))
    for cik in due:
        try:
            meta = fetch_submissions(client, cik)
        except EdgarBlockedError as exc:
            report.blocked = str(exc)
            record_edgar_health(engine, ok=False, error=str(exc))
            break
        except EdgarFetchError as exc:
            report.failed += 1
            log.warning("submissions for %s: %s", cik, exc)
            _record_error(engine, cik, str(exc))
            continue
        if meta is None:
            report.unknown += 1
        else:
            report.events += store_issuer_metadata(engine, meta, now=now)
            report.refreshed += 1
        done[cik] = now.isoformat()
    if report.refreshed or report.unknown:
        record_edgar_health(engine, ok=True)
    # Forget issuers no longer candidates so the checkpoint stays the size of the active set.
    keep = set(candidates)
    with session_scope(engine, write=True) as session:
        ops_repo.set_checkpoint(
            session, ISSUERS_CHECKPOINT, {"at": {k: v for k, v in done.items() if k in keep}}, now=now
        )
    return report


def store_issuer_metadata(engine: Engine, meta: IssuerMetadata, *, now: datetime) -> int:
    """Write one issuer's SIC/sector/exchange and upsert its 8-K events; return the number of events."""
    events = list({k.accession: _event_row(meta.cik, k) for k in meta.eight_k}.values())
    with session_scope(engine, write=True) as session:
        if reference_repo.get_issuer(session, meta.cik) is None:
            filings_repo.upsert_issuer(session, cik=meta.cik, name=meta.name or None, ticker=None, now=now)
        reference_repo.set_issuer_metadata(
            session,
            cik=meta.cik,
            name=meta.name or None,
            sic=meta.sic,
            sic_description=meta.sic_description,
            sector=sic_to_sector(meta.sic),
            exchange=meta.exchanges[0] if meta.exchanges else None,
            now=now,
        )
        reference_repo.upsert_news_events(session, events)
    return len(events)


def eight_k_title(form: str, items: list[str]) -> str:
    """A readable title for an 8-K from its item numbers, e.g. "8-K: Results of Operations … (2.02)"."""
    named = [f"{EIGHT_K_ITEMS[i]} ({i})" for i in items if i in EIGHT_K_ITEMS and i != "9.01"]
    if not named:
        named = [f"{EIGHT_K_ITEMS.get(i, 'Item')} ({i})" for i in items]
    return f"{form}: " + ("; ".join(named) if named else "current report")


def _event_row(cik: str, filing: EightKFiling) -> dict[str, Any]:
    return {
        "issuer_cik": cik,
        "source": "8-K",
        "external_id": filing.accession,
        "event_date": filing.filed_date,
        "event_at": filing.accepted_at,
        "form_type": filing.form,
        "items": ",".join(filing.items) or None,
        "title": eight_k_title(filing.form, filing.items),
        "publisher": "SEC EDGAR",
        "url": filing.url,
    }


def _record_error(engine: Engine, cik: str, reason: str) -> None:
    with session_scope(engine, write=True) as session:
        filings_repo.record_ingest_error(
            session,
            source_key=f"submissions:{cik}",
            accession=None,
            source_ref=None,
            stage="reference",
            reason=reason[:2000],
            now=datetime.now(UTC),
        )

"""Store one parsed ownership filing: derived fields, idempotent re-ingest, amendment supersession.

Every ingest path (files, EDGAR, bulk data sets) ends here, inside a transaction owned by the caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.ingest.bulk_datasets import known_at_estimate
from app.repositories import filings as filings_repo
from app.schemas.form4 import SECTIONS, ParsedForm4, ParsedTransaction
from app.services.roles import mentions_10b5_1

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.models import Filing

# Bump when the parser or the derived fields change, so stored filings are re-derived on re-ingest.
PARSER_VERSION = 1

EASTERN = ZoneInfo("America/New_York")
# Which copy of a filing wins when one accession arrives from several sources.
SOURCE_RANK = {"bulk": 1, "xml": 2, "submission": 3}
StoreOutcome = Literal["stored", "unchanged", "updated"]


@dataclass(frozen=True, slots=True)
class KnownAt:
    at: datetime | None
    source: str | None  # accepted | filed_date | deadline


def known_at_for(doc: ParsedForm4) -> KnownAt:
    """When the public could first know this filing: acceptance time, else a conservative estimate.

    Data-set and bare-XML filings have no acceptance time; Forms 3/4/5 are accepted until 22:00 ET,
    so the filing date at 22:00 ET is the latest they could have appeared (issue 3). Without a filing
    date, the legal deadline (2 business days after the period) at 22:00 ET is the bound.
    """
    if doc.accepted_at is not None:
        return KnownAt(doc.accepted_at, "accepted")
    if doc.filed_date is not None:
        return KnownAt(known_at_estimate(doc.filed_date), "filed_date")
    if doc.period_of_report is not None:
        return KnownAt(known_at_estimate(_add_business_days(doc.period_of_report, 2)), "deadline")
    return KnownAt(None, None)


def _add_business_days(day: date, n: int) -> date:
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def effective_price(tx: ParsedTransaction) -> tuple[Decimal | None, str | None]:
    """The price a row's value is computed with, and where it came from (DESIGN §2)."""
    if tx.price is not None and tx.price > 0:
        return tx.price, "explicit"
    if tx.price is None and tx.price_low is not None and tx.price_high is not None and tx.price_low > 0:
        # A weighted-average price given only as a footnote range: use the midpoint, flagged.
        return ((tx.price_low + tx.price_high) / 2).quantize(Decimal("0.000001")), "footnote_range"
    return None, None


def is_eligible_purchase(row: dict[str, Any]) -> bool:
    """DESIGN §2 eligible purchase: non-derivative P, acquired, shares > 0, known price > 0,
    no equity swap, not superseded by an amendment."""
    return (
        row["tx_table"] == "non_derivative"
        and row["code"] == "P"
        and row["acquired_disposed"] == "A"
        and row["shares"] is not None
        and row["shares"] > 0
        and row["value"] is not None
        and row["value"] > 0
        and not row["equity_swap_involved"]
        and row["superseded_by"] is None
    )


def _shares_before(tx: ParsedTransaction) -> Decimal | None:
    # ΔOwn denominator: the post-transaction amount undone by this row (DESIGN §2 "ΔOwn").
    if tx.shares_owned_after is None or tx.shares is None:
        return None
    if tx.acquired_disposed == "A":
        return tx.shares_owned_after - tx.shares
    if tx.acquired_disposed == "D":
        return tx.shares_owned_after + tx.shares
    return None


def _row_10b5_1(doc: ParsedForm4, tx: ParsedTransaction) -> bool | None:
    ids = {fid for fids in tx.footnotes.values() for fid in fids}
    if mentions_10b5_1(doc.footnotes.get(fid, "") for fid in ids):
        return True
    return doc.aff10b5one


def content_hash(doc: ParsedForm4) -> str:
    return hashlib.sha256(doc.xml).hexdigest()


def store_filing(
    session: Session,
    doc: ParsedForm4,
    *,
    source: str,
    source_ref: str | None,
    keep_xml: bool = True,
    now: datetime | None = None,
) -> StoreOutcome:
    """Store `doc` (idempotent on accession + content); reconcile amendments of its group."""
    if not doc.accession:
        raise ValueError("filing has no accession number")
    now = now or datetime.now(UTC)
    digest = filing_digest(doc)
    existing = filings_repo.get_filing(session, doc.accession)
    if existing is not None:
        if _keeps_existing(existing.content_sha256, existing.parser_version, existing.source, digest, source):
            return "unchanged"
        filings_repo.delete_filing(session, doc.accession)
        session.flush()
        outcome: StoreOutcome = "updated"
    else:
        outcome = "stored"

    filings_repo.upsert_issuer(
        session, cik=doc.issuer.cik, name=doc.issuer.name, ticker=doc.issuer.trading_symbol, now=now
    )
    filings_repo.upsert_owners(session, ((o.cik, o.name) for o in doc.reporting_owners), now=now)
    rows = filing_rows(doc, digest=digest, source=source, source_ref=source_ref, keep_xml=keep_xml, now=now)
    filings_repo.insert_filing(
        session,
        rows.filing,
        owners=rows.owners,
        transactions=rows.transactions,
        holdings=rows.holdings,
        footnotes=rows.footnotes,
        xml=rows.xml,
    )
    filings_repo.clear_ingest_error(session, source_keys=[doc.accession, source_ref or ""])
    session.flush()
    reconcile_amendments(session, doc)
    return outcome


def store_filings(
    session: Session,
    docs: list[ParsedForm4],
    *,
    source: str,
    source_ref: str | None,
    keep_xml: bool = True,
    now: datetime | None = None,
) -> list[StoreOutcome]:
    """Store many filings in the caller's transaction, with the same end state as calling store_filing
    on each in order; accessions not stored yet go in with one statement per table (bulk import speed).
    """
    now = now or datetime.now(UTC)
    if any(not d.accession for d in docs):
        raise ValueError("filing has no accession number")
    accessions = [d.accession or "" for d in docs]
    state = filings_repo.content_state(session, accessions)
    outcomes: list[StoreOutcome | None] = [None] * len(docs)
    fresh: list[tuple[int, ParsedForm4, str]] = []
    later: list[int] = []  # existing or repeated accessions: the one-by-one path, after the fresh ones
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        acc = accessions[i]
        digest = filing_digest(doc)
        if acc in state or acc in seen:
            if acc in state and _keeps_existing(*state[acc], digest, source):
                outcomes[i] = "unchanged"
            else:
                later.append(i)
            continue
        seen.add(acc)
        fresh.append((i, doc, digest))

    if fresh:
        issuers: dict[str, dict[str, Any]] = {}
        owners: dict[str, dict[str, Any]] = {}
        for _, doc, _ in fresh:
            # First non-null name/ticker wins, as successive coalescing upserts would leave it.
            entry = issuers.setdefault(doc.issuer.cik, {"cik": doc.issuer.cik, "name": None, "ticker": None})
            entry["name"] = entry["name"] or doc.issuer.name
            entry["ticker"] = entry["ticker"] or doc.issuer.trading_symbol
            for o in doc.reporting_owners:
                owner = owners.setdefault(o.cik, {"cik": o.cik, "name": None})
                owner["name"] = owner["name"] or o.name
        filings_repo.upsert_issuers(session, list(issuers.values()), now=now)
        filings_repo.upsert_owners_batch(session, list(owners.values()), now=now)
        built = [
            filing_rows(doc, digest=digest, source=source, source_ref=source_ref, keep_xml=keep_xml, now=now)
            for _, doc, digest in fresh
        ]
        filings_repo.insert_filings(
            session,
            [r.filing for r in built],
            owners=[o for r in built for o in r.owners],
            transactions=[t for r in built for t in r.transactions],
            holdings=[h for r in built for h in r.holdings],
            footnotes=[f for r in built for f in r.footnotes],
            documents=[{"accession": r.filing["accession"], "xml": r.xml} for r in built if r.xml],
        )
        filings_repo.clear_ingest_error(
            session, source_keys=[*(doc.accession or "" for _, doc, _ in fresh), source_ref or ""]
        )
        session.flush()
        # Only amendments, and originals of issuers that have amendments, can change supersession.
        amended = filings_repo.issuers_with_amendments(session, list(issuers))
        for i, doc, _ in fresh:
            outcomes[i] = "stored"
            if doc.is_amendment or doc.issuer.cik in amended:
                reconcile_amendments(session, doc)
    for i in later:
        outcomes[i] = store_filing(
            session, docs[i], source=source, source_ref=source_ref, keep_xml=keep_xml, now=now
        )
    return [o for o in outcomes if o is not None]


def filing_digest(doc: ParsedForm4) -> str:
    """Content identity of a filing: its XML's hash, or a canonical-form hash for data-set filings."""
    return content_hash(doc) if doc.xml else _fallback_hash(doc)


def _keeps_existing(
    stored_sha: str, stored_parser: int, stored_source: str, digest: str, source: str
) -> bool:
    """Tell whether the stored copy stays: same content and parser, or a better source than `source`."""
    if stored_sha == digest and stored_parser == PARSER_VERSION:
        return True
    # The stored copy came with more (e.g. the submission header's acceptance time): keep it.
    return SOURCE_RANK.get(source, 0) < SOURCE_RANK.get(stored_source, 0)


@dataclass(slots=True)
class FilingRows:
    """Everything one filing inserts, as column dicts."""

    filing: dict[str, Any]
    owners: list[dict[str, Any]]
    transactions: list[dict[str, Any]]
    holdings: list[dict[str, Any]]
    footnotes: list[dict[str, Any]]
    xml: bytes | None


def filing_rows(
    doc: ParsedForm4, *, digest: str, source: str, source_ref: str | None, keep_xml: bool, now: datetime
) -> FilingRows:
    """Build the rows of `doc` with every derived field (value, eligibility, known_at, ΔOwn base)."""
    known = known_at_for(doc)
    filing = {
        "accession": doc.accession,
        "document_type": doc.document_type,
        "base_form": doc.base_form,
        "is_amendment": doc.is_amendment,
        "issuer_cik": doc.issuer.cik,
        "trading_symbol": doc.issuer.trading_symbol,
        "accepted_at": doc.accepted_at,
        "known_at": known.at,
        "known_at_source": known.source,
        "filed_date": doc.filed_date,
        "period_of_report": doc.period_of_report,
        "date_of_original_submission": doc.date_of_original_submission,
        "amends_accession": None,
        "aff10b5one": doc.aff10b5one,
        "not_subject_to_section16": doc.not_subject_to_section16,
        "remarks": doc.remarks,
        "schema_version": doc.schema_version,
        "parser_version": PARSER_VERSION,
        "source": source,
        "source_ref": source_ref,
        "content_sha256": digest,
        "signatures": [
            {"name": s.name, "date": s.date.isoformat() if s.date else None} for s in doc.signatures
        ],
        "warnings": list(doc.warnings),
        "ingested_at": now,
        "updated_at": now,
    }
    owners = [
        {
            "accession": doc.accession,
            "owner_cik": o.cik,
            "position": i,
            "name_as_filed": o.name,
            "is_director": o.is_director,
            "is_officer": o.is_officer,
            "officer_title": o.officer_title,
            "is_ten_percent_owner": o.is_ten_percent_owner,
            "is_other": o.is_other,
            "other_text": o.other_text,
        }
        for i, o in enumerate(_unique_owners(doc))
    ]
    transactions = [_transaction_row(doc, tx, known.at) for tx in doc.transactions]
    holdings = [
        {
            "accession": doc.accession,
            "tx_table": h.table,
            "doc_index": h.index,
            "issuer_cik": doc.issuer.cik,
            "security_title": h.security_title,
            "shares_owned": h.shares_owned,
            "value_owned": h.value_owned,
            "direct_indirect": h.direct_indirect,
            "nature_of_ownership": h.nature_of_ownership,
            "conversion_or_exercise_price": h.conversion_or_exercise_price,
            "exercise_date": h.exercise_date,
            "expiration_date": h.expiration_date,
            "underlying_security_title": h.underlying_security_title,
            "underlying_shares": h.underlying_shares,
            "underlying_value": h.underlying_value,
            "footnote_ids": h.footnotes,
            "superseded_by": None,
        }
        for h in doc.holdings
    ]
    footnotes = [{"accession": doc.accession, "footnote_id": k, "text": v} for k, v in doc.footnotes.items()]
    return FilingRows(
        filing=filing,
        owners=owners,
        transactions=transactions,
        holdings=holdings,
        footnotes=footnotes,
        xml=doc.xml if keep_xml and doc.xml else None,
    )


def _fallback_hash(doc: ParsedForm4) -> str:
    # Bulk data-set filings carry no XML; hash their parsed form instead. The dataclass repr is
    # deterministic for the same input (fields in declaration order, footnotes in file order) and ~9x
    # cheaper than a canonical JSON dump, which dominated bulk import time.
    return hashlib.sha256(repr(doc).encode()).hexdigest()


def _unique_owners(doc: ParsedForm4) -> list[Any]:
    seen: set[str] = set()
    out = []
    for owner in doc.reporting_owners:
        if owner.cik not in seen:
            seen.add(owner.cik)
            out.append(owner)
    return out


def _transaction_row(doc: ParsedForm4, tx: ParsedTransaction, known_at: datetime | None) -> dict[str, Any]:
    price, price_source = effective_price(tx)
    value = (tx.shares * price).quantize(Decimal("0.000001")) if tx.shares is not None and price else None
    row: dict[str, Any] = {
        "accession": doc.accession,
        "known_at": known_at,
        "tx_table": tx.table,
        "doc_index": tx.index,
        "issuer_cik": doc.issuer.cik,
        "security_title": tx.security_title,
        "transaction_date": tx.transaction_date,
        "deemed_execution_date": tx.deemed_execution_date,
        "form_type": tx.form_type,
        "code": tx.code,
        "acquired_disposed": tx.acquired_disposed,
        "shares": tx.shares,
        "total_value": tx.total_value,
        "price": tx.price,
        "price_low": tx.price_low,
        "price_high": tx.price_high,
        "price_source": price_source,
        "value": value,
        "shares_owned_after": tx.shares_owned_after,
        "value_owned_after": tx.value_owned_after,
        "shares_owned_before": _shares_before(tx),
        "direct_indirect": tx.direct_indirect,
        "nature_of_ownership": tx.nature_of_ownership,
        "equity_swap_involved": tx.equity_swap_involved,
        "timeliness": tx.timeliness,
        "conversion_or_exercise_price": tx.conversion_or_exercise_price,
        "exercise_date": tx.exercise_date,
        "expiration_date": tx.expiration_date,
        "underlying_security_title": tx.underlying_security_title,
        "underlying_shares": tx.underlying_shares,
        "underlying_value": tx.underlying_value,
        "footnote_ids": tx.footnotes,
        "flags": list(tx.flags),
        "is_10b5_1": _row_10b5_1(doc, tx),
        "superseded_by": None,
    }
    row["is_eligible_purchase"] = is_eligible_purchase(row)
    return row


# --- amendments (parser-anchors G1): supersede section by section, in either arrival order ---------


def reconcile_amendments(session: Session, doc: ParsedForm4) -> None:
    """Link `doc` to its original or amendments and recompute which sections are live."""
    owners = {o.cik for o in doc.reporting_owners}
    candidates = filings_repo.amendment_candidates_for(
        session,
        issuer_cik=doc.issuer.cik,
        base_form=doc.base_form,
        owner_cik_set=owners,
        is_amendment=doc.is_amendment,
    )
    if doc.is_amendment:
        original = _best_original(candidates, doc.date_of_original_submission)
        if original is None:
            return
        filings_repo.set_amends(session, doc.accession or "", original.accession)
        session.flush()
        _recompute_sections(session, original.accession)
        return
    if not candidates:
        return
    me = filings_repo.get_filing(session, doc.accession or "")
    assert me is not None
    for amendment in candidates:
        if amendment.amends_accession is not None and amendment.amends_accession != me.accession:
            # Already linked elsewhere: move it only if this original is a better match.
            others = [f for f in (filings_repo.get_filing(session, amendment.amends_accession),) if f]
            best = _best_original([*others, me], amendment.date_of_original_submission)
        else:
            best = _best_original([me], amendment.date_of_original_submission)
        if best is me:
            filings_repo.set_amends(session, amendment.accession, me.accession)
    session.flush()
    _recompute_sections(session, me.accession)


def _best_original(candidates: Sequence[Filing], date_of_original: date | None) -> Filing | None:
    """Pick the original an amendment restates: filed on its dateOfOriginalSubmission when we know
    filing dates, else the latest original whose period is on or before that date."""
    if date_of_original is None:
        return None
    exact = [f for f in candidates if f.filed_date == date_of_original]
    if exact:
        return max(exact, key=lambda f: (f.known_at or datetime.min.replace(tzinfo=UTC), f.accession))
    undated = [
        f
        for f in candidates
        if f.filed_date is None and f.period_of_report is not None and f.period_of_report <= date_of_original
    ]
    if undated:
        return max(undated, key=lambda f: (f.period_of_report, f.accession))
    return None


def _recompute_sections(session: Session, original_accession: str) -> None:
    original = filings_repo.get_filing(session, original_accession)
    if original is None:
        return
    docs = [original, *filings_repo.amendments_of(session, original_accession)]
    if len(docs) == 1:
        return
    # Later documents restate earlier ones; order by when they became known, then accession.
    docs.sort(key=lambda f: (f.is_amendment, f.known_at or datetime.min.replace(tzinfo=UTC), f.accession))
    accessions = [f.accession for f in docs]
    counts = filings_repo.section_row_counts(session, accessions)
    for section in SECTIONS:
        having = [acc for acc in accessions if counts.get((acc, section), 0) > 0]
        live = having[-1] if having else None
        for acc in having:
            filings_repo.set_superseded(
                session, section=section, accession=acc, superseded_by=None if acc == live else live
            )
    session.flush()
    changes: dict[int, bool] = {}
    for tx in filings_repo.transactions_of(session, accessions):
        row = {
            c: getattr(tx, c)
            for c in (
                "tx_table",
                "code",
                "acquired_disposed",
                "shares",
                "value",
                "equity_swap_involved",
                "superseded_by",
            )
        }
        eligible = is_eligible_purchase(row)
        if eligible != tx.is_eligible_purchase:
            changes[tx.id] = eligible
    filings_repo.set_eligibility(session, changes)
    session.expire_all()

"""The filing page (`/filing/{accession}`): one stored Form 3/4/5 in plain language — who filed, their
roles, every row with its code explained, footnotes on the fields they annotate, and the amendment history."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.errors import BadParameterError, NotFoundError
from app.ingest import codes
from app.ingest.files import LOCAL_ACCESSION_PREFIX
from app.ingest.urls import EdgarUrls, normalize_accession
from app.models import Filing, FilingOwner, Holding, InsiderTransaction
from app.repositories import cluster_pages as pages_repo
from app.repositories import screener as screener_repo
from app.repositories.cluster_pages import SectionState
from app.schemas.clusters import (
    AmendmentEntry,
    CodeExplained,
    FilingPage,
    FootnoteView,
    HoldingView,
    OwnerView,
    SectionView,
    SignatureView,
    TransactionView,
)
from app.services import cluster_page as cluster_page_service

_ACCESSION_RE = re.compile(r"^\d{10}-?\d{2}-?\d{6}$")
_LOCAL_RE = re.compile(rf"^{re.escape(LOCAL_ACCESSION_PREFIX)}[0-9a-f]{{6,64}}$")

OPINION_TEXT = {
    True: "Carries an opinion: the insider chose to trade at market terms with their own money.",
    False: "No opinion: compensation, tax, exercise or administrative.",
    None: "Depends: read the footnotes.",
}
KNOWN_AT_NOTES = {
    "accepted": "EDGAR acceptance time: when the public could first see the filing.",
    "filed_date": "Estimate: the source has no acceptance time, so the end of the filing day "
    "(22:00 ET) is used.",
    "deadline": "Estimate: the source has no acceptance time or filing date, so the Form 4 deadline "
    "(two business days after the period) at 22:00 ET is used.",
}
SECTION_LABELS = {
    "non_derivative_transactions": "Table I transactions (shares)",
    "derivative_transactions": "Table II transactions (options, warrants, convertibles)",
    "non_derivative_holdings": "Table I holdings",
    "derivative_holdings": "Table II holdings",
}


def canonical_accession(text: str) -> str:
    """Return the stored form of an accession (dashed, or a local- id); reject anything else."""
    value = text.strip()
    if _LOCAL_RE.match(value):
        return value
    if _ACCESSION_RE.match(value):
        return normalize_accession(value)
    raise BadParameterError(
        "accession",
        f"{text[:40]!r} is not an accession number; expected ten, two and six digits such as "
        "0000320193-24-000123 (dashes optional) or a local- id",
    )


def explain_code(code: str | None) -> CodeExplained:
    """The SEC's description of a transaction code, a plain-language sentence and its opinion weight."""
    opinion = codes.carries_opinion(code)
    return CodeExplained(
        code=code,
        description=codes.describe(code),
        plain=codes.explain(code),
        carries_opinion=opinion,
        opinion=OPINION_TEXT[opinion],
    )


def relationship_text(owner: FilingOwner) -> str:
    """The relationship boxes ticked on the filing, in words."""
    parts = []
    if owner.is_director:
        parts.append("Director")
    if owner.is_officer:
        parts.append(f"Officer ({owner.officer_title})" if owner.officer_title else "Officer")
    if owner.is_ten_percent_owner:
        parts.append("10% owner")
    if owner.is_other:
        parts.append(f"Other ({owner.other_text})" if owner.other_text else "Other")
    return "; ".join(parts) or "No relationship box ticked"


def build_filing_page(session: Session, accession: str) -> FilingPage:
    """Load a stored filing with everything the page shows; NotFoundError when it is not stored."""
    acc = canonical_accession(accession)
    filing = pages_repo.get_filing(session, acc)
    if filing is None:
        raise NotFoundError(
            f"No filing {acc} is stored here. It may not be ingested yet, or it is not a Form 3, 4 or 5."
        )
    issuer = screener_repo.issuers(session, [filing.issuer_cik]).get(filing.issuer_cik)
    txs = pages_repo.filing_transactions(session, acc)
    notes = pages_repo.footnotes_of(session, [acc])
    clusters = screener_repo.default_cluster_of(session, [t.id for t in txs])
    estimated = filing.known_at_source not in (None, "accepted")
    return FilingPage(
        accession=acc,
        document_type=filing.document_type,
        is_amendment=filing.is_amendment,
        issuer_cik=filing.issuer_cik,
        ticker=issuer.ticker if issuer else None,
        company=issuer.name if issuer else None,
        trading_symbol=filing.trading_symbol,
        period_of_report=filing.period_of_report,
        filed_date=filing.filed_date,
        accepted_at=filing.accepted_at,
        known_at=filing.known_at,
        known_at_source=filing.known_at_source,
        known_at_estimated=estimated,
        known_at_note=KNOWN_AT_NOTES.get(filing.known_at_source or "", "Unknown: no time could be derived."),
        date_of_original_submission=filing.date_of_original_submission,
        amends_accession=filing.amends_accession,
        aff10b5one=filing.aff10b5one,
        not_subject_to_section16=filing.not_subject_to_section16,
        remarks=filing.remarks,
        signatures=[_signature(s) for s in filing.signatures or []],
        schema_version=filing.schema_version,
        source=filing.source,
        # Local files (no accession on EDGAR) get no link; others link to the public EDGAR index page.
        edgar_url=None
        if acc.startswith(LOCAL_ACCESSION_PREFIX)
        else EdgarUrls().filing_index(filing.issuer_cik, acc),
        owners=[_owner(o) for o in pages_repo.filing_owners(session, acc)],
        transactions=[_transaction(t, clusters.get(t.id)) for t in txs],
        holdings=[_holding(h) for h in pages_repo.filing_holdings(session, acc)],
        footnotes=[
            FootnoteView(id=fid, text=text)
            for (_, fid), text in sorted(notes.items(), key=lambda kv: _natural(kv[0][1]))
        ],
        amendments=_history(session, filing),
    )


def _natural(text: str) -> tuple[Any, ...]:
    # F2 before F10.
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _signature(raw: dict[str, Any]) -> SignatureView:
    when = raw.get("date")
    try:
        day = date.fromisoformat(when) if isinstance(when, str) else None
    except ValueError:
        day = None
    return SignatureView(name=raw.get("name"), date=day)


def _owner(o: FilingOwner) -> OwnerView:
    return OwnerView(
        cik=o.owner_cik,
        name=o.name_as_filed,
        roles=cluster_page_service.sort_roles(cluster_page_service.owner_roles(o)),
        relationship=relationship_text(o),
        is_director=o.is_director,
        is_officer=o.is_officer,
        officer_title=o.officer_title,
        is_ten_percent_owner=o.is_ten_percent_owner,
        is_other=o.is_other,
        other_text=o.other_text,
    )


def _transaction(t: InsiderTransaction, cluster_id: str | None) -> TransactionView:
    return TransactionView(
        id=t.id,
        table=t.tx_table,
        doc_index=t.doc_index,
        security_title=t.security_title,
        transaction_date=t.transaction_date,
        deemed_execution_date=t.deemed_execution_date,
        code=explain_code(t.code),
        acquired_disposed=t.acquired_disposed,
        shares=t.shares,
        price=t.price,
        price_low=t.price_low,
        price_high=t.price_high,
        price_source=t.price_source,
        value=t.value,
        shares_owned_after=t.shares_owned_after,
        value_owned_after=t.value_owned_after,
        direct_indirect=t.direct_indirect,
        nature_of_ownership=t.nature_of_ownership,
        timeliness=t.timeliness,
        equity_swap_involved=t.equity_swap_involved,
        is_10b5_1=t.is_10b5_1,
        conversion_or_exercise_price=t.conversion_or_exercise_price,
        exercise_date=t.exercise_date,
        expiration_date=t.expiration_date,
        underlying_security_title=t.underlying_security_title,
        underlying_shares=t.underlying_shares,
        footnotes=dict(t.footnote_ids or {}),
        flags=list(t.flags or []),
        superseded_by=t.superseded_by,
        is_eligible_purchase=t.is_eligible_purchase,
        cluster_id=cluster_id,
    )


def _holding(h: Holding) -> HoldingView:
    return HoldingView(
        id=h.id,
        table=h.tx_table,
        doc_index=h.doc_index,
        security_title=h.security_title,
        shares_owned=h.shares_owned,
        value_owned=h.value_owned,
        direct_indirect=h.direct_indirect,
        nature_of_ownership=h.nature_of_ownership,
        conversion_or_exercise_price=h.conversion_or_exercise_price,
        exercise_date=h.exercise_date,
        expiration_date=h.expiration_date,
        underlying_security_title=h.underlying_security_title,
        underlying_shares=h.underlying_shares,
        footnotes={k: list(v) for k, v in (h.footnote_ids or {}).items()},
        superseded_by=h.superseded_by,
    )


def _history(session: Session, filing: Filing) -> list[AmendmentEntry]:
    """The original and its amendments, each section marked live or superseded (by which filing)."""
    original = (
        filing.amends_accession if filing.is_amendment and filing.amends_accession else filing.accession
    )
    family = pages_repo.amendment_family(session, original)
    if len(family) < 2:
        return []
    states: dict[str, list[SectionState]] = {}
    for s in pages_repo.section_states(session, [f.accession for f in family]):
        states.setdefault(s.accession, []).append(s)
    return [
        AmendmentEntry(
            accession=f.accession,
            document_type=f.document_type,
            is_amendment=f.is_amendment,
            known_at=f.known_at,
            date_of_original_submission=f.date_of_original_submission,
            is_this_filing=f.accession == filing.accession,
            sections=[
                SectionView(
                    section=s.section,
                    label=SECTION_LABELS.get(s.section, s.section),
                    rows=s.rows,
                    superseded_by=s.superseded_by,
                )
                for s in sorted(states.get(f.accession, []), key=lambda s: _section_rank(s.section))
            ],
        )
        for f in family
    ]


def _section_rank(section: str) -> int:
    order = list(SECTION_LABELS)
    return order.index(section) if section in order else len(order)

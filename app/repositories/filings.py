"""SQL for filings and everything a filing owns (owners, rows, holdings, footnotes, errors)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.models import (
    Filing,
    FilingDocument,
    FilingOwner,
    Footnote,
    Holding,
    IngestError,
    InsiderTransaction,
    Issuer,
    ReportingOwner,
)


def _insert(session: Session, model: type) -> Any:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


def get_filing(session: Session, accession: str) -> Filing | None:
    return session.get(Filing, accession)


def upsert_issuer(session: Session, *, cik: str, name: str | None, ticker: str | None, now: datetime) -> None:
    """Insert the issuer, or fill in a name/ticker it lacks; reference data owns later changes."""
    stmt = _insert(session, Issuer).values(cik=cik, name=name, ticker=ticker, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Issuer.cik],
        set_={
            "name": func.coalesce(Issuer.name, stmt.excluded.name),
            "ticker": func.coalesce(Issuer.ticker, stmt.excluded.ticker),
        },
    )
    session.execute(stmt)


def upsert_owners(session: Session, owners: Iterable[tuple[str, str | None]], *, now: datetime) -> None:
    for cik, name in owners:
        stmt = _insert(session, ReportingOwner).values(cik=cik, name=name, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ReportingOwner.cik],
            set_={"name": func.coalesce(ReportingOwner.name, stmt.excluded.name)},
        )
        session.execute(stmt)


def insert_filing(
    session: Session,
    filing: dict[str, Any],
    *,
    owners: Sequence[dict[str, Any]],
    transactions: Sequence[dict[str, Any]],
    holdings: Sequence[dict[str, Any]],
    footnotes: Sequence[dict[str, Any]],
    xml: bytes | None,
) -> None:
    """Insert one filing and its parts; the caller owns the transaction (one per filing)."""
    session.execute(_insert(session, Filing).values(**filing))
    if owners:
        session.execute(_insert(session, FilingOwner), list(owners))
    if transactions:
        session.execute(_insert(session, InsiderTransaction), list(transactions))
    if holdings:
        session.execute(_insert(session, Holding), list(holdings))
    if footnotes:
        session.execute(_insert(session, Footnote), list(footnotes))
    if xml:
        session.execute(_insert(session, FilingDocument).values(accession=filing["accession"], xml=xml))


def delete_filing(session: Session, accession: str) -> None:
    """Remove a filing and its parts (before storing a re-parse of the same accession)."""
    for model in (FilingDocument, Footnote, Holding, InsiderTransaction, FilingOwner):
        session.execute(delete(model).where(model.accession == accession))
    session.execute(delete(Filing).where(Filing.accession == accession))


def owner_ciks(session: Session, accession: str) -> set[str]:
    rows = session.scalars(select(FilingOwner.owner_cik).where(FilingOwner.accession == accession))
    return set(rows)


def amendment_candidates_for(
    session: Session, *, issuer_cik: str, base_form: str, owner_cik_set: set[str], is_amendment: bool
) -> list[Filing]:
    """Filings of the opposite kind (originals for an amendment, amendments for an original) that
    share the issuer, the form and at least one reporting owner."""
    sharing_owner = select(FilingOwner.accession).where(FilingOwner.owner_cik.in_(owner_cik_set))
    stmt = select(Filing).where(
        Filing.issuer_cik == issuer_cik,
        Filing.base_form == base_form,
        Filing.is_amendment.is_(not is_amendment),
        Filing.accession.in_(sharing_owner),
    )
    return list(session.scalars(stmt))


def amendments_of(session: Session, original_accession: str) -> list[Filing]:
    stmt = select(Filing).where(Filing.amends_accession == original_accession)
    return list(session.scalars(stmt))


def set_amends(session: Session, accession: str, original_accession: str | None) -> None:
    session.execute(
        update(Filing).where(Filing.accession == accession).values(amends_accession=original_accession)
    )


def section_row_counts(session: Session, accessions: Sequence[str]) -> dict[tuple[str, str], int]:
    """Count rows per (accession, section name) for the four amendable sections."""
    counts: dict[tuple[str, str], int] = {}
    for model, kind in ((InsiderTransaction, "transactions"), (Holding, "holdings")):
        stmt = (
            select(model.accession, model.tx_table, func.count())
            .where(model.accession.in_(accessions))
            .group_by(model.accession, model.tx_table)
        )
        for acc, table, n in session.execute(stmt):
            counts[(acc, f"{table}_{kind}")] = n
    return counts


def set_superseded(session: Session, *, section: str, accession: str, superseded_by: str | None) -> None:
    """Mark every row of one section of one filing as superseded by `superseded_by` (or live: None)."""
    table, kind = _split_section(section)
    model = InsiderTransaction if kind == "transactions" else Holding
    session.execute(
        update(model)
        .where(model.accession == accession, model.tx_table == table)
        .values(superseded_by=superseded_by)
    )


def _split_section(section: str) -> tuple[str, str]:
    table, _, kind = section.rpartition("_")
    return table, kind


def transactions_of(session: Session, accessions: Sequence[str]) -> list[InsiderTransaction]:
    stmt = (
        select(InsiderTransaction)
        .where(InsiderTransaction.accession.in_(accessions))
        .order_by(InsiderTransaction.accession, InsiderTransaction.tx_table, InsiderTransaction.doc_index)
    )
    return list(session.scalars(stmt))


def record_ingest_error(
    session: Session,
    *,
    source_key: str,
    accession: str | None,
    source_ref: str | None,
    stage: str,
    reason: str,
    now: datetime,
) -> None:
    """Record (or count again) a document that could not be stored."""
    stmt = _insert(session, IngestError).values(
        source_key=source_key[:500],
        accession=accession,
        source_ref=source_ref,
        stage=stage,
        reason=reason,
        occurrences=1,
        first_seen_at=now,
        last_seen_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[IngestError.source_key],
        set_={
            "occurrences": IngestError.occurrences + 1,
            "last_seen_at": stmt.excluded.last_seen_at,
            "reason": stmt.excluded.reason,
            "stage": stmt.excluded.stage,
        },
    )
    session.execute(stmt)


def clear_ingest_error(session: Session, *, source_keys: Iterable[str]) -> None:
    keys = [k[:500] for k in source_keys if k]
    if keys:
        session.execute(delete(IngestError).where(IngestError.source_key.in_(keys)))


def recent_ingest_errors(session: Session, *, limit: int = 50) -> list[IngestError]:
    stmt = select(IngestError).order_by(IngestError.last_seen_at.desc()).limit(limit)
    return list(session.scalars(stmt))


def filing_counts(session: Session) -> dict[str, int]:
    return {
        "filings": session.scalar(select(func.count()).select_from(Filing)) or 0,
        "transactions": session.scalar(select(func.count()).select_from(InsiderTransaction)) or 0,
        "holdings": session.scalar(select(func.count()).select_from(Holding)) or 0,
        "errors": session.scalar(select(func.count()).select_from(IngestError)) or 0,
    }


def latest_known_at(session: Session) -> datetime | None:
    return session.scalar(select(func.max(Filing.known_at)))


def set_eligibility(session: Session, changes: dict[int, bool]) -> None:
    """Apply recomputed eligible-purchase flags (row id -> flag)."""
    for flag in (True, False):
        ids = [i for i, v in changes.items() if v is flag]
        if ids:
            session.execute(
                update(InsiderTransaction)
                .where(InsiderTransaction.id.in_(ids))
                .values(is_eligible_purchase=flag)
            )


# --- batch variants (bulk import: one statement per table per batch) --------------------------------
_BATCH_CHUNK = 500


def content_state(session: Session, accessions: Sequence[str]) -> dict[str, tuple[str, int, str]]:
    """Return accession -> (content_sha256, parser_version, source) for the stored ones."""
    out: dict[str, tuple[str, int, str]] = {}
    wanted = list(dict.fromkeys(accessions))
    for i in range(0, len(wanted), _BATCH_CHUNK):
        stmt = select(Filing.accession, Filing.content_sha256, Filing.parser_version, Filing.source).where(
            Filing.accession.in_(wanted[i : i + _BATCH_CHUNK])
        )
        out.update({acc: (sha, version, source) for acc, sha, version, source in session.execute(stmt)})
    return out


def upsert_issuers(session: Session, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """upsert_issuer for many issuers (each row: cik, name, ticker; one row per cik)."""
    if not rows:
        return
    stmt = _insert(session, Issuer)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Issuer.cik],
        set_={
            "name": func.coalesce(Issuer.name, stmt.excluded.name),
            "ticker": func.coalesce(Issuer.ticker, stmt.excluded.ticker),
        },
    )
    # Through the connection: the ORM bulk path costs more than the statement itself here.
    session.connection().execute(stmt, [{**r, "updated_at": now} for r in rows])


def upsert_owners_batch(session: Session, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """upsert_owners for many owners (each row: cik, name; one row per cik)."""
    if not rows:
        return
    stmt = _insert(session, ReportingOwner)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ReportingOwner.cik],
        set_={"name": func.coalesce(ReportingOwner.name, stmt.excluded.name)},
    )
    # Through the connection: the ORM bulk path costs more than the statement itself here.
    session.connection().execute(stmt, [{**r, "updated_at": now} for r in rows])


def insert_filings(
    session: Session,
    filings: Sequence[dict[str, Any]],
    *,
    owners: Sequence[dict[str, Any]],
    transactions: Sequence[dict[str, Any]],
    holdings: Sequence[dict[str, Any]],
    footnotes: Sequence[dict[str, Any]],
    documents: Sequence[dict[str, Any]],
) -> None:
    """Insert many new filings and their parts (executemany per table, in document order)."""
    for model, rows in (
        (Filing, filings),
        (FilingOwner, owners),
        (InsiderTransaction, transactions),
        (Holding, holdings),
        (Footnote, footnotes),
        (FilingDocument, documents),
    ):
        if rows:
            # Core insert (not ORM bulk): no per-row identity bookkeeping, SQLAlchemy batches the VALUES.
            session.connection().execute(model.__table__.insert(), list(rows))


def issuers_with_amendments(session: Session, issuer_ciks: Sequence[str]) -> set[str]:
    """Return the issuers among `issuer_ciks` that have at least one amendment stored."""
    found: set[str] = set()
    wanted = list(dict.fromkeys(issuer_ciks))
    for i in range(0, len(wanted), _BATCH_CHUNK):
        stmt = (
            select(Filing.issuer_cik)
            .where(Filing.issuer_cik.in_(wanted[i : i + _BATCH_CHUNK]), Filing.is_amendment.is_(True))
            .distinct()
        )
        found.update(session.scalars(stmt))
    return found

"""What the database holds, for the home page until the screener lands."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.repositories import filings as filings_repo
from app.schemas.overview import Overview


def build_overview(session: Session) -> Overview:
    """Return counts of stored filings, rows and errors, and the newest known filing time."""
    counts = filings_repo.filing_counts(session)
    return Overview(**counts, latest_known_at=filings_repo.latest_known_at(session))

"""JSON twins of the weekly, cluster and filing pages, fed by the same service functions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from app.deps import SessionDep
from app.schemas.clusters import ClusterPage, FilingPage, WeeklyArchive, WeeklyPage
from app.services import cluster_page as cluster_page_service
from app.services import filing_page as filing_page_service
from app.services import weekly as weekly_service

router = APIRouter(prefix="/api", tags=["api"])

_REDIRECT: dict[int | str, dict[str, Any]] = {
    301: {"description": "An old cluster id or a non-canonical accession: follow Location."}
}


@router.get("/weekly", response_model=WeeklyPage)
def weekly_latest(session: SessionDep) -> WeeklyPage:
    """The latest complete ISO week's clusters ranked by value, plus this week so far (`/weekly`)."""
    return weekly_service.build_weekly_page(session)


@router.get("/weekly/archive", response_model=WeeklyArchive)
def weekly_archive(session: SessionDep) -> WeeklyArchive:
    """Every ISO week with clusters: count and summed week value (`/weekly/archive`)."""
    return weekly_service.build_weekly_archive(session)


@router.get("/weekly/{week}", response_model=WeeklyPage)
def weekly(session: SessionDep, week: str) -> WeeklyPage:
    """Default-rule clusters triggered in ISO week `week` (YYYY-Www, US/Eastern), ranked by the value
    of purchases filed by the end of that week (`/weekly/{week}`). A malformed week is a 422."""
    return weekly_service.build_weekly_page(session, week)


@router.get("/clusters/{cluster_id}", response_model=ClusterPage, responses=_REDIRECT)
def cluster(session: SessionDep, cluster_id: str) -> ClusterPage | RedirectResponse:
    """One cluster: rule, members, totals, trigger, flags and returns (`/cluster/{id}`)."""
    page = cluster_page_service.build_cluster_page(session, cluster_id)
    if page.id != cluster_id:
        return RedirectResponse(f"/api/clusters/{page.id}", status_code=301)
    return page


@router.get("/filings/{accession}", response_model=FilingPage, responses=_REDIRECT)
def filing(session: SessionDep, accession: str) -> FilingPage | RedirectResponse:
    """One stored filing in plain language: owners, rows with codes explained, footnotes, amendment
    history (`/filing/{accession}`). A malformed accession is a 422, an unknown one a 404."""
    page = filing_page_service.build_filing_page(session, accession)
    if page.accession != accession:
        return RedirectResponse(f"/api/filings/{page.accession}", status_code=301)
    return page

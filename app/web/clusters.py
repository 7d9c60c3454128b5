"""HTML pages for weekly cluster buys, cluster permalinks and filings, plus the weekly CSV and the
Atom feed: each route calls one service and renders one template (or one export)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.deps import SessionDep
from app.services import cluster_page as cluster_page_service
from app.services import export as export_service
from app.services import filing_page as filing_page_service
from app.services import weekly as weekly_service
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/weekly", response_class=HTMLResponse)
def weekly_latest(request: Request, session: SessionDep) -> HTMLResponse:
    page = weekly_service.build_weekly_page(session)
    return templates.TemplateResponse(request, "weekly.html", {"page": page, "latest": True})


# Declared before /weekly/{week} so "archive" and "*.csv" are not read as week labels.
@router.get("/weekly/archive", response_class=HTMLResponse)
def weekly_archive(request: Request, session: SessionDep) -> HTMLResponse:
    page = weekly_service.build_weekly_archive(session)
    return templates.TemplateResponse(request, "weekly_archive.html", {"page": page})


@router.get("/weekly/{week}.csv")
def weekly_csv(session: SessionDep, week: str) -> Response:
    page = weekly_service.build_weekly_page(session, week)
    return Response(
        export_service.to_csv(weekly_service.csv_rows_weekly(page)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="weekly-{page.week.week}.csv"'},
    )


@router.get("/weekly/{week}", response_class=HTMLResponse)
def weekly(request: Request, session: SessionDep, week: str) -> HTMLResponse:
    page = weekly_service.build_weekly_page(session, week)
    return templates.TemplateResponse(request, "weekly.html", {"page": page, "latest": False})


@router.get("/cluster/{cluster_id}", response_class=HTMLResponse)
def cluster(request: Request, session: SessionDep, cluster_id: str) -> Response:
    page = cluster_page_service.build_cluster_page(session, cluster_id)
    if page.id != cluster_id:  # an old id merged into this cluster: keep permalinks working
        return RedirectResponse(f"/cluster/{page.id}", status_code=301)
    return templates.TemplateResponse(request, "cluster.html", {"page": page})


@router.get("/filing/{accession}", response_class=HTMLResponse)
def filing(request: Request, session: SessionDep, accession: str) -> Response:
    page = filing_page_service.build_filing_page(session, accession)
    if page.accession != accession:  # undashed or padded form: one canonical URL per filing
        return RedirectResponse(f"/filing/{page.accession}", status_code=301)
    return templates.TemplateResponse(request, "filing.html", {"page": page})


@router.get("/feeds/clusters.atom")
def clusters_feed(request: Request, session: SessionDep) -> Response:
    feed = cluster_page_service.build_cluster_feed(session)
    return Response(
        cluster_page_service.render_atom(feed, base_url=str(request.base_url)),
        media_type="application/atom+xml; charset=utf-8",
    )

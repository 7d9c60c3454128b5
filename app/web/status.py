"""Status page and its JSON twin: both render build_status for this process."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep, SettingsDep
from app.jobs import scheduler as scheduler_module
from app.schemas.status import StatusPage
from app.services import status as status_service
from app.web.templating import templates

router = APIRouter()


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    page = status_service.build_status(
        session, settings=settings, this_process_leads=scheduler_module.is_leader()
    )
    return templates.TemplateResponse(request, "status.html", {"page": page})


@router.get("/api/status", response_model=StatusPage, tags=["api"])
def status_api(session: SessionDep, settings: SettingsDep) -> StatusPage:
    """Ingest status: job runs, lag, counts, backfill progress, recent errors, EDGAR reachability."""
    return status_service.build_status(
        session, settings=settings, this_process_leads=scheduler_module.is_leader()
    )

"""HTML pages: each route parses its inputs, calls one service and renders one template."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep
from app.services import overview as overview_service
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    page = overview_service.build_overview(session)
    return templates.TemplateResponse(request, "home.html", {"page": page})

"""HTML pages for performance vs the S&P 500 and the market pulse, plus the per-cluster returns CSV:
each route calls one service and renders one template (or one export)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import SessionDep
from app.schemas.market import MarketFilters
from app.schemas.performance import PerformanceFilters
from app.services import export as export_service
from app.services import market as market_service
from app.services import performance as performance_service
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/performance", response_class=HTMLResponse)
def performance(
    request: Request, session: SessionDep, filters: Annotated[PerformanceFilters, Query()]
) -> HTMLResponse:
    page = performance_service.build_performance_page(session, filters)
    return templates.TemplateResponse(request, "performance.html", {"page": page})


@router.get("/performance.csv")
def performance_csv(session: SessionDep, filters: Annotated[PerformanceFilters, Query()]) -> Response:
    rows = performance_service.csv_rows(session, filters)
    return Response(
        export_service.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="performance.csv"'},
    )


@router.get("/market", response_class=HTMLResponse)
def market(request: Request, session: SessionDep, filters: Annotated[MarketFilters, Query()]) -> HTMLResponse:
    page = market_service.build_market_page(session, filters)
    return templates.TemplateResponse(request, "market.html", {"page": page})

"""HTML pages: each route parses its inputs, calls one service and renders one template."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import SessionDep
from app.schemas.screener import PurchaseFilters, ScreenerFilters
from app.services import clustering as clustering_service
from app.services import export as export_service
from app.services import purchases as purchases_service
from app.services import screener as screener_service
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def screener(
    request: Request, session: SessionDep, filters: Annotated[ScreenerFilters, Query()]
) -> HTMLResponse:
    page = screener_service.build_screener_page(session, filters)
    return templates.TemplateResponse(request, "screener.html", {"page": page})


@router.get("/purchases", response_class=HTMLResponse)
def purchases(
    request: Request, session: SessionDep, filters: Annotated[PurchaseFilters, Query()]
) -> HTMLResponse:
    page = purchases_service.build_purchases_page(session, filters)
    return templates.TemplateResponse(request, "purchases.html", {"page": page})


@router.get("/screener.csv")
def screener_csv(session: SessionDep, filters: Annotated[ScreenerFilters, Query()]) -> Response:
    page = screener_service.build_screener_page(session, filters)
    return _csv("screener.csv", export_service.to_csv(screener_service.csv_rows_screener(page)))


@router.get("/purchases.csv")
def purchases_csv(session: SessionDep, filters: Annotated[PurchaseFilters, Query()]) -> Response:
    page = purchases_service.build_purchases_page(session, filters)
    return _csv("purchases.csv", export_service.to_csv(purchases_service.csv_rows_purchases(page)))


@router.get("/about/clusters", response_class=HTMLResponse)
def about_clusters(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "about_clusters.html", {"rule": clustering_service.rule_facts()}
    )


def _csv(name: str, text: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

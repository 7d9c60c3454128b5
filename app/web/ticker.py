"""HTML pages of the ticker dashboard and the insider page, their CSV exports, search, and the plotly.js
asset served from the installed plotly package (no copied JS, no CDN)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.deps import SessionDep
from app.schemas.ticker import Period
from app.services import export as export_service
from app.services import insider_page as insider_page_service
from app.services import ticker_lookup as ticker_lookup_service
from app.services import ticker_page as ticker_page_service
from app.web.templating import templates

router = APIRouter(include_in_schema=False)

# plotly's bundled build, read where pip put it (pinned through the plotly requirement in pyproject).
PLOTLY_JS = resources.files("plotly").joinpath("package_data", "plotly.min.js")

PeriodQuery = Annotated[Period, Query(description="How far back the buys/sells tables reach.")]
PageQuery = Annotated[int, Query(ge=1, le=100_000)]
PageSizeQuery = Annotated[int, Query(ge=10, le=1000)]


@router.get("/assets/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(
        str(PLOTLY_JS),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: SessionDep, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    page = ticker_lookup_service.search(session, q)
    if page.redirect_to:
        return RedirectResponse(page.redirect_to, status_code=303)
    return templates.TemplateResponse(request, "search.html", {"page": page})


@router.get("/ticker/{symbol}/trades.csv")
def ticker_csv(session: SessionDep, symbol: str, period: PeriodQuery = Period.y1) -> Response:
    page = ticker_page_service.build_ticker_page(session, symbol, period).page
    name = page.header.ticker or page.header.issuer_cik
    return _csv(
        f"{name}-trades-{period.value}.csv", export_service.to_csv(ticker_page_service.csv_rows_ticker(page))
    )


@router.get("/ticker/{symbol}", response_class=HTMLResponse)
def ticker(
    request: Request, session: SessionDep, symbol: str, period: PeriodQuery = Period.y1
) -> HTMLResponse:
    view = ticker_page_service.build_ticker_page(session, symbol, period)
    return templates.TemplateResponse(request, "ticker.html", {"page": view.page, "view": view})


@router.get("/insider/{cik}/trades.csv")
def insider_csv(
    session: SessionDep, cik: str, page: PageQuery = 1, page_size: PageSizeQuery = 100
) -> Response:
    view = insider_page_service.build_insider_page(session, cik, page=page, page_size=page_size)
    return _csv(
        f"insider-{view.owner_cik}-trades.csv",
        export_service.to_csv(insider_page_service.csv_rows_insider(view)),
    )


@router.get("/insider/{cik}", response_class=HTMLResponse)
def insider(
    request: Request, session: SessionDep, cik: str, page: PageQuery = 1, page_size: PageSizeQuery = 100
) -> HTMLResponse:
    view = insider_page_service.build_insider_page(session, cik, page=page, page_size=page_size)
    return templates.TemplateResponse(request, "insider.html", {"page": view})


def _csv(name: str, text: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

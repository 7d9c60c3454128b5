"""JSON twins of the ticker dashboard, the insider page and search, fed by the same service functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.deps import SessionDep
from app.schemas.ticker import InsiderPage, Period, SearchPage, TickerPage
from app.services import insider_page as insider_page_service
from app.services import ticker_lookup as ticker_lookup_service
from app.services import ticker_page as ticker_page_service

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/ticker/{symbol}", response_model=TickerPage)
def ticker(
    session: SessionDep,
    symbol: str,
    period: Annotated[Period, Query(description="How far back the buys/sells tables reach.")] = Period.y1,
) -> Response:
    """One company by ticker or CIK (`/ticker/{symbol}`): header, the whole split-adjusted price series,
    trade and 8-K markers, purchases and sales of the period with totals, the insider roster and the
    signals (clusters, sell clusters, large sales, buying into weakness, 90-day net buying). An unknown
    ticker is a 404 whose `suggestions` lists close matches."""
    view = ticker_page_service.build_ticker_page(session, symbol, period)
    # The stored chart JSON is spliced in as it is: parsing and re-serializing it would cost more than
    # building the rest of the page.
    return Response(view.api_json(), media_type="application/json")


@router.get("/insider/{cik}", response_model=InsiderPage)
def insider(
    session: SessionDep,
    cik: str,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=10, le=1000)] = 100,
) -> InsiderPage:
    """One insider (`/insider/{cik}`): roles per company, trades across companies (paginated, newest
    first, routine or opportunistic), and the track record of their purchases vs SPY at 1m/3m/6m."""
    return insider_page_service.build_insider_page(session, cik, page=page, page_size=page_size)


@router.get("/search", response_model=SearchPage)
def search(session: SessionDep, q: Annotated[str, Query(max_length=200)] = "") -> SearchPage:
    """Companies (ticker or name) and insiders (name) matching `q`; `redirect_to` is set on an exact
    ticker or CIK match (the `/search` page redirects there)."""
    return ticker_lookup_service.search(session, q)

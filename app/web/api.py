"""JSON twins of the pages, fed by the same service functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import SessionDep
from app.schemas.overview import Overview, RuleFacts
from app.schemas.screener import PurchaseFilters, PurchasesPage, ScreenerFilters, ScreenerPage
from app.services import clustering as clustering_service
from app.services import overview as overview_service
from app.services import purchases as purchases_service
from app.services import screener as screener_service

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/overview", response_model=Overview)
def overview(session: SessionDep) -> Overview:
    """Counts of what is stored and the newest filing."""
    return overview_service.build_overview(session)


@router.get("/about/clusters", response_model=RuleFacts)
def about_clusters() -> RuleFacts:
    """The cluster rule's defaults and the allowed ranges of N and W."""
    return clustering_service.rule_facts()


@router.get("/screener", response_model=ScreenerPage)
def screener(session: SessionDep, filters: Annotated[ScreenerFilters, Query()]) -> ScreenerPage:
    """Open-market purchases filed in the window, one row per company (the `/` page's data)."""
    return screener_service.build_screener_page(session, filters)


@router.get("/purchases", response_model=PurchasesPage)
def purchases(session: SessionDep, filters: Annotated[PurchaseFilters, Query()]) -> PurchasesPage:
    """Eligible purchases one by one (the `/purchases` page's data)."""
    return purchases_service.build_purchases_page(session, filters)

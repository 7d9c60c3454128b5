"""JSON twins of the performance and market pages, fed by the same service functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import SessionDep
from app.schemas.market import MarketFilters, MarketPage
from app.schemas.performance import PerformanceFilters, PerformancePage
from app.services import market as market_service
from app.services import performance as performance_service

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/performance", response_model=PerformancePage)
def performance(session: SessionDep, filters: Annotated[PerformanceFilters, Query()]) -> PerformancePage:
    """Did cluster buys beat SPY? Per horizon N, mean/median excess, hit rate, share positive, a 95%
    month-block bootstrap interval, open and ended-early counts, breakdowns, the excess-return histogram,
    the insider's (not achievable) return, a calendar-time portfolio and published figures (`/performance`).
    Bad parameters are a 422."""
    return performance_service.build_performance_page(session, filters)


@router.get("/market", response_model=MarketPage)
def market(session: SessionDep, filters: Annotated[MarketFilters, Query()]) -> MarketPage:
    """Insider buy/sell ratio per week or month: distinct (insider, issuer) pairs buying ÷ selling, CEO-only,
    dollar and net purchase ratios, trailing-60-month percentiles, year over year, by sector (`/market`)."""
    return market_service.build_market_page(session, filters)

"""JSON twins of the pages, fed by the same service functions."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import SessionDep
from app.schemas.overview import Overview
from app.services import overview as overview_service

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/overview", response_model=Overview)
def overview(session: SessionDep) -> Overview:
    """Counts of what is stored and the newest filing."""
    return overview_service.build_overview(session)

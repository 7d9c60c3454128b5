"""Admin endpoints that change state: off unless ADMIN_TOKEN is set, and then only with that token.

POST /api/admin/jobs/{name}/run starts a registered job in the background (recorded as a JobRun, shown
on /status) and answers 202 at once.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, HTTPException, Request, status
from pydantic import BaseModel

from app.deps import SettingsDep
from app.errors import NotFoundError
from app.jobs.registry import JOBS
from app.jobs.runner import run_job

router = APIRouter(prefix="/api/admin", tags=["admin"])


class JobAccepted(BaseModel):
    job: str
    status: str = "accepted"
    detail: str = "running in the background; see /status for the outcome"


def _require_admin(settings: SettingsDep, token: str | None) -> None:
    """404 while no admin token is configured (the endpoint does not exist), 401 on a wrong token."""
    if not settings.admin_token:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may carry any Latin-1 byte.
    given = (token or "").encode("utf-8", "surrogateescape")
    if not token or not hmac.compare_digest(given, settings.admin_token.encode("utf-8")):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid X-Admin-Token header is required",
            headers={"WWW-Authenticate": "X-Admin-Token"},
        )


@router.post(
    "/jobs/{name}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses={
        401: {"description": "Missing or wrong X-Admin-Token"},
        404: {"description": "Off or unknown"},
    },
)
def run_job_now(
    name: str,
    request: Request,
    background: BackgroundTasks,
    settings: SettingsDep,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> JobAccepted:
    """Run the named scheduled job now, in the background (needs ADMIN_TOKEN and X-Admin-Token)."""
    _require_admin(settings, x_admin_token)
    # Only after authentication, so the job list is not disclosed to anyone else.
    if name not in JOBS:
        raise NotFoundError(f"no job named {name!r}", suggestions=sorted(JOBS))
    background.add_task(run_job, name, settings=settings, engine=request.app.state.engine)
    return JobAccepted(job=name)

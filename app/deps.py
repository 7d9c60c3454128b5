"""FastAPI dependencies: the request-scoped session (commit on success, rollback on error), settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.config import Settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session: committed when the route returns, rolled back when it raises.

    Async, so that opening it takes no worker thread, and it is closed on threads of its own limiter: sync
    routes run on the default thread limiter, bounded to the pool's connections (main.bound_request_threads).
    Were the close queued behind that limiter too, a burst could fill every thread with routes waiting for a
    connection while the connections stay with finished requests waiting for a thread to close them, until
    the pool's 30 s timeout failed them all (bench/load.py without the page cache)."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        # Shielded: a request cancelled (its client gone) must still give its connection back.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_rollback_and_close, session, limiter=_closing_limiter(request))
        raise
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(_commit_and_close, session, limiter=_closing_limiter(request))


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


def _closing_limiter(request: Request) -> anyio.CapacityLimiter | None:
    # Set by the app's lifespan (in its event loop); without one, the default limiter.
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "closing_limiter", None)
    return limiter


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Closed when the route returns, before the response is sent (scope="function"): a slow client reading a
# megabyte page must not keep the request's connection out of the pool.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

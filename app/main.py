"""Application factory: engine per app, routers, static files, error pages."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import Engine

from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import connection_capacity, make_engine, make_sessionmaker
from app.errors import BadParameterError, NotFoundError
from app.web import admin, api, clusters, clusters_api, health, pages, status, ticker, ticker_api
from app.web.input_guard import RejectNulMiddleware
from app.web.micro_cache import MicroCacheMiddleware
from app.web.performance import router as performance_router
from app.web.performance_api import router as performance_api_router
from app.web.security import SecurityHeadersMiddleware
from app.web.templating import templates

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app for `settings` (default: from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        freeze_startup_objects()
        bound_request_threads(app.state.engine)
        # Sessions close on threads of their own (deps.get_session), never queued behind the routes.
        app.state.closing_limiter = anyio.CapacityLimiter(SESSION_CLOSING_THREADS)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="Clusterbuy",
        version="0.1.0",
        lifespan=lifespan,
        description="Open-market insider purchases from SEC Form 4, grouped into cluster buys.",
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.add_middleware(RejectNulMiddleware)
    # Level 4: a 1.3 MB dashboard compresses in ~11 ms to 224 KB (level 6: 28 ms, 206 KB).
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=4)
    app.add_middleware(MicroCacheMiddleware, seconds=settings.page_cache_seconds)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: headers on every response
    app.mount("/static", StaticFiles(directory=str(PROJECT_ROOT / "static")), name="static")
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(clusters_api.router)
    app.include_router(clusters.router)
    app.include_router(status.router)
    app.include_router(performance_api_router)
    app.include_router(performance_router)
    app.include_router(ticker_api.router)
    app.include_router(ticker.router)
    app.include_router(admin.router)
    _register_error_handlers(app)
    return app


def freeze_startup_objects() -> None:
    """Move what is alive after startup out of the garbage collector's view, once per process."""
    # Modules, routes, templates and schemas (~200k objects) live as long as the process, yet every full
    # collection walks them all; a page that builds thousands of rows (the ticker dashboard) triggers
    # one every request or two, at 60-100 ms each on this data. Frozen, a full collection walks only
    # what requests allocated (a few ms). Python's gc.freeze() docs; once per process (each worker).
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()


SESSION_CLOSING_THREADS = 16


def bound_request_threads(engine: Engine) -> None:
    """Run at most as many page requests at once as the pool has connections: past that, requests
    queue for a thread (and are served late) instead of holding a thread while they wait 30 s for a
    connection and then fail with a 500 (bench/load.py without the page cache)."""
    capacity = connection_capacity(engine)
    if capacity:
        anyio.to_thread.current_default_thread_limiter().total_tokens = capacity


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _error(request: Request, status: int, title: str, detail: str, **extra: object) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": detail, **extra}, status_code=status)
    return templates.TemplateResponse(
        request,
        "errors/error.html",
        {"status": status, "title": title, "detail": detail, **extra},
        status_code=status,
    )


def _register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, "Not found", str(exc), suggestions=exc.suggestions)

    @app.exception_handler(BadParameterError)
    async def _bad_param(request: Request, exc: BadParameterError) -> Response:
        return _error(request, 422, "Bad parameter", str(exc), param=exc.param)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for e in exc.errors():
            param = ".".join(str(p) for p in e.get("loc", ())[1:]) or "request"
            allowed = _allowed(request, param)
            problems.append(f"{param}: {e.get('msg')}" + (f" (allowed: {allowed})" if allowed else ""))
        if _wants_json(request):
            # jsonable_encoder: a validator's ValueError sits in the error's ctx and is not JSON.
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        return _error(request, 422, "Bad parameter", "; ".join(problems))

    @app.exception_handler(404)
    async def _missing(request: Request, exc: Exception) -> Response:
        return _error(request, 404, "Not found", f"No page at {request.url.path}")


def _allowed(request: Request, param: str) -> str | None:
    """The allowed values of a query parameter, read from the route's parameter model."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    for field in getattr(dependant, "query_params", []):
        model = field.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, info in model.model_fields.items():
            if (info.alias or name) != param:
                continue
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, Enum):
                return ", ".join(str(m.value) for m in annotation)
            low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
            high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
            if low is not None or high is not None:
                return f"{low if low is not None else '…'} to {high if high is not None else '…'}"
    return None

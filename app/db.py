"""Engine, declarative base and session helpers shared by the web app, jobs and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from sqlalchemy import Table

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model is a declarative table, so its __table__ is a Table (DeclarativeBase says FromClause).
        __table__: ClassVar[Table]


def connection_capacity(engine: Engine) -> int | None:
    """How many connections the engine's pool hands out at once (None: no fixed bound)."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        return pool.size() + max(pool._max_overflow, 0)  # noqa: SLF001 - no public accessor
    return None


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE for writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        if parsed.get_backend_name() == "postgresql":
            # psycopg prepares a statement run five times; PostgreSQL then may keep one generic plan for
            # it, blind to the values bound (a 30-day or a 10-year window, 10 companies or 5,000). Plan
            # each execution for its values instead: planning costs well under a millisecond here.
            # No JIT: a page's statements run for milliseconds, and a cost estimate over its threshold
            # (a rough guess of rows per company, say) spent ~280 ms compiling one of them.
            # Sessions in UTC: times come back already in UTC (UTCDateTime leaves them as they are),
            # whatever the server's own time zone.
            connect_args = kwargs.pop("connect_args", {})
            connect_args.setdefault(
                "options", "-c plan_cache_mode=force_custom_plan -c jit=off -c timezone=UTC"
            )
            kwargs["connect_args"] = connect_args
        return create_engine(url, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", 60)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own implicit BEGIN is disabled so that we control it below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred transaction that later upgrades to a write lock
        # can fail with SQLITE_BUSY immediately (no busy wait), which concurrent ingests would hit.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """Return the process-wide engine for `url` (default: the configured DATABASE_URL)."""
    if url is None:
        from app.config import get_settings

        url = get_settings().database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = False) -> Iterator[Session]:
    """Open a session that commits on success and rolls back on error (jobs and CLI)."""
    engine = engine or get_engine()
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    session = Session(bind=bind, expire_on_commit=False, autoflush=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

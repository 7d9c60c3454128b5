"""Shared test configuration: where the real EDGAR samples live, and whether they must be present."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from app.db import Base, make_engine

# Pages are tested as built, not as cached seconds earlier (tests/web/test_micro_cache.py turns it on).
os.environ.setdefault("PAGE_CACHE_SECONDS", "0")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("CLUSTERBUY_SHARED_DIR", ROOT.parent / "shared"))
SAMPLES_DIR = SHARED_DIR / "edgar-samples"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"


def require_samples() -> Path:
    """Return the shared EDGAR samples folder, or skip (fail under REQUIRE_SHARED=1) when absent."""
    if SAMPLES_DIR.is_dir():
        return SAMPLES_DIR
    if os.environ.get("REQUIRE_SHARED") == "1":
        pytest.fail(f"REQUIRE_SHARED=1 but {SAMPLES_DIR} is missing")
    pytest.skip(f"shared EDGAR samples not found at {SAMPLES_DIR}")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return require_samples()


# --- databases: every DB test runs on SQLite and PostgreSQL ------------------------------------------


POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]


def _postgres_available() -> str | None:
    try:
        eng = create_engine(
            POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any driver/connection error means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def create_database(backend: str, tmp_dir: Path) -> tuple[str, object]:
    """Create an empty throwaway database; returns its URL and a cleanup callable."""
    if backend == "sqlite":
        path = tmp_dir / f"test-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: None
    problem = _postgres_available()
    if problem:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {problem}"
            )
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"clusterbuy_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database per backend for the whole test session."""
    from app.migrate import upgrade

    url, drop = create_database(request.param, tmp_path_factory.mktemp("db"))
    upgrade(url)
    yield url
    from app.db import _engines

    for key in [k for k in _engines if k == url]:
        _engines.pop(key).dispose()
    drop()  # type: ignore[operator]


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def truncate_all(eng: Engine) -> None:
    """Empty every table (for tests whose code under test commits its own transactions)."""
    import app.models  # noqa: F401

    tables = list(reversed(Base.metadata.sorted_tables))
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for t in tables:
                conn.execute(t.delete())


@pytest.fixture
def clean_engine(engine: Engine) -> Iterator[Engine]:
    """The engine, emptied after the test: for code that commits its own transactions."""
    truncate_all(engine)
    yield engine
    truncate_all(engine)


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction rolled back after the test (savepoints for commits)."""
    connection = engine.connect()
    trans = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        connection.close()

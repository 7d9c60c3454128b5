"""One scheduler leader per deployment: a PostgreSQL session advisory lock held on a dedicated
connection for the process lifetime, or an fcntl file lock beside the SQLite file (protocol §9.2).

A crashed leader's lock goes with its connection (or file descriptor), so a standby takes over.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# pg_try_advisory_lock key: "clusterbuy scheduler" (any constant shared by every process will do).
ADVISORY_KEY = 0x436C_7573_7465_7201


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class PostgresLeaderLock:
    """Session-level advisory lock on its own connection, outside the app's pool."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free; True when this process holds it."""
        if self._conn is not None:
            return self.still_held()
        conn = self._engine.connect()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def still_held(self) -> bool:
        """Check the lock's connection is alive (the lock lives exactly as long as it)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("leader connection lost: leadership released")
            self._drop()
            return False

    def release(self) -> None:
        """Give the lock up (closing the connection releases it too)."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            except Exception:
                pass
            self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


class FileLeaderLock:
    """Exclusive non-blocking flock on a file; the kernel drops it when the process exits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free; True when this process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def leader_lock_for(engine: Engine) -> LeaderLock:
    """Return the leader lock that fits the engine's database."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresLeaderLock(url.render_as_string(hide_password=False))
    database = make_url(url).database
    if database and database != ":memory:":
        return FileLeaderLock(Path(database).with_name(Path(database).name + ".leader.lock"))
    return FileLeaderLock(Path("./data/clusterbuy-memory.leader.lock"))

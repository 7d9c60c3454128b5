"""Fault injection by hand: PostgreSQL restarted in the middle of an ingest must leave, after a rerun, the
same database state as an undisturbed run, with the interruption visible on /status.

    .venv/bin/python bench/faults.py                      # both scenarios, 300 filings each
    .venv/bin/python bench/faults.py --scenario poll --filings 500 --pg-version 15
    .venv/bin/python bench/faults.py --cluster faults --port 5433   # a dedicated cluster, see below

Scenarios (each against its own pair of databases, clusterbuy_faults_ref / clusterbuy_faults):
  poll   `clusterbuy jobs run edgar.poll_current` over a local EDGAR server (tests/edgar_server.py) whose
         current feed lists the filings; PostgreSQL is restarted a third of the way in, then the job
         is run again.
  files  `clusterbuy ingest-files` over a folder of the same filings; restart, rerun.

The restart (`pg_ctlcluster --skip-systemctl-redirect VERSION CLUSTER restart`) drops every connection on
that server, other people's included: the script lists other sessions and stops unless --yes. On a
shared machine, restart a dedicated cluster instead:
    pg_createcluster 15 faults -p 5433 -- --auth=trust && pg_ctlcluster 15 faults start
    ...; pg_dropcluster --stop 15 faults
Never run from pytest. Compared with tests/stable_dump.py, skipping job_run and ingest_checkpoint
(run bookkeeping that differs by design).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, func, select, text  # noqa: E402

from app.db import make_engine, session_scope  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Filing, JobRun  # noqa: E402
from tests.edgar_server import EdgarServer  # noqa: E402
from tests.ingest.mirror import MirrorFiling, document, feed_xml  # noqa: E402
from tests.stable_dump import stable_dump  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"  # --port changes it
SKIP = frozenset({"job_run", "ingest_checkpoint"})
USER_AGENT = "Clusterbuy fault bench bench@example.com"


def filings(n: int) -> list[MirrorFiling]:
    """`n` purchases: 20 issuers, each bought by several insiders over a few days (clusters)."""
    start = date(2024, 3, 4)
    out = []
    for i in range(n):
        day = start + timedelta(days=i % 10)
        out.append(
            MirrorFiling(
                accession=f"00007{i:05d}-24-{i:06d}",
                issuer_cik=f"{5000 + i % 20:010d}",
                owner_cik=f"{60000 + i:010d}",
                day=day,
                accepted_at_et=f"{day.isoformat()}T{10 + i % 8}:{i % 60:02d}:00",
                ticker=f"F{i % 20:02d}",
            )
        )
    return out


def publish(server: EdgarServer, items: list[MirrorFiling]) -> None:
    """Archive documents plus getcurrent pages of 100 entries, newest first, as EDGAR pages them."""
    for f in items:
        server.put(f.path, document(f))
    newest_first = sorted(items, key=lambda f: (f.day, f.accepted_at_et), reverse=True)
    for page in range(0, len(newest_first), 100):
        entries = [
            (f.accession, "4", f.issuer_cik, "Issuer", f"{f.accepted_at_et}-05:00")
            for f in newest_first[page : page + 100]
        ]
        server.put_feed_page(page, feed_xml(entries))


def fresh_database(name: str) -> str:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    return url


def other_sessions(own: set[str]) -> list[str]:
    """Active client sessions on the server outside our databases (they would lose their connection)."""
    admin = create_engine(ADMIN_URL)
    with admin.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT datname, state, count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid() AND datname IS NOT NULL GROUP BY 1, 2"
            )
        ).all()
    admin.dispose()
    return [f"{db} ({state}: {n})" for db, state, n in rows if db not in own]


def restart_postgres(version: str, cluster: str, port: int) -> float:
    """Restart the cluster; return how long the restart took (seconds)."""
    started = time.perf_counter()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"], check=True, timeout=120
    )
    for _ in range(120):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(port), "-q"]).returncode == 0:
            break
        time.sleep(0.25)
    return time.perf_counter() - started


def count(engine: Engine) -> int:
    try:
        with session_scope(engine) as s:
            return s.scalar(select(func.count()).select_from(Filing)) or 0
    except Exception:  # the server is restarting
        return -1


def cli(args: list[str]) -> list[str]:
    return [sys.executable, "-c", "from app.cli import main; main()", *args]


def env_for(url: str, server: EdgarServer, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGAR_", "DATABASE_", "SEC_"))}
    env.update(
        DATABASE_URL=url,
        SEC_USER_AGENT=USER_AGENT,
        EDGAR_BASE_URL=server.base_url,
        EDGAR_DATA_BASE_URL=server.base_url,
        EDGAR_MAX_RPS="10",
        EDGAR_TIMEOUT_S="5",
        CACHE_DIR=str(cache),
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    return env


def status_runs(url: str) -> list[dict[str, Any]]:
    """What /api/status reports about the job runs (the app in-process, on the faulted database)."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:
        page = client.get("/api/status").json()
    return [job for job in page.get("jobs", []) if job.get("last_outcome")]


def run_scenario(scenario: str, n: int, restart: tuple[str, str, int] | None, work: Path) -> bool:
    """Reference run, faulted run with a restart, rerun; print the diff; True when it is empty."""
    print(f"\n== {scenario}: {n} filings", flush=True)
    items = filings(n)
    server = EdgarServer(work / f"mirror-{scenario}").start()
    try:
        publish(server, items)
        folder = work / f"docs-{scenario}"
        folder.mkdir()
        for f in items:
            (folder / f"{f.accession}.txt").write_bytes(document(f))
        command = (
            ["jobs", "run", "edgar.poll_current"] if scenario == "poll" else ["ingest-files", str(folder)]
        )

        ref_url = fresh_database("clusterbuy_faults_ref")
        started = time.perf_counter()
        done = subprocess.run(
            cli(command),
            env=env_for(ref_url, server, work / f"cache-ref-{scenario}"),
            capture_output=True,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        print(f"undisturbed run: {time.perf_counter() - started:.1f} s", flush=True)
        ref_engine = make_engine(ref_url)
        expected = stable_dump(ref_engine, skip_tables=SKIP)
        ref_engine.dispose()

        url = fresh_database("clusterbuy_faults")
        engine = make_engine(url)
        env = env_for(url, server, work / f"cache-{scenario}")
        proc = subprocess.Popen(cli(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while 0 <= count(engine) < n // 3:
            if proc.poll() is not None:
                raise SystemExit("the ingest ended before the restart: raise --filings")
            time.sleep(0.05)
        at_restart = count(engine)
        down = restart_postgres(*restart) if restart else 0.0
        out, err = proc.communicate(timeout=600)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        print(
            f"restarted PostgreSQL after {at_restart} of {n} filings (down {down:.1f} s); the run exited "
            f"{proc.returncode}: {tail[0][:300]}",
            flush=True,
        )
        engine.dispose()
        engine = make_engine(url)
        stored_after_fault = count(engine)
        if scenario == "poll":
            for job in status_runs(url):
                message = (job.get("last_message") or "")[:200]
                print(f"/status: {job['name']} last run {job['last_outcome']}: {message}")
        done = subprocess.run(cli(command), env=env, capture_output=True)
        print(
            f"rerun exited {done.returncode}; filings {stored_after_fault} -> {count(engine)}",
            flush=True,
        )
        got = stable_dump(engine, skip_tables=SKIP)
        if scenario == "poll":
            with session_scope(engine) as s:
                runs = [
                    (r.outcome, (r.message or "")[:120])
                    for r in s.scalars(select(JobRun).order_by(JobRun.id))
                ]
            print(f"job runs recorded: {runs}")
        engine.dispose()
    finally:
        server.stop()
    diff = {t: (len(expected[t]), len(got.get(t, []))) for t in expected if expected[t] != got.get(t)}
    print(f"diff against the undisturbed run: {diff or 'empty'}", flush=True)
    return not diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=["poll", "files", "all"], default="all")
    ap.add_argument("--filings", type=int, default=300)
    ap.add_argument("--pg-version", default="15")
    ap.add_argument("--cluster", default="main", help="pg_ctlcluster cluster name (e.g. a dedicated one)")
    ap.add_argument("--port", type=int, default=5432, help="that cluster's port")
    ap.add_argument("--yes", action="store_true", help="restart even if other sessions are active")
    ap.add_argument("--no-restart", action="store_true", help="check the harness without restarting")
    args = ap.parse_args()
    global ADMIN_URL
    ADMIN_URL = f"postgresql+psycopg://postgres@127.0.0.1:{args.port}/postgres"
    others = other_sessions({"clusterbuy_faults", "clusterbuy_faults_ref"})
    if others and not args.yes and not args.no_restart:
        raise SystemExit(
            "a restart would cut these sessions off: " + ", ".join(others) + " (wait, or pass --yes)"
        )
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    ok = True
    try:
        for scenario in ["poll", "files"] if args.scenario == "all" else [args.scenario]:
            restart = None if args.no_restart else (args.pg_version, args.cluster, args.port)
            ok = run_scenario(scenario, args.filings, restart, work) and ok
    finally:
        shutil.rmtree(work, ignore_errors=True)
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in ("clusterbuy_faults", "clusterbuy_faults_ref"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

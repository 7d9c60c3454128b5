"""Fault injection by hand: a fault in the middle of an ingest must leave, after a rerun, the same database
state as an undisturbed run, with the interruption visible on /status.

    .venv/bin/python bench/faults.py --cluster faults --port 5440   # every fault, a dedicated cluster
    .venv/bin/python bench/faults.py --database sqlite              # every fault SQLite has (no restart)
    .venv/bin/python bench/faults.py --fault kill --scenario poll --filings 500

Faults (each against its own pair of fresh databases, clusterbuy_faults_ref / clusterbuy_faults):
  restart  PostgreSQL restarted a third of the way in, then the command run again (PostgreSQL only).
  kill     the ingest process SIGKILLed a third of the way in, then the command run again.
  edgar    `clusterbuy backfill` while the EDGAR server answers every third document with 5xx, 429 +
           Retry-After, a dropped connection, a body slower than the read timeout, broken gzip, an HTML
           error page with 200, a truncated document or 503 until the retries run out, and two daily
           indexes with 503 (once briefly, once until the retries run out); then
           `backfill --retry-failed` with EDGAR healthy again.
  leaders  two `clusterbuy scheduler` processes race for leadership over the current feed; on PostgreSQL
           the server is restarted a third of the way in (both lose their connections, the leader its
           lock, and they race again); the leader is SIGKILLed at two thirds; until every filing is in.
Scenarios (the command faulted, for restart and kill): poll = `clusterbuy jobs run edgar.poll_current`
over a local EDGAR server (tests/edgar_server.py) whose current feed lists the filings; files =
`clusterbuy ingest-files` over a folder of the same filings; backfill = `clusterbuy backfill` over the
same server's daily indexes (ten business days).

The restart (`pg_ctlcluster --skip-systemctl-redirect VERSION CLUSTER restart`) drops every connection on
that server, other people's included: the script lists other sessions and stops unless --yes. On a
shared machine, restart a dedicated cluster instead:
    pg_createcluster 15 faults -p 5440 -- --auth=trust && pg_ctlcluster 15 faults start
    ...; pg_dropcluster --stop 15 faults
Never run from pytest. Compared with tests/stable_dump.py, skipping job_run and ingest_checkpoint
(run bookkeeping that differs by design) and, for the edgar fault, ingest_error and backfill_day (the
failures the faulted run recorded, then healed; their counts are printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, func, select, text  # noqa: E402

from app.db import make_engine, session_scope  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Filing, IngestError, JobRun  # noqa: E402
from tests.edgar_server import (  # noqa: E402
    EdgarServer,
    Step,
    delay,
    drop,
    garbage,
    retry_after,
    status,
)
from tests.ingest.mirror import MirrorFiling, document, feed_xml, publish_day  # noqa: E402
from tests.stable_dump import stable_dump  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"  # --port changes it
SKIP = frozenset({"job_run", "ingest_checkpoint"})
USER_AGENT = "Clusterbuy fault bench bench@example.com"
FAULTS = ("restart", "kill", "edgar", "leaders")
DAYS = 10
TIMEOUT_S = 1.0  # EDGAR_TIMEOUT_S for the edgar fault: the slow bodies take longer
LEADER_RETRY_S = "5"  # scheduler --leader-retry for the leaders fault (30 s in production)


def business_days(start: date, n: int) -> list[date]:
    out, day = [], start
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def filings(n: int) -> list[MirrorFiling]:
    """`n` purchases: 20 issuers, each bought by several insiders over a few business days (clusters)."""
    days = business_days(date(2024, 3, 4), DAYS)
    out = []
    for i in range(n):
        day = days[i % DAYS]
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
    """Documents, daily indexes, and getcurrent pages of 100 entries, newest first, as EDGAR pages them."""
    for day in sorted({f.day for f in items}):
        publish_day(server, day, [f for f in items if f.day == day])
    newest_first = sorted(items, key=lambda f: (f.day, f.accepted_at_et), reverse=True)
    for page in range(0, len(newest_first), 100):
        entries = [
            (f.accession, "4", f.issuer_cik, "Issuer", f"{f.accepted_at_et}-05:00")
            for f in newest_first[page : page + 100]
        ]
        server.put_feed_page(page, feed_xml(entries))


def inject_edgar_faults(server: EdgarServer, items: list[MirrorFiling]) -> dict[str, int]:
    """Script a fault for every third document and two daily indexes; return how many of each."""
    kinds: list[tuple[str, Callable[[MirrorFiling], list[Step]]]] = [
        # Retried by the client within the run:
        ("5xx x3", lambda f: [status(503), status(502), status(500)]),
        ("dropped connection", lambda f: [drop()]),
        (f"body slower than the {TIMEOUT_S:g} s timeout", lambda f: [delay(TIMEOUT_S + 0.5)]),
        ("429 Retry-After: 1", lambda f: [retry_after(1)]),
        (
            "broken gzip",
            lambda f: [garbage(b"\x1f\x8b\x08 broken gzip", headers={"Content-Encoding": "gzip"})],
        ),
        # Left failed by the run (recorded on /status), healed by the rerun:
        ("HTML error page with 200", lambda f: [garbage(b"<html><title>Service Unavailable</title></html>")]),
        ("truncated document", lambda f: [garbage(document(f)[: len(document(f)) // 2])]),
        ("503 until the retries run out", lambda f: [status(503)] * 4),
    ]
    counts: dict[str, int] = {}
    for i, f in enumerate(items[::3]):
        name, steps = kinds[i % len(kinds)]
        server.fail(f.accession, steps(f))
        counts[name] = counts.get(name, 0) + 1
    days = sorted({f.day for f in items}, reverse=True)
    server.fail(f"form\\.{days[0]:%Y%m%d}\\.idx", [503, 502])  # retried within the run
    server.fail(f"form\\.{days[len(days) // 2]:%Y%m%d}\\.idx", [503] * 4)  # the run stops there
    counts["daily index 503 x2"] = 1
    counts["daily index 503 until the retries run out"] = 1
    return counts


# --- databases ---------------------------------------------------------------------------------------------
def fresh_database(name: str, backend: str, work: Path) -> str:
    if backend == "sqlite":
        path = work / f"{name}.db"
        for p in work.glob(f"{name}.db*"):
            p.unlink()
        url = f"sqlite:///{path}"
    else:
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


def count(engine: Engine, model: type = Filing) -> int:
    try:
        with session_scope(engine) as s:
            return s.scalar(select(func.count()).select_from(model)) or 0
    except Exception:  # the server is restarting
        return -1


def job_runs(engine: Engine) -> list[JobRun]:
    with session_scope(engine) as s:
        return list(s.scalars(select(JobRun).order_by(JobRun.id)))


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- processes ---------------------------------------------------------------------------------------------
def cli(args: list[str]) -> list[str]:
    return [sys.executable, "-c", "from app.cli import main; main()", *args]


def env_for(url: str, server: EdgarServer, cache: Path, timeout_s: float = 5) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGAR_", "DATABASE_", "SEC_"))}
    env.update(
        DATABASE_URL=url,
        SEC_USER_AGENT=USER_AGENT,
        EDGAR_BASE_URL=server.base_url,
        EDGAR_DATA_BASE_URL=server.base_url,
        EDGAR_MAX_RPS="10",
        EDGAR_TIMEOUT_S=f"{timeout_s:g}",
        CACHE_DIR=str(cache),
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    return env


def last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def status_page(url: str) -> dict[str, Any]:
    """What /api/status reports (the app in-process, on the faulted database)."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    with TestClient(
        create_app(Settings(_env_file=None, database_url=url, sec_user_agent=USER_AGENT))
    ) as client:
        return client.get("/api/status").json()


def print_status(url: str) -> None:
    page = status_page(url)
    for job in page.get("jobs", []):
        if job.get("last_outcome"):
            message = (job.get("last_message") or "")[:200]
            print(f"  /status job {job['name']}: last run {job['last_outcome']}: {message}")
    errors = page.get("errors", [])
    if errors:
        first = f"{errors[0]['accession']}: {errors[0]['reason'][:120]}"
        print(f"  /status errors: {len(errors)} shown, e.g. {first}")
    backfill = page.get("backfill", {})
    if backfill.get("days"):
        print(
            f"  /status backfill days {backfill['days']}, failed filings {backfill['filings_failed']}, "
            f"pending {backfill.get('pending_days')}"
        )
    edgar = page.get("edgar", {})
    if edgar.get("reachable") is False or page.get("banners"):
        print(f"  /status EDGAR reachable={edgar.get('reachable')}; banners {page.get('banners')}")
    leader = page.get("scheduler", {})
    if leader.get("leader_process"):
        print(f"  /status scheduler leader {leader['leader_process']} since {leader['leader_since']}")


# --- one run -----------------------------------------------------------------------------------------------
class Setup:
    def __init__(self, fault: str, scenario: str, n: int, backend: str, work: Path) -> None:
        self.fault, self.scenario, self.n, self.backend = fault, scenario, n, backend
        self.work = work / f"{fault}-{scenario}-{backend}"
        self.work.mkdir(parents=True)
        self.items = filings(n)
        self.server = EdgarServer(self.work / "mirror").start()
        publish(self.server, self.items)
        self.folder = self.work / "docs"
        self.folder.mkdir()
        for f in self.items:
            (self.folder / f"{f.accession}.txt").write_bytes(document(f))
        days = sorted({f.day for f in self.items})
        self.since, self.until = days[0], days[-1]

    def command(self, *, rerun: bool = False) -> list[str]:
        if self.scenario == "poll":
            return ["jobs", "run", "edgar.poll_current"]
        if self.scenario == "files":
            return ["ingest-files", str(self.folder)]
        retry = ["--retry-failed"] if rerun else []
        return ["backfill", "--since", str(self.since), "--until", str(self.until), *retry]

    def env(self, url: str, tag: str) -> dict[str, str]:
        timeout = TIMEOUT_S if self.fault == "edgar" else 5
        return env_for(url, self.server, self.work / f"cache-{tag}", timeout)


def run_fault(
    fault: str, scenario: str, n: int, backend: str, restart: tuple[str, str, int] | None, work: Path
) -> bool:
    """Reference run, faulted run, rerun; print the diff; True when it is empty."""
    print(f"\n== {fault} / {scenario} / {backend}: {n} filings", flush=True)
    setup = Setup(fault, scenario, n, backend, work)
    skip = SKIP | ({"ingest_error", "backfill_day"} if fault == "edgar" else frozenset())
    try:
        ref_url = fresh_database("clusterbuy_faults_ref", backend, setup.work)
        reference = ["jobs", "run", "edgar.poll_current"] if fault == "leaders" else setup.command()
        started = time.perf_counter()
        done = subprocess.run(cli(reference), env=setup.env(ref_url, "ref"), capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        print(f"undisturbed run: {time.perf_counter() - started:.1f} s", flush=True)
        ref_engine = make_engine(ref_url)
        expected = stable_dump(ref_engine, skip_tables=skip)
        ref_engine.dispose()

        url = fresh_database("clusterbuy_faults", backend, setup.work)
        engine = make_engine(url)
        if fault == "leaders":
            leaders(setup, url, engine, restart)
        else:
            faulted_run(setup, url, engine, restart)
        engine.dispose()
        engine = make_engine(url)
        got = stable_dump(engine, skip_tables=skip)
        engine.dispose()
    finally:
        setup.server.stop()
    diff = {t: (len(expected[t]), len(got.get(t, []))) for t in expected if expected[t] != got.get(t)}
    print(f"diff against the undisturbed run: {diff or 'empty'}", flush=True)
    return not diff


def faulted_run(setup: Setup, url: str, engine: Engine, restart: tuple[str, str, int] | None) -> None:
    """restart, kill, edgar: the command with the fault, /status, then the command again."""
    env = setup.env(url, "faulted")
    if setup.fault == "edgar":
        counts = inject_edgar_faults(setup.server, setup.items)
        print(f"injected: {counts}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cli(setup.command()), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if setup.fault in ("restart", "kill"):
        wait_until(lambda: not 0 <= count(engine) < setup.n // 3 or proc.poll() is not None, "a third")
        if proc.poll() is not None:
            raise SystemExit("the ingest ended before the fault: raise --filings")
        at_fault = count(engine)
        if setup.fault == "kill":
            proc.send_signal(signal.SIGKILL)
            print(f"SIGKILLed the ingest after {at_fault} of {setup.n} filings", flush=True)
        else:
            down = restart_postgres(*restart) if restart else 0.0
            print(
                f"restarted PostgreSQL after {at_fault} of {setup.n} filings (down {down:.1f} s)", flush=True
            )
    out, err = proc.communicate(timeout=900)
    print(
        f"the faulted run exited {proc.returncode} after {time.perf_counter() - started:.1f} s: "
        f"{last_line(err)}",
        flush=True,
    )
    engine.dispose()
    stored_after_fault = count(engine)
    failures = count(engine, IngestError)
    print(f"after the fault: {stored_after_fault} filings, {failures} ingest errors recorded", flush=True)
    print_status(url)

    if setup.fault == "edgar":
        setup.server.clear_failures()  # EDGAR is healthy again
    done = subprocess.run(cli(setup.command(rerun=True)), env=env, capture_output=True)
    print(
        f"rerun exited {done.returncode}; filings {stored_after_fault} -> {count(engine)}, "
        f"ingest errors {failures} -> {count(engine, IngestError)}",
        flush=True,
    )
    if setup.scenario == "poll":
        runs = [(r.outcome, (r.message or "")[:100]) for r in job_runs(engine)]
        print(f"job runs recorded: {runs}")


def leaders(setup: Setup, url: str, engine: Engine, restart: tuple[str, str, int] | None) -> None:
    """Two schedulers racing: on PostgreSQL, restart the server at a third (both lose their connections,
    the leader its lock); SIGKILL the leader at two thirds."""
    env = setup.env(url, "faulted")
    # Leadership retried every LEADER_RETRY_S s while jobs tick every second: a process that lost its
    # lock without noticing yet would still run jobs for up to that long.
    cmd = cli(["scheduler", "--only", "edgar.poll_current", "--tick", "1", "--leader-retry", LEADER_RETRY_S])
    logs = [(setup.work / f"scheduler-{i}.log").open("wb") for i in range(2)]
    procs = {
        p.pid: p
        for p in (subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log) for log in logs)
    }
    try:
        if restart:
            wait_until(lambda: count(engine) >= setup.n // 3, "a third of the filings")
            at = count(engine)
            down = restart_postgres(*restart)
            print(f"restarted PostgreSQL after {at} of {setup.n} filings (down {down:.1f} s)", flush=True)
        wait_until(lambda: count(engine) >= 2 * setup.n // 3, "two thirds of the filings")
        running = [r for r in job_runs(engine) if r.outcome == "running"]
        leader = running[-1].host if running else job_runs(engine)[-1].host
        pid = int(str(leader).rsplit(":", 1)[1])
        procs[pid].send_signal(signal.SIGKILL)
        procs[pid].wait()
        print(f"SIGKILLed the leader {leader} after {count(engine)} filings", flush=True)
        wait_until(lambda: count(engine) == setup.n, "every filing")
        complete = datetime.now().astimezone()
        # One more run that started after the last filing was in: the refreshes before it are done.
        wait_until(
            lambda: any(r.outcome == "ok" and r.started_at > complete for r in job_runs(engine)),
            "a complete run",
        )
        print_status(url)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            p.wait(timeout=60)
        for log in logs:
            log.close()
    runs = job_runs(engine)
    hosts = sorted({str(r.host) for r in runs})
    outcomes: dict[str, int] = {}
    for r in runs:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    # Two runs overlap when one starts before the other (not interrupted) has finished.
    spans = sorted((r.started_at, r.finished_at, r.outcome, r.host) for r in runs if r.finished_at)
    overlaps = [
        (h1, h2, (f1 - s2).total_seconds())
        for (_s1, f1, o1, h1), (s2, _f2, _o2, h2) in zip(spans, spans[1:], strict=False)
        if o1 != "interrupted" and s2 < f1
    ]
    print(f"job runs: {len(runs)} by {len(hosts)} processes, outcomes {outcomes}, overlaps {len(overlaps)}")
    for h1, h2, seconds in overlaps:
        print(f"  a run by {h2} started {seconds:.1f} s before the run by {h1} had finished")
    for r in runs:
        if r.outcome not in ("ok",):
            print(f"  {r.host} {r.outcome}: {(r.message or '')[:150]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fault", choices=[*FAULTS, "all"], default="all")
    ap.add_argument(
        "--scenario", choices=["poll", "files", "backfill", "all"], default="all", help="for restart, kill"
    )
    ap.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="postgresql")
    ap.add_argument("--filings", type=int, default=300)
    ap.add_argument("--pg-version", default="15")
    ap.add_argument("--cluster", default="main", help="pg_ctlcluster cluster name (e.g. a dedicated one)")
    ap.add_argument("--port", type=int, default=5432, help="that cluster's port")
    ap.add_argument("--yes", action="store_true", help="restart even if other sessions are active")
    ap.add_argument("--no-restart", action="store_true", help="never restart PostgreSQL")
    args = ap.parse_args()
    global ADMIN_URL
    ADMIN_URL = f"postgresql+psycopg://postgres@127.0.0.1:{args.port}/postgres"
    backends = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    faults = list(FAULTS) if args.fault == "all" else [args.fault]
    scenarios = ["poll", "files", "backfill"] if args.scenario == "all" else [args.scenario]
    restart = None if args.no_restart else (args.pg_version, args.cluster, args.port)
    if "postgresql" in backends and restart and {"restart", "leaders"} & set(faults):
        others = other_sessions({"clusterbuy_faults", "clusterbuy_faults_ref"})
        if others and not args.yes:
            raise SystemExit(
                "a restart would cut these sessions off: " + ", ".join(others) + " (wait, or pass --yes)"
            )
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    results: list[tuple[str, bool]] = []
    try:
        for backend in backends:
            for fault in faults:
                if fault == "restart" and (backend != "postgresql" or restart is None):
                    continue
                plan = {"edgar": ["backfill"], "leaders": ["poll"]}.get(fault, scenarios)
                for scenario in plan:
                    pg_restart = restart if backend == "postgresql" else None
                    ok = run_fault(fault, scenario, args.filings, backend, pg_restart, work)
                    results.append((f"{fault}/{scenario}/{backend}", ok))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if "postgresql" in backends:
            admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name in ("clusterbuy_faults", "clusterbuy_faults_ref"):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print("\n" + "\n".join(f"{name}: {'empty diff' if ok else 'DIFF'}" for name, ok in results))
    sys.exit(0 if all(ok for _, ok in results) else 1)


if __name__ == "__main__":
    main()

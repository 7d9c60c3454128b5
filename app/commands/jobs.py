"""Scheduler commands: run the jobs in the foreground, list them, run one now."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli import _require_current_schema, cli, err
from app.config import get_settings

jobs_cli = typer.Typer(help="Scheduled jobs: list them, run one now.")
cli.add_typer(jobs_cli, name="jobs")


@cli.command()
def scheduler(
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only this job (repeatable).")] = None,
    leader_retry: Annotated[
        float, typer.Option(help="Seconds between leadership attempts when not leading.")
    ] = 30.0,
    tick: Annotated[
        float | None,
        typer.Option(hidden=True, help="Run every job each TICK seconds instead of its schedule (tests)."),
    ] = None,
) -> None:
    """Run the scheduled jobs in the foreground (only the leader process runs them; Ctrl-C stops)."""
    from app.db import get_engine
    from app.jobs.scheduler import JobScheduler

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _require_current_schema()
    settings.require_user_agent()
    try:
        sched = JobScheduler(settings, get_engine(), only=only, tick_s=tick, leader_retry_s=leader_retry)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sched.start()
    err.print("scheduler started; runs jobs while it holds the leader lock (Ctrl-C to stop)")
    stop.wait()
    sched.shutdown()


@jobs_cli.command("list")
def jobs_list() -> None:
    """List the registered jobs with their next run and last outcome."""
    from app.db import get_engine, session_scope
    from app.jobs.registry import JOBS
    from app.repositories import ops as ops_repo
    from app.web.templating import et

    _require_current_schema()
    now = datetime.now(UTC)
    with session_scope(get_engine()) as session:
        last = ops_repo.last_job_runs(session, list(JOBS))
    table = Table()
    table.add_column("job", no_wrap=True)
    for title in ("next run", "last run", "outcome", "description"):
        table.add_column(title)
    for name, spec in JOBS.items():
        run = last.get(name)
        table.add_row(
            name,
            et(spec.next_run(now)),
            et(run.started_at) if run else "—",
            run.outcome if run else "—",
            spec.description,
        )
    Console().print(table)


@jobs_cli.command("run")
def jobs_run(name: Annotated[str, typer.Argument(help="Job name, e.g. edgar.poll_current.")]) -> None:
    """Run one job now (whatever the hour), record it like a scheduled run, print its stats."""
    from app.db import get_engine
    from app.jobs.registry import JOBS
    from app.jobs.runner import run_job

    if name not in JOBS:
        err.print(f"[red]unknown job {name!r}[/]; known: {', '.join(JOBS)}")
        raise typer.Exit(2)
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _require_current_schema()
    result = run_job(name, settings=settings, engine=get_engine())
    err.print(f"{name}: {result.outcome} in {result.duration_s:.1f}s {result.stats}")
    if result.message:
        err.print(f"[red]{result.message}[/]" if result.outcome != "ok" else result.message)
    if result.outcome != "ok":
        raise typer.Exit(1)

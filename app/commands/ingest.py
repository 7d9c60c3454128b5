"""Ingestion commands: backfill from daily indexes, import bulk data sets, poll the live feed once."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from app.cli import _progress, _require_current_schema, cli, err
from app.config import get_settings


def _yesterday_et() -> date:
    from app.ingest.backfill import EASTERN

    return datetime.now(UTC).astimezone(EASTERN).date() - timedelta(days=1)


@cli.command()
def backfill(
    since: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Oldest day (YYYY-MM-DD).")],
    until: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Newest day (default: yesterday, US/Eastern)."),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Also redo finished days that recorded failures.")
    ] = False,
) -> None:
    """Store every Form 4/4A the EDGAR daily indexes list, newest day first; safe to stop and rerun."""
    from app.db import get_engine
    from app.ingest.backfill import DayResult
    from app.ingest.backfill import backfill as run_backfill
    from app.ingest.sec_client import EdgarClient

    settings = get_settings()
    _require_current_schema()
    first, last = since.date(), (until.date() if until else _yesterday_et())
    engine = get_engine()
    with EdgarClient(settings) as client, _progress() as progress:
        days = progress.add_task("days", total=(last - first).days + 1 if last >= first else 0)
        filings = progress.add_task("filings", total=None, visible=False)

        def day_start(day: date, listed: int) -> None:
            progress.reset(filings, total=listed, description=f"{day} filings", visible=True)

        def day_done(result: DayResult) -> None:
            progress.advance(days)
            progress.update(days, description=f"days (last: {result.day} {result.status})")

        report = run_backfill(
            client,
            engine,
            first,
            last,
            retry_failed=retry_failed,
            on_day_start=day_start,
            on_day_done=day_done,
            on_filing=lambda _acc, _outcome: progress.advance(filings),
        )
    f = report.filings
    err.print(
        f"days: {report.days_done} done, {report.days_no_index} without index, "
        f"{report.days_skipped} already done; filings: {f.stored} stored, {f.updated} updated, "
        f"{f.already_stored} already stored, {f.failed} failed (see /status)"
    )
    if report.stopped:
        err.print(f"[red]stopped early:[/] {report.stopped}\nRun the same command again to resume.")
        raise typer.Exit(1)


@cli.command("import-bulk")
def import_bulk_cmd(
    path: Annotated[Path, typer.Argument(help="A quarterly data set: the zip or its extracted folder.")],
    batch_size: Annotated[int, typer.Option(min=1, help="Filings per transaction.")] = 500,
    no_clusters: Annotated[
        bool, typer.Option("--no-clusters", help="Skip the cluster refresh (run it later).")
    ] = False,
) -> None:
    """Load an SEC Insider Transactions Data Set (Form 3/4/5 TSVs); re-importing changes nothing."""
    from app.db import get_engine
    from app.ingest.bulk_import import import_bulk
    from app.ingest.bulk_tsv import BulkDatasetError, DatasetSummary

    _require_current_schema()
    summary = DatasetSummary()
    started = time.perf_counter()
    progress: Progress
    with _progress() as progress:
        task = progress.add_task(f"importing {path.name}", total=None)

        def advance(n: int) -> None:
            if progress.tasks[0].total is None and summary.rows.get("SUBMISSION"):
                progress.update(task, total=summary.rows["SUBMISSION"])
            progress.advance(task, n)

        try:
            report = import_bulk(
                path,
                get_engine(),
                batch_size=batch_size,
                refresh_clusters=not no_clusters,
                summary=summary,
                on_progress=advance,
            )
        except BulkDatasetError as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    err.print(
        f"{report.filings} filings ({report.transactions} transaction rows) in {elapsed:.1f}s: "
        f"{report.stored} stored, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.failed} failed, {report.row_errors} rejected rows"
        + (f"; missing files: {', '.join(summary.missing_files)}" if summary.missing_files else "")
    )
    if report.failed:
        raise typer.Exit(1)


@cli.command()
def poll() -> None:
    """Poll EDGAR's current feed once and store the new Form 4/4A filings (the live job, by hand)."""
    from app.db import get_engine
    from app.ingest.live import poll_current
    from app.ingest.sec_client import EdgarClient

    _require_current_schema()
    with EdgarClient(get_settings()) as client:
        report = poll_current(client, get_engine())
    err.print(f"feed: {report.feed_entries} entries, {report.new} new; {report.filings.as_stats()}")
    if report.filings.blocked:
        err.print(f"[red]{report.filings.blocked}[/]")
        raise typer.Exit(1)

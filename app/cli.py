"""The `clusterbuy` command line: serve (default), parse, ingest-files, db upgrade."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.config import get_settings

cli = typer.Typer(
    help="Clusterbuy: a screener for SEC insider cluster buying.", no_args_is_help=False, add_completion=False
)
db_cli = typer.Typer(help="Database schema.")
cli.add_typer(db_cli, name="db")
err = Console(stderr=True)


@cli.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """With no command, run `serve`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Serve pages only.")] = False,
) -> None:
    """Run the web app (and, unless --no-scheduler, the scheduled jobs when this process leads)."""
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _require_current_schema()
    logging.getLogger("clusterbuy").info("settings: %s", settings.public_dict())
    # Started here, not in the app's lifespan: uvicorn runs the app in this process when workers == 1
    # (so /status sees the leader flag), and with more workers the jobs still run once, in this parent.
    sched = None
    if not no_scheduler:
        from app.db import get_engine
        from app.jobs.scheduler import start_in_background

        sched = start_in_background(settings, get_engine())
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            log_level=settings.log_level.lower(),
        )
    finally:
        if sched is not None:
            sched.shutdown()


def _require_current_schema() -> None:
    """Exit with a clear message (not a traceback) when the database is missing or not migrated."""
    from app.db import get_engine
    from app.migrate import is_current

    settings = get_settings()
    url = settings.public_dict()["database_url"]
    try:
        current = is_current(get_engine(), settings.database_url)
    except Exception as exc:  # driver errors: unreachable server, bad credentials, bad URL
        err.print(f"[red]Cannot open the database[/] {url}: {str(exc).splitlines()[0]}")
        raise typer.Exit(2) from None
    if not current:
        err.print(f"[red]The database schema is not current[/] ({url}). Run: clusterbuy db upgrade")
        raise typer.Exit(2)


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations (SQLite file or PostgreSQL from DATABASE_URL)."""
    from app.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    err.print(f"database at {revision}: {settings.public_dict()['database_url']}")
    if revision == "head":
        from app.db import get_engine, session_scope
        from app.services.clustering import refresh_missing_facts

        # Tables a migration adds empty but derives from stored filings (the screener facts) fill here.
        with session_scope(get_engine(), write=True) as session:
            refreshed = refresh_missing_facts(session)
        if refreshed:
            err.print(f"screener facts and totals computed for {refreshed:,} issuers")


@cli.command()
def parse(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.xml ownership documents or .txt).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per document per line.")] = False,
) -> None:
    """Parse Form 3/4/5 documents and print a summary (or JSON Lines); exit 1 if any failed."""
    from app.ingest.files import expand_paths, parse_file
    from app.schemas.form4 import Form4ParseError, to_canonical_dict

    settings = get_settings()
    failed = 0
    for path in expand_paths(paths):
        try:
            doc = parse_file(path, max_bytes=settings.max_document_bytes)
        except Form4ParseError as exc:
            failed += 1
            if as_json:
                sys.stdout.write(json.dumps({"path": str(path), "error": str(exc)}) + "\n")
            else:
                err.print(f"[red]✗[/] {path}: {exc}")
            continue
        if as_json:
            sys.stdout.write(json.dumps({"path": str(path), **to_canonical_dict(doc)}) + "\n")
        else:
            _print_summary(path, doc)
    if failed:
        raise typer.Exit(1)


def _print_summary(path: Path, doc: object) -> None:
    from app.schemas.form4 import ParsedForm4

    assert isinstance(doc, ParsedForm4)
    out = Console()
    owners = ", ".join(o.name or o.cik for o in doc.reporting_owners)
    out.print(
        f"[bold]{path}[/]  {doc.accession}  Form {doc.document_type}  "
        f"{doc.issuer.name} ({doc.issuer.trading_symbol or '—'}, CIK {doc.issuer.cik})"
    )
    out.print(f"  owners: {owners}; period {doc.period_of_report}; accepted {doc.accepted_at or '—'}")
    for tx in doc.transactions:
        price = (
            tx.price
            if tx.price is not None
            else (f"{tx.price_low}–{tx.price_high}" if tx.price_low is not None else "—")
        )
        out.print(
            f"  {tx.table[:3]}#{tx.index} {tx.transaction_date} {tx.code}/{tx.acquired_disposed} "
            f"{tx.shares} @ {price}  after {tx.shares_owned_after}  {tx.security_title}"
        )
    if doc.holdings:
        out.print(f"  holdings: {len(doc.holdings)}")


@cli.command("ingest-files")
def ingest_files_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.xml or full submission .txt).")],
) -> None:
    """Store ownership documents from files, one transaction per filing; re-ingesting changes nothing."""
    from app.db import get_engine
    from app.ingest.files import expand_paths, ingest_files

    settings = get_settings()
    _require_current_schema()
    files = expand_paths(paths)
    with _progress() as progress:
        task = progress.add_task("ingesting", total=len(files))
        report = ingest_files(
            files,
            engine=get_engine(),
            max_bytes=settings.max_document_bytes,
            on_progress=lambda _p, _o: progress.advance(task),
        )
    for path, reason in report.rejections:
        err.print(f"[yellow]rejected[/] {path}: {reason}")
    err.print(
        f"stored {report.stored}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected}"
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _register_area_commands() -> None:
    # Area modules decorate `cli`; imported here (not at the top) because they import `cli` from us.
    import importlib
    import pkgutil

    import app.commands

    for module in pkgutil.iter_modules(app.commands.__path__):
        importlib.import_module(f"app.commands.{module.name}")


_register_area_commands()


def main() -> None:
    from app.config import MissingUserAgentError

    try:
        cli()
    except MissingUserAgentError as exc:
        err.print(f"[red]{exc}[/]")
        sys.exit(2)


if __name__ == "__main__":
    main()

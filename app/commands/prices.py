"""Price commands: `import-prices CSV --ticker T` (offline) and `prices refresh [TICKER...]` (yfinance)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, NoReturn

import typer
from rich.progress import TaskID

from app.cli import _progress, _require_current_schema, cli, err

prices_cli = typer.Typer(help="Daily prices: refresh from Yahoo Finance.")
cli.add_typer(prices_cli, name="prices")

_BASES: dict[str, Literal["auto", "split_adjusted", "as_traded"]] = {
    "auto": "auto",
    "split-adjusted": "split_adjusted",
    "as-traded": "as_traded",
}


@cli.command("import-prices")
def import_prices(
    csv: Annotated[Path, typer.Argument(help="Daily CSV: Date, Open, High, Low, Close, Adj Close, Volume.")],
    ticker: Annotated[str, typer.Option("--ticker", "-t", help="Ticker the bars belong to.")],
    splits: Annotated[
        str | None,
        typer.Option(help='Splits as DATE:RATIO, comma-separated, e.g. "2020-08-31:4,2014-06-09:7".'),
    ] = None,
    basis: Annotated[
        str,
        typer.Option(
            help="Whether the CSV prices already reflect the splits (Yahoo-style: split-adjusted) or are "
            "as traded; auto detects it from splits inside the file's range, else assumes split-adjusted."
        ),
    ] = "auto",
    replace: Annotated[bool, typer.Option("--replace", help="Replace the ticker's stored series.")] = False,
) -> None:
    """Load a daily price CSV for one ticker (for offline use); re-importing changes nothing."""
    from app.db import get_engine, session_scope
    from app.services import prices as prices_service

    if basis not in _BASES:
        _fail(f"--basis must be one of {', '.join(_BASES)}")
    try:
        split_list = prices_service.parse_splits(splits)
        symbol = prices_service.normalize_ticker(ticker)
    except ValueError as exc:
        _fail(str(exc))
    if not csv.is_file():
        _fail(f"no such file: {csv}")
    _require_current_schema()

    try:
        with _progress() as progress, session_scope(get_engine(), write=True) as session:
            tasks: list[TaskID] = []

            def advance(done: int, total: int) -> None:
                # The bar appears once the CSV has been read and checked, so a bad file shows no bar.
                if not tasks:
                    tasks.append(progress.add_task(f"importing {symbol}", total=total))
                progress.update(tasks[0], completed=done, total=total)

            report = prices_service.import_csv(
                session, csv, symbol, split_list, basis=_BASES[basis], replace=replace, on_progress=advance
            )
    except (ValueError, OSError) as exc:  # unreadable file, bad header, no usable row, bad encoding
        _fail(f"cannot import {csv}: {exc}")

    how = (
        f"detected at {', '.join(d.isoformat() for d in report.basis_checked_at)}"
        if report.basis_checked_at
        else ("assumed" if basis == "auto" else "given")
    )
    split_text = ", ".join(f"{d.isoformat()} {r}:1" for d, r in report.splits) or "none"
    err.print(
        f"{report.ticker}: stored {report.bars} bars {report.first_date} → {report.last_date} "
        f"({report.rows_dropped} of {report.rows_read} rows dropped); "
        f"basis {report.basis.replace('_', '-')} ({how}); splits: {split_text}"
    )


@prices_cli.command("refresh")
def refresh(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(help="Tickers to refresh (default: issuers with eligible purchases, plus SPY)."),
    ] = None,
    pause: Annotated[float, typer.Option(help="Seconds between Yahoo requests.")] = 1.0,
) -> None:
    """Fetch new daily bars from Yahoo Finance; refetch a whole series after a split or dividend."""
    from app.db import get_engine, session_scope
    from app.services import price_refresh

    _require_current_schema()
    engine = get_engine()
    if tickers:
        wanted = list(tickers)
    else:
        with session_scope(engine) as session:
            wanted = price_refresh.tickers_in_view(session)

    with _progress() as progress, session_scope(engine, write=True) as session:
        task = progress.add_task("refreshing prices", total=len(wanted))

        def done(result: price_refresh.RefreshResult) -> None:
            # Commit ticker by ticker: a long run keeps what it fetched, and SQLite writers are not
            # held behind the whole run.
            session.commit()
            progress.advance(task)
            if result.status == "failed":
                progress.console.print(f"[yellow]{result.ticker}[/]: {result.error}")

        summary = price_refresh.refresh_many(session, wanted, pause_s=pause, on_result=done)

    counts = summary.counts()
    err.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to refresh")
    if summary.stopped:
        err.print(f"[yellow]stopped early[/]: {summary.stopped}")
    if summary.results and counts.get("failed", 0) + counts.get("skipped", 0) == len(summary.results):
        raise typer.Exit(1)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]Error[/]: {message}")
    raise typer.Exit(1)

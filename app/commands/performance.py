"""Performance commands: `performance refresh [--all]` (cluster returns vs SPY) and `market refresh`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import _require_current_schema, cli, err

performance_cli = typer.Typer(help="Cluster returns vs the S&P 500 (SPY).")
cli.add_typer(performance_cli, name="performance")
market_cli = typer.Typer(help="Market pulse: insider buy/sell ratios.")
cli.add_typer(market_cli, name="market")


@performance_cli.command("refresh")
def refresh(
    all_: Annotated[
        bool, typer.Option("--all", help="Recompute every cluster, not only new, open or changed ones.")
    ] = False,
) -> None:
    """Materialize default-rule cluster returns vs SPY (incremental unless --all)."""
    from app.db import get_engine, session_scope
    from app.services import performance_refresh as performance_refresh_service

    _require_current_schema()
    with session_scope(get_engine(), write=True) as session:
        if all_:
            report = performance_refresh_service.recompute_all(session)
        else:
            report = performance_refresh_service.refresh(session)
    if report.error:
        err.print(f"[red]Error[/]: {report.error}")
        raise typer.Exit(1)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(report.reasons.items())) or "none"
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items())) or "none"
    err.print(
        f"as of {report.as_of}: {report.clusters} clusters; measured {report.computed} ({reasons}); "
        f"unchanged {report.unchanged}; no ticker {report.no_ticker}; no prices {report.no_prices}; "
        f"{report.rows_written} rows ({statuses}) in {report.seconds:.1f}s"
    )


@market_cli.command("refresh")
def market_refresh() -> None:
    """Precompute the market pulse (weekly and monthly, with and without 10b5-1 sales)."""
    from app.db import get_engine, session_scope
    from app.services import market as market_service

    _require_current_schema()
    with session_scope(get_engine(), write=True) as session:
        snapshot = market_service.refresh_snapshot(session)
    err.print(
        f"market snapshot: {len(snapshot['views'])} views up to transaction {snapshot['max_transaction_id']}"
    )

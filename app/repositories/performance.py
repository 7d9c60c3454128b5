"""SQL for materialized cluster returns: which clusters need (re)computing, bar windows, the rows behind
the performance page, its precomputed views (performance_view), and named JSON snapshots (checkpoints)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Float, and_, case, cast, delete, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.models import Cluster, ClusterReturn, IngestCheckpoint, Issuer, PriceBar, StoredPerformanceView
from app.repositories.clusters import _chunks
from app.repositories.filings import _insert


def _ticker() -> Any:
    # Tickers are stored upper case by the price service; filings may carry any case.
    return func.upper(func.trim(Issuer.ticker))


def default_clusters(session: Session, *, rule: tuple[int, int]) -> list[Any]:
    """Every materialized cluster of the rule: id, ticker, trigger_at, last_trade_date, updated_at."""
    stmt = (
        select(
            Cluster.id,
            _ticker().label("ticker"),
            Cluster.trigger_at,
            Cluster.last_trade_date,
            Cluster.updated_at,
        )
        .join(Issuer, Issuer.cik == Cluster.issuer_cik)
        .where(Cluster.rule_n == rule[0], Cluster.rule_w == rule[1])
        .order_by(Cluster.id)
    )
    return list(session.execute(stmt))


def return_states(session: Session) -> dict[str, tuple[int, int, datetime]]:
    """Per cluster with stored returns: (rows, rows not 'done', oldest computed_at)."""
    not_done = func.sum(case((ClusterReturn.status != "done", 1), else_=0))
    stmt = select(
        ClusterReturn.cluster_id, func.count(), not_done, func.min(ClusterReturn.computed_at)
    ).group_by(ClusterReturn.cluster_id)
    return {cid: (int(n), int(nd or 0), at) for cid, n, nd, at in session.execute(stmt)}


def done_rows_with_bars(session: Session, benchmark: str) -> list[Any]:
    """Each 'done' row with the stored stock and benchmark bars at its entry and exit dates."""
    s0, s1, b0, b1 = (aliased(PriceBar) for _ in range(4))
    ticker = _ticker()

    def bar(alias: Any, symbol: Any, day: Any) -> Any:
        return and_(alias.ticker == symbol, alias.bar_date == day)

    stmt = (
        select(
            ClusterReturn.cluster_id,
            ClusterReturn.stock_return,
            ClusterReturn.spy_return,
            cast(s0.open, Float).label("s0_open"),
            cast(s0.close, Float).label("s0_close"),
            cast(s0.adj_close, Float).label("s0_adj"),
            cast(s1.adj_close, Float).label("s1_adj"),
            cast(b0.open, Float).label("b0_open"),
            cast(b0.close, Float).label("b0_close"),
            cast(b0.adj_close, Float).label("b0_adj"),
            cast(b1.adj_close, Float).label("b1_adj"),
        )
        .join(Cluster, Cluster.id == ClusterReturn.cluster_id)
        .join(Issuer, Issuer.cik == Cluster.issuer_cik)
        .outerjoin(s0, bar(s0, ticker, ClusterReturn.entry_date))
        .outerjoin(s1, bar(s1, ticker, ClusterReturn.exit_date))
        .outerjoin(b0, bar(b0, benchmark, ClusterReturn.entry_date))
        .outerjoin(b1, bar(b1, benchmark, ClusterReturn.exit_date))
        .where(ClusterReturn.status == "done")
    )
    return list(session.execute(stmt))


class BarArrays(NamedTuple):
    """A ticker's bars as aligned arrays: dates (datetime64[D]) and float open, close, adj_close."""

    dates: np.ndarray
    open: np.ndarray
    close: np.ndarray
    adj_close: np.ndarray


def bar_windows(
    session: Session, windows: Iterable[tuple[str, date, date]], *, chunk: int = 150
) -> dict[str, BarArrays]:
    """Bars of each ticker inside its [start, end] windows, oldest first, as arrays."""
    merged: dict[str, list[list[date]]] = defaultdict(list)
    for ticker, start, end in sorted(windows):
        spans = merged[ticker]
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    terms = [(t, s, e) for t, spans in merged.items() for s, e in spans]
    if session.get_bind().dialect.name == "postgresql":
        return _bar_windows_copy(session, terms)
    parts: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    cols = (cast(PriceBar.open, Float), cast(PriceBar.close, Float), cast(PriceBar.adj_close, Float))
    for i in range(0, len(terms), chunk):
        cond = or_(
            *(
                and_(PriceBar.ticker == t, PriceBar.bar_date >= s, PriceBar.bar_date <= e)
                for t, s, e in terms[i : i + chunk]
            )
        )
        for row in session.execute(select(PriceBar.ticker, PriceBar.bar_date, *cols).where(cond)):
            parts[row[0]].append(row[1:])
    out: dict[str, BarArrays] = {}
    for ticker, rows in parts.items():
        rows.sort(key=lambda r: r[0])
        days, op, close, adj = zip(*rows, strict=True)
        out[ticker] = BarArrays(
            np.array(days, dtype="datetime64[D]"),
            np.asarray(op, dtype="float64"),
            np.asarray(close, dtype="float64"),
            np.asarray(adj, dtype="float64"),
        )
    return out


def _bar_windows_copy(session: Session, terms: list[tuple[str, date, date]]) -> dict[str, BarArrays]:
    """PostgreSQL: stream the windows with COPY (one statement, text rows parsed by pandas)."""
    # Reading millions of bars row by row through the driver dominates a full recompute; COPY + pandas
    # parses them ~10x faster. The windows are joined as arrays, so the statement stays one size.
    if not terms:
        return {}
    sql = (
        "COPY (SELECT p.ticker, p.bar_date, p.open::float8, p.close::float8, p.adj_close::float8 "
        "FROM price_bar p JOIN unnest(%s::text[], %s::date[], %s::date[]) AS w(t, s, e) "
        "ON p.ticker = w.t AND p.bar_date BETWEEN w.s AND w.e) TO STDOUT"
    )
    tickers, starts, ends = (list(x) for x in zip(*terms, strict=True))
    buffer = io.BytesIO()
    raw = session.connection().connection.dbapi_connection
    with raw.cursor() as cur, cur.copy(sql, (tickers, starts, ends)) as copy:  # type: ignore[union-attr]
        while data := copy.read():
            buffer.write(data)
    buffer.seek(0)
    dtypes: dict[str, type[str] | str] = {
        "ticker": str,
        "open": "float64",
        "close": "float64",
        "adj_close": "float64",
    }
    frame = pd.read_csv(
        buffer,
        sep="\t",
        header=None,
        names=["ticker", "date", "open", "close", "adj_close"],
        na_values=["\\N"],
        keep_default_na=False,
        dtype=dtypes,
        parse_dates=["date"],
    )
    frame = frame.sort_values(["ticker", "date"], kind="stable")
    # Split by ticker with numpy: a pandas groupby builds far slower per-group frames.
    tickers_col = frame["ticker"].to_numpy()
    bounds = np.flatnonzero(tickers_col[1:] != tickers_col[:-1]) + 1
    starts_at = np.concatenate(([0], bounds)).astype(int)
    ends_at = np.concatenate((bounds, [len(frame)])).astype(int)
    days = frame["date"].to_numpy(dtype="datetime64[D]")
    op, close, adj = (frame[c].to_numpy(dtype="float64") for c in ("open", "close", "adj_close"))
    return {
        str(tickers_col[a]): BarArrays(days[a:b], op[a:b], close[a:b], adj[a:b])
        for a, b in zip(starts_at, ends_at, strict=True)
        if b > a
    }


def replace_returns(session: Session, cluster_ids: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """Make `rows` the stored returns of these clusters (others untouched)."""
    delete_returns(session, cluster_ids)
    # Core executemany on the table (not the ORM bulk path): several times faster for 10^4-10^5 rows.
    table = ClusterReturn.__table__
    for i in range(0, len(rows), 5000):
        session.execute(table.insert(), list(rows[i : i + 5000]))


def delete_returns(session: Session, cluster_ids: Sequence[str]) -> None:
    """Drop the stored returns of these clusters."""
    for chunk in _chunks(sorted(set(cluster_ids))):
        session.execute(delete(ClusterReturn).where(ClusterReturn.cluster_id.in_(chunk)))


def returns_of(session: Session, cluster_ids: Sequence[str]) -> dict[str, list[ClusterReturn]]:
    """Stored returns per cluster id."""
    out: dict[str, list[ClusterReturn]] = defaultdict(list)
    for chunk in _chunks(sorted(set(cluster_ids))):
        for row in session.scalars(select(ClusterReturn).where(ClusterReturn.cluster_id.in_(chunk))):
            out[row.cluster_id].append(row)
    return out


def returns_version(session: Session) -> tuple[int, datetime | None]:
    """(row count, newest computed_at) of the stored returns: changes whenever they do."""
    n, newest = session.execute(select(func.count(), func.max(ClusterReturn.computed_at))).one()
    return int(n), newest


SLICE_COLUMNS = (
    "cluster_id",
    "ticker",
    "company",
    "sector",
    "trigger_at",
    "first_trade_date",
    "last_trade_date",
    "n_buyers",
    "total_value",
    "roles",
    "flags",
    "horizon",
    "status",
    "entry_date",
    "entry_price",
    "exit_date",
    "stock_return",
    "spy_return",
    "excess",
)


CLUSTER_COLUMNS = SLICE_COLUMNS[:11]
RETURN_COLUMNS = ("cluster_id", *SLICE_COLUMNS[11:])


def slice_clusters(
    session: Session,
    *,
    rule: tuple[int, int],
    trigger_from: datetime | None = None,
    trigger_until: datetime | None = None,
    value_min: float | None = None,
    value_max: float | None = None,
) -> list[Any]:
    """Clusters of the selection that have stored returns, in CLUSTER_COLUMNS order."""
    measured = select(ClusterReturn.cluster_id).where(ClusterReturn.cluster_id == Cluster.id).exists()
    stmt = (
        select(
            Cluster.id,
            _ticker(),
            Issuer.name,
            Issuer.sector,
            Cluster.trigger_at,
            Cluster.first_trade_date,
            Cluster.last_trade_date,
            Cluster.n_buyers,
            cast(Cluster.total_value, Float),
            Cluster.roles,
            Cluster.flags,
        )
        .join(Issuer, Issuer.cik == Cluster.issuer_cik)
        .where(Cluster.rule_n == rule[0], Cluster.rule_w == rule[1], measured)
    )
    stmt = _cluster_filters(stmt, trigger_from, trigger_until, value_min, value_max)
    return list(session.execute(stmt))


def slice_returns(
    session: Session,
    *,
    rule: tuple[int, int],
    trigger_from: datetime | None = None,
    trigger_until: datetime | None = None,
    value_min: float | None = None,
    value_max: float | None = None,
) -> list[Any]:
    """Stored returns of the selection's clusters, in RETURN_COLUMNS order (the wide columns come apart)."""
    stmt = (
        select(
            ClusterReturn.cluster_id,
            ClusterReturn.horizon,
            ClusterReturn.status,
            ClusterReturn.entry_date,
            cast(ClusterReturn.entry_price, Float),
            ClusterReturn.exit_date,
            ClusterReturn.stock_return,
            ClusterReturn.spy_return,
            ClusterReturn.excess_return,
        )
        .join(Cluster, Cluster.id == ClusterReturn.cluster_id)
        .where(Cluster.rule_n == rule[0], Cluster.rule_w == rule[1])
    )
    stmt = _cluster_filters(stmt, trigger_from, trigger_until, value_min, value_max)
    return list(session.execute(stmt))


def _cluster_filters(
    stmt: Any,
    trigger_from: datetime | None,
    trigger_until: datetime | None,
    value_min: float | None,
    value_max: float | None,
) -> Any:
    if trigger_from is not None:
        stmt = stmt.where(Cluster.trigger_at >= trigger_from)
    if trigger_until is not None:
        stmt = stmt.where(Cluster.trigger_at < trigger_until)
    if value_min is not None:
        stmt = stmt.where(Cluster.total_value >= value_min)
    if value_max is not None:
        stmt = stmt.where(Cluster.total_value < value_max)
    return stmt


def unmeasured_clusters(
    session: Session,
    *,
    rule: tuple[int, int],
    trigger_from: datetime | None = None,
    trigger_until: datetime | None = None,
    value_min: float | None = None,
    value_max: float | None = None,
) -> list[Any]:
    """Clusters of the selection without stored returns: id, ticker, roles, flags, total_value, has_bars."""
    has_bars = select(PriceBar.ticker).where(PriceBar.ticker == _ticker()).limit(1).exists()
    stmt = (
        select(
            Cluster.id,
            _ticker().label("ticker"),
            Cluster.roles,
            Cluster.flags,
            cast(Cluster.total_value, Float).label("total_value"),
            has_bars.label("has_bars"),
        )
        .join(Issuer, Issuer.cik == Cluster.issuer_cik)
        .where(
            Cluster.rule_n == rule[0],
            Cluster.rule_w == rule[1],
            ~select(ClusterReturn.cluster_id).where(ClusterReturn.cluster_id == Cluster.id).exists(),
        )
    )
    stmt = _cluster_filters(stmt, trigger_from, trigger_until, value_min, value_max)
    return list(session.execute(stmt))


def issuer_tickers(
    session: Session, ciks: Sequence[str]
) -> dict[str, tuple[str | None, str | None, str | None]]:
    """(ticker, name, sector) per issuer CIK."""
    out: dict[str, tuple[str | None, str | None, str | None]] = {}
    for chunk in _chunks(sorted(set(ciks))):
        stmt = select(Issuer.cik, _ticker(), Issuer.name, Issuer.sector).where(Issuer.cik.in_(chunk))
        out.update({cik: (t or None, name, sector) for cik, t, name, sector in session.execute(stmt)})
    return out


def get_snapshot(session: Session, name: str) -> dict[str, Any] | None:
    """The JSON value of a named snapshot, or None."""
    value = session.execute(select(IngestCheckpoint.value).where(IngestCheckpoint.name == name)).scalar()
    return value if isinstance(value, dict) else None


def put_snapshot(session: Session, name: str, value: dict[str, Any], *, now: datetime) -> None:
    """Store (or overwrite) a named JSON snapshot."""
    stmt = _insert(session, IngestCheckpoint).values(name=name, value=value, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[IngestCheckpoint.name], set_={"value": stmt.excluded.value, "updated_at": now}
    )
    session.execute(stmt)


def get_view(session: Session, key: str) -> Any | None:
    """A stored view's payload and the returns version it was built from, or None.

    The row has .payload, .returns_count and .returns_computed_at.
    """
    v = StoredPerformanceView
    stmt = select(v.payload, v.returns_count, v.returns_computed_at).where(v.key == key)
    return session.execute(stmt).one_or_none()


def put_view(
    session: Session,
    key: str,
    *,
    rule: tuple[int, int],
    params: dict[str, str],
    payload: dict[str, Any],
    data_through: date,
    returns_version: tuple[int, datetime | None],
    now: datetime,
) -> None:
    """Store (or overwrite) a precomputed performance view."""
    values = {
        "key": key,
        "rule_n": rule[0],
        "rule_w": rule[1],
        "params": params,
        "payload": payload,
        "data_through": data_through,
        "returns_count": returns_version[0],
        "returns_computed_at": returns_version[1],
        "computed_at": now,
    }
    stmt = _insert(session, StoredPerformanceView).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[StoredPerformanceView.key],
        set_={name: stmt.excluded[name] for name in values if name != "key"},
    )
    session.execute(stmt)

"""Daily bars and corporate actions from Yahoo Finance: the one module that imports yfinance.

`normalize_history` is pure (a yfinance-shaped DataFrame in, a PriceFetch out); `fetch_daily` is the
network call around it, turning yfinance's silent failures (log lines + empty frame) into PriceSourceError.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import cast

import pandas as pd

STANDARD_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")

# yfinance's column names (Ticker.history and download with auto_adjust=False, actions=True).
_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
_RATE_LIMIT_MARKERS = ("too many requests", "rate limit")


class PriceSourceError(RuntimeError):
    """A price fetch gave nothing usable: rate limit, unknown or delisted ticker, network or Yahoo error."""

    def __init__(self, message: str, *, ticker: str | None = None, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.ticker = ticker
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class PriceFetch:
    """One fetch: bars as Yahoo serves them plus the splits and dividends seen in the same window.

    Yahoo's Open/High/Low/Close and Volume are split-adjusted as of the fetch (its "Close price adjusted
    for splits"); `adj_close` is also dividend-adjusted. The caller un-adjusts with `splits`.
    """

    bars: pd.DataFrame  # STANDARD_COLUMNS, float64, naive DatetimeIndex "date" (exchange-local day)
    splits: list[tuple[date, Decimal]]  # (ex_date, new/old shares: 4 for a 4:1 split)
    dividends: list[tuple[date, Decimal]]  # (ex_date, cash per share on the fetch's split basis)


def yahoo_symbol(ticker: str) -> str:
    """Return Yahoo's spelling of a ticker (class shares use a dash: BRK.B -> BRK-B)."""
    return ticker.strip().upper().replace(".", "-").replace("/", "-")


def _single_ticker_columns(df: pd.DataFrame, ticker: str | None) -> pd.DataFrame:
    """Flatten download()'s MultiIndex columns (('Price', 'Ticker') or ('Ticker', 'Price')) to one level."""
    if not isinstance(df.columns, pd.MultiIndex):
        return df
    if df.columns.nlevels != 2:
        raise ValueError(f"unexpected {df.columns.nlevels}-level columns in a yfinance frame")
    levels = [set(map(str, df.columns.get_level_values(i))) for i in range(2)]
    price_level = 0 if "Close" in levels[0] else 1 if "Close" in levels[1] else None
    if price_level is None:
        raise ValueError("yfinance frame has no 'Close' column")
    ticker_level = 1 - price_level
    symbols = sorted(levels[ticker_level])
    if ticker is not None and yahoo_symbol(ticker) in symbols:
        chosen = yahoo_symbol(ticker)
    elif len(symbols) == 1:
        chosen = symbols[0]
    else:
        raise ValueError(f"yfinance frame holds several tickers {symbols}; name the one to read")
    # One key of one column level leaves a frame (the stubs allow a Series too).
    out = cast(pd.DataFrame, df.xs(chosen, axis=1, level=ticker_level))
    out.columns = [str(c) for c in out.columns]
    return out


def _day_index(index: pd.Index) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        # Daily bars are stamped at local midnight in the exchange's zone (Ticker.history); dropping the
        # zone keeps that wall-clock day, where converting to UTC first would shift Asian listings back.
        idx = idx.tz_localize(None)
    # The stubs type astype() as returning a plain Index; a datetime64 dtype keeps a DatetimeIndex.
    return cast(pd.DatetimeIndex, pd.DatetimeIndex(idx.normalize(), name="date").astype("datetime64[ns]"))


def _decimal(value: float) -> Decimal:
    # repr() is the shortest string that round-trips, i.e. the digits Yahoo sent.
    return Decimal(repr(float(value)))


def _actions(df: pd.DataFrame, column: str) -> list[tuple[date, Decimal]]:
    if column not in df.columns:
        return []
    values = pd.to_numeric(df[column], errors="coerce")
    hits = values[values.notna() & (values != 0)]
    days = cast(pd.DatetimeIndex, hits.index)  # normalize_history gave the frame a DatetimeIndex
    return [(ts.date(), _decimal(v)) for ts, v in zip(days, hits, strict=True)]


def normalize_history(df: pd.DataFrame, ticker: str | None = None) -> PriceFetch:
    """Turn a yfinance daily frame (auto_adjust=False, actions=True) into bars, splits and dividends."""
    # Shapes read from yfinance 1.7 source (scrapers/history.py PriceHistory.history, multi.py download):
    # - Ticker.history: flat columns Open, High, Low, Close, Adj Close, Volume (int64), Dividends,
    #   Stock Splits (+ Capital Gains for ETFs/funds); index "Date" tz-aware at local midnight
    #   (e.g. 2020-08-31 00:00:00-04:00); all-NaN/zero rows dropped unless keepna=True.
    # - download: MultiIndex columns ('Price', 'Ticker') by default, ('Ticker', 'Price') with
    #   group_by='ticker', kept for one ticker since 0.2.48; tz-naive index (ignore_tz defaults True for
    #   1d); rows reindexed to the union of dates, so a ticker has NaN rows on days it lacks.
    # - Failures give an empty frame: utils.empty_df() is OHLC/Adj Close/Volume columns, no rows.
    if df is None or df.empty:
        raise PriceSourceError("yfinance returned an empty frame", ticker=ticker)
    flat = _single_ticker_columns(df, ticker)
    if "Adj Close" not in flat.columns:
        # auto_adjust=True folds dividends into OHLC and drops Adj Close: the raw close is gone.
        raise ValueError("yfinance frame has no 'Adj Close' column; fetch with auto_adjust=False")
    missing = [c for c in ("Open", "High", "Low", "Close") if c not in flat.columns]
    if missing:
        raise ValueError(f"yfinance frame lacks columns {missing}")
    flat = flat.set_axis(_day_index(flat.index), axis=0)
    flat = flat[flat.index.notna()]

    splits = _actions(flat, "Stock Splits")
    dividends = _actions(flat, "Dividends")

    bars = pd.DataFrame(index=flat.index)
    for src, std in _COLUMNS.items():
        bars[std] = pd.to_numeric(flat[src], errors="coerce").astype("float64") if src in flat else math.nan
    # Action-only rows (download's reindexed NaN rows, keepna=True) carry no bar.
    keep = bars["close"].notna() & (bars["close"] > 0) & bars["adj_close"].notna() & (bars["adj_close"] > 0)
    bars = bars.loc[keep, list(STANDARD_COLUMNS)].sort_index(kind="stable")
    bars = bars[~bars.index.duplicated(keep="last")]
    if bars.empty:
        raise PriceSourceError("yfinance frame has no row with a close", ticker=ticker)
    return PriceFetch(bars=bars, splits=sorted(splits), dividends=sorted(dividends))


class _LogCapture(logging.Handler):
    """Collect what yfinance logs during one call: its only report of rate limits and unknown tickers."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage().strip())
        except Exception:  # a malformed record must not break the fetch
            self.messages.append(str(record.msg))


def _is_rate_limit(text: str, exc: BaseException | None = None) -> bool:
    # yfinance.exceptions.YFRateLimitError: "Too Many Requests. Rate limited. Try after a while."
    if exc is not None and any(cls.__name__ == "YFRateLimitError" for cls in type(exc).__mro__):
        return True
    lowered = text.lower()
    return any(marker in lowered for marker in _RATE_LIMIT_MARKERS)


def fetch_daily(ticker: str, start: date | None = None, *, timeout: float = 20.0) -> PriceFetch:
    """Fetch daily bars (raw and adjusted close) and actions from `start` (None: the whole history)."""
    import yfinance as yf  # imported here so the CLI and pages never pay for it unless prices are fetched

    symbol = yahoo_symbol(ticker)
    capture = _LogCapture()
    yf_logger = logging.getLogger("yfinance")
    yf_logger.addHandler(capture)
    try:
        # Ticker.history, not download(): per-ticker actions, and no thread pool swallowing errors.
        # start is inclusive; no end means "up to now" (end would be exclusive).
        window = {"period": "max"} if start is None else {"start": start.isoformat()}
        frame = yf.Ticker(symbol).history(
            interval="1d", auto_adjust=False, actions=True, timeout=timeout, **window
        )
    except Exception as exc:
        message = f"{ticker}: yfinance failed: {type(exc).__name__}: {exc}"
        raise PriceSourceError(message, ticker=ticker, rate_limited=_is_rate_limit(str(exc), exc)) from exc
    finally:
        yf_logger.removeHandler(capture)

    logged = "; ".join(m for m in capture.messages if m)
    if frame is None or frame.empty:
        # Rate limits and unknown/delisted symbols come back as an empty frame plus an ERROR log line.
        reason = logged or "no reason given"
        raise PriceSourceError(
            f"{ticker}: Yahoo returned no bars ({reason})", ticker=ticker, rate_limited=_is_rate_limit(logged)
        )
    try:
        return normalize_history(frame, ticker=symbol)
    except (PriceSourceError, ValueError, KeyError, TypeError) as exc:
        raise PriceSourceError(f"{ticker}: unusable yfinance frame: {exc}", ticker=ticker) from exc

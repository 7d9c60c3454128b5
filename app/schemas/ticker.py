"""View-models of the ticker dashboard, the insider page and search (and their JSON twins)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from markupsafe import Markup
from pydantic import BaseModel, Field, TypeAdapter
from typing_extensions import TypedDict

from app.schemas.clusters import ReturnRow


class Period(StrEnum):
    """How far back the buys/sells tables reach (the chart always holds the whole series)."""

    m3 = "3m"
    y1 = "1y"
    y5 = "5y"
    all = "all"


class OwnerRef(BaseModel):
    cik: str
    name: str


# --- header ---------------------------------------------------------------------------------------------


class PriceNote(BaseModel):
    status: Literal["fresh", "stale", "missing"]
    last_bar_date: date | None
    source: str | None = Field(description="csv | yfinance")
    last_error: str | None = Field(description="Why the last refresh failed, when it did.")
    message: str = Field(description="One sentence for the page: what is shown and why.")


class TickerHeader(BaseModel):
    issuer_cik: str
    ticker: str | None
    company: str | None
    sector: str | None
    industry: str | None = Field(description="SIC description.")
    exchange: str | None
    last_close: Decimal | None = Field(description="Latest stored close (split-adjusted basis).")
    last_close_date: date | None
    change: Decimal | None = Field(description="Change from the previous stored close.")
    change_pct: float | None
    prices: PriceNote
    clusters_30d: int = Field(description="Default-rule clusters triggered market-wide in the last 30 days.")
    as_of: date


# --- chart ----------------------------------------------------------------------------------------------


class SplitInfo(BaseModel):
    ex_date: date
    ratio: Decimal


class PriceSeries(BaseModel):
    """Daily bars on the split-adjusted (not dividend-adjusted) basis, as parallel arrays."""

    ticker: str
    basis: Literal["split_adjusted"] = "split_adjusted"
    dates: list[str] = Field(description="ISO dates, oldest first.")
    open: list[float | None]
    high: list[float | None]
    low: list[float | None]
    close: list[float]
    volume: list[int | None]
    splits: list[SplitInfo]


MarkerKind = Literal["buy", "sell", "sell_plan", "tax_exercise"]


class TradeMarker(TypedDict):
    """One filing's rows of one kind on one trade date, as one point on the chart.

    kind: buy (eligible purchase), sell (discretionary sale), sell_plan (10b5-1 plan sale), tax_exercise
    (tax withholding F, disposition to the issuer D, exercise M/X/C, or a sale tied to a same-day
    exercise; hidden by default). y: where the point sits, the filed price on the chart basis (y_from
    "filed_price") or the day's close when there is no usable filed price (y_from "close"). price: as
    filed (value-weighted average over n_rows rows). code: `ChartMarkers.codes` explains it.
    """

    # A TypedDict, not a model: a busy ticker has thousands of markers and model instances cost ~20x more.
    kind: MarkerKind
    label: str
    date: date
    y: float | None
    y_from: Literal["filed_price", "close"]
    insider: str
    role_text: str
    code: str
    shares: Decimal
    price: Decimal | None
    price_low: Decimal | None
    price_high: Decimal | None
    value: Decimal | None
    n_rows: int
    accession: str
    is_10b5_1: bool


class NewsItem(BaseModel):
    code: str
    text: str


class NewsMarker(BaseModel):
    date: date
    at: datetime | None
    source: str = Field(description="8-K | headline")
    form_type: str | None
    items: list[NewsItem]
    title: str | None
    publisher: str | None
    url: str | None


class ChartMarkers(BaseModel):
    trades: list[TradeMarker]
    news: list[NewsMarker]
    codes: dict[str, str] = Field(description="What each transaction code among the trades means.")


# --- tables ---------------------------------------------------------------------------------------------


class TradeRow(BaseModel):
    transaction_id: int
    accession: str
    side: Literal["purchase", "sale"]
    owners: list[OwnerRef]
    insider: str
    roles: list[str]
    code: str
    trade_date: date | None
    known_at: datetime | None
    shares: Decimal | None
    price: Decimal | None = Field(description="As filed.")
    price_low: Decimal | None
    price_high: Decimal | None
    value: Decimal | None
    shares_owned_after: Decimal | None
    delta_own: float | None = Field(description="Shares traded ÷ shares held before; negative for sales.")
    delta_own_new: bool
    is_10b5_1: bool
    flags: list[str]


class TradeTotals(BaseModel):
    n_purchases: int
    purchase_shares: Decimal
    purchase_value: Decimal
    n_sales: int
    sale_shares: Decimal
    sale_value: Decimal
    plan_sale_value: Decimal = Field(description="Sales flagged 10b5-1.")
    exercise_sale_value: Decimal = Field(description="Sales tied to a same-day option exercise.")
    discretionary_sale_value: Decimal
    net_value: Decimal = Field(description="Purchases − all sales.")
    discretionary_net_value: Decimal = Field(description="Purchases − discretionary sales.")


class RosterRow(BaseModel):
    owner_cik: str
    name: str
    roles: list[str] = Field(description="As declared on the insider's latest filing for this company.")
    last_trade_date: date | None
    last_trade_code: str | None
    last_trade_text: str | None
    last_trade_shares: Decimal | None
    last_trade_acquired_disposed: str | None
    direct_shares: Decimal | None = Field(description="Latest reported direct holding.")
    indirect_shares: Decimal | None = Field(description="Sum of the latest reported indirect holdings.")
    holdings_as_of: date | None
    n_purchases: int
    n_sales: int
    last_filed_at: datetime | None


# --- signals --------------------------------------------------------------------------------------------


class ClusterSignal(BaseModel):
    cluster_id: str
    first_trade_date: date
    last_trade_date: date
    trigger_at: datetime
    n_buyers: int
    total_value: Decimal
    roles: list[str]
    latest_return: ReturnRow | None = Field(description="Longest horizon with a return so far.")
    returns: list[ReturnRow]


class SellClusterSignal(BaseModel):
    first_trade_date: date
    last_trade_date: date
    trigger_at: datetime = Field(description="Acceptance of the filing that brought it to 3 sellers.")
    n_sellers: int
    sellers: list[str]
    total_shares: Decimal
    total_value: Decimal


class LargeSaleSignal(BaseModel):
    accession: str
    insider: str
    owner_ciks: list[str]
    roles: list[str]
    trade_date: date
    shares: Decimal
    value: Decimal | None
    shares_before: Decimal
    delta_own: float = Field(description="Shares sold on the filing ÷ shares held before (≤ −0.25).")
    direct_indirect: str | None
    is_10b5_1: bool


class WeaknessHit(BaseModel):
    trade_date: date
    drop: float = Field(description="Adjusted close on the trade date ÷ three months earlier − 1.")
    reference_date: date
    n_purchases: int
    value: Decimal


class WeaknessSignal(BaseModel):
    status: Literal["active", "past", "none", "no_prices"]
    hits: list[WeaknessHit]


class NetBuying(BaseModel):
    start: date = Field(description="Exclusive.")
    end: date = Field(description="Inclusive.")
    bought: Decimal
    sold: Decimal = Field(description="Discretionary sales only (not 10b5-1, not tied to an exercise).")
    net: Decimal
    n_purchases: int
    n_sales: int


class Signals(BaseModel):
    clusters: list[ClusterSignal]
    sell_clusters: list[SellClusterSignal]
    large_sales: list[LargeSaleSignal]
    weakness: WeaknessSignal
    net_buying: NetBuying = Field(description="The 90 days to today.")
    net_buying_latest: NetBuying | None = Field(
        description="The 90 days to the latest discretionary trade, when that is before the window."
    )


# --- the dashboard --------------------------------------------------------------------------------------


class TickerPageBody(BaseModel):
    """The dashboard without its chart data (the price series and the markers)."""

    header: TickerHeader
    period: Period
    period_start: date | None
    purchases: list[TradeRow]
    sales: list[TradeRow]
    totals: TradeTotals
    latest_trade_date: date | None = Field(description="Newest purchase or sale of any period.")
    roster: list[RosterRow]
    signals: Signals
    notes: list[str]


class TickerPage(TickerPageBody):
    """`/api/ticker/{symbol}`: the dashboard with the whole split-adjusted series and every marker."""

    series: PriceSeries | None
    markers: ChartMarkers


class IssuerHistory(BaseModel):
    """What the dashboard reads from an issuer's whole history, whatever the day and the period: stored
    in dashboard_snapshot with the chart's series and trade markers."""

    has_prices: bool
    last_close: Decimal | None
    last_close_date: date | None
    change: Decimal | None
    change_pct: float | None
    latest_trade_date: date | None
    roster: list[RosterRow]
    sell_clusters: list[SellClusterSignal]
    large_sales: list[LargeSaleSignal]
    weakness_hits: list[WeaknessHit] = Field(description="Newest first.")
    net_buying_latest: NetBuying | None = Field(description="The 90 days to the latest discretionary trade.")


@dataclass(frozen=True, slots=True)
class TickerView:
    """A built dashboard: the page's models, the news, and the chart's stored JSON texts as served.

    The series and trade markers of a busy ticker are a megabyte of JSON that only changes with its data:
    they are kept as text (escaped for a <script> data island, which is still the same JSON) and spliced
    into the API document and the page instead of being parsed and serialized again on every request."""

    page: TickerPageBody
    news: list[NewsMarker]
    series_json: str  # a PriceSeries, or null
    trades_json: str  # a list of TradeMarker
    codes_json: str

    @property
    def has_series(self) -> bool:
        return self.series_json != "null"

    def markers_json(self) -> str:
        news = html_safe_json(_NEWS.dump_json(self.news).decode())
        # Compact, as pydantic writes it.
        return f'{{"trades":{self.trades_json},"news":{news},"codes":{self.codes_json}}}'

    def api_json(self) -> str:
        """The TickerPage document."""
        body = self.page.model_dump_json()
        return f'{body[:-1]}, "series": {self.series_json}, "markers": {self.markers_json()}}}'

    def chart_json(self) -> Markup:
        """What the chart script reads (ticker, period, series, markers), safe inside a <script> tag."""
        header = self.page.header
        head = html_safe_json(
            json.dumps({"ticker": header.ticker or header.issuer_cik, "period": self.page.period.value})
        )
        return Markup(f'{head[:-1]}, "series": {self.series_json}, "markers": {self.markers_json()}}}')

    def chart_data(self) -> dict[str, Any]:
        """chart_json as Python values."""
        data: dict[str, Any] = json.loads(self.chart_json())
        return data


def html_safe_json(text: str) -> str:
    """JSON text with <, >, & and ' escaped as Jinja's |tojson does: safe in a <script> data island."""
    for raw, escaped in _HTML_SAFE:
        text = text.replace(raw, escaped)
    return text


_HTML_SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"))
_NEWS = TypeAdapter(list[NewsMarker])


# --- insider page ---------------------------------------------------------------------------------------


class InsiderCompany(BaseModel):
    issuer_cik: str
    ticker: str | None
    company: str | None
    roles: list[str] = Field(description="Every role declared on the insider's filings for the company.")
    latest_roles: list[str] = Field(description="Roles on the latest filing.")
    first_filed_at: datetime | None
    last_filed_at: datetime | None
    n_filings: int


class InsiderTrade(BaseModel):
    transaction_id: int
    accession: str
    issuer_cik: str
    ticker: str | None
    company: str | None
    table: str
    trade_date: date | None
    known_at: datetime | None
    code: str | None
    code_text: str
    acquired_disposed: str | None
    shares: Decimal | None
    price: Decimal | None
    value: Decimal | None
    shares_owned_after: Decimal | None
    direct_indirect: str | None
    delta_own: float | None
    delta_own_new: bool
    flags: list[str]
    pattern: Literal["routine", "opportunistic"] | None = Field(
        description="Open-market trades (P, S) only: routine when the insider traded this company's "
        "stock in the same calendar month in each of the three prior years."
    )


class TrackHorizon(BaseModel):
    horizon: str = Field(description="1m 3m 6m")
    status: str = Field(description="done | open | ended_early | no_entry | no_prices")
    entry_date: date | None
    exit_date: date | None
    stock_return: float | None
    spy_return: float | None
    excess: float | None
    insider_return: float | None = Field(
        description="From the trade date's close: what the insider earned, not achievable by the public."
    )
    insider_excess: float | None


class TrackRow(BaseModel):
    accession: str
    issuer_cik: str
    ticker: str | None
    trade_date: date
    known_at: datetime
    shares: Decimal
    value: Decimal
    avg_price: Decimal
    pattern: Literal["routine", "opportunistic"]
    horizons: list[TrackHorizon]


class TrackSummary(BaseModel):
    horizon: str
    n: int
    mean_excess: float | None
    hit_rate: float | None
    mean_insider_excess: float | None


class InsiderPage(BaseModel):
    owner_cik: str
    name: str
    companies: list[InsiderCompany]
    trades: list[InsiderTrade]
    total_trades: int
    page: int
    pages: int
    page_size: int
    track_record: list[TrackRow]
    track_summary: list[TrackSummary]
    n_routine: int
    n_opportunistic: int
    as_of: date


# --- search ---------------------------------------------------------------------------------------------


class SearchIssuer(BaseModel):
    issuer_cik: str
    ticker: str | None
    company: str | None
    sector: str | None


class SearchInsider(BaseModel):
    owner_cik: str
    name: str


class SearchPage(BaseModel):
    q: str
    redirect_to: str | None = Field(description="Set on an exact ticker or CIK match: the dashboard URL.")
    issuers: list[SearchIssuer]
    insiders: list[SearchInsider]

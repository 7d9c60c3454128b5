"""Performance page filters (query parameters), its view-model and JSON twin, and per-cluster returns."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


class Horizon(StrEnum):
    w1 = "1w"
    m1 = "1m"
    m3 = "3m"
    m6 = "6m"
    y1 = "1y"


class RoleMix(StrEnum):
    any = "any"
    ceo_cfo = "ceo_cfo"  # a CEO or CFO among the buyers
    directors_only = "directors_only"  # every buyer a director, no officer or 10% owner
    ten_percent_only = "ten_percent_only"  # every buyer a 10% owner, no officer or director
    other = "other"  # any other mix (officers without CEO/CFO, directors with 10% owners, ...)


class ValueBucket(StrEnum):
    any = "any"
    under_100k = "under_100k"
    k100_1m = "100k_1m"
    m1_10m = "1m_10m"
    over_10m = "10m_plus"


class PerformanceFilters(BaseModel):
    """Every filter lives in the URL; `h` only picks the horizon the breakdown tables show."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    n: int = Field(3, ge=2, le=10, description="Cluster rule: distinct buyers (3 = the materialized rule).")
    w: int = Field(14, ge=1, le=90, description="Cluster rule: days linking purchases (14 = materialized).")
    role: RoleMix = Field(RoleMix.any, description="Role mix of the cluster's buyers.")
    value: ValueBucket = Field(ValueBucket.any, description="Cluster value bucket (total $ of purchases).")
    from_date: date | None = Field(None, alias="from", description="Trigger on or after this date (ET).")
    to_date: date | None = Field(None, alias="to", description="Trigger on or before this date (ET).")
    h: Horizon = Field(Horizon.m1, description="Horizon shown in the breakdown tables and histogram.")
    seed: int = Field(20240101, ge=0, le=2**32 - 1, description="Bootstrap seed (same seed, same CI).")

    @model_validator(mode="before")
    @classmethod
    def _blank_means_default(cls, data: Any) -> Any:
        # An HTML form submits every input, empty ones as "": treat those as not given.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

    @model_validator(mode="after")
    def _ranges(self) -> PerformanceFilters:
        if self.from_date and self.to_date and self.from_date > self.to_date:
            # A custom error (not ValueError) keeps the 422 JSON body serializable.
            raise PydanticCustomError("date_range", "from must be on or before to")
        return self

    @property
    def default_rule(self) -> bool:
        """True for the materialized rule (N=3, W=14)."""
        return self.n == 3 and self.w == 14

    @property
    def unfiltered(self) -> bool:
        """True when the set of clusters is the whole materialized set (h and seed aside)."""
        return (
            self.default_rule
            and self.role is RoleMix.any
            and self.value is ValueBucket.any
            and self.from_date is None
            and self.to_date is None
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """The non-default parameters as URL query items, with `changes` applied (for links)."""
        data = self.model_dump(by_alias=True, mode="json")
        data.update(changes)
        defaults = PerformanceFilters().model_dump(by_alias=True, mode="json")
        return {k: str(v) for k, v in data.items() if v is not None and v != defaults.get(k)}


class HorizonSummary(BaseModel):
    """Cross-sectional statistics of one horizon; returns are fractions (0.05 = +5%)."""

    horizon: str
    days: int = Field(description="Trading days from the entry session to the exit close.")
    n: int = Field(description="Matured clusters with a stock and SPY return.")
    mean: float | None = Field(description="Mean excess return (stock − SPY).")
    median: float | None
    hit_rate: float | None = Field(description="Share of matured clusters that beat SPY.")
    share_positive: float | None = Field(description="Share with a positive stock return.")
    ci_low: float | None = Field(description="Bootstrap 95% interval of the mean, resampling months.")
    ci_high: float | None
    n_open: int = Field(description="Too recent: the exit session has not closed yet.")
    n_ended_early: int = Field(description="The price series stops before the exit (delisted or gap).")
    n_no_entry: int = 0
    n_no_benchmark: int = 0
    n_months: int = 0


class GroupSummary(BaseModel):
    key: str
    label: str
    n_clusters: int
    summaries: list[HorizonSummary]


class Breakdown(BaseModel):
    key: str
    label: str
    groups: list[GroupSummary]


class Histogram(BaseModel):
    """Counts of matured excess returns in fixed bins, with the tails counted separately."""

    horizon: str
    edges: list[float]
    counts: list[int]
    below: int = Field(description="Excess returns under the first edge.")
    above: int = Field(description="Excess returns at or over the last edge.")


class Portfolio(BaseModel):
    """Calendar-time equal-weight portfolio of the clusters held each day vs SPY over the same days."""

    holding_days: int
    n_clusters: int
    dates: list[date] = Field(default_factory=list)
    port_cum: list[float] = Field(default_factory=list)
    spy_cum: list[float] = Field(default_factory=list)
    n_positions: list[int] = Field(default_factory=list)
    days_held: int = 0
    annualized_excess: float | None = Field(None, description="Mean daily excess × 252, days held only.")
    total_excess: float | None = Field(None, description="Cumulative portfolio − cumulative SPY.")
    note: str | None = None


class Coverage(BaseModel):
    clusters: int = Field(description="Clusters in the selection.")
    with_returns: int = Field(description="Clusters measured (a ticker and prices).")
    no_ticker: int = Field(description="Clusters whose issuer has no ticker: not measured.")
    no_prices: int = Field(description="Clusters whose ticker has no stored prices: not measured.")
    pending: int = Field(0, description="Clusters with prices not measured yet (next refresh).")
    as_of: date | None = Field(description="Last complete SPY bar used; later windows are open.")
    computed_at: datetime | None = None


class PerformanceView(BaseModel):
    """Everything computed from one slice of clusters (precomputed for the unfiltered default rule)."""

    summaries: list[HorizonSummary]
    insider: list[HorizonSummary] = Field(
        description="From the adjusted close of the last trade date: the insider's return, not achievable."
    )
    insider_available: bool = True
    breakdowns: list[Breakdown]
    histograms: list[Histogram]
    portfolio: Portfolio
    coverage: Coverage


class PublishedFigure(BaseModel):
    """A published number from reference/evidence.md, placed beside our comparable figure."""

    study: str
    definition: str
    figure: str
    status: str = Field(description="evidence.md tag: V verified, S secondary, P practitioner backtest.")
    source: str
    compare: str = Field(description="Which of our numbers it sits beside.")
    ours: float | None = None
    ours_n: int | None = None


class PerformancePage(BaseModel):
    filters: PerformanceFilters
    source: str = Field(description="materialized (stored returns) or on_the_fly (another N/W rule).")
    note: str | None = None
    view: PerformanceView
    published: list[PublishedFigure]
    market_cap_note: str

    def summary_for(self, summaries: list[HorizonSummary]) -> HorizonSummary | None:
        """The summary of the chosen horizon `h` among `summaries` (None when not computed)."""
        return next((s for s in summaries if s.horizon == self.filters.h.value), None)

    def chart(self) -> dict[str, Any]:
        """What the charts read from the page's JSON data island."""
        return {
            "h": self.filters.h.value,
            "histograms": [h.model_dump(mode="json") for h in self.view.histograms],
            "portfolio": self.view.portfolio.model_dump(mode="json"),
        }


class ClusterReturnView(BaseModel):
    """A cluster's stored return at one horizon vs SPY (DESIGN §2)."""

    horizon: str = Field(description="1w 1m 3m 6m 1y")
    days: int
    status: str = Field(
        description="done | open (immature) | ended_early (prices stop before the exit: exit_date is the "
        "last bar and the returns run to it) | no_entry"
    )
    entry_date: date | None
    entry_price: float | None = Field(description="Adjusted open of the entry session.")
    exit_date: date | None
    stock_return: float | None
    spy_return: float | None
    excess_return: float | None
    computed_at: datetime

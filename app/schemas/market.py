"""Market pulse filters (query parameters) and view-model: insider buy/sell ratios over time."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


class MarketFreq(StrEnum):
    week = "week"
    month = "month"


class MarketFilters(BaseModel):
    """Every filter lives in the URL; from/to only narrow what is shown (percentiles use all history)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    freq: MarketFreq = Field(MarketFreq.month, description="Period: ISO week or calendar month.")
    discretionary: bool = Field(False, description="Exclude sales flagged as made under a 10b5-1 plan.")
    from_date: date | None = Field(None, alias="from", description="Show periods starting on/after this.")
    to_date: date | None = Field(None, alias="to", description="Show periods starting on/before this.")

    @model_validator(mode="before")
    @classmethod
    def _blank_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

    @model_validator(mode="after")
    def _ranges(self) -> MarketFilters:
        if self.from_date and self.to_date and self.from_date > self.to_date:
            # A custom error (not ValueError) keeps the 422 JSON body serializable.
            raise PydanticCustomError("date_range", "from must be on or before to")
        return self

    def query(self, **changes: Any) -> dict[str, str]:
        """The non-default parameters as URL query items, with `changes` applied (for links)."""
        data = self.model_dump(by_alias=True, mode="json")
        data.update(changes)
        defaults = MarketFilters().model_dump(by_alias=True, mode="json")
        return {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in data.items()
            if v is not None and v != defaults.get(k)
        }


class MarketPoint(BaseModel):
    """One period; ratios are undefined (null) when their denominator is zero."""

    period: date = Field(description="Period start: Monday of the ISO week or the 1st of the month.")
    buy_pairs: int = Field(description="Distinct (insider, issuer) pairs with eligible purchases.")
    sell_pairs: int = Field(description="Distinct (insider, issuer) pairs with open-market sales (code S).")
    ratio: float | None = Field(description="buy_pairs ÷ sell_pairs.")
    ceo_buy_pairs: int
    ceo_sell_pairs: int
    ceo_ratio: float | None
    buy_value: float
    sell_value: float
    dollar_ratio: float | None = Field(description="Σ$ purchases ÷ Σ$ sales (use a log scale).")
    net_purchase_ratio: float | None = Field(description="(P − S) ÷ (P + S) on pair counts, in [−1, 1].")
    ratio_pctile: float | None = Field(description="Percentile of the ratio within the trailing 60 months.")
    ratio_yoy: float | None = Field(description="Ratio minus the ratio a year earlier.")
    ceo_ratio_pctile: float | None
    ceo_ratio_yoy: float | None
    dollar_ratio_pctile: float | None
    dollar_ratio_yoy: float | None
    net_purchase_ratio_pctile: float | None
    net_purchase_ratio_yoy: float | None


class SectorRow(BaseModel):
    sector: str
    buy_pairs: int
    sell_pairs: int
    ratio: float | None
    buy_value: float
    sell_value: float
    dollar_ratio: float | None
    net_purchase_ratio: float | None


class MarketView(BaseModel):
    """Everything computed for one frequency and discretionary setting."""

    freq: MarketFreq
    discretionary: bool
    points: list[MarketPoint]
    long_term_average: dict[str, float | None]
    sector_period: date | None = Field(description="The period the sector table is for (the latest).")
    sectors: list[SectorRow]
    computed_at: datetime
    max_transaction_id: int


class MarketPage(BaseModel):
    filters: MarketFilters
    view: MarketView = Field(description="Points narrowed to from/to; the rest as computed.")
    current: MarketPoint | None = Field(description="The latest period (it may still be in progress).")
    current_partial: bool
    source: str = Field(
        description="snapshot (precomputed, current), snapshot_behind (precomputed under a day ago; filings "
        "stored since are not in it yet) or live."
    )

    def chart(self) -> dict[str, Any]:
        """Columns the charts read from the page's JSON data island."""
        points = self.view.points
        keys = ("ratio", "ceo_ratio", "dollar_ratio", "net_purchase_ratio", "ratio_pctile", "ratio_yoy")
        out: dict[str, Any] = {"period": [p.period.isoformat() for p in points]}
        out.update({k: [getattr(p, k) for p in points] for k in keys})
        out["long_term_average"] = self.view.long_term_average
        out["freq"] = self.filters.freq.value
        return out

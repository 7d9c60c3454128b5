"""Screener filters (query parameters) and the view-models of the screener and purchases pages."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RoleFilter(StrEnum):
    any = "any"
    officer = "officer"  # any officer (CEO and CFO included)
    ceo_cfo = "ceo_cfo"
    director = "director"


class ScreenerSort(StrEnum):
    value = "value"
    latest = "latest"
    buyers = "buyers"
    ticker = "ticker"
    company = "company"
    shares = "shares"
    avg_price = "avg_price"
    first_trade = "first_trade"
    last_trade = "last_trade"
    delta_own = "delta_own"


class PurchaseSort(StrEnum):
    latest = "latest"
    value = "value"
    trade_date = "trade_date"
    ticker = "ticker"
    price = "price"
    delta_own = "delta_own"


class Order(StrEnum):
    asc = "asc"
    desc = "desc"


class ScreenerFilters(BaseModel):
    """Every filter lives in the URL, so a screen can be bookmarked and shared."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(30, ge=1, le=3650, description="Filed within the last D days (ignored with from/to).")
    from_date: date | None = Field(None, alias="from", description="Filed on or after this date (ET).")
    to_date: date | None = Field(None, alias="to", description="Filed on or before this date (ET).")
    n: int = Field(3, ge=2, le=10, description="Cluster rule: distinct buyers.")
    w: int = Field(14, ge=1, le=90, description="Cluster rule: days linking consecutive purchases.")
    min_value: Decimal = Field(Decimal(0), ge=0, le=Decimal(10**13), description="Minimum total value ($).")
    role: RoleFilter = Field(RoleFilter.any, description="Keep purchases by insiders with this role.")
    exclude_ten_percent_only: bool = Field(
        False, description="Drop companies whose buyers are all 10% owners."
    )
    min_price: Decimal | None = Field(None, ge=0, le=Decimal(10**7), description="Minimum price per share.")
    max_price: Decimal | None = Field(None, ge=0, le=Decimal(10**7), description="Maximum price per share.")
    sector: str | None = Field(None, max_length=64)
    q: str | None = Field(None, max_length=64, description="Ticker or company name contains.")
    clusters_only: bool = Field(False, description="Only companies meeting the N/W cluster rule.")
    sort: ScreenerSort = ScreenerSort.value
    order: Order = Order.desc
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(100, ge=1, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _blank_means_default(cls, data: Any) -> Any:
        # An HTML form submits every input, empty ones as "": treat those as not given.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

    @model_validator(mode="after")
    def _ranges(self) -> ScreenerFilters:
        if self.from_date and self.to_date and self.from_date > self.to_date:
            raise ValueError("from must be on or before to")
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError("min_price must not exceed max_price")
        return self

    def query(self, **changes: Any) -> dict[str, str]:
        """The non-default parameters as URL query items, with `changes` applied (for links)."""
        data = self.model_dump(by_alias=True, mode="json")
        data.update(changes)
        defaults = ScreenerFilters().model_dump(by_alias=True, mode="json")
        return {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in data.items()
            if v is not None and v != defaults.get(k)
        }


class PurchaseFilters(ScreenerFilters):
    sort: PurchaseSort = PurchaseSort.latest  # type: ignore[assignment]

    def query(self, **changes: Any) -> dict[str, str]:
        data = self.model_dump(by_alias=True, mode="json")
        data.update(changes)
        defaults = PurchaseFilters().model_dump(by_alias=True, mode="json")
        return {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in data.items()
            if v is not None and v != defaults.get(k)
        }


class BuyerSummary(BaseModel):
    key: str  # "+"-joined owner CIKs
    name: str
    roles: list[str]
    shares: Decimal
    value: Decimal
    delta_own: float | None  # bought / held before; None unknown
    delta_own_new: bool = False  # held nothing before: a new position


class ScreenerRow(BaseModel):
    issuer_cik: str
    ticker: str | None
    company: str | None
    sector: str | None
    buyers: list[BuyerSummary]
    n_buyers: int
    roles: list[str]
    meets_rule: bool
    cluster_id: str | None  # the default-rule cluster permalink, when one covers these purchases
    total_value: Decimal
    total_shares: Decimal
    avg_price: Decimal
    first_trade_date: date
    last_trade_date: date
    latest_known_at: datetime
    delta_own_median: float | None
    delta_own_new: bool  # the median buyer opened a new position
    n_purchases: int
    flags: list[str]


class Window(BaseModel):
    since: datetime
    until: datetime | None


class ScreenerPage(BaseModel):
    filters: ScreenerFilters
    window: Window
    rows: list[ScreenerRow]
    total_rows: int
    page: int
    pages: int
    total_value: Decimal
    sectors: list[str]


class PurchaseRow(BaseModel):
    transaction_id: int
    accession: str
    issuer_cik: str
    ticker: str | None
    company: str | None
    sector: str | None
    buyer: str
    owner_ciks: list[str]
    roles: list[str]
    trade_date: date
    known_at: datetime
    shares: Decimal
    price: Decimal | None
    price_low: Decimal | None
    price_high: Decimal | None
    value: Decimal
    shares_owned_after: Decimal | None
    delta_own: float | None
    delta_own_new: bool
    is_10b5_1: bool | None
    flags: list[str]
    cluster_id: str | None


class PurchasesPage(BaseModel):
    filters: PurchaseFilters
    window: Window
    rows: list[PurchaseRow]
    total_rows: int
    page: int
    pages: int
    sectors: list[str]

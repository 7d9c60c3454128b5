"""View-models of the weekly, cluster and filing pages (and their JSON twins), and the cluster feed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

# --- shared ---------------------------------------------------------------------------------------------


class BuyerBrief(BaseModel):
    key: str = Field(description='"+"-joined owner CIKs: one buyer (joint filers count once).')
    name: str
    roles: list[str]


class ReturnRow(BaseModel):
    """A cluster's return at one horizon vs SPY, from the entry at the first open after the trigger."""

    horizon: str = Field(description="1w 1m 3m 6m 1y")
    status: str = Field(description="done | open | ended_early | no_entry")
    entry_date: date | None
    entry_price: Decimal | None
    exit_date: date | None
    stock_return: float | None
    spy_return: float | None
    excess_return: float | None


# --- weekly ---------------------------------------------------------------------------------------------


class WeeklyRow(BaseModel):
    """One cluster triggered in the week, as it stood at the end of that week (DESIGN §2)."""

    rank: int
    cluster_id: str
    issuer_cik: str
    ticker: str | None
    company: str | None
    sector: str | None
    n_buyers: int = Field(description="Distinct buyers with purchases filed by the end of the week.")
    n_buyers_now: int = Field(description="Distinct buyers today (later purchases can add some).")
    buyers: list[BuyerBrief]
    roles: list[str]
    week_value: Decimal = Field(description="The ranking value: purchases filed by the end of the week.")
    shares: Decimal = Field(description="Shares of the purchases filed by the end of the week.")
    avg_price: Decimal | None
    total_value: Decimal = Field(description="Value of every member purchase known today.")
    first_trade_date: date
    last_trade_date: date
    trigger_at: datetime
    trigger_accession: str
    flags: list[str]
    latest_return: ReturnRow | None = Field(description="The longest horizon with a return so far.")
    return_rows: int = Field(description="Return rows stored; 0 means no price data yet.")


class WeekSection(BaseModel):
    week: str = Field(description='ISO week on the US/Eastern calendar, e.g. "2024-W11".')
    start_date: date
    end_date: date
    complete: bool = Field(description="False for the week in progress.")
    rows: list[WeeklyRow]
    n_clusters: int
    total_value: Decimal


class WeeklyPage(BaseModel):
    week: WeekSection
    current: WeekSection | None = Field(description="This week so far (the /weekly view only).")
    prev_week: str | None
    next_week: str | None
    latest_with_data: str | None = Field(description="Newest week with clusters, when this one has none.")


class ArchiveWeek(BaseModel):
    week: str
    start_date: date
    end_date: date
    complete: bool
    n_clusters: int
    total_value: Decimal


class WeeklyArchive(BaseModel):
    weeks: list[ArchiveWeek]
    n_clusters: int
    total_value: Decimal


# --- cluster permalink ----------------------------------------------------------------------------------


class MemberPurchase(BaseModel):
    transaction_id: int
    accession: str
    buyer_key: str
    buyer: str
    owner_ciks: list[str]
    roles: list[str]
    trade_date: date | None
    known_at: datetime = Field(description="When the filing became public (acceptance time).")
    shares: Decimal | None
    price: Decimal | None
    price_low: Decimal | None
    price_high: Decimal | None
    price_source: str | None = Field(description="explicit | footnote_range (midpoint used)")
    value: Decimal | None
    shares_owned_after: Decimal | None
    delta_own: float | None
    delta_own_new: bool
    duplicate_of: int | None = Field(description="The counted copy of the same block (not summed twice).")
    is_trigger: bool = Field(description="On the filing that brought the group to N buyers.")
    after_trigger: bool = Field(description="Filed after the trigger: added to the cluster later.")
    flags: list[str]


class ClusterPage(BaseModel):
    id: str
    issuer_cik: str
    ticker: str | None
    company: str | None
    sector: str | None
    rule_n: int
    rule_w: int
    max_span_days: int
    first_trade_date: date
    last_trade_date: date
    trigger_accession: str
    trigger_at: datetime
    trigger_week: str
    n_buyers: int
    n_buyers_at_trigger: int
    total_value: Decimal
    total_shares: Decimal
    avg_price: Decimal
    week_value: Decimal
    roles: list[str]
    flags: list[str]
    buyers: list[BuyerBrief]
    members: list[MemberPurchase]
    returns: list[ReturnRow]


# --- filing ---------------------------------------------------------------------------------------------


class CodeExplained(BaseModel):
    code: str | None
    description: str = Field(description="The SEC's wording (Form 4 General Instructions).")
    plain: str = Field(description="What it means, in plain language.")
    carries_opinion: bool | None = Field(description="True: a discretionary market view; None: it depends.")
    opinion: str


class OwnerView(BaseModel):
    cik: str
    name: str | None
    roles: list[str]
    relationship: str = Field(description="The boxes ticked, in words.")
    is_director: bool
    is_officer: bool
    officer_title: str | None
    is_ten_percent_owner: bool
    is_other: bool
    other_text: str | None


class TransactionView(BaseModel):
    id: int
    table: str = Field(description="non_derivative | derivative")
    doc_index: int
    security_title: str | None
    transaction_date: date | None
    deemed_execution_date: date | None
    code: CodeExplained
    acquired_disposed: str | None
    shares: Decimal | None
    price: Decimal | None
    price_low: Decimal | None
    price_high: Decimal | None
    price_source: str | None
    value: Decimal | None
    shares_owned_after: Decimal | None
    value_owned_after: Decimal | None
    direct_indirect: str | None
    nature_of_ownership: str | None
    timeliness: str | None
    equity_swap_involved: bool | None
    is_10b5_1: bool | None
    conversion_or_exercise_price: Decimal | None
    exercise_date: date | None
    expiration_date: date | None
    underlying_security_title: str | None
    underlying_shares: Decimal | None
    footnotes: dict[str, list[str]] = Field(description="Field name -> footnote ids annotating it.")
    flags: list[str]
    superseded_by: str | None = Field(description="The amendment that restates this row (None: live).")
    is_eligible_purchase: bool
    cluster_id: str | None


class HoldingView(BaseModel):
    id: int
    table: str
    doc_index: int
    security_title: str | None
    shares_owned: Decimal | None
    value_owned: Decimal | None
    direct_indirect: str | None
    nature_of_ownership: str | None
    conversion_or_exercise_price: Decimal | None
    exercise_date: date | None
    expiration_date: date | None
    underlying_security_title: str | None
    underlying_shares: Decimal | None
    footnotes: dict[str, list[str]]
    superseded_by: str | None


class FootnoteView(BaseModel):
    id: str
    text: str


class SignatureView(BaseModel):
    name: str | None
    date: date | None


class SectionView(BaseModel):
    section: str
    label: str
    rows: int
    superseded_by: str | None


class AmendmentEntry(BaseModel):
    accession: str
    document_type: str
    is_amendment: bool
    known_at: datetime | None
    date_of_original_submission: date | None
    is_this_filing: bool
    sections: list[SectionView]


class FilingPage(BaseModel):
    accession: str
    document_type: str
    is_amendment: bool
    issuer_cik: str
    ticker: str | None
    company: str | None
    trading_symbol: str | None
    period_of_report: date | None
    filed_date: date | None
    accepted_at: datetime | None
    known_at: datetime | None
    known_at_source: str | None = Field(description="accepted | filed_date | deadline")
    known_at_estimated: bool
    known_at_note: str
    date_of_original_submission: date | None
    amends_accession: str | None
    aff10b5one: bool | None
    not_subject_to_section16: bool | None
    remarks: str | None
    signatures: list[SignatureView]
    schema_version: str | None
    source: str
    edgar_url: str | None = Field(description="The filing index on EDGAR (None for local files).")
    owners: list[OwnerView]
    transactions: list[TransactionView]
    holdings: list[HoldingView]
    footnotes: list[FootnoteView]
    amendments: list[AmendmentEntry] = Field(description="The original and every amendment of it.")


# --- feed -----------------------------------------------------------------------------------------------


class FeedEntry(BaseModel):
    cluster_id: str
    issuer_cik: str
    ticker: str | None
    company: str | None
    n_buyers: int
    total_value: Decimal
    first_trade_date: date
    last_trade_date: date
    trigger_at: datetime
    buyers: list[BuyerBrief]


class ClusterFeed(BaseModel):
    entries: list[FeedEntry]
    updated: datetime

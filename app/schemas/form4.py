"""The contract between the Form 4 parser and everything that stores or shows a filing.

Plain slotted dataclasses rather than pydantic models: the parser builds tens of these per document
and must sustain thousands of documents per second (DESIGN §5); validation happens in the parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

TableName = Literal["non_derivative", "derivative"]

# Document sections an amendment can restate independently (parser-anchors G1).
SECTIONS = (
    "non_derivative_transactions",
    "derivative_transactions",
    "non_derivative_holdings",
    "derivative_holdings",
)


@dataclass(slots=True)
class ParsedIssuer:
    cik: str  # 10 digits, zero padded
    name: str | None
    trading_symbol: str | None  # normalized: placeholders -> None, venue suffix stripped
    trading_symbol_raw: str | None = None  # as filed


@dataclass(slots=True)
class ParsedOwner:
    cik: str
    name: str | None
    is_director: bool = False
    is_officer: bool = False
    officer_title: str | None = None
    is_ten_percent_owner: bool = False
    is_other: bool = False
    other_text: str | None = None


@dataclass(slots=True)
class ParsedTransaction:
    table: TableName
    index: int  # 0-based document order within its table: identity is (accession, table, index)
    security_title: str | None
    transaction_date: date | None
    deemed_execution_date: date | None
    form_type: str | None  # transactionCoding/transactionFormType
    code: str | None  # kept as filed, unknown codes included
    acquired_disposed: str | None  # "A" | "D"
    shares: Decimal | None
    total_value: Decimal | None  # transactionTotalValue (value-based alternative)
    price: Decimal | None  # NULL when omitted (footnote only), never 0 for "unknown"
    price_low: Decimal | None  # weighted-average range from a footnote
    price_high: Decimal | None
    shares_owned_after: Decimal | None
    value_owned_after: Decimal | None
    direct_indirect: str | None  # "D" | "I"
    nature_of_ownership: str | None
    equity_swap_involved: bool | None
    timeliness: str | None  # "E" | "L" | None
    conversion_or_exercise_price: Decimal | None = None
    exercise_date: date | None = None
    expiration_date: date | None = None
    underlying_security_title: str | None = None
    underlying_shares: Decimal | None = None
    underlying_value: Decimal | None = None
    footnotes: dict[str, list[str]] = field(default_factory=dict)  # field name -> footnote ids
    flags: list[str] = field(default_factory=list)  # e.g. "implausible_transaction_date"


@dataclass(slots=True)
class ParsedHolding:
    table: TableName
    index: int
    security_title: str | None
    shares_owned: Decimal | None
    value_owned: Decimal | None
    direct_indirect: str | None
    nature_of_ownership: str | None
    conversion_or_exercise_price: Decimal | None = None
    exercise_date: date | None = None
    expiration_date: date | None = None
    underlying_security_title: str | None = None
    underlying_shares: Decimal | None = None
    underlying_value: Decimal | None = None
    footnotes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class ParsedSignature:
    name: str | None
    date: date | None


@dataclass(slots=True)
class SubmissionHeader:
    """What the SGML envelope of a full submission (.txt) tells beyond the XML."""

    accession: str | None = None
    accepted_at: datetime | None = None  # ACCEPTANCE-DATETIME (US/Eastern wall clock) -> UTC
    form_type: str | None = None  # CONFORMED SUBMISSION TYPE
    filed_date: date | None = None  # FILED AS OF DATE
    period_of_report: date | None = None


@dataclass(slots=True)
class ParsedForm4:
    accession: str | None
    accepted_at: datetime | None  # tz-aware UTC
    filed_date: date | None
    document_type: str  # 3, 3/A, 4, 4/A, 5, 5/A
    schema_version: str | None
    period_of_report: date | None
    date_of_original_submission: date | None
    aff10b5one: bool | None  # absent (pre-2023) -> None, never False
    not_subject_to_section16: bool | None
    issuer: ParsedIssuer
    reporting_owners: list[ParsedOwner]
    transactions: list[ParsedTransaction]
    holdings: list[ParsedHolding]
    footnotes: dict[str, str]  # id -> full text
    remarks: str | None
    signatures: list[ParsedSignature]
    xml: bytes = b""  # the ownership document as parsed (kept for re-parsing, G5)
    warnings: list[str] = field(default_factory=list)

    @property
    def is_amendment(self) -> bool:
        return self.document_type.endswith("/A")

    @property
    def base_form(self) -> str:
        return self.document_type.removesuffix("/A")


class Form4ParseError(ValueError):
    """A document that cannot be parsed; the message is a one-line reason for humans and logs."""


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_canonical_dict(doc: ParsedForm4) -> dict[str, Any]:
    """Return the canonical JSON shape of `clusterbuy parse --json` (Decimals as strings, ISO dates)."""
    from dataclasses import asdict

    def clean(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return _json_value(obj)

    data = asdict(doc)
    data.pop("xml", None)
    return {k: clean(v) for k, v in data.items()}

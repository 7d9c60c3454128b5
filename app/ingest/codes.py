"""Form 3/4/5 transaction codes: plain-language descriptions and what each code means for a buy screen.

The table follows the SEC Form 4 General Instructions (TransCodeList of the Ownership XML spec v3) plus
K and V, which filers use although the 2010 XML list lacks them (parser-anchors §6, D1, D2).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TransactionCode(StrEnum):
    """The transaction codes of Forms 3/4/5 (Table I and II, column 3)."""

    P = "P"
    S = "S"
    V = "V"
    A = "A"
    D = "D"
    F = "F"
    I = "I"  # noqa: E741 - the SEC's own letter
    M = "M"
    C = "C"
    E = "E"
    H = "H"
    O = "O"  # noqa: E741
    X = "X"
    G = "G"
    L = "L"
    W = "W"
    Z = "Z"
    J = "J"
    K = "K"
    U = "U"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One code: what it means and how the buy screen treats it."""

    code: str
    description: str
    # True: the insider chose to trade with their own money at market terms (a view on the stock).
    # False: mechanical, compensatory or administrative. None: it depends (read the footnotes).
    carries_opinion: bool | None
    # "Open market or private" trade: P and S. Private placements are P too (parser-anchors I1).
    open_market: bool
    screen: str  # how the buy screen treats the code


_TABLE: tuple[CodeInfo, ...] = (
    CodeInfo(
        "P",
        "Open market or private purchase of non-derivative or derivative security",
        True,
        True,
        "candidate buy (non-derivative table only; footnotes may reveal a private placement)",
    ),
    CodeInfo(
        "S",
        "Open market or private sale of non-derivative or derivative security",
        True,
        True,
        "sale (footnotes may reveal a mandated sell-to-cover)",
    ),
    CodeInfo(
        "V",
        "Transaction voluntarily reported earlier than required",
        None,
        False,
        "flag (in XML carried by transactionTimeliness=E)",
    ),
    CodeInfo("A", "Grant, award or other acquisition pursuant to Rule 16b-3(d)", False, False, "not a buy"),
    CodeInfo(
        "D",
        "Disposition to the issuer of issuer equity securities pursuant to Rule 16b-3(e)",
        False,
        False,
        "not a sale",
    ),
    CodeInfo(
        "F",
        "Payment of exercise price or tax liability by delivering or withholding securities "
        "incident to the receipt, exercise or vesting of a security issued under Rule 16b-3",
        False,
        False,
        "tax withholding, not a sale",
    ),
    # edgartools mislabels I as "Disposition otherwise than to the issuer" (parser-anchors D1).
    CodeInfo(
        "I",
        "Discretionary transaction in accordance with Rule 16b-3(f) resulting in acquisition "
        "or disposition of issuer securities",
        None,
        False,
        "other",
    ),
    CodeInfo(
        "M",
        "Exercise or conversion of derivative security exempted pursuant to Rule 16b-3",
        False,
        False,
        "not a buy",
    ),
    CodeInfo("C", "Conversion of derivative security", False, False, "not a buy"),
    CodeInfo("E", "Expiration of short derivative position", False, False, "other"),
    CodeInfo(
        "H",
        "Expiration (or cancellation) of long derivative position with value received",
        False,
        False,
        "other",
    ),
    CodeInfo("O", "Exercise of out-of-the-money derivative security", False, False, "not a buy"),
    CodeInfo("X", "Exercise of in-the-money or at-the-money derivative security", False, False, "not a buy"),
    CodeInfo("G", "Bona fide gift", False, False, "not a buy"),
    CodeInfo("L", "Small acquisition under Rule 16a-6", False, False, "not a buy"),
    CodeInfo(
        "W",
        "Acquisition or disposition by will or the laws of descent and distribution",
        False,
        False,
        "not a buy",
    ),
    CodeInfo("Z", "Deposit into or withdrawal from voting trust", False, False, "other"),
    CodeInfo(
        "J",
        "Other acquisition or disposition (describe transaction in a footnote)",
        None,
        False,
        "other (read the footnote)",
    ),
    CodeInfo(
        "K", "Transaction in equity swap or instrument with similar characteristics", None, False, "other"
    ),
    CodeInfo(
        "U",
        "Disposition pursuant to a tender of shares in a change of control transaction",
        False,
        False,
        "other",
    ),
)

CODES: dict[str, CodeInfo] = {info.code: info for info in _TABLE}
DESCRIPTIONS: dict[str, str] = {info.code: info.description for info in _TABLE}

# What each code means for a reader, in one sentence (the filing page shows it beside the SEC wording).
PLAIN: dict[str, str] = {
    "P": "Bought shares on the open market or in a private deal, paying the price shown.",
    "S": "Sold shares on the open market or in a private deal.",
    "V": "Reported voluntarily, earlier than the rules require.",
    "A": "Received shares or options from the company as a grant or award (pay, not a purchase).",
    "D": "Gave shares back to the company (for example in a company buyback under a plan).",
    "F": "Shares withheld by the company to pay an option's exercise price or the tax due on vesting.",
    "I": "A discretionary trade inside a company plan, such as moving 401(k) money into or out of the stock.",
    "M": "Exercised or converted an option or other derivative received as compensation.",
    "C": "Converted a derivative security (for example convertible preferred stock) into shares.",
    "E": "A short derivative position expired.",
    "H": "A long derivative position expired or was cancelled, with value received.",
    "O": "Exercised an out-of-the-money option.",
    "X": "Exercised an in-the-money or at-the-money option.",
    "G": "Gave shares away as a gift (or received them as one).",
    "L": "A small acquisition (under $10,000 in six months) reported under Rule 16a-6.",
    "W": "Acquired or disposed of shares by will or inheritance.",
    "Z": "Moved shares into or out of a voting trust.",
    "J": "Some other acquisition or disposition; the footnote says what it was.",
    "K": "A trade in an equity swap or a similar instrument.",
    "U": "Tendered shares in a change-of-control deal such as a takeover.",
}


def info(code: str | None) -> CodeInfo | None:
    """Return the table entry for a code (case- and whitespace-insensitive), or None if unknown."""
    if not code:
        return None
    return CODES.get(code.strip().upper())


def describe(code: str | None) -> str:
    """Describe a transaction code in plain language; unknown codes are named, never dropped."""
    found = info(code)
    if found is not None:
        return found.description
    if not code or not code.strip():
        return "No transaction code reported"
    return f"Unknown transaction code {code.strip()!r}"


def carries_opinion(code: str | None) -> bool | None:
    """Say whether a code is a discretionary market view (P, S), not one (False), or it depends (None)."""
    found = info(code)
    return found.carries_opinion if found is not None else None


def is_open_market(code: str | None) -> bool:
    """Say whether a code is an open-market-or-private trade (P or S)."""
    found = info(code)
    return found.open_market if found is not None else False


def explain(code: str | None) -> str:
    """Say in one plain sentence what a code means for a reader; unknown codes say so."""
    found = info(code)
    if found is not None and found.code in PLAIN:
        return PLAIN[found.code]
    if not code or not code.strip():
        return "The filer reported no transaction code."
    return "A code not in the SEC's list; read the footnotes and the original filing."

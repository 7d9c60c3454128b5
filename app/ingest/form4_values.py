"""Cell values of ownership documents: numbers, dates, flags, free text, CIKs, ticker symbols and the
price ranges stated in footnotes.

Converted per cell, never per column (edgartools' pd.to_numeric pitfall, parser-anchors D9): a value
that does not read is None plus a flag, never a guess. Used by form4_rows and form4_parser, and by the
bulk data-set reader so both paths normalise alike.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from app.schemas.form4 import Form4ParseError

# Boolean lexical forms filers use (parser-anchors B7): anything else reads as unknown (None).
TRUE_TEXTS = frozenset({"1", "true", "True", "TRUE", "Y", "y", "yes", "Yes", "YES", "T", "t"})
FALSE_TEXTS = frozenset({"0", "false", "False", "FALSE", "N", "n", "no", "No", "NO", "F", "f"})

# fmt: off
_PLACEHOLDER_TICKERS = frozenset({
    "", "NONE", "N/A", "NA", "N.A.", "N/A.", "[NONE]", "(NONE)", "<NONE>", "NONE.", "-", "--", "---", ".",
    "NIL", "NULL", "NO SYMBOL", "NO TICKER", "NOT APPLICABLE", "NOT LISTED", "NOT TRADED", "NOTAPPLICABLE",
    "UNLISTED", "PRIVATE", "0", "?", "N / A", "TBD",
})
# fmt: on
# Venue suffixes are not part of the symbol (MAJR.OB); share classes (BRK.A, BF.B) are (parser-anchors C1).
_VENUE_SUFFIXES = (".OTCBB", ".OTCQB", ".OTCQX", ".PINK", ".OTC", ".OB", ".PK", ".QB", ".QX", ".BB")
_VENUE_PREFIX = re.compile(
    r"^(?:NYSE\s*(?:AMERICAN|ARCA|MKT)?|NASDAQ(?:GS|GM|CM)?|AMEX|OTC\s*(?:BB|QB|QX|PINK|MARKETS)?|PINK)"
    r"\s*[:\-]\s*"
)

# Weighted-average price ranges in footnotes (parser-anchors D7), e.g. "prices ranging from $121.44 to
# $122.24", "ranged from $1.00 to $1.10", "$10.05-$10.28", "between $5.01 and $5.20".
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_RANGE_DOLLARS = re.compile(
    r"\$\s?" + _AMOUNT + r"\s*(?:to|-|–|—|through)\s*\$?\s?" + _AMOUNT + r"(?![\d%])", re.IGNORECASE
)
_RANGE_WORDS = re.compile(
    r"(?:rang(?:e|es|ed|ing)|between)\s+(?:(?:from|of)\s+)?(?:a\s+low\s+of\s+)?\$?\s?"
    + _AMOUNT
    + r"\s*(?:to|and|-|–|—|through)\s*(?:a\s+high\s+of\s+)?\$?\s?"
    + _AMOUNT
    + r"(?![\d%])",
    re.IGNORECASE,
)
_RANGE_LOW_HIGH = re.compile(
    r"(?:low|lowest)\s+(?:sale\s+|purchase\s+)?(?:price\s+)?of\s+\$?\s?"
    + _AMOUNT
    + r"\s*,?\s*(?:and|to)\s+(?:a\s+|the\s+)?(?:high|highest)\s+(?:sale\s+|purchase\s+)?"
    r"(?:price\s+)?of\s+\$?\s?" + _AMOUNT + r"(?![\d%])",
    re.IGNORECASE,
)

# A trade or period before this is a typo (parser-anchors H3): flagged, kept as filed.
MIN_PLAUSIBLE_DATE = date(1990, 1, 1)
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DASH_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMBER_JUNK = str.maketrans("", "", ", $\u00a0\t\r\n_")


def normalize_ticker(raw: str | None) -> str | None:
    """Upper-case a filed trading symbol; placeholders become None, venue suffixes are dropped."""
    if raw is None:
        return None
    symbol = raw.strip().upper()
    if symbol.isalpha() and symbol not in _PLACEHOLDER_TICKERS:
        return symbol  # the common case: AAPL, MSFT
    symbol = " ".join(symbol.split()).lstrip("$")
    if symbol in _PLACEHOLDER_TICKERS:
        return None
    symbol = _VENUE_PREFIX.sub("", symbol)
    for suffix in _VENUE_SUFFIXES:
        if symbol.endswith(suffix) and len(symbol) > len(suffix):
            symbol = symbol[: -len(suffix)]
            break
        if symbol.endswith(" " + suffix[1:]) or symbol.endswith(f"({suffix[1:]})"):
            symbol = symbol[: symbol.rfind(suffix[1:])].rstrip(" (")
            break
    symbol = symbol.strip(" .")
    return None if symbol in _PLACEHOLDER_TICKERS else symbol


def normalize_cik(raw: str | None) -> str | None:
    """Zero-pad a CIK to 10 digits; None when absent, Form4ParseError when not a number."""
    if raw is None:
        return None
    cik = raw.strip()
    if not cik:
        return None
    if cik.isdigit() and len(cik) <= 10:
        return cik.zfill(10)
    digits = cik.replace("-", "").replace(" ", "").lstrip("0")
    if digits.isdigit() and len(digits) <= 10:
        return digits.zfill(10)
    raise Form4ParseError(f"CIK {cik[:20]!r} is not a number of at most 10 digits")


def parse_price_range(text: str) -> list[tuple[Decimal, Decimal]]:
    """Return every (low, high) price range stated in a footnote, low <= high, in text order."""
    found = _ranges(_RANGE_DOLLARS, text) if "$" in text else []
    if not found:
        # The wordy patterns cost ~15x the "$a to $b" one: run them only when their keywords are present.
        lowered = text.lower()
        if "rang" in lowered or "between" in lowered:
            found = _ranges(_RANGE_WORDS, text)
        if not found and "low" in lowered and "high" in lowered:
            found = _ranges(_RANGE_LOW_HIGH, text)
    return found


def _ranges(pattern: re.Pattern[str], text: str) -> list[tuple[Decimal, Decimal]]:
    found: list[tuple[Decimal, Decimal]] = []
    for low, high in pattern.findall(text):  # tuples of the two groups: no match objects
        try:
            a = Decimal(trim_zeros(low.replace(",", "") if "," in low else low))
            b = Decimal(trim_zeros(high.replace(",", "") if "," in high else high))
        except InvalidOperation:
            continue
        pair = (a, b) if a <= b else (b, a)
        if pair[0] > 0 and pair not in found:
            found.append(pair)
    return found


def trim_zeros(text: str) -> str:
    """One canonical form whatever the filer's formatting: "106150.00" -> "106150", "0.50" -> "0.5"."""
    if text[-1] == "0" and "." in text and "e" not in text and "E" not in text:
        return text.rstrip("0").rstrip(".") or "0"
    return text


def to_number(raw: str | None, name: str, flags: list[str]) -> Decimal | None:
    """Read an amount as a canonical Decimal; None if absent, None and `invalid_number:<name>` if not."""
    if not raw:
        return None
    text = raw.strip()
    if text.isdecimal():
        return Decimal(text)  # most amounts are whole numbers: finite, no exponent, nothing to trim
    if not text:
        return None
    if text[-1] == "0" and "." in text and "e" not in text and "E" not in text:
        text = text.rstrip("0").rstrip(".") or "0"  # inline trim_zeros: this is the hot path
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _number_slow(text, name, flags)
    if not value.is_finite():
        flags.append(f"invalid_number:{name}")
        return None
    if "e" in text or "E" in text:
        value = Decimal(format(value, "f"))
    return value


def _number_slow(text: str, name: str, flags: list[str]) -> Decimal | None:
    # Thousands separators, stray spaces and currency signs: "1,234", "$ 12.50", "1 000".
    cleaned = text.translate(_NUMBER_JUNK)
    if cleaned and cleaned != text:
        if "." in cleaned and cleaned[-1] == "0":
            cleaned = cleaned.rstrip("0").rstrip(".") or "0"
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            pass
        else:
            if value.is_finite():
                return value
    flags.append(f"invalid_number:{name}")
    return None


def to_date(raw: str | None, name: str, flags: list[str]) -> date | None:
    """Read an ISO (or m/d/yyyy) date; None when absent, None plus `invalid_date:<name>` if unreadable."""
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    # "2021-09-30-05:00" (xs:date with a zone offset, seen in real filings), "9/30/2021".
    match = _DASH_DATE.match(text)
    parts: tuple[str, ...] | None
    if match is not None:
        parts = match.groups()
    else:
        match = _SLASH_DATE.match(text)
        parts = (match.group(3), match.group(1), match.group(2)) if match else None
    if parts is not None:
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            pass
    flags.append(f"invalid_date:{name}")
    return None


def to_bool(raw: str | None) -> bool | None:
    """Read a 0/1/true/false flag; None when absent or unreadable."""
    if raw is None:
        return None
    text = raw.strip()
    if text in TRUE_TEXTS:
        return True
    if text in FALSE_TEXTS:
        return False
    return None  # empty or unreadable: unknown, not False


def to_upper(raw: str | None) -> str | None:
    """Strip and upper-case a code; None when absent or blank."""
    if not raw:
        return None
    text = raw.strip()
    return text.upper() if text else None


def clean_text(raw: str | None) -> str | None:
    """Strip a text and collapse runs of spaces and line breaks; None when absent or blank."""
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text

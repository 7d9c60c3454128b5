"""Typed values from the data sets' text cells: numbers, dates, flags, text and footnote ids.

Values are normalised exactly as app.ingest.form4_parser does for the same XML element (canonical
Decimals, collapsed whitespace, the same flags), so a filing stored from the data set and one parsed
from its XML compare equal apart from the data set's 2-decimal rounding.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

# Parsed-value caches shared across filings: a quarter holds a few hundred distinct dates.
_CACHE_LIMIT = 200_000
_DATES: dict[str, date] = {}
_DECIMALS: dict[str, Decimal] = {}
_NUMBER_JUNK = str.maketrans("", "", ", $\u00a0\t\r\n_")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
# The XML parser's boolean spellings (parser-anchors B7); anything else reads as unknown (None).
_TRUE = frozenset({"1", "true", "True", "TRUE", "Y", "y", "yes", "Yes", "YES", "T", "t"})
_FALSE = frozenset({"0", "false", "False", "FALSE", "N", "n", "no", "No", "NO", "F", "f"})


class Converter:
    """Typed value parsing for one filing; a bad value becomes None, a parser-style flag and a warning."""

    __slots__ = ("warnings", "table", "line")

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.table = ""
        self.line = 0

    def at(self, table: str, line: int) -> Converter:
        self.table, self.line = table, line
        return self

    def bad(self, column: str, value: str, what: str) -> None:
        self.warnings.append(f"{self.table}.tsv line {self.line}: {column}: {what}: {value!r}")

    def num(self, value: str, name: str, flags: list[str]) -> Decimal | None:
        if not value:  # most cells are empty
            return None
        number = _DECIMALS.get(value)
        if number is not None:
            return number
        text = value.strip()
        if not text:
            return None
        # One canonical form, as the XML parser: "4802.0" (the export's integers) -> 4802, "20.50" -> 20.5.
        if text[-1] == "0" and "." in text and "e" not in text and "E" not in text:
            text = text.rstrip("0").rstrip(".") or "0"
        try:
            number = Decimal(text)
        except InvalidOperation:
            cleaned = text.translate(_NUMBER_JUNK)
            try:
                number = Decimal(cleaned) if cleaned else None
            except InvalidOperation:
                number = None
        if number is None or not number.is_finite():
            flags.append(f"invalid_number:{name}")
            self.bad(name, value, "not a number")
            return None
        if "e" in text or "E" in text:
            number = Decimal(format(number, "f"))
        if len(_DECIMALS) < _CACHE_LIMIT:  # amounts repeat a lot ("0.0", round lots); Decimal is immutable
            _DECIMALS[value] = number
        return number

    def day(self, value: str, name: str, flags: list[str]) -> date | None:
        if not value:
            return None
        parsed = _DATES.get(value)
        if parsed is not None:
            return parsed
        if not value.strip():
            return None
        parsed = _parse_date(value.strip())
        if parsed is None:
            flags.append(f"invalid_date:{name}")
            self.bad(name, value, "not a date")
            return None
        if len(_DATES) < _CACHE_LIMIT:
            _DATES[value] = parsed
        return parsed

    def flag(self, value: str, column: str) -> bool | None:
        value = value.strip()
        if not value:
            return None
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.bad(column, value, "not a boolean")
        return None


def _parse_date(text: str) -> date | None:
    """Parse DD-MON-YYYY (the data sets' format) or ISO YYYY-MM-DD[...]; None when neither."""
    try:
        if len(text) == 11 and text[2] == "-" and text[6] == "-":
            return date(int(text[7:]), _MONTHS[text[3:6].upper()], int(text[:2]))
        return date.fromisoformat(text[:10])
    except (KeyError, ValueError):
        return None


def clean(value: str) -> str | None:
    """Strip, collapse inner whitespace runs (as the XML parser does) and map "" to None."""
    text = value.strip()
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text or None


def footnote_ids(value: str) -> list[str]:
    """Split a *_FN cell ("F3, F2") into ids in natural order: the data sets do not keep the XML's order."""
    if "," not in value:
        value = value.strip()
        return [value] if value else []
    ids = {part.strip() for part in value.split(",")}
    ids.discard("")
    return sorted(sorted(ids), key=len) if len(ids) > 1 else list(ids)  # F2 before F10


def natural_key(footnote_id: str) -> tuple[int, str]:
    """Sort key for footnote ids in document order: F2 before F10."""
    digits = "".join(ch for ch in footnote_id if ch.isdigit())
    return (int(digits) if digits else 1 << 30, footnote_id)

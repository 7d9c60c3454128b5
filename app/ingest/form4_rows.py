"""Table rows of an ownership document -> ``ParsedTransaction`` / ``ParsedHolding``.

Every amount is a ``Decimal``; a value the filer left out stays ``None`` (never 0); suspicious values
are flagged, never rewritten (parser-anchors D1-D3, H3).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from app.ingest.form4_values import (
    MIN_PLAUSIBLE_DATE,
    clean_text,
    parse_price_range,
    to_bool,
    to_date,
    to_number,
    to_upper,
)
from app.ingest.form4_walk import Notes, Slots
from app.schemas.form4 import ParsedHolding, ParsedTransaction, TableName

_ONE_YEAR = timedelta(days=366)
_ONE_DAY = timedelta(days=1)

# Holdings carry the post-transaction amount as the position itself.
_HOLDING_RENAME = {"shares_owned_after": "shares_owned", "value_owned_after": "value_owned"}


class RowContext:
    """What the rows of one document share: footnotes, the latest plausible trade date, parsed ranges."""

    __slots__ = ("footnotes", "latest", "ranges")

    def __init__(self, footnotes: dict[str, str], period: date | None, filed: date | None) -> None:
        self.footnotes = footnotes
        # The latest plausible trade date: a year after the period, a day after filing, whichever is
        # earlier (computed once per document). A bound past date.max (period 9999-12-31) is no bound.
        latest = None
        if period is not None:
            latest = days_after(period, _ONE_YEAR)
        if filed is not None:
            by_filing = days_after(filed, _ONE_DAY)
            latest = by_filing if latest is None or by_filing < latest else latest
        self.latest = latest
        self.ranges: dict[str, list[tuple[Decimal, Decimal]]] = {}


def days_after(day: date, delta: timedelta) -> date:
    try:
        return day + delta
    except OverflowError:
        return date.max


def to_transaction(
    texts: Slots, notes: Notes, table: TableName, index: int, ctx: RowContext
) -> ParsedTransaction:
    """Convert one transaction row's texts (by slot) into a ParsedTransaction with its flags."""
    # fmt: off
    (title, conversion, trade_raw, deemed, form_type, code_raw, swap, timeliness_raw, shares_raw, total,
     price_raw, ad_raw, exercise, expiration, u_title, u_shares, u_value, owned, value_owned, di_raw,
     nature) = texts
    # fmt: on
    flags: list[str] = []
    code = code_raw.strip().upper() or None if code_raw else None
    acquired_disposed = ad_raw.strip().upper() or None if ad_raw else None
    # to_number() and to_date() inline for their commonest cases, a whole number ("1000", never negative)
    # and an ISO date: no call.
    shares = price = trade_date = None
    negative_shares = negative_price = False
    if shares_raw:
        text = shares_raw.strip()
        if text.isdecimal():
            shares = Decimal(text)
        else:
            shares = to_number(text, "shares", flags)
            negative_shares = shares is not None and shares < 0
    if price_raw:
        text = price_raw.strip()
        if text.isdecimal():
            price = Decimal(text)
        else:
            price = to_number(text, "price", flags)
            negative_price = price is not None and price < 0
    if trade_raw:
        text = trade_raw.strip()
        if len(text) == 10:
            try:
                trade_date = date.fromisoformat(text)
            except ValueError:
                trade_date = to_date(text, "transaction_date", flags)
        else:
            trade_date = to_date(text, "transaction_date", flags)

    if code is None:
        # edgartools #887: rows without transactionCoding exist; keep them, never crash.
        flags.append("missing_transaction_code")
    elif (code == "P" and acquired_disposed == "D") or (code == "S" and acquired_disposed == "A"):
        flags.append("code_direction_mismatch")
    if acquired_disposed is not None and acquired_disposed != "A" and acquired_disposed != "D":
        flags.append("invalid_acquired_disposed")
    if negative_shares:
        flags.append("negative_shares")
    if negative_price:
        flags.append("negative_price")
    if trade_date is None:
        if not trade_raw or not trade_raw.strip():
            flags.append("missing_transaction_date")
    elif trade_date < MIN_PLAUSIBLE_DATE or (ctx.latest is not None and trade_date > ctx.latest):
        # Typos like 2035 for 2025 (ELDN 0000950170-25-004920): flag, keep as filed (parser-anchors H3).
        flags.append("implausible_transaction_date")

    low = high = None
    if "price" in notes:
        low, high = _price_range(notes["price"], price, ctx)
        if low is not None:
            flags.append("price_range_from_footnote")

    timeliness = timeliness_raw.strip().upper() or None if timeliness_raw else None
    if timeliness is not None and timeliness != "E" and timeliness != "L":
        flags.append("invalid_timeliness")
    direct_indirect = di_raw.strip().upper() or None if di_raw else None
    if direct_indirect is not None and direct_indirect != "D" and direct_indirect != "I":
        flags.append("invalid_direct_indirect")

    # Positional arguments: 3x cheaper than 27 keywords; form4_parser._check_field_order() pins the order
    # at import.
    return ParsedTransaction(
        table,
        index,
        clean_text(title) if title else None,
        trade_date,
        to_date(deemed, "deemed_execution_date", flags) if deemed else None,
        form_type.strip() or None if form_type else None,
        code,
        acquired_disposed,
        shares,
        to_number(total, "total_value", flags) if total else None,
        price,
        low,
        high,
        to_number(owned, "shares_owned_after", flags) if owned else None,
        to_number(value_owned, "value_owned_after", flags) if value_owned else None,
        direct_indirect,
        clean_text(nature) if nature else None,
        to_bool(swap) if swap else None,
        timeliness,
        to_number(conversion, "conversion_or_exercise_price", flags) if conversion else None,
        to_date(exercise, "exercise_date", flags) if exercise else None,
        to_date(expiration, "expiration_date", flags) if expiration else None,
        clean_text(u_title) if u_title else None,
        to_number(u_shares, "underlying_shares", flags) if u_shares else None,
        to_number(u_value, "underlying_value", flags) if u_value else None,
        notes,
        flags,
    )


def to_holding(
    texts: Slots, notes: Notes, table: TableName, index: int, warnings: list[str]
) -> ParsedHolding:
    """Convert one holding row's texts into a ParsedHolding; conversion problems become warnings."""
    # fmt: off
    (title, conversion, _trade, _deemed, _form, _code, _swap, _timeliness, _shares, _total, _price, _ad,
     exercise, expiration, u_title, u_shares, u_value, owned, value_owned, di_raw, nature) = texts
    # fmt: on
    for old, new in _HOLDING_RENAME.items():
        if old in notes:
            notes[new] = notes.pop(old)
    flags: list[str] = []
    # Every converter maps an absent or empty text to None: only call it when there is text.
    holding = ParsedHolding(
        table,
        index,
        clean_text(title) if title else None,
        to_number(owned, "shares_owned", flags) if owned else None,
        to_number(value_owned, "value_owned", flags) if value_owned else None,
        to_upper(di_raw) if di_raw else None,
        clean_text(nature) if nature else None,
        to_number(conversion, "conversion_or_exercise_price", flags) if conversion else None,
        to_date(exercise, "exercise_date", flags) if exercise else None,
        to_date(expiration, "expiration_date", flags) if expiration else None,
        clean_text(u_title) if u_title else None,
        to_number(u_shares, "underlying_shares", flags) if u_shares else None,
        to_number(u_value, "underlying_value", flags) if u_value else None,
        notes,
    )
    for flag in flags:  # holdings have no flags field; surface problems as warnings
        warnings.append(f"{table} holding {index}: {flag}")
    return holding


def _price_range(
    ids: list[str], price: Decimal | None, ctx: RowContext
) -> tuple[Decimal | None, Decimal | None]:
    """Pick the footnoted low/high range that brackets the row's price (or the only one, if no price)."""
    candidates: list[tuple[Decimal, Decimal]] = []
    for ref in ids:
        ranges = ctx.ranges.get(ref)
        if ranges is None:
            text = ctx.footnotes.get(ref)
            ranges = parse_price_range(text) if text else []
            ctx.ranges[ref] = ranges
        candidates.extend(ranges)
    if not candidates:
        return None, None
    if price is None:
        # No explicit price to check against: trust the range only when it is unambiguous.
        return candidates[0] if len(set(candidates)) == 1 else (None, None)
    for low, high in candidates:
        if low <= price <= high:
            return low, high
    return None, None

"""The one Jinja2 environment: autoescape on, number/date filters, US/Eastern display."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from app.config import PROJECT_ROOT

EASTERN = ZoneInfo("America/New_York")
templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates"))


def money(value: Decimal | int | float | None, places: int = 0) -> str:
    """$1,234,567 (or — when unknown)."""
    if value is None:
        return "—"
    q = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    return f"{sign}${abs(q):,.{places}f}"


def price(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return money(value, 4 if abs(value) < 1 else 2)


def shares(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    d = Decimal(value)
    return f"{d:,.0f}" if d == d.to_integral_value() else f"{d.normalize():,f}"


def pct(value: float | Decimal | None, places: int = 1, signed: bool = True) -> str:
    if value is None:
        return "—"
    v = float(value) * 100
    return f"{v:+.{places}f}%" if signed else f"{v:.{places}f}%"


def et(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC timestamp shown on the US/Eastern clock, where the market is."""
    if value is None:
        return "—"
    return value.astimezone(EASTERN).strftime(fmt) + " ET"


def iso_date(value: date | None) -> str:
    return value.isoformat() if value else "—"


templates.env.filters.update(money=money, price=price, shares=shares, pct=pct, et=et, iso_date=iso_date)


ROLE_LABELS = {
    "CEO": ("CEO", "Chief executive officer"),
    "CFO": ("CFO", "Chief financial officer"),
    "officer": ("Officer", "An officer of the company"),
    "director": ("Dir", "A director"),
    "ten_percent_owner": ("10%", "Owns 10% or more of a class of the company's shares"),
    "other": ("Other", "Other reporting person"),
}
FLAG_LABELS = {
    "10b5-1": ("10b5-1", "Made under a pre-arranged Rule 10b5-1 trading plan"),
    "amended": ("4/A", "Reported or corrected by an amendment"),
    "late_filing": ("late", "Filed after the two-business-day deadline"),
    "price_from_footnote": (
        "fn price",
        "Price given only as a weighted-average range in a footnote; midpoint used",
    ),
    "ten_percent_owner_only": ("10% only", "Every buyer is a 10% owner; no officer or director bought"),
    "possible_private_placement": (
        "private?",
        "A footnote suggests a private placement or offering, not the open market",
    ),
    "exercise_sale": ("exercise", "Sold on the day of an option exercise reported on the same filing"),
}


def delta_own(value: float | None, new: bool = False) -> str:
    """ΔOwn as +12%, "new" for a new position, — when unknown."""
    if new:
        return "new"
    if value is None:
        return "—"
    return f"+{value * 100:,.0f}%" if value >= 0.01 else f"+{value * 100:.1f}%"


@lru_cache(maxsize=512)
def _badge(kind: str, key: str) -> str:
    """One badge's HTML, made once per kind and key (a long table shows the same few on every row)."""
    short, title = (ROLE_LABELS if kind == "role" else FLAG_LABELS).get(key, (key, key))
    return f'<span class="badge {kind} {kind}-{escape(key)}" title="{escape(title)}">{escape(short)}</span>'


def role_badges(roles: Iterable[str]) -> Markup:
    """A badge per role (a filter, not a macro: a long table calls it on every row)."""
    return Markup("".join(_badge("role", key) for key in roles))


def flag_badges(flags: Iterable[str]) -> Markup:
    """A badge per flag, as role_badges."""
    return Markup("".join(_badge("flag", key) for key in flags))


templates.env.filters.update(delta_own=delta_own, role_badges=role_badges, flag_badges=flag_badges)
templates.env.globals.update(ROLE_LABELS=ROLE_LABELS, FLAG_LABELS=FLAG_LABELS)

"""The US equity market (NYSE) session calendar for 1990–2035, computed by rules: no network, no package.

Used to place a cluster's entry at the first regular open after its trigger time (DESIGN §2,
"Performance vs S&P 500").

What is verified and how (tests/analytics/test_market_calendar.py):
- Full-day closures match the trading days of the real daily price CSVs in the shared samples exactly,
  with no gaps: SPY 1993-01-29..2017-10-27, F 1990..2017-10-31 and AAPL 2018-04-16..2023-04-14. That
  covers the weekend rule, every holiday rule in force then, the Saturday/Sunday observance rules, the
  Saturday New Year exception (1994, 2000, 2005, 2011, 2022) and the closures of 1994, 2001, 2004,
  2007, 2012 and 2018.
- Holidays and early closes for 2022–2028 match the NYSE Group holiday announcements.
- Early closes before 2022 follow the historical rules compiled from the NYSE closings history by
  pandas_market_calendars (July 3 rule from 1995, Friday July 5 instead of Wednesday July 3 in
  1996–2012, day after Thanksgiving from 1992, Christmas Eve at 14:00 in 1990–1992); daily bars cannot
  confirm a close time, so these are unverified here, as are the 2025-01-09 closure and every year
  after 2028 (rule-derived; the future can always add an unscheduled closure).
- Late opens (mostly a minute for a moment of silence) and the few unscheduled early closes of the
  1990s and 2005 are tabulated below; otherwise a session runs 09:30–16:00 ET.
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
FIRST_YEAR = 1990
LAST_YEAR = 2035
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)

# Unscheduled full-day closures inside 1990–2035 (NYSE closings history).
SPECIAL_CLOSURES: dict[date, str] = {
    date(1994, 4, 27): "Funeral of Richard Nixon",
    date(2001, 9, 11): "September 11 attacks",
    date(2001, 9, 12): "September 11 attacks",
    date(2001, 9, 13): "September 11 attacks",
    date(2001, 9, 14): "September 11 attacks",
    date(2004, 6, 11): "Funeral of Ronald Reagan",
    date(2007, 1, 2): "Funeral of Gerald Ford",
    date(2012, 10, 29): "Hurricane Sandy",
    date(2012, 10, 30): "Hurricane Sandy",
    date(2018, 12, 5): "Funeral of George H. W. Bush",
    date(2025, 1, 9): "Funeral of Jimmy Carter",
}

# Unscheduled early closes (not 13:00) and the two ad hoc 13:00 closes on December 26.
SPECIAL_EARLY_CLOSES: dict[date, time] = {
    date(1994, 2, 11): time(14, 30),  # snowstorm
    date(1996, 1, 8): time(14, 0),  # blizzard
    date(1997, 10, 27): time(15, 30),  # circuit breaker
    date(1997, 12, 26): EARLY_CLOSE,
    date(2003, 12, 26): EARLY_CLOSE,
    date(2005, 6, 1): time(15, 56),  # systems communication problem
}

# Late opens; most are a minute or two for a moment of silence.
LATE_OPENS: dict[date, time] = {
    date(1990, 12, 27): time(9, 31),
    date(1991, 1, 17): time(9, 31),
    date(1991, 2, 25): time(9, 31),
    date(1995, 12, 18): time(10, 30),
    date(1996, 1, 8): time(11, 0),
    date(2001, 9, 17): time(9, 33),
    date(2001, 10, 8): time(9, 31),
    date(2002, 9, 11): time(12, 0),
    date(2003, 3, 20): time(9, 32),
    date(2004, 6, 7): time(9, 32),
    date(2006, 12, 27): time(9, 32),
}


def easter_sunday(year: int) -> date:
    """Return Western (Gregorian) Easter Sunday by the anonymous Gregorian computus."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def good_friday(year: int) -> date:
    """Return Good Friday (two days before Easter Sunday)."""
    return easter_sunday(year) - timedelta(days=2)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _nearest_workday(d: date) -> date:
    # NYSE Rule 7.2: a Saturday holiday is observed the Friday before, a Sunday one the Monday after.
    if d.weekday() == SATURDAY:
        return d - timedelta(days=1)
    if d.weekday() == SUNDAY:
        return d + timedelta(days=1)
    return d


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the market calendar covers {FIRST_YEAR}–{LAST_YEAR}, not {year}")


@cache
def holidays(year: int) -> dict[date, str]:
    """Return the weekday full-day closures of one year (holidays and special closures), by date."""
    _check_year(year)
    out: dict[date, str] = {}
    new_year = date(year, 1, 1)
    # Saturday Jan 1 is the exception: no Friday Dec 31 holiday in the year before.
    if new_year.weekday() != SATURDAY:
        out[_nearest_workday(new_year)] = "New Year's Day"
    if year >= 1998:
        out[_nth_weekday(year, 1, MONDAY, 3)] = "Martin Luther King Jr. Day"
    out[_nth_weekday(year, 2, MONDAY, 3)] = "Washington's Birthday"
    out[good_friday(year)] = "Good Friday"
    out[_last_weekday(year, 5, MONDAY)] = "Memorial Day"
    if year >= 2022:
        out[_nearest_workday(date(year, 6, 19))] = "Juneteenth"
    out[_nearest_workday(date(year, 7, 4))] = "Independence Day"
    out[_nth_weekday(year, 9, MONDAY, 1)] = "Labor Day"
    out[_nth_weekday(year, 11, THURSDAY, 4)] = "Thanksgiving Day"
    out[_nearest_workday(date(year, 12, 25))] = "Christmas Day"
    out.update({d: name for d, name in SPECIAL_CLOSURES.items() if d.year == year})
    return dict(sorted(out.items()))


@cache
def early_closes(year: int) -> dict[date, time]:
    """Return the sessions of one year that close before 16:00 ET, with their close time."""
    _check_year(year)
    out: dict[date, time] = {}
    july3, july5 = date(year, 7, 3), date(year, 7, 5)
    if year >= 1995 and july3.weekday() in (MONDAY, TUESDAY, THURSDAY):
        out[july3] = EARLY_CLOSE
    if year >= 2013 and july3.weekday() == WEDNESDAY:
        out[july3] = EARLY_CLOSE
    if 1996 <= year <= 2012 and july5.weekday() == FRIDAY:
        # July 4 on a Thursday: the half day was the Friday after, until 2013.
        out[july5] = EARLY_CLOSE
    if year >= 1992:
        black_friday = _nth_weekday(year, 11, THURSDAY, 4) + timedelta(days=1)
        out[black_friday] = EARLY_CLOSE if year >= 1993 else time(14, 0)
    xmas_eve = date(year, 12, 24)
    if xmas_eve.weekday() in (MONDAY, TUESDAY, WEDNESDAY, THURSDAY):
        out[xmas_eve] = EARLY_CLOSE if year >= 1993 else time(14, 0)
    out.update({d: t for d, t in SPECIAL_EARLY_CLOSES.items() if d.year == year})
    closed = holidays(year)
    return {d: t for d, t in sorted(out.items()) if d not in closed and d.weekday() < SATURDAY}


@cache
def _all_sessions() -> tuple[date, ...]:
    closed: set[date] = set()
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        closed.update(holidays(year))
    day, last = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
    out = []
    while day <= last:
        if day.weekday() < SATURDAY and day not in closed:
            out.append(day)
        day += timedelta(days=1)
    return tuple(out)


@cache
def _session_set() -> frozenset[date]:
    return frozenset(_all_sessions())


def _as_date(d: date) -> date:
    # datetime is a subclass of date; a session is a calendar day, so reject the ambiguity.
    if isinstance(d, datetime):
        raise TypeError("pass a date, not a datetime (use next_session_open_after for timestamps)")
    return d


def is_session(d: date) -> bool:
    """Return True when the NYSE holds a regular session on this date."""
    d = _as_date(d)
    _check_year(d.year)
    return d in _session_set()


def sessions_between(start: date, end: date) -> list[date]:
    """Return the sessions from start to end, both inclusive, in order."""
    start, end = _as_date(start), _as_date(end)
    _check_year(start.year)
    _check_year(end.year)
    sessions = _all_sessions()
    return list(sessions[bisect.bisect_left(sessions, start) : bisect.bisect_right(sessions, end)])


def next_session(d: date) -> date:
    """Return the first session strictly after this date."""
    sessions = _all_sessions()
    i = bisect.bisect_right(sessions, _as_date(d))
    if i >= len(sessions):
        raise ValueError(f"no session after {d} inside {FIRST_YEAR}–{LAST_YEAR}")
    return sessions[i]


def previous_session(d: date) -> date:
    """Return the last session strictly before this date."""
    sessions = _all_sessions()
    i = bisect.bisect_left(sessions, _as_date(d))
    if i == 0:
        raise ValueError(f"no session before {d} inside {FIRST_YEAR}–{LAST_YEAR}")
    return sessions[i - 1]


def add_sessions(d: date, n: int) -> date:
    """Return the n-th session after d (d may be a non-session when n >= 1; n <= 0 needs a session)."""
    d = _as_date(d)
    _check_year(d.year)
    if n <= 0 and not is_session(d):
        raise ValueError(f"{d} is not a session")
    sessions = _all_sessions()
    # For a session d, bisect_right - 1 is its own index; for a closed day, the session before it.
    i = bisect.bisect_right(sessions, d) - 1 + n
    if not 0 <= i < len(sessions):
        raise ValueError(f"{n} sessions from {d} leaves {FIRST_YEAR}–{LAST_YEAR}")
    return sessions[i]


def _require_session(d: date) -> date:
    if not is_session(d):
        raise ValueError(f"{d} is not a NYSE session")
    return d


def session_open_utc(d: date) -> datetime:
    """Return the opening time of a session as an aware UTC datetime (09:30 ET unless a late open)."""
    d = _require_session(d)
    return datetime.combine(d, LATE_OPENS.get(d, REGULAR_OPEN), tzinfo=ET).astimezone(UTC)


def session_close_utc(d: date) -> datetime:
    """Return the closing time of a session as an aware UTC datetime (16:00 ET, 13:00 on half days)."""
    d = _require_session(d)
    close = early_closes(d.year).get(d, REGULAR_CLOSE)
    return datetime.combine(d, close, tzinfo=ET).astimezone(UTC)


def next_session_open_after(ts_utc: datetime) -> date:
    """Return the first session whose open is strictly after the aware timestamp."""
    if ts_utc.tzinfo is None or ts_utc.utcoffset() is None:
        raise ValueError("next_session_open_after needs a timezone-aware timestamp")
    # DESIGN §2: a filing accepted before the open enters that day's open; at or after it, the next.
    local_day = ts_utc.astimezone(ET).date()
    _check_year(local_day.year)
    if is_session(local_day) and session_open_utc(local_day) > ts_utc:
        return local_day
    return next_session(local_day)

"""NYSE calendar facts, entry-time rules, and a cross-check against the trading days of real price files."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.analytics import market_calendar as mc
from tests.analytics.conftest import AAPL_2018, SPY_1993, SPY_2000, F

ET = ZoneInfo("America/New_York")


def et(*args: int) -> datetime:
    return datetime(*args, tzinfo=ET)


class TestHolidays:
    def test_2024_holidays_exactly(self) -> None:
        assert mc.holidays(2024) == {
            date(2024, 1, 1): "New Year's Day",
            date(2024, 1, 15): "Martin Luther King Jr. Day",
            date(2024, 2, 19): "Washington's Birthday",
            date(2024, 3, 29): "Good Friday",
            date(2024, 5, 27): "Memorial Day",
            date(2024, 6, 19): "Juneteenth",
            date(2024, 7, 4): "Independence Day",
            date(2024, 9, 2): "Labor Day",
            date(2024, 11, 28): "Thanksgiving Day",
            date(2024, 12, 25): "Christmas Day",
        }

    @pytest.mark.parametrize(
        ("year", "expected"),
        [
            pytest.param(2000, date(2000, 4, 21), id="2000"),
            pytest.param(2008, date(2008, 3, 21), id="2008-early-easter"),
            pytest.param(2011, date(2011, 4, 22), id="2011-late-easter"),
            pytest.param(2016, date(2016, 3, 25), id="2016"),
            pytest.param(2024, date(2024, 3, 29), id="2024"),
            pytest.param(2025, date(2025, 4, 18), id="2025"),
            pytest.param(2026, date(2026, 4, 3), id="2026"),
            pytest.param(2027, date(2027, 3, 26), id="2027"),
            pytest.param(2028, date(2028, 4, 14), id="2028"),
        ],
    )
    def test_good_friday(self, year: int, expected: date) -> None:
        assert mc.good_friday(year) == expected
        assert not mc.is_session(expected)

    @pytest.mark.parametrize(
        ("year", "expected"),
        [
            # NYSE Group announcements for 2022-2024 and 2025-2028.
            pytest.param(
                2022,
                ["01-17", "02-21", "04-15", "05-30", "06-20", "07-04", "09-05", "11-24", "12-26"],
                id="2022-no-new-year-saturday",
            ),
            pytest.param(
                2023,
                ["01-02", "01-16", "02-20", "04-07", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"],
                id="2023",
            ),
            pytest.param(
                2025,
                ["01-01", "01-09", "01-20", "02-17", "04-18", "05-26"]
                + ["06-19", "07-04", "09-01", "11-27", "12-25"],
                id="2025-with-carter",
            ),
            pytest.param(
                2026,
                ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"],
                id="2026-july4-saturday",
            ),
            pytest.param(
                2027,
                ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"],
                id="2027-saturday-observances",
            ),
            pytest.param(
                2028,
                ["01-17", "02-21", "04-14", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"],
                id="2028-no-new-year-saturday",
            ),
        ],
    )
    def test_announced_years(self, year: int, expected: list[str]) -> None:
        assert [d.strftime("%m-%d") for d in mc.holidays(year)] == expected

    def test_new_year_on_saturday_keeps_december_31_open(self) -> None:
        assert mc.is_session(date(2021, 12, 31))
        assert mc.is_session(date(2010, 12, 31))
        assert not mc.is_session(date(2017, 1, 2))  # Sunday Jan 1 -> Monday

    def test_mlk_day_only_from_1998(self) -> None:
        assert mc.is_session(date(1997, 1, 20))
        assert not mc.is_session(date(1998, 1, 19))

    def test_juneteenth_only_from_2022(self) -> None:
        assert mc.is_session(date(2021, 6, 18))
        assert not mc.is_session(date(2022, 6, 20))

    @pytest.mark.parametrize(
        "closed",
        [
            pytest.param(date(2001, 9, 11), id="2001-09-11"),
            pytest.param(date(2001, 9, 14), id="2001-09-14"),
            pytest.param(date(2012, 10, 29), id="sandy-1"),
            pytest.param(date(2012, 10, 30), id="sandy-2"),
            pytest.param(date(2004, 6, 11), id="reagan"),
            pytest.param(date(2007, 1, 2), id="ford"),
            pytest.param(date(2018, 12, 5), id="bush"),
            pytest.param(date(2025, 1, 9), id="carter"),
            pytest.param(date(1994, 4, 27), id="nixon"),
        ],
    )
    def test_special_closures(self, closed: date) -> None:
        assert not mc.is_session(closed)

    def test_markets_reopened_monday_after_september_11(self) -> None:
        reopened = mc.sessions_between(date(2001, 9, 10), date(2001, 9, 17))
        assert reopened == [date(2001, 9, 10), date(2001, 9, 17)]


class TestEarlyCloses:
    @pytest.mark.parametrize(
        "day",
        [
            pytest.param(date(2023, 7, 3), id="2023-07-03"),
            pytest.param(date(2023, 11, 24), id="2023-11-24"),
            pytest.param(date(2024, 12, 24), id="2024-12-24"),
            pytest.param(date(2024, 7, 3), id="2024-07-03-wednesday"),
        ],
    )
    def test_one_pm_close(self, day: date) -> None:
        assert mc.early_closes(day.year)[day] == time(13, 0)
        close = mc.session_close_utc(day)
        assert close == datetime.combine(day, time(13, 0), tzinfo=ET)
        assert close.utcoffset() == timedelta(0)

    def test_announced_early_closes(self) -> None:
        assert list(mc.early_closes(2025)) == [date(2025, 7, 3), date(2025, 11, 28), date(2025, 12, 24)]
        # July 4 2026 is a Saturday: the Friday is the holiday, and Thursday is a full day.
        assert list(mc.early_closes(2026)) == [date(2026, 11, 27), date(2026, 12, 24)]
        assert list(mc.early_closes(2027)) == [date(2027, 11, 26)]
        assert list(mc.early_closes(2028)) == [date(2028, 7, 3), date(2028, 11, 24)]

    def test_historical_july_rules(self) -> None:
        # July 4 2002 was a Thursday: the half day was Friday July 5 until the 2013 rule change.
        assert date(2002, 7, 3) not in mc.early_closes(2002)
        assert mc.early_closes(2002)[date(2002, 7, 5)] == time(13, 0)
        assert date(2019, 7, 3) in mc.early_closes(2019)
        assert not [d for d in mc.early_closes(1994) if d.month == 7]

    def test_regular_close_in_winter_and_summer(self) -> None:
        assert mc.session_close_utc(date(2024, 1, 2)) == datetime(2024, 1, 2, 21, 0, tzinfo=UTC)
        assert mc.session_open_utc(date(2024, 7, 2)) == datetime(2024, 7, 2, 13, 30, tzinfo=UTC)

    def test_open_of_a_closed_day_raises(self) -> None:
        with pytest.raises(ValueError, match="not a NYSE session"):
            mc.session_open_utc(date(2024, 12, 25))


class TestNextSessionOpenAfter:
    @pytest.mark.parametrize(
        ("ts", "expected"),
        [
            pytest.param(et(2024, 3, 12, 9, 0), date(2024, 3, 12), id="before-open-same-day"),
            pytest.param(et(2024, 3, 12, 9, 29, 59), date(2024, 3, 12), id="one-second-before-open"),
            pytest.param(et(2024, 3, 12, 9, 30), date(2024, 3, 13), id="at-open-next-day"),
            pytest.param(et(2024, 3, 12, 11, 0), date(2024, 3, 13), id="during-session"),
            pytest.param(et(2024, 3, 12, 17, 30), date(2024, 3, 13), id="after-close"),
            pytest.param(et(2024, 3, 15, 18, 0), date(2024, 3, 18), id="friday-evening-monday"),
            pytest.param(et(2024, 3, 16, 12, 0), date(2024, 3, 18), id="saturday"),
            pytest.param(et(2024, 3, 28, 21, 43), date(2024, 4, 1), id="before-good-friday"),
            pytest.param(et(2024, 1, 12, 20, 0), date(2024, 1, 16), id="friday-before-mlk-tuesday"),
            pytest.param(et(2024, 7, 3, 14, 0), date(2024, 7, 5), id="half-day-afternoon"),
            pytest.param(et(2024, 12, 31, 23, 59), date(2025, 1, 2), id="new-years-eve-night"),
            pytest.param(et(2002, 9, 11, 10, 0), date(2002, 9, 11), id="late-open-noon-2002"),
        ],
    )
    def test_entry_session(self, ts: datetime, expected: date) -> None:
        assert mc.next_session_open_after(ts) == expected
        assert mc.next_session_open_after(ts.astimezone(UTC)) == expected

    def test_utc_evening_is_still_et_day(self) -> None:
        # 2024-03-13 01:00 UTC is 21:00 ET on the 12th: the next open is the 13th, not the 14th.
        assert mc.next_session_open_after(datetime(2024, 3, 13, 1, 0, tzinfo=UTC)) == date(2024, 3, 13)

    def test_across_dst_change(self) -> None:
        # 2024-03-10 is the DST switch; the Monday open is 13:30 UTC, so 13:00 UTC enters that day.
        assert mc.next_session_open_after(datetime(2024, 3, 11, 13, 0, tzinfo=UTC)) == date(2024, 3, 11)
        assert mc.next_session_open_after(datetime(2024, 3, 11, 13, 30, tzinfo=UTC)) == date(2024, 3, 12)

    def test_naive_timestamp_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            mc.next_session_open_after(datetime(2024, 3, 12, 9, 0))  # noqa: DTZ001 - the point of the test

    def test_outside_range_is_refused(self) -> None:
        with pytest.raises(ValueError, match="1990–2035"):
            mc.is_session(date(1989, 12, 29))


class TestSessions:
    def test_sessions_between_is_inclusive(self) -> None:
        assert mc.sessions_between(date(2024, 3, 27), date(2024, 4, 2)) == [
            date(2024, 3, 27),
            date(2024, 3, 28),
            date(2024, 4, 1),
            date(2024, 4, 2),
        ]

    def test_session_counts_per_year(self) -> None:
        assert len(mc.sessions_between(date(2023, 1, 1), date(2023, 12, 31))) == 250
        assert len(mc.sessions_between(date(2024, 1, 1), date(2024, 12, 31))) == 252

    def test_add_sessions(self) -> None:
        assert mc.add_sessions(date(2024, 3, 27), 2) == date(2024, 4, 1)
        assert mc.add_sessions(date(2024, 4, 1), -1) == date(2024, 3, 28)
        # From a closed day (Good Friday), the first session after it is n=1.
        assert mc.add_sessions(date(2024, 3, 29), 1) == date(2024, 4, 1)
        with pytest.raises(ValueError, match="not a session"):
            mc.add_sessions(date(2024, 3, 29), 0)

    def test_every_year_is_plausible(self) -> None:
        for year in range(mc.FIRST_YEAR, mc.LAST_YEAR + 1):
            n = len(mc.sessions_between(date(year, 1, 1), date(year, 12, 31)))
            assert 246 <= n <= 254, (year, n)


class TestAgainstRealTradingDays:
    """Every date of a real daily file is a session, and every session in its span is in the file."""

    @pytest.mark.parametrize(
        "name",
        [
            pytest.param(SPY_1993, id="spy-1993-2017"),
            pytest.param(SPY_2000, id="spy-2000-2012"),
            pytest.param(F, id="ford-1990-2017"),
            pytest.param(AAPL_2018, id="aapl-2018-2023"),
        ],
    )
    def test_file_days_equal_calendar_sessions(self, raw, name: str) -> None:
        days = sorted(d for d in raw(name) if d.year >= mc.FIRST_YEAR)
        not_sessions = [d for d in days if not mc.is_session(d)]
        # The files have no known gaps: an empty difference both ways is the whole check.
        missing = sorted(set(mc.sessions_between(days[0], days[-1])) - set(days))
        assert not_sessions == []
        assert missing == []
        assert len(days) > 1000

    def test_weekday_non_sessions_are_exactly_the_holidays(self, raw) -> None:
        days = set(raw(SPY_1993))
        start, end = date(1993, 2, 1), date(2017, 10, 27)
        weekdays_absent = set()
        d = start
        while d <= end:
            if d.weekday() < 5 and d not in days:
                weekdays_absent.add(d)
            d += timedelta(days=1)
        expected = {h for y in range(1993, 2018) for h in mc.holidays(y) if start <= h <= end}
        assert weekdays_absent == expected

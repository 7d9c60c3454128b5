"""Market buy/sell ratios on a small trade set written here, with every figure computed by hand."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from app.analytics.market_ratio import PERIOD_COLUMNS, buy_sell_ratio

COLUMNS = ["insider_cik", "issuer_cik", "trade_date", "code", "value", "is_10b5_1", "is_ceo", "sector"]


def trades(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


# insider, issuer, trade date, code, value, 10b5-1, CEO, sector
TRADES = trades(
    [
        # January 2019: 3 buying pairs, 1 selling pair -> ratio 3.0 (exactly 60 months before Jan 2024).
        ("11", "F", "2019-01-07", "P", 10, False, False, "Tech"),
        ("12", "F", "2019-01-08", "P", 10, False, False, "Tech"),
        ("13", "F", "2019-01-09", "P", 10, False, False, "Tech"),
        ("14", "F", "2019-01-10", "S", 10, False, False, "Tech"),
        # January 2023: 1 buying pair, 2 selling pairs -> ratio 0.5, NPR -1/3, dollars 100/200.
        ("9", "E", "2023-01-05", "P", 100, False, False, "Energy"),
        ("8", "E", "2023-01-06", "S", 100, False, False, "Energy"),
        ("7", "E", "2023-01-09", "S", 100, None, False, "Energy"),
        # January 2024.
        ("1", "A", "2024-01-02", "P", Decimal("100"), None, True, "Tech"),
        ("1", "A", "2024-01-03", "P", Decimal("50"), None, True, "Tech"),  # same pair: counted once
        ("2", "A", "2024-01-03", "P", 200, False, False, "Tech"),
        ("1", "B", "2024-01-04", "P", 50, False, True, "Energy"),  # same insider, other issuer: a new pair
        ("3", "A", "2024-01-05", "S", 1000, True, False, "Tech"),  # 10b5-1 plan sale
        ("4", "C", "2024-01-08", "S", 500, False, True, "Health"),
        ("4", "C", "2024-01-09", "S", 250, False, True, "Health"),
        ("4", "C", "2024-01-09", "M", 999, False, True, "Health"),  # option exercise: ignored
        # February 2024: buying only.
        ("5", "D", "2024-02-12", "P", 10, False, False, None),
    ]
)
JAN_2024 = pd.Timestamp("2024-01-01")


class TestMonthly:
    def test_january_2024_by_hand(self) -> None:
        jan = buy_sell_ratio(TRADES, "M", min_history=1).periods.loc[JAN_2024]
        # Buying pairs {(1,A), (2,A), (1,B)} = 3; selling pairs {(3,A), (4,C)} = 2.
        assert (jan["buy_pairs"], jan["sell_pairs"], jan["ratio"]) == (3, 2, 1.5)
        # CEO rows: buying pairs {(1,A), (1,B)} = 2, selling {(4,C)} = 1.
        assert (jan["ceo_buy_pairs"], jan["ceo_sell_pairs"], jan["ceo_ratio"]) == (2, 1, 2.0)
        # Dollars: P 100 + 50 + 200 + 50 = 400; S 1000 + 500 + 250 = 1750; 400 / 1750 = 0.228571.
        assert (jan["buy_value"], jan["sell_value"]) == (400.0, 1750.0)
        assert jan["dollar_ratio"] == 0.228571
        # Net purchase ratio on pairs: (3 - 2) / (3 + 2).
        assert jan["net_purchase_ratio"] == 0.2

    def test_discretionary_drops_10b5_1_sales(self) -> None:
        jan = buy_sell_ratio(TRADES, "M", discretionary=True, min_history=1).periods.loc[JAN_2024]
        # The plan sale (3,A) goes: selling pairs {(4,C)} = 1; sell dollars 750.
        assert (jan["buy_pairs"], jan["sell_pairs"], jan["ratio"]) == (3, 1, 3.0)
        assert jan["dollar_ratio"] == round(400 / 750, 6) == 0.533333
        assert jan["net_purchase_ratio"] == 0.5  # (3 - 1) / 4

    def test_zero_denominators_are_nan_not_errors(self) -> None:
        periods = buy_sell_ratio(TRADES, "M", min_history=1).periods
        feb = periods.loc[pd.Timestamp("2024-02-01")]
        assert (feb["buy_pairs"], feb["sell_pairs"]) == (1, 0)
        assert np.isnan(feb["ratio"])
        assert np.isnan(feb["dollar_ratio"])
        assert np.isnan(feb["ceo_ratio"])
        assert feb["net_purchase_ratio"] == 1.0
        # A month without any trade exists in the grid, with every ratio undefined.
        empty = periods.loc[pd.Timestamp("2023-06-01")]
        assert (empty["buy_pairs"], empty["sell_pairs"]) == (0, 0)
        assert np.isnan(empty["ratio"])
        assert np.isnan(empty["net_purchase_ratio"])

    def test_every_month_from_first_to_last(self) -> None:
        periods = buy_sell_ratio(TRADES, "M").periods
        assert periods.index[0] == pd.Timestamp("2019-01-01")
        assert periods.index[-1] == pd.Timestamp("2024-02-01")
        assert len(periods) == 62
        assert list(periods.columns) == PERIOD_COLUMNS

    def test_trailing_60_month_percentile(self) -> None:
        periods = buy_sell_ratio(TRADES, "M", min_history=1).periods
        jan23, jan24 = pd.Timestamp("2023-01-01"), JAN_2024
        # Jan 2023's window (Feb 2018..Jan 2023) holds ratios {3.0 (Jan 2019), 0.5}: 0.5 is >= 1 of 2.
        assert periods.loc[jan23, "ratio_pctile"] == 50.0
        # Jan 2024's window (Feb 2019..Jan 2024) no longer holds Jan 2019: {0.5, 1.5} -> 100.
        assert periods.loc[jan24, "ratio_pctile"] == 100.0
        # Dollar ratio: Jan 2023 100/200 = 0.5, Jan 2024 0.228571 -> lowest of 2 -> 50.
        assert periods.loc[jan24, "dollar_ratio_pctile"] == 50.0
        # Net purchase ratio Feb 2024 = 1.0 against {-1/3, 0.2, 1.0} -> 100.
        assert periods.loc[pd.Timestamp("2024-02-01"), "net_purchase_ratio_pctile"] == 100.0

    def test_percentile_needs_enough_history(self) -> None:
        periods = buy_sell_ratio(TRADES, "M", min_history=3).periods
        assert np.isnan(periods.loc[JAN_2024, "ratio_pctile"])  # only 2 defined values in the window
        assert periods.loc[pd.Timestamp("2024-02-01"), "net_purchase_ratio_pctile"] == 100.0  # 3 values

    def test_year_over_year_change(self) -> None:
        jan = buy_sell_ratio(TRADES, "M").periods.loc[JAN_2024]
        assert jan["ratio_yoy"] == 1.0  # 1.5 - 0.5
        assert jan["net_purchase_ratio_yoy"] == round(0.2 - (-1 / 3), 6)
        assert np.isnan(jan["ceo_ratio_yoy"])  # no CEO trades in Jan 2023

    def test_long_term_average(self) -> None:
        result = buy_sell_ratio(TRADES, "M")
        # Defined monthly ratios: 3.0, 0.5, 1.5 -> 5/3; NPR: 0.5, -1/3, 0.2, 1.0 -> 1.366667/4.
        assert result.long_term_average["ratio"] == round(5 / 3, 6)
        assert result.long_term_average["net_purchase_ratio"] == round((0.5 - 1 / 3 + 0.2 + 1.0) / 4, 6)
        assert result.long_term_average["ceo_ratio"] == 2.0

    def test_by_sector(self) -> None:
        by_sector = buy_sell_ratio(TRADES, "M").by_sector
        tech = by_sector.loc[(JAN_2024, "Tech")]
        assert (tech["buy_pairs"], tech["sell_pairs"], tech["ratio"]) == (2, 1, 2.0)
        assert (tech["buy_value"], tech["sell_value"], tech["dollar_ratio"]) == (350.0, 1000.0, 0.35)
        energy = by_sector.loc[(JAN_2024, "Energy")]
        assert (energy["buy_pairs"], energy["sell_pairs"], energy["net_purchase_ratio"]) == (1, 0, 1.0)
        assert np.isnan(energy["ratio"])
        assert by_sector.loc[(JAN_2024, "Health"), "ratio"] == 0.0
        # A missing sector is reported as "Unknown".
        assert by_sector.loc[(pd.Timestamp("2024-02-01"), "Unknown"), "buy_pairs"] == 1


class TestWeekly:
    def test_iso_weeks_start_monday(self) -> None:
        df = trades(
            [
                ("1", "A", "2024-01-01", "P", 10, False, False, "Tech"),  # Monday
                ("2", "A", "2024-01-07", "S", 10, False, False, "Tech"),  # Sunday: same week
                ("3", "A", "2024-01-08", "S", 10, False, False, "Tech"),  # next Monday
                ("4", "B", "2024-01-22", "P", 10, False, False, "Tech"),  # a week later, after an empty one
            ]
        )
        periods = buy_sell_ratio(df, "W", min_history=1).periods
        assert list(periods.index.strftime("%Y-%m-%d")) == [
            "2024-01-01",
            "2024-01-08",
            "2024-01-15",
            "2024-01-22",
        ]
        assert list(periods["buy_pairs"]) == [1, 0, 0, 1]
        assert list(periods["sell_pairs"]) == [1, 1, 0, 0]
        assert periods["ratio"].iloc[0] == 1.0
        assert periods["ratio"].iloc[1] == 0.0
        assert np.isnan(periods["ratio"].iloc[2])

    def test_weekly_year_over_year_is_52_weeks(self) -> None:
        df = trades(
            [
                ("1", "A", "2023-01-03", "P", 10, False, False, "Tech"),  # week of Mon 2023-01-02
                ("2", "A", "2023-01-04", "S", 10, False, False, "Tech"),
                ("1", "A", "2024-01-02", "P", 10, False, False, "Tech"),  # week of Mon 2024-01-01 = +52 weeks
                ("3", "A", "2024-01-02", "P", 10, False, False, "Tech"),
                ("2", "A", "2024-01-03", "S", 10, False, False, "Tech"),
            ]
        )
        periods = buy_sell_ratio(df, "W").periods
        assert periods.loc[pd.Timestamp("2024-01-01"), "ratio"] == 2.0
        assert periods.loc[pd.Timestamp("2024-01-01"), "ratio_yoy"] == 1.0  # 2.0 - 1.0


class TestEdges:
    @pytest.mark.parametrize(
        "rows",
        [
            pytest.param([], id="empty"),
            pytest.param([("1", "A", "2024-01-02", "S", 10, True, True, "Tech")], id="sales-only"),
            pytest.param([("1", "A", "2024-01-02", "P", 0, None, None, None)], id="buys-only-zero-value"),
            pytest.param([("1", "A", "2024-01-02", "A", 10, None, None, None)], id="no-p-or-s"),
        ],
    )
    def test_never_raises(self, rows: list[tuple]) -> None:
        for freq in ("W", "M"):
            for discretionary in (False, True):
                result = buy_sell_ratio(trades(rows), freq, discretionary)
                assert list(result.periods.columns) == PERIOD_COLUMNS

    def test_sales_only_discretionary_leaves_nothing(self) -> None:
        df = trades([("1", "A", "2024-01-02", "S", 10, True, True, "Tech")])
        assert buy_sell_ratio(df, "M", discretionary=True).periods.empty

    def test_bad_frequency(self) -> None:
        with pytest.raises(ValueError, match="freq"):
            buy_sell_ratio(TRADES, "D")  # type: ignore[arg-type]

    def test_missing_column_is_named(self) -> None:
        with pytest.raises(ValueError, match="sector"):
            buy_sell_ratio(TRADES.drop(columns=["sector"]), "M")

"""read_price_csv on the real sample files and on the header/ordering variants seen in other sources."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.prices.csv_import import STANDARD_COLUMNS, read_price_csv

AAPL_MDY = "InsidersTradeMonitor__AAPL.daily.2018-2023.with-derived-cols.csv"
SAMPLES = [
    pytest.param(AAPL_MDY, 1259, id="aapl-mdy-derived"),
    pytest.param("ml4t-Bill0412__AAPL.daily.2000-2012.csv", 3175, id="aapl-2000"),
    pytest.param("ml4t-Bill0412__SPY.daily.2000-2012.csv", 3174, id="spy-2000"),
    pytest.param("ml4t-Drookoo__SPY.daily.1993-01-29-2017-10-27.csv", 6234, id="spy-1993"),
    pytest.param("ml4t-Drookoo__NVDA.daily.1999-01-22-2017-10-31.csv", 4726, id="nvda"),
    pytest.param("ml4t-Drookoo__SHOP.daily.2015-05-20-2017-10-27.csv", 617, id="shop"),
]


class TestRealSamples:
    @pytest.mark.parametrize(("name", "rows"), SAMPLES)
    def test_reads_every_row_into_the_standard_frame(self, samples_dir: Path, name: str, rows: int) -> None:
        df = read_price_csv(samples_dir / "prices" / name)
        assert list(df.columns) == list(STANDARD_COLUMNS)
        assert isinstance(df.index, pd.DatetimeIndex)
        assert df.index.name == "date"
        assert df.index.is_monotonic_increasing
        assert df.index.is_unique
        assert len(df) == rows
        assert df.attrs["rows_dropped"] == 0
        assert df.attrs["adj_close_missing"] is False
        assert (df.dtypes == "float64").all()

    def test_month_day_year_dates_and_derived_columns(self, samples_dir: Path) -> None:
        df = read_price_csv(samples_dir / "prices" / AAPL_MDY)
        # First data line: 4/16/2018,43.7575,44.047501,43.7075,43.955002,41.903229,86313600,...
        first = df.iloc[0]
        assert df.index[0] == pd.Timestamp("2018-04-16")
        assert (first["open"], first["close"], first["adj_close"]) == (43.7575, 43.955002, 41.903229)
        assert first["volume"] == 86313600
        assert "AD Net" not in df.columns

    def test_bytes_input_equals_path_input(self, samples_dir: Path) -> None:
        path = samples_dir / "prices" / "ml4t-Drookoo__SQ.daily.2015-11-19-2017-10-27.csv"
        pd.testing.assert_frame_equal(read_price_csv(path.read_bytes()), read_price_csv(path))


class TestVariants:
    def test_descending_lowercase_alpha_vantage_style(self) -> None:
        data = (
            b"timestamp,open,high,low,close,adjusted_close,volume,dividend_amount\n"
            b"2024-01-04,11,12,10,11.5,11.4,300,0\n"
            b"2024-01-03,10,11,9,10.5,10.4,200,0\n"
            b"2024-01-02,9,10,8,9.5,9.4,100,0\n"
        )
        df = read_price_csv(data)
        assert list(df.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03", "2024-01-04"]
        assert list(df["adj_close"]) == [9.4, 10.4, 11.4]

    @pytest.mark.parametrize(
        "header", ["Adj Close", "Adj_Close", "adjclose", "adjusted_close", "Adjusted Close"]
    )
    def test_adjusted_close_spellings(self, header: str) -> None:
        data = f"Date,Open,High,Low,Close,{header},Volume\n2024-01-02,9,10,8,9.5,9.25,100\n".encode()
        assert read_price_csv(data)["adj_close"].iloc[0] == 9.25

    def test_missing_adj_close_copies_close_and_flags_it(self) -> None:
        # Stooq and yfinance auto_adjust=True have no Adj Close column.
        df = read_price_csv(b"Date,Open,High,Low,Close,Volume\n2024-01-02,9,10,8,9.5,100\n")
        assert df["adj_close"].iloc[0] == 9.5
        assert df.attrs["adj_close_missing"] is True

    def test_yfinance_timestamps_keep_the_local_date(self) -> None:
        data = (
            b"Date,Open,High,Low,Close,Adj Close,Volume\n"
            b"2023-07-03 00:00:00-04:00,9,10,8,9.5,9.5,50\n"
            b"2024-01-03 00:00:00-05:00,10,11,9,10.5,10.5,100\n"
        )
        assert list(read_price_csv(data).index.strftime("%Y-%m-%d")) == ["2023-07-03", "2024-01-03"]

    def test_drops_missing_and_non_positive_closes_and_counts_them(self) -> None:
        data = (
            b"Date,Open,High,Low,Close,Adj Close,Volume\n"
            b"2024-01-02,9,10,8,null,null,0\n"
            b"2024-01-03,10,11,9,10.5,10.4,200\n"
            b"2024-01-04,1,1,1,0,0,0\n"
            b"2024-01-05,1,1,1,-2,-2,0\n"
            b"not a date,1,1,1,2,2,0\n"
        )
        df = read_price_csv(data)
        assert list(df.index.strftime("%Y-%m-%d")) == ["2024-01-03"]
        assert (df.attrs["rows_read"], df.attrs["rows_dropped"]) == (5, 4)

    def test_duplicate_dates_keep_the_last_row(self) -> None:
        data = b"Date,Open,High,Low,Close,Volume\n2024-01-02,9,10,8,9.5,1\n2024-01-02,9,10,8,9.75,2\n"
        df = read_price_csv(data)
        assert len(df) == 1
        assert df["close"].iloc[0] == 9.75

    def test_missing_volume_is_tolerated(self) -> None:
        df = read_price_csv(b"Date,Open,High,Low,Close\n2024-01-02,9,10,8,9.5\n")
        assert df["volume"].isna().all()
        assert df.attrs["volume_missing"] is True

    @pytest.mark.parametrize(
        ("header", "missing"),
        [
            pytest.param("Open,High,Low,Close,Volume", "'date'", id="no-date"),
            pytest.param("Date,Open,High,Close,Volume", "'low'", id="no-low"),
            pytest.param("Date,High,Low,Price,Volume", "'open', 'close'", id="no-open-no-close"),
        ],
    )
    def test_missing_required_column_is_named(self, header: str, missing: str) -> None:
        data = f"{header}\n" + ",".join(["1"] * len(header.split(","))) + "\n"
        with pytest.raises(ValueError, match=f"missing the {missing} column"):
            read_price_csv(data.encode())

    def test_no_usable_row_raises(self) -> None:
        with pytest.raises(ValueError, match="no row"):
            read_price_csv(b"Date,Open,High,Low,Close\n2024-01-02,1,1,1,0\n")

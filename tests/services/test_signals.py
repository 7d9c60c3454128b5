"""Dashboard signal rules on hand-made rows: what each row is, sell clusters, large sales, buying into
weakness and net buying (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.services import signals
from app.services.signals import TradeFact

D = Decimal


def _t(
    id_: int,
    code: str,
    day: str,
    shares: str = "100",
    value: str | None = "1000",
    *,
    ad: str = "D",
    before: str | None = "1000",
    owner: str = "1",
    accession: str | None = None,
    plan: bool = False,
    eligible: bool = False,
    table: str = "non_derivative",
    doc_index: int = 0,
) -> TradeFact:
    when = date.fromisoformat(day)
    return TradeFact(
        id=id_,
        accession=accession or f"acc-{id_}",
        table=table,
        doc_index=doc_index,
        code=code,
        acquired_disposed=ad,
        trade_date=when,
        known_at=datetime(when.year, when.month, when.day, 21, tzinfo=UTC) + timedelta(days=1),
        shares=D(shares),
        value=None if value is None else D(value),
        shares_before=None if before is None else D(before),
        direct_indirect="D",
        nature=None,
        is_10b5_1=plan,
        is_eligible_purchase=eligible,
        owner_ciks=(owner,),
    )


class TestClassify:
    def test_kinds(self) -> None:
        rows = [
            _t(1, "P", "2024-01-02", ad="A", eligible=True),
            _t(2, "S", "2024-01-02"),
            _t(3, "S", "2024-01-02", plan=True),
            _t(4, "F", "2024-01-02"),
            _t(5, "D", "2024-01-02"),
            _t(6, "M", "2024-01-03", ad="A", accession="ex"),
            _t(7, "S", "2024-01-03", accession="ex"),
            _t(8, "S", "2024-01-04", accession="ex"),  # a later day on the same filing: discretionary
            _t(9, "G", "2024-01-02"),
            _t(10, "P", "2024-01-02", ad="A"),  # not eligible (e.g. no price): not a buy marker
            _t(11, "S", "2024-01-02", table="derivative"),
        ]
        assert signals.classify(rows) == {
            1: signals.BUY,
            2: signals.SELL,
            3: signals.SELL_PLAN,
            4: signals.TAX,
            5: signals.TAX,
            6: signals.EXERCISE,
            7: signals.SELL_EXERCISE,
            8: signals.SELL,
        }

    @pytest.mark.parametrize(
        ("shares", "before", "sale", "expected"),
        [
            pytest.param("250", "1000", True, (-0.25, False), id="sale"),
            pytest.param("250", "1000", False, (0.25, False), id="buy"),
            pytest.param("250", "0", False, (None, True), id="new-position"),
            pytest.param("250", None, True, (None, False), id="unknown"),
        ],
    )
    def test_delta_own(self, shares: str, before: str | None, sale: bool, expected: tuple) -> None:
        assert signals.delta_own(D(shares), None if before is None else D(before), sale=sale) == expected


class TestSellSignals:
    def test_three_sellers_within_the_window_make_a_sell_cluster(self) -> None:
        rows = [
            _t(1, "S", "2024-03-01", owner="a"),
            _t(2, "S", "2024-03-10", owner="b"),
            _t(3, "S", "2024-03-20", owner="b"),  # the same seller again
            _t(4, "S", "2024-03-30", owner="c"),
            _t(5, "S", "2024-03-31", owner="d", plan=True),  # plan sales do not count
        ]
        (found,) = signals.sell_clusters(rows, signals.classify(rows))
        assert found.n_buyers == 3
        assert (found.first_trade_date, found.last_trade_date) == (date(2024, 3, 1), date(2024, 3, 30))
        assert found.trigger_at == rows[3].known_at

    def test_a_gap_over_w_days_breaks_the_chain(self) -> None:
        rows = [
            _t(1, "S", "2024-03-01", owner="a"),
            _t(2, "S", "2024-03-10", owner="b"),
            _t(3, "S", "2024-03-25", owner="c"),
        ]
        assert signals.sell_clusters(rows, signals.classify(rows)) == []

    def test_large_sale_sums_the_filing_along_one_holding_chain(self) -> None:
        rows = [
            _t(1, "S", "2024-03-01", "100", before="1000", accession="x", doc_index=0),
            _t(2, "S", "2024-03-01", "150", before="900", accession="x", doc_index=1),
            _t(3, "S", "2024-03-05", "200", before="1000", accession="y"),
        ]
        (large,) = signals.large_sales(rows, signals.classify(rows))
        assert large.accession == "x"
        assert large.delta_own == pytest.approx(-0.25)
        assert large.shares == D(250)
        assert large.value == D(2000)


class TestBuyingIntoWeakness:
    CLOSES = [
        (date(2023, 12, 29), 100.0),
        (date(2024, 1, 2), 100.0),
        (date(2024, 2, 1), 90.0),
        (date(2024, 3, 1), 85.0),
        (date(2024, 4, 1), 79.0),
        (date(2024, 4, 2), 81.0),
    ]

    def test_a_buy_after_a_20_percent_fall_without_sales(self) -> None:
        rows = [
            _t(1, "P", "2024-04-01", ad="A", eligible=True),
            _t(2, "P", "2024-04-02", ad="A", eligible=True),
        ]
        hits = signals.buying_into_weakness(rows, signals.classify(rows), self.CLOSES)
        # 04-01 looks back to 2024-01-01 (no bar: the last close before it, 2023-12-29); 04-02 fell 19%.
        assert [(h.trade_date, h.reference_date) for h in hits] == [(date(2024, 4, 1), date(2023, 12, 29))]
        assert hits[0].drop == pytest.approx(-0.21)
        assert signals.weakness_status(hits, date(2024, 5, 1), has_prices=True) == "active"
        assert signals.weakness_status(hits, date(2024, 9, 1), has_prices=True) == "past"
        assert signals.weakness_status([], date(2024, 9, 1), has_prices=False) == "no_prices"

    def test_a_discretionary_sale_in_the_span_cancels_it(self) -> None:
        rows = [_t(1, "P", "2024-04-01", ad="A", eligible=True), _t(2, "S", "2024-02-15")]
        assert signals.buying_into_weakness(rows, signals.classify(rows), self.CLOSES) == []
        plan = [_t(1, "P", "2024-04-01", ad="A", eligible=True), _t(2, "S", "2024-02-15", plan=True)]
        assert len(signals.buying_into_weakness(plan, signals.classify(plan), self.CLOSES)) == 1

    def test_no_reference_close_near_three_months_back(self) -> None:
        rows = [_t(1, "P", "2024-04-01", ad="A", eligible=True)]
        assert signals.buying_into_weakness(rows, signals.classify(rows), self.CLOSES[3:]) == []

    @pytest.mark.parametrize(
        ("day", "expected"),
        [("2024-05-31", "2024-02-29"), ("2024-03-31", "2023-12-31"), ("2024-01-15", "2023-10-15")],
    )
    def test_months_back_clamps_to_the_month_end(self, day: str, expected: str) -> None:
        assert signals.months_back(date.fromisoformat(day), 3) == date.fromisoformat(expected)


def test_net_buying_counts_purchases_and_discretionary_sales_only() -> None:
    rows = [
        _t(1, "P", "2024-03-01", value="5000", ad="A", eligible=True),
        _t(2, "S", "2024-03-02", value="2000"),
        _t(3, "S", "2024-03-03", value="9000", plan=True),
        _t(4, "F", "2024-03-04", value="700"),
        _t(5, "P", "2023-11-01", value="8000", ad="A", eligible=True),  # before the window
    ]
    w = signals.net_buying(rows, signals.classify(rows), date(2024, 3, 31))
    assert (w.bought, w.sold, w.net, w.n_purchases, w.n_sales) == (D(5000), D(2000), D(3000), 1, 1)
    assert signals.latest_discretionary_date(rows, signals.classify(rows)) == date(2024, 3, 2)

"""Offline contract of app.ingest.form4_parser: one hand-written fixture per edge case, exact values."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.ingest import form4_parser
from app.ingest.form4_parser import normalize_cik, normalize_ticker, parse, parse_price_range
from app.schemas.form4 import Form4ParseError, ParsedForm4, ParsedTransaction, to_canonical_dict
from tests.conftest import FIXTURES_DIR
from tests.factories import Doc, Tx, form4_xml, submission_txt

FORM4_FIXTURES = FIXTURES_DIR / "form4"


def load(name: str) -> ParsedForm4:
    return parse((FORM4_FIXTURES / name).read_bytes())


def row(doc: ParsedForm4, table: str, index: int) -> ParsedTransaction:
    return next(t for t in doc.transactions if t.table == table and t.index == index)


class TestOpenMarketPurchase:
    def test_document_fields(self) -> None:
        doc = load("open_market_purchase.xml")
        assert doc.document_type == "4"
        assert doc.base_form == "4"
        assert not doc.is_amendment
        assert doc.schema_version == "X0508"
        assert doc.period_of_report == date(2024, 3, 11)
        assert doc.date_of_original_submission is None
        assert doc.aff10b5one is False
        assert doc.not_subject_to_section16 is False
        assert doc.remarks is None
        assert doc.accession is None
        assert doc.accepted_at is None
        assert doc.filed_date is None
        assert doc.warnings == []

    def test_issuer_and_owner(self) -> None:
        doc = load("open_market_purchase.xml")
        assert doc.issuer.cik == "0001234567"
        assert doc.issuer.name == "Northwind Bancorp, Inc."
        assert doc.issuer.trading_symbol == "NWBC"
        [owner] = doc.reporting_owners
        assert (owner.cik, owner.name) == ("0001987654", "HARTLEY MARGARET A")
        assert owner.is_director
        assert not owner.is_officer
        assert not owner.is_ten_percent_owner
        assert owner.officer_title is None

    def test_purchase_with_weighted_average_range(self) -> None:
        tx = row(load("open_market_purchase.xml"), "non_derivative", 0)
        assert tx.code == "P"
        assert tx.acquired_disposed == "A"
        assert tx.form_type == "4"
        assert tx.transaction_date == date(2024, 3, 11)
        assert tx.deemed_execution_date is None
        assert tx.shares == Decimal("2500")
        assert tx.price == Decimal("12.3456")
        assert (tx.price_low, tx.price_high) == (Decimal("12.01"), Decimal("12.48"))
        assert tx.shares_owned_after == Decimal("10500")
        assert tx.direct_indirect == "D"
        assert tx.equity_swap_involved is False
        assert tx.timeliness is None
        assert tx.footnotes == {"price": ["F1"]}
        assert tx.flags == ["price_range_from_footnote"]

    def test_indirect_row_keeps_nature_and_its_footnote(self) -> None:
        tx = row(load("open_market_purchase.xml"), "non_derivative", 1)
        assert tx.price == Decimal("12.5")
        assert tx.price_low is None
        assert tx.price_high is None
        assert tx.direct_indirect == "I"
        assert tx.nature_of_ownership == "By Hartley Family Trust"
        assert tx.footnotes == {"nature_of_ownership": ["F2"]}

    def test_signature_and_footnote_text(self) -> None:
        doc = load("open_market_purchase.xml")
        assert [(s.name, s.date) for s in doc.signatures] == [
            ("/s/ Daniel Ruiz, Attorney-in-Fact", date(2024, 3, 13))
        ]
        assert doc.footnotes["F2"] == (
            "The reporting person is a co-trustee of the trust and disclaims beneficial ownership "
            "except to the extent of her pecuniary interest therein."
        )

    def test_keeps_the_xml_it_parsed(self) -> None:
        data = (FORM4_FIXTURES / "open_market_purchase.xml").read_bytes()
        assert parse(data).xml == data


class TestSaleUnder10b51Plan:
    def test_checkbox_true_and_text_booleans(self) -> None:
        doc = load("sale_10b5_1.xml")
        assert doc.aff10b5one is True
        assert doc.not_subject_to_section16 is False
        [owner] = doc.reporting_owners
        assert owner.is_officer
        assert not owner.is_director
        assert owner.officer_title == "Chief Financial Officer"
        assert owner.other_text is None

    def test_ticker_upper_cased(self) -> None:
        issuer = load("sale_10b5_1.xml").issuer
        assert (issuer.trading_symbol, issuer.trading_symbol_raw) == ("TDRB", "tdrb")

    def test_coding_footnote_files_under_code(self) -> None:
        tx = row(load("sale_10b5_1.xml"), "non_derivative", 0)
        assert tx.footnotes == {"code": ["F1"], "price": ["F2"]}
        assert (tx.price_low, tx.price_high) == (Decimal("1"), Decimal("1.1"))

    def test_range_not_bracketing_the_price_is_ignored(self) -> None:
        tx = row(load("sale_10b5_1.xml"), "non_derivative", 1)
        assert tx.price == Decimal("1.25")
        assert tx.price_low is None
        assert tx.price_high is None
        assert "price_range_from_footnote" not in tx.flags


class TestDerivativeTable:
    def test_rows_are_split_by_table_with_their_own_order(self) -> None:
        doc = load("derivative_exercise.xml")
        assert [(t.table, t.index, t.code) for t in doc.transactions] == [
            ("non_derivative", 0, "M"),
            ("non_derivative", 1, "F"),
            ("derivative", 0, "M"),
        ]

    def test_option_exercise_row(self) -> None:
        tx = row(load("derivative_exercise.xml"), "derivative", 0)
        assert tx.security_title == "Stock Option (Right to Buy)"
        assert tx.conversion_or_exercise_price == Decimal("18.75")
        assert tx.acquired_disposed == "D"
        assert tx.shares == Decimal("5000")
        assert tx.price == Decimal("0")
        assert tx.exercise_date is None
        assert tx.expiration_date == date(2029, 2, 28)
        assert tx.underlying_security_title == "Common Stock"
        assert tx.underlying_shares == Decimal("5000")
        assert tx.shares_owned_after == Decimal("15000")
        assert tx.footnotes == {"exercise_date": ["F1"]}

    def test_holdings_are_not_transactions(self) -> None:
        doc = load("derivative_exercise.xml")
        assert [(h.table, h.index) for h in doc.holdings] == [("non_derivative", 0), ("derivative", 0)]
        plan, rsu = doc.holdings
        assert plan.shares_owned == Decimal("12000")
        assert (plan.direct_indirect, plan.nature_of_ownership) == ("I", "By 401(k) Plan")
        assert rsu.security_title == "Restricted Stock Units"
        assert rsu.conversion_or_exercise_price is None
        assert rsu.underlying_shares == Decimal("8000")
        assert rsu.footnotes == {
            "conversion_or_exercise_price": ["F2"],
            "exercise_date": ["F3"],
            "expiration_date": ["F3"],
        }

    def test_short_cik_is_zero_padded_and_see_remarks_title_kept(self) -> None:
        doc = load("derivative_exercise.xml")
        assert doc.issuer.cik == "0001122334"
        assert doc.reporting_owners[0].officer_title == "See Remarks"
        assert doc.remarks == "Executive Vice President, Operations"


class TestValueBasedAmounts:
    def test_total_value_and_value_owned_instead_of_shares(self) -> None:
        tx = row(load("value_based_amounts.xml"), "derivative", 0)
        assert tx.shares is None
        assert tx.total_value == Decimal("500000")
        assert tx.price == Decimal("1000")
        assert tx.shares_owned_after is None
        assert tx.value_owned_after == Decimal("750000")
        assert tx.underlying_shares is None
        assert tx.underlying_value == Decimal("500000")
        assert tx.footnotes == {"price": ["F1"], "underlying_value": ["F2"]}

    def test_value_owned_holding(self) -> None:
        [holding] = load("value_based_amounts.xml").holdings
        assert holding.shares_owned is None
        assert holding.value_owned == Decimal("125000.5")


class TestFootnotes:
    def test_ids_are_kept_per_field(self) -> None:
        tx = row(load("footnote_markup.xml"), "non_derivative", 0)
        assert tx.footnotes == {
            "security_title": ["F1"],
            "transaction_date": ["F2"],
            "code": ["F3"],
            "shares": ["F4"],
            "price": ["F5", "F6"],
            "shares_owned_after": ["F7"],
            "direct_indirect": ["F8"],
        }

    def test_text_includes_child_markup_and_is_whitespace_normalized(self) -> None:
        doc = load("footnote_markup.xml")
        assert doc.footnotes["F1"] == "Shares of common stock, par value $0.00001 per share."
        assert doc.footnotes["F2"] == "The sales were executed on May 4, 20221 and settled on May 6, 2022."
        assert (
            doc.footnotes["F3"] == "Sold pursuant to a Rule 10b5-1 trading plan adopted on February 1, 2022."
        )
        assert doc.footnotes["F4"] == "Represents shares withheld and sold to cover taxes."
        assert doc.remarks == "Power of attorney Exhibit 24 on file."

    def test_range_bracketing_the_price_wins_among_several(self) -> None:
        tx = row(load("footnote_markup.xml"), "non_derivative", 0)
        assert (tx.price_low, tx.price_high) == (Decimal("160.01"), Decimal("161"))

    def test_holding_footnotes_use_holding_field_names(self) -> None:
        holding = load("form3_holdings.xml").holdings[0]
        assert holding.footnotes == {"security_title": ["F1"], "shares_owned": ["F2"]}


class TestPriceRangeText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param(
                "at prices ranging from $121.44 to $122.24, inclusive",
                [("121.44", "122.24")],
                id="ranging-from",
            ),
            pytest.param("prices ranged from $1.00 to $1.10.", [("1", "1.1")], id="ranged-from"),
            pytest.param("sold at $10.05-$10.28 per share", [("10.05", "10.28")], id="dollar-dash"),
            pytest.param("between $5.01 and $5.20", [("5.01", "5.2")], id="between-and"),
            pytest.param("prices ranging from 121.44 to 122.24", [("121.44", "122.24")], id="no-dollar"),
            pytest.param("in a range of $1,139.92 to $1,140.89", [("1139.92", "1140.89")], id="thousands"),
            pytest.param("a low of $3.10 and a high of $3.45", [("3.1", "3.45")], id="low-high"),
            pytest.param("from $9.80 to $9.50", [("9.5", "9.8")], id="reversed"),
            pytest.param("$1.00 to $1.10 and $2.00 to $2.10", [("1", "1.1"), ("2", "2.1")], id="two-ranges"),
            pytest.param("The sales price reported is the weighted average sale price.", [], id="no-range"),
            pytest.param("vesting ranging from 10% to 20% of the award", [], id="percent"),
            pytest.param("par value $0.0001 per share", [], id="single-amount"),
        ],
    )
    def test_parse_price_range(self, text: str, expected: list[tuple[str, str]]) -> None:
        assert parse_price_range(text) == [(Decimal(a), Decimal(b)) for a, b in expected]


class TestMissingPrice:
    def test_footnote_only_price_is_none_with_unambiguous_range(self) -> None:
        tx = row(load("footnote_only_price.xml"), "non_derivative", 0)
        assert tx.code == "P"
        assert tx.price is None
        assert (tx.price_low, tx.price_high) == (Decimal("10.05"), Decimal("10.28"))
        assert tx.footnotes == {"price": ["F1"]}
        assert tx.flags == ["price_range_from_footnote"]

    def test_footnote_only_price_without_range_stays_none(self) -> None:
        tx = row(load("footnote_only_price.xml"), "non_derivative", 1)
        assert tx.price is None
        assert tx.price_low is None
        assert tx.price_high is None
        assert tx.footnotes == {"code": ["F2"], "price": ["F2"]}

    def test_explicit_zero_price_is_zero(self) -> None:
        tx = row(load("footnote_only_price.xml"), "non_derivative", 2)
        assert (tx.code, tx.price) == ("G", Decimal("0"))


class TestAmendmentsAndOtherForms:
    def test_form_4a(self) -> None:
        doc = load("amendment_4a.xml")
        assert doc.document_type == "4/A"
        assert doc.is_amendment
        assert doc.base_form == "4"
        assert doc.date_of_original_submission == date(2021, 8, 4)
        tx = doc.transactions[0]
        assert tx.deemed_execution_date == date(2021, 8, 3)
        assert tx.timeliness == "L"
        assert doc.reporting_owners[0].officer_title == "President and CEO"

    def test_form_3_holdings_only(self) -> None:
        doc = load("form3_holdings.xml")
        assert doc.document_type == "3"
        assert doc.transactions == []
        assert [(h.table, h.security_title) for h in doc.holdings] == [
            ("non_derivative", "Class B Common Stock"),
            ("derivative", "Series C Convertible Preferred Stock"),
        ]
        preferred = doc.holdings[1]
        assert preferred.shares_owned is None
        assert preferred.underlying_shares == Decimal("48000")

    def test_form_5_with_exit_box_and_share_class_ticker(self) -> None:
        doc = load("form5_annual.xml")
        assert doc.document_type == "5"
        assert doc.not_subject_to_section16 is True
        assert doc.aff10b5one is False
        assert doc.issuer.name == "Hollis & Grey Industries"
        assert doc.issuer.trading_symbol == "BF.B"
        [owner] = doc.reporting_owners
        assert owner.is_other
        assert owner.other_text == "Former Director"
        tx = doc.transactions[0]
        assert (tx.form_type, tx.code, tx.price) == ("5", "G", Decimal("0"))
        assert len(doc.holdings) == 1


class TestJointFilers:
    def test_every_owner_with_its_own_relationship(self) -> None:
        owners = load("joint_filers.xml").reporting_owners
        assert [(o.cik, o.is_director, o.is_ten_percent_owner, o.is_other) for o in owners] == [
            ("0001300010", False, True, False),
            ("0001300011", False, False, True),
            ("0001300012", True, True, False),
        ]
        assert owners[1].other_text == "Member of 10% owner group"
        assert owners[2].name == "Okonkwo Adaeze"

    def test_rows_and_signatures(self) -> None:
        doc = load("joint_filers.xml")
        [tx] = doc.transactions
        assert (tx.shares, tx.price, tx.shares_owned_after) == (
            Decimal("250000"),
            Decimal("8"),
            Decimal("4250000"),
        )
        assert tx.footnotes == {"price": ["F1"], "direct_indirect": ["F2"], "nature_of_ownership": ["F2"]}
        assert len(doc.signatures) == 3
        assert doc.aff10b5one is False


class TestCodes:
    def test_missing_transaction_coding_never_crashes(self) -> None:
        tx = row(load("unusual_codes.xml"), "non_derivative", 0)
        assert tx.code is None
        assert tx.form_type is None
        assert tx.equity_swap_involved is None
        assert tx.shares == Decimal("100")
        assert tx.flags == ["missing_transaction_code"]

    def test_unknown_code_kept_as_is(self) -> None:
        tx = row(load("unusual_codes.xml"), "non_derivative", 1)
        assert tx.code == "Q"
        assert tx.acquired_disposed == "X"
        assert tx.flags == ["invalid_acquired_disposed"]

    def test_equity_swap_and_early_report(self) -> None:
        tx = row(load("unusual_codes.xml"), "non_derivative", 2)
        assert (tx.code, tx.equity_swap_involved, tx.timeliness) == ("K", True, "E")
        assert tx.footnotes == {"code": ["F1"]}

    def test_sale_reported_as_acquisition_is_flagged(self) -> None:
        tx = row(load("unusual_codes.xml"), "non_derivative", 3)
        assert (tx.code, tx.acquired_disposed) == ("S", "A")
        assert tx.flags == ["code_direction_mismatch"]

    def test_absent_checkbox_is_none_not_false(self) -> None:
        doc = load("unusual_codes.xml")
        assert doc.aff10b5one is None
        assert doc.not_subject_to_section16 is None


class TestDates:
    @pytest.mark.parametrize(
        ("index", "expected_date", "flags"),
        [
            pytest.param(0, date(2035, 1, 10), ["implausible_transaction_date"], id="year-typo-2035"),
            pytest.param(1, date(1985, 1, 10), ["implausible_transaction_date"], id="before-1990"),
            pytest.param(2, date(2025, 1, 13), [], id="after-period-but-plausible"),
            pytest.param(3, None, ["invalid_date:transaction_date"], id="month-13"),
        ],
    )
    def test_implausible_dates_flagged_never_rewritten(
        self, index: int, expected_date: date | None, flags: list[str]
    ) -> None:
        tx = row(load("implausible_dates.xml"), "non_derivative", index)
        assert tx.transaction_date == expected_date
        assert tx.flags == flags

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(form4_xml(Doc(period="9999-12-31", transactions=[Tx()])), id="period-9999-12-31"),
            pytest.param(
                submission_txt(
                    form4_xml(Doc(transactions=[Tx()])),
                    accession="0000000101-24-000001",
                    accepted_at_et="2024-03-05T10:00:00",
                    filed_date=date(9999, 12, 31),
                ),
                id="filed-9999-12-31",
            ),
            pytest.param(
                submission_txt(
                    form4_xml(Doc(transactions=[Tx()])),
                    accession="0000000101-24-000001",
                    accepted_at_et="9999-12-31T23:00:00",
                ),
                id="accepted-9999-12-31-evening",
            ),
        ],
    )
    def test_dates_at_the_end_of_the_calendar_do_not_overflow(self, data: bytes) -> None:
        # The plausibility bound (period + 1 year, filing + 1 day) and the UTC conversion of the
        # acceptance time overflowed date.max: OverflowError escaped the parser.
        doc = parse(data)
        assert doc.transactions[0].transaction_date == date(2024, 3, 4)
        assert doc.transactions[0].flags == []

    def test_zone_suffix_and_slash_dates(self) -> None:
        doc = load("number_formats.xml")
        assert doc.period_of_report == date(2021, 9, 30)
        assert row(doc, "non_derivative", 0).transaction_date == date(2021, 9, 30)
        assert row(doc, "non_derivative", 2).transaction_date == date(2021, 9, 30)
        assert doc.signatures[0].date == date(2021, 10, 1)


class TestNumbers:
    def test_commas_whitespace_trailing_zeros_and_case(self) -> None:
        tx = row(load("number_formats.xml"), "non_derivative", 0)
        assert tx.security_title == "Common Stock"
        assert (tx.form_type, tx.code, tx.acquired_disposed, tx.direct_indirect) == ("4", "P", "A", "D")
        assert tx.shares == Decimal("1234")
        assert str(tx.price) == "12.5"
        assert str(tx.shares_owned_after) == "21234"
        assert tx.flags == []

    def test_fractional_shares_and_currency_sign(self) -> None:
        tx = row(load("number_formats.xml"), "non_derivative", 1)
        assert tx.shares == Decimal("10.5")
        assert tx.price == Decimal("7.25")
        assert tx.shares_owned_after == Decimal("21244.5")

    def test_unreadable_number_is_none_and_flagged(self) -> None:
        tx = row(load("number_formats.xml"), "non_derivative", 2)
        assert tx.shares is None
        assert str(tx.price) == "0"
        assert tx.shares_owned_after == Decimal("-25")
        assert tx.flags == ["invalid_number:shares"]

    def test_negative_shares_exponent_and_nan(self) -> None:
        tx = row(load("number_formats.xml"), "non_derivative", 3)
        assert tx.shares == Decimal("-40")
        assert str(tx.price) == "12"
        assert tx.shares_owned_after is None
        assert tx.flags == ["negative_shares", "invalid_number:shares_owned_after"]

    def test_venue_suffix_dropped_from_ticker(self) -> None:
        issuer = load("number_formats.xml").issuer
        assert (issuer.trading_symbol, issuer.trading_symbol_raw) == ("PGCC", "pgcc.ob")


class TestTickers:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            pytest.param("AAPL", "AAPL", id="plain"),
            pytest.param(" msft ", "MSFT", id="lower-padded"),
            pytest.param("NONE", None, id="NONE"),
            pytest.param("none", None, id="none"),
            pytest.param("N/A", None, id="N/A"),
            pytest.param("[NONE]", None, id="[NONE]"),
            pytest.param("NA", None, id="NA"),
            pytest.param("-", None, id="dash"),
            pytest.param("", None, id="empty"),
            pytest.param(None, None, id="absent"),
            pytest.param("MAJR.OB", "MAJR", id="OB"),
            pytest.param("abcd.pk", "ABCD", id="PK"),
            pytest.param("XYZW.OTCBB", "XYZW", id="OTCBB"),
            pytest.param("QRST.OTC", "QRST", id="OTC"),
            pytest.param("BRK.A", "BRK.A", id="share-class-A"),
            pytest.param("bf.b", "BF.B", id="share-class-B"),
            pytest.param("MFAC.U", "MFAC.U", id="units"),
            pytest.param("NASDAQ: ABCD", "ABCD", id="venue-prefix"),
        ],
    )
    def test_normalize_ticker(self, raw: str | None, expected: str | None) -> None:
        assert normalize_ticker(raw) == expected

    def test_placeholder_ticker_in_document(self) -> None:
        issuer = load("unusual_codes.xml").issuer
        assert (issuer.trading_symbol, issuer.trading_symbol_raw) == (None, "NONE")


class TestCiks:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            pytest.param("320193", "0000320193", id="short"),
            pytest.param("0000320193", "0000320193", id="padded"),
            pytest.param(" 0001234567 ", "0001234567", id="spaces"),
            pytest.param("", None, id="empty"),
            pytest.param(None, None, id="absent"),
        ],
    )
    def test_normalize_cik(self, raw: str | None, expected: str | None) -> None:
        assert normalize_cik(raw) == expected

    def test_non_numeric_cik_is_an_error(self) -> None:
        with pytest.raises(Form4ParseError, match="CIK"):
            normalize_cik("ABC123")


class TestTolerance:
    def test_default_namespace_is_ignored(self) -> None:
        doc = load("namespaced.xml")
        assert doc.schema_version == "X0609"
        assert doc.aff10b5one is True
        assert doc.issuer.trading_symbol == "QHC"
        assert [(t.code, t.shares) for t in doc.transactions] == [("S", Decimal("700"))]
        assert doc.warnings == ["ignored the XML namespace on ownershipDocument"]

    def test_bare_ampersands_are_escaped(self) -> None:
        doc = load("bare_ampersand.xml")
        assert doc.issuer.name == "Barnes & Lowell Holdings Co"
        assert doc.reporting_owners[0].officer_title == "Chairman & CEO"
        assert doc.transactions[0].nature_of_ownership == "By Lowell & Lowell LLP profit sharing plan & trust"
        assert doc.warnings == ["escaped bare '&' characters"]

    def test_mangled_markup_recovered_with_warning(self) -> None:
        doc = load("mangled_markup.xml")
        assert [(t.code, t.shares, t.price) for t in doc.transactions] == [
            ("P", Decimal("1000"), Decimal("9.87"))
        ]
        assert len(doc.warnings) == 1
        assert doc.warnings[0].startswith("recovered malformed XML with lxml recover mode")

    def test_bom_and_leading_junk_skipped(self) -> None:
        doc = load("leading_junk.xml")
        assert doc.issuer.trading_symbol == "NWBC"
        assert len(doc.transactions) == 2
        assert doc.warnings == ["skipped 46 bytes before the XML document"]

    def test_leaves_without_value_wrappers(self) -> None:
        doc = load("no_value_wrappers.xml")
        assert doc.issuer.cik == "0000314159"
        tx = doc.transactions[0]
        assert tx.security_title == "Common Stock"
        assert tx.footnotes == {"security_title": ["F1"]}
        assert (tx.transaction_date, tx.code, tx.shares, tx.price) == (
            date(2006, 3, 1),
            "P",
            Decimal("400"),
            Decimal("27.3"),
        )
        assert (tx.acquired_disposed, tx.shares_owned_after, tx.direct_indirect) == (
            "A",
            Decimal("2400"),
            "D",
        )

    def test_legacy_x0101_rows(self) -> None:
        doc = load("legacy_x0101.xml")
        assert [(t.table, t.code, t.shares, t.price) for t in doc.transactions] == [
            ("non_derivative", "S", Decimal("3100"), Decimal("3.8")),
            ("derivative", "A", Decimal("7500"), None),
        ]
        assert doc.transactions[1].conversion_or_exercise_price == Decimal("5.9")
        assert [(h.table, h.shares_owned) for h in doc.holdings] == [("non_derivative", Decimal("96900"))]
        assert doc.warnings == ["legacy X0101 layout (nonDerivativeSecurity/derivativeSecurity rows)"]

    def test_bytearray_input(self) -> None:
        data = bytearray((FORM4_FIXTURES / "open_market_purchase.xml").read_bytes())
        assert parse(data).issuer.trading_symbol == "NWBC"


MINIMAL = (
    b'<?xml version="1.0"?><ownershipDocument><documentType>4</documentType>'
    b"<issuer><issuerCik>1</issuerCik></issuer>"
    b"<reportingOwner><reportingOwnerId><rptOwnerCik>2</rptOwnerCik></reportingOwnerId></reportingOwner>"
    b"</ownershipDocument>"
)


class TestRejections:
    def test_minimal_document_parses(self) -> None:
        doc = parse(MINIMAL)
        assert (doc.issuer.cik, doc.reporting_owners[0].cik) == ("0000000001", "0000000002")
        assert doc.transactions == []
        assert doc.holdings == []
        assert doc.signatures == []

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            pytest.param(
                MINIMAL.replace(b"<issuerCik>1</issuerCik>", b""), "no issuerCik", id="no-issuer-cik"
            ),
            pytest.param(
                MINIMAL.replace(b"<rptOwnerCik>2</rptOwnerCik>", b""), "no rptOwnerCik", id="no-owner-cik"
            ),
            pytest.param(
                MINIMAL.replace(
                    b"<reportingOwner><reportingOwnerId><rptOwnerCik>2</rptOwnerCik>"
                    b"</reportingOwnerId></reportingOwner>",
                    b"",
                ),
                "no reportingOwner",
                id="no-owner",
            ),
            pytest.param(
                MINIMAL.replace(b"<documentType>4</documentType>", b""),
                "no documentType",
                id="no-document-type",
            ),
            pytest.param(
                MINIMAL.replace(b"<issuer><issuerCik>1</issuerCik></issuer>", b""),
                "no issuer",
                id="no-issuer",
            ),
            pytest.param(
                b'<?xml version="1.0"?><edgarSubmission><schemaVersion>X0101</schemaVersion>'
                b"</edgarSubmission>",
                "root element is <edgarSubmission>",
                id="other-root",
            ),
            pytest.param(
                b"<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head></html>",
                "Request Rate Threshold Exceeded",
                id="rate-limit-page",
            ),
            pytest.param(b"", "empty document", id="empty"),
            pytest.param(b"just some text", "not XML", id="plain-text"),
            pytest.param(MINIMAL[:-30], "truncated", id="truncated"),
        ],
    )
    def test_rejected_with_reason(self, data: bytes, reason: str) -> None:
        with pytest.raises(Form4ParseError, match=reason):
            parse(data)

    def test_oversize_rejected_before_parsing(self) -> None:
        with pytest.raises(Form4ParseError, match="over the 100-byte limit"):
            parse(MINIMAL, max_bytes=100)

    def test_non_bytes_rejected(self) -> None:
        with pytest.raises(Form4ParseError, match="expected bytes"):
            parse("<ownershipDocument/>")  # type: ignore[arg-type]


class TestContract:
    def test_field_order_check_passes(self) -> None:
        form4_parser._check_field_order()

    @pytest.mark.parametrize("name", sorted(p.name for p in FORM4_FIXTURES.glob("*.xml")))
    def test_canonical_dict_is_json(self, name: str) -> None:
        data = to_canonical_dict(load(name))
        assert "xml" not in data
        json.dumps(data)

    def test_fixture_folder_is_complete(self) -> None:
        names = {p.name for p in Path(FORM4_FIXTURES).glob("*.xml")}
        assert len(names) >= 15

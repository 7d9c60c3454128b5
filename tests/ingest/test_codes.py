"""Transaction code table: complete, correct where other tools are wrong, and safe on unknown codes."""

from __future__ import annotations

import pytest

from app.ingest import codes
from app.ingest.codes import TransactionCode, carries_opinion, describe, is_open_market


class TestTable:
    def test_every_enum_member_is_described(self) -> None:
        assert set(codes.CODES) == {member.value for member in TransactionCode}
        assert len(codes.CODES) == 20

    @pytest.mark.parametrize(
        ("code", "phrase"),
        [
            pytest.param("P", "Open market or private purchase", id="P"),
            pytest.param("S", "Open market or private sale", id="S"),
            # edgartools calls I "Disposition otherwise than to the issuer"; the SEC says 16b-3(f).
            pytest.param("I", "Discretionary transaction in accordance with Rule 16b-3(f)", id="I"),
            pytest.param("K", "equity swap", id="K"),
            pytest.param("V", "voluntarily reported earlier than required", id="V"),
            pytest.param("U", "tender of shares in a change of control", id="U"),
            pytest.param("W", "will or the laws of descent", id="W"),
            pytest.param("L", "Small acquisition under Rule 16a-6", id="L"),
        ],
    )
    def test_descriptions(self, code: str, phrase: str) -> None:
        assert phrase in describe(code)

    def test_lookup_ignores_case_and_whitespace(self) -> None:
        assert describe(" p ") == describe("P")


class TestUnknownCodes:
    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            pytest.param("Q", "Unknown transaction code 'Q'", id="unknown"),
            pytest.param(None, "No transaction code reported", id="absent"),
            pytest.param("  ", "No transaction code reported", id="blank"),
        ],
    )
    def test_describe_never_fails(self, code: str | None, expected: str) -> None:
        assert describe(code) == expected

    def test_unknown_code_has_no_opinion_and_is_not_open_market(self) -> None:
        assert carries_opinion("Q") is None
        assert is_open_market("Q") is False
        assert codes.info("Q") is None


class TestScreenSemantics:
    @pytest.mark.parametrize(
        ("code", "opinion", "open_market"),
        [
            pytest.param("P", True, True, id="P"),
            pytest.param("S", True, True, id="S"),
            pytest.param("A", False, False, id="A"),
            pytest.param("M", False, False, id="M"),
            pytest.param("F", False, False, id="F"),
            pytest.param("G", False, False, id="G"),
            pytest.param("J", None, False, id="J-depends"),
            pytest.param("I", None, False, id="I-depends"),
        ],
    )
    def test_opinion_and_open_market(self, code: str, opinion: bool | None, open_market: bool) -> None:
        assert carries_opinion(code) is opinion
        assert is_open_market(code) is open_market

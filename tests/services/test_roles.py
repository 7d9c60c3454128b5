"""Tests for insider role parsing and the purchase footnote flags (DESIGN §2 roles and flags)."""

from __future__ import annotations

import pytest

from app.services.roles import (
    PRIVATE_PLACEMENT_PATTERNS,
    classify_roles,
    is_ten_percent_owner_only,
    mentions_10b5_1,
    mentions_private_placement,
    primary_role,
    role_rank,
)


def officer(title: str | None) -> set[str]:
    return classify_roles(False, True, title, False, False, None)


class TestOfficerTitles:
    @pytest.mark.parametrize(
        ("title", "expected"),
        [
            pytest.param("Chief Executive Officer", {"CEO", "officer"}, id="chief-executive-officer"),
            pytest.param("CEO & President", {"CEO", "officer"}, id="ceo-and-president"),
            pytest.param("President and CEO", {"CEO", "officer"}, id="president-and-ceo"),
            pytest.param("Co-CEO", {"CEO", "officer"}, id="co-ceo"),
            pytest.param("C.E.O.", {"CEO", "officer"}, id="dotted-ceo"),
            pytest.param("Interim Chief Executive Officer", {"CEO", "officer"}, id="interim-ceo"),
            pytest.param("Principal Executive Officer", {"CEO", "officer"}, id="principal-executive"),
            pytest.param("Chief Financial Officer", {"CFO", "officer"}, id="chief-financial-officer"),
            pytest.param("EVP, CFO", {"CFO", "officer"}, id="evp-cfo"),
            pytest.param("Principal Financial Officer", {"CFO", "officer"}, id="principal-financial"),
            pytest.param("Interim CFO", {"CFO", "officer"}, id="interim-cfo"),
            pytest.param("Treasurer & CFO", {"CFO", "officer"}, id="treasurer-cfo"),
            pytest.param(
                "SVP, Chief Financial Officer and Treasurer", {"CFO", "officer"}, id="svp-cfo-treasurer"
            ),
            pytest.param(
                "Chief Executive and Financial Officer", {"CEO", "CFO", "officer"}, id="ceo-and-cfo"
            ),
            pytest.param("CEO/CFO", {"CEO", "CFO", "officer"}, id="ceo-slash-cfo"),
            pytest.param("Chairman & CEO", {"CEO", "officer", "director"}, id="chairman-and-ceo"),
            pytest.param("Executive Chairman", {"officer", "director"}, id="executive-chairman"),
            pytest.param("Chief Operating Officer", {"officer"}, id="coo-is-not-ceo"),
            pytest.param("COO", {"officer"}, id="coo-abbrev"),
            pytest.param("Chief Accounting Officer", {"officer"}, id="cao-is-not-cfo"),
            pytest.param("Treasurer", {"officer"}, id="treasurer-alone"),
            pytest.param("President", {"officer"}, id="president-alone"),
            pytest.param("Former CEO", {"officer"}, id="former-ceo"),
            pytest.param("Ex-CFO", {"officer"}, id="ex-cfo"),
            pytest.param("Chief Executive Officer (retired)", {"officer"}, id="retired-ceo"),
            pytest.param("SVP; former Chief Financial Officer", {"officer"}, id="former-cfo-clause"),
            pytest.param("CEO; former CFO", {"CEO", "officer"}, id="ceo-former-cfo"),
            pytest.param("Assistant to the CEO", {"officer"}, id="assistant-to-ceo"),
            pytest.param("Chief of Staff to the Chairman", {"officer"}, id="staff-to-chairman"),
            pytest.param("See Remarks", {"officer"}, id="see-remarks"),
            pytest.param("", {"officer"}, id="empty"),
            pytest.param(None, {"officer"}, id="none"),
        ],
    )
    def test_title(self, title: str | None, expected: set[str]) -> None:
        assert officer(title) == expected


class TestBoxes:
    def test_boxes_map_to_roles(self) -> None:
        assert classify_roles(True, False, None, True, True, "Member of group") == {
            "director",
            "ten_percent_owner",
            "other",
        }

    def test_no_box_no_role(self) -> None:
        assert classify_roles(False, False, None, False, False, None) == set()

    def test_chairman_of_the_board_is_a_director(self) -> None:
        assert classify_roles(False, True, "Chairman of the Board", False, False, None) == {
            "officer",
            "director",
        }
        assert classify_roles(True, False, None, False, False, None) == {"director"}

    def test_title_in_other_box_is_read(self) -> None:
        assert classify_roles(False, False, None, False, True, "President & CEO") == {
            "CEO",
            "officer",
            "other",
        }

    def test_other_text_naming_a_ten_percent_group(self) -> None:
        roles = classify_roles(False, False, None, False, True, "Member of 10% owner group")
        assert roles == {"other", "ten_percent_owner"}
        assert classify_roles(False, False, None, False, True, "Former 10% owner") == {"other"}


class TestRanking:
    @pytest.mark.parametrize(
        ("roles", "rank", "primary"),
        [
            pytest.param({"director", "CEO", "officer"}, 0, "CEO", id="ceo"),
            pytest.param({"CFO", "officer"}, 1, "CFO", id="cfo"),
            pytest.param({"officer", "ten_percent_owner"}, 2, "officer", id="officer"),
            pytest.param({"director", "ten_percent_owner"}, 3, "director", id="director"),
            pytest.param({"ten_percent_owner", "other"}, 4, "ten_percent_owner", id="ten-percent"),
            pytest.param({"other"}, 5, "other", id="other"),
            pytest.param(set(), 6, None, id="none"),
        ],
    )
    def test_rank(self, roles: set[str], rank: int, primary: str | None) -> None:
        assert role_rank(roles) == rank
        assert primary_role(roles) == primary

    def test_sorting_puts_ceo_first(self) -> None:
        buyers = [{"other"}, {"director"}, {"CFO", "officer"}, {"CEO", "officer"}, {"ten_percent_owner"}]
        assert [primary_role(r) for r in sorted(buyers, key=role_rank)] == [
            "CEO",
            "CFO",
            "director",
            "ten_percent_owner",
            "other",
        ]


class TestTenPercentOwnerOnly:
    @pytest.mark.parametrize(
        ("buyers", "expected"),
        [
            pytest.param([{"ten_percent_owner"}, {"ten_percent_owner", "other"}], True, id="all-ten-percent"),
            pytest.param([{"ten_percent_owner"}, {"director"}], False, id="with-director"),
            pytest.param([{"ten_percent_owner", "director"}], False, id="ten-percent-director"),
            pytest.param([{"ten_percent_owner"}, {"other"}], False, id="with-other-only"),
            pytest.param([], False, id="no-buyers"),
        ],
    )
    def test_flag(self, buyers: list[set[str]], expected: bool) -> None:
        assert is_ten_percent_owner_only(buyers) is expected


class TestPrivatePlacement:
    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("Shares purchased in the Issuer's private placement.", id="private-placement"),
            pytest.param("Acquired pursuant to a Securities Purchase Agreement dated May 1, 2024.", id="spa"),
            pytest.param("Purchased under a subscription agreement with the Company.", id="subscription"),
            pytest.param("Purchased in the Company's registered direct offering.", id="registered-direct"),
            pytest.param("Bought in the underwritten public offering at $4.00.", id="underwritten-public"),
            pytest.param("Purchased in an underwritten offering.", id="underwritten"),
            pytest.param(
                "The reporting person purchased these shares in the offering.", id="in-the-offering"
            ),
            pytest.param("Purchased in the Company's initial public offering.", id="ipo-long"),
            pytest.param("Shares bought in the IPO through the directed share program.", id="ipo"),
            pytest.param("Purchased at the public offering price.", id="public-offering-price"),
            pytest.param("Purchased in a concurrent private offering.", id="concurrent-private"),
            pytest.param("Units purchased in the PIPE financing.", id="pipe"),
            pytest.param("Shares were purchased directly from the Issuer.", id="directly-from-issuer"),
            pytest.param("Purchased from the Company at $2.10 per share.", id="from-the-company"),
            pytest.param(
                "Purchased in the private placement together with warrants exercisable at $5.",
                id="with-warrants",
            ),
        ],
    )
    def test_flags_issuance_purchases(self, text: str) -> None:
        assert mentions_private_placement([None, text]) is True

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param(
                "The price reported is a weighted average; shares were purchased in multiple open market "
                "transactions at prices ranging from $10.00 to $10.50.",
                id="open-market-weighted-average",
            ),
            pytest.param("Includes 5,000 shares previously acquired in a private placement.", id="history"),
            pytest.param("The reporting person also holds warrants bought in the PIPE.", id="also-holds"),
            pytest.param("These shares were not purchased in a private placement.", id="negated"),
            pytest.param("Shares held by Pipe Capital Partners LLC.", id="pipe-in-a-name"),
            pytest.param("The company's pipeline of products.", id="pipeline"),
            pytest.param("Purchased through the employee stock purchase plan.", id="espp"),
            pytest.param("Purchased from the Company's 401(k) plan.", id="company-possessive"),
            pytest.param("As described in the offering circular.", id="offering-circular"),
            pytest.param("Privately negotiated transaction with a third party.", id="privately-negotiated"),
            pytest.param("The reporting person disclaims beneficial ownership.", id="disclaimer"),
        ],
    )
    def test_ignores_open_market_and_history(self, text: str) -> None:
        assert mentions_private_placement([text]) is False

    def test_empty_input(self) -> None:
        assert mentions_private_placement([]) is False
        assert mentions_private_placement([None, ""]) is False

    def test_patterns_are_compiled(self) -> None:
        assert all(p.search("x") is None for p in PRIVATE_PLACEMENT_PATTERNS)


class TestRule10b51:
    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("Sold pursuant to a Rule 10b5-1 trading plan.", id="10b5-1"),
            pytest.param("Effected under a 10b-5-1 plan.", id="10b-5-1"),
            pytest.param("Pursuant to a 10b5\u20131 plan adopted March 1.", id="en-dash"),
            pytest.param("Pursuant to a 10b5 1 plan.", id="space"),
            pytest.param("Under a trading plan intended to satisfy Rule 10b5-1(c).", id="10b5-1-c"),
            pytest.param("RULE 10B5-1 PLAN", id="upper-case"),
            pytest.param("A 10(b)5-1 plan.", id="parenthesized-b"),
        ],
    )
    def test_matches(self, text: str) -> None:
        assert mentions_10b5_1([None, text]) is True

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("In compliance with Rule 10b-5.", id="rule-10b-5"),
            pytest.param("Rule 10b-5 1934 Act liability.", id="rule-10b-5-then-year"),
            pytest.param("Exchange Act Section 10(b)", id="section-10b"),
            pytest.param("The sale was not made pursuant to a Rule 10b5-1 plan.", id="negated"),
            pytest.param("Weighted average price; range $10.15 to $10.51.", id="numbers"),
        ],
    )
    def test_does_not_match(self, text: str) -> None:
        assert mentions_10b5_1([text]) is False

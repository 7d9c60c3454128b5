"""The parser over every real EDGAR sample: parse or a reasoned Form4ParseError, never anything else.

Counts, values and footnote attribution are checked against an independent reading of each document
(plain lxml with getparent(), not the parser's single-pass walk); a few documents are checked by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from app.ingest.form4_parser import parse
from app.schemas.form4 import Form4ParseError, ParsedForm4
from tests.conftest import SAMPLES_DIR, require_samples

# Rejections we expect, by file name, with the reason's key phrase.
EXPECTED_REJECTIONS = {
    "springloading__xml_error.xml": "no rptOwnerCik",  # fixture with the owner CIK commented out
    "0001094891-00-000193.txt": "pre-XML plain-text Form 4",
    "0001140361-23-028639.header-only.txt": "header only",
}
ROW_TAGS = {
    ("nonDerivativeTable", "nonDerivativeTransaction"): ("non_derivative", True),
    ("nonDerivativeTable", "nonDerivativeHolding"): ("non_derivative", False),
    ("derivativeTable", "derivativeTransaction"): ("derivative", True),
    ("derivativeTable", "derivativeHolding"): ("derivative", False),
}
LEAF_NAMES = {
    "securityTitle": "security_title",
    "conversionOrExercisePrice": "conversion_or_exercise_price",
    "transactionDate": "transaction_date",
    "deemedExecutionDate": "deemed_execution_date",
    "transactionCode": "code",
    "transactionShares": "shares",
    "transactionTotalValue": "total_value",
    "transactionPricePerShare": "price",
    "transactionAcquiredDisposedCode": "acquired_disposed",
    "exerciseDate": "exercise_date",
    "expirationDate": "expiration_date",
    "underlyingSecurityTitle": "underlying_security_title",
    "underlyingSecurityShares": "underlying_shares",
    "underlyingSecurityValue": "underlying_value",
    "sharesOwnedFollowingTransaction": "shares_owned_after",
    "valueOwnedFollowingTransaction": "value_owned_after",
    "directOrIndirectOwnership": "direct_indirect",
    "natureOfOwnership": "nature_of_ownership",
    "transactionTimeliness": "timeliness",
    "transactionCoding": "code",
    "transactionFormType": "code",
    "equitySwapInvolved": "code",
}


def sample_files() -> Iterator[Path]:
    if not SAMPLES_DIR.is_dir():
        return iter(())
    return iter(sorted([*SAMPLES_DIR.glob("form4/*.xml"), *SAMPLES_DIR.glob("submissions/*.txt")]))


# Without the shared folder a single placeholder runs, so require_samples() skips (or fails in CI).
SAMPLES = [pytest.param(path, id=f"{path.parent.name}/{path.name}") for path in sample_files()] or [
    pytest.param(None, id="samples-missing")
]


def ownership_root(data: bytes) -> etree._Element:
    """Read the ownership document independently: cut it out by its tags and parse leniently."""
    start = data.find(b"<ownershipDocument")
    end = data.rfind(b"</ownershipDocument>")
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data[start : end + len(b"</ownershipDocument>")], parser)


def expected_rows(root: etree._Element) -> list[tuple[str, bool, etree._Element]]:
    rows = []
    for table in root:
        for child in table:
            kind = ROW_TAGS.get((table.tag, child.tag))
            if kind is not None:
                rows.append((kind[0], kind[1], child))
    return rows


def value_text(row: etree._Element, path: str) -> str | None:
    el = row.find(path)
    if el is None:
        return None
    wrapped = el.find("value")
    text = (wrapped if wrapped is not None else el).text
    return text.strip() if text and text.strip() else None


def expected_notes(row: etree._Element, holding: bool) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for el in row.iter("footnoteId"):
        name = LEAF_NAMES[el.getparent().tag]
        if holding:
            name = {"shares_owned_after": "shares_owned", "value_owned_after": "value_owned"}.get(name, name)
        ids = notes.setdefault(name, [])
        if el.get("id").strip() not in ids:
            ids.append(el.get("id").strip())
    return notes


def parsed_or_rejected(path: Path | None) -> ParsedForm4 | None:
    """Parse a sample; an expected rejection must come as Form4ParseError with its reason."""
    if path is None:
        require_samples()
        raise AssertionError("unreachable: require_samples() skips or fails")
    reason = EXPECTED_REJECTIONS.get(path.name)
    if reason is None:
        return parse(path.read_bytes())
    with pytest.raises(Form4ParseError, match=reason):
        parse(path.read_bytes())
    return None


@pytest.mark.parametrize("path", SAMPLES)
class TestEverySample:
    def test_parses_or_rejects_with_reason(self, path: Path | None) -> None:
        parsed_or_rejected(path)

    def test_rows_match_an_independent_reading(self, path: Path | None) -> None:
        doc = parsed_or_rejected(path)
        if doc is None:
            return
        assert path is not None
        rows = expected_rows(ownership_root(path.read_bytes()))
        transactions = [(table, el) for table, is_tx, el in rows if is_tx]
        holdings = [(table, el) for table, is_tx, el in rows if not is_tx]
        assert len(doc.transactions) == len(transactions)
        assert len(doc.holdings) == len(holdings)
        for tx, (table, el) in zip(doc.transactions, transactions, strict=True):
            assert tx.table == table
            assert tx.code == (value_text(el, "transactionCoding/transactionCode") or "").upper() or None
            shares = value_text(el, "transactionAmounts/transactionShares")
            assert tx.shares == (Decimal(shares) if shares else None)
            price = value_text(el, "transactionAmounts/transactionPricePerShare")
            assert tx.price == (Decimal(price) if price else None)
            owned = value_text(el, "postTransactionAmounts/sharesOwnedFollowingTransaction")
            assert tx.shares_owned_after == (Decimal(owned) if owned else None)
            assert tx.footnotes == expected_notes(el, holding=False)
            if tx.price_low is not None:
                assert tx.price_high is not None
                assert tx.price is None or tx.price_low <= tx.price <= tx.price_high
        for holding, (table, el) in zip(doc.holdings, holdings, strict=True):
            assert holding.table == table
            assert holding.footnotes == expected_notes(el, holding=True)

    def test_document_level_fields(self, path: Path | None) -> None:
        doc = parsed_or_rejected(path)
        if doc is None:
            return
        assert path is not None
        root = ownership_root(path.read_bytes())
        assert doc.issuer.cik == root.findtext("issuer/issuerCik").strip().zfill(10)
        assert [o.cik for o in doc.reporting_owners] == [
            el.text.strip().zfill(10) for el in root.iterfind("reportingOwner/reportingOwnerId/rptOwnerCik")
        ]
        assert len(doc.signatures) == len(root.findall("ownerSignature"))
        assert set(doc.footnotes) == {el.get("id") for el in root.iterfind("footnotes/footnote")}
        checkbox = root.findtext("aff10b5One")
        assert doc.aff10b5one == (None if checkbox is None else checkbox.strip() in ("1", "true"))


def load_sample(relative: str) -> ParsedForm4:
    path = SAMPLES_DIR / relative
    if not path.is_file():
        pytest.skip(f"{relative} not in the shared samples")
    return parse(path.read_bytes())


@pytest.mark.usefixtures("samples_dir")
class TestHandChecked:
    def test_purchase_with_weighted_average_footnotes(self) -> None:
        doc = load_sample("form4/0001062993-23-020702.xml")
        assert (doc.issuer.cik, doc.issuer.name, doc.issuer.trading_symbol) == (
            "0001512673",
            "Block, Inc.",
            "SQ",
        )
        [owner] = doc.reporting_owners
        assert (owner.cik, owner.name, owner.is_director) == ("0001222287", "BOTHA ROELOF", True)
        assert [
            (t.code, t.transaction_date, t.shares, t.price, t.price_low, t.price_high, t.shares_owned_after)
            for t in doc.transactions
        ] == [
            (
                "P",
                date(2023, 11, 8),
                Decimal("495539"),
                Decimal("50.8848"),
                Decimal("50.63"),
                Decimal("51"),
                Decimal("495539"),
            ),
            (
                "P",
                date(2023, 11, 9),
                Decimal("6412"),
                Decimal("50.9969"),
                Decimal("50.99"),
                Decimal("51"),
                Decimal("501951"),
            ),
            (
                "P",
                date(2023, 11, 10),
                Decimal("15262"),
                Decimal("50.9919"),
                Decimal("50.93"),
                Decimal("51"),
                Decimal("517213"),
            ),
            (
                "P",
                date(2023, 11, 13),
                Decimal("23433"),
                Decimal("50.9745"),
                Decimal("50.85"),
                Decimal("51"),
                Decimal("540646"),
            ),
        ]
        first = doc.transactions[0]
        assert (first.direct_indirect, first.nature_of_ownership) == (
            "I",
            "Sequoia Capital US/E Expansion Fund I, L.P.",
        )
        assert first.footnotes == {"price": ["F1"], "nature_of_ownership": ["F5"]}
        assert doc.signatures[0].date == date(2023, 11, 13)

    def test_joint_filing_of_eight_owners(self) -> None:
        doc = load_sample("form4/secform4project__softbank_derivative_acquisition.xml")
        assert doc.accession == "0001493152-25-009612"
        assert doc.accepted_at == datetime(2025, 3, 8, 2, 0, 8, tzinfo=UTC)  # 21:00:08 EST
        assert doc.filed_date == date(2025, 3, 7)
        assert doc.issuer.name == "Better Home & Finance Holding Co"
        assert len(doc.reporting_owners) == 8
        assert all(o.is_ten_percent_owner and not o.is_director for o in doc.reporting_owners)
        assert doc.reporting_owners[0].cik == "0001065521"
        tx = doc.transactions[0]
        assert (tx.code, tx.acquired_disposed, tx.shares, tx.price) == ("C", "A", Decimal("628553"), None)
        assert tx.footnotes["price"] == ["F2"]
        deriv = doc.transactions[1]
        assert (deriv.table, deriv.underlying_shares, deriv.shares_owned_after) == (
            "derivative",
            Decimal("628553"),
            Decimal("137545"),
        )

    def test_10b5_1_checkbox(self) -> None:
        doc = load_sample("form4/go-edgar__arrowhead_footnotes.xml")
        assert doc.aff10b5one is True
        assert [(t.shares, t.price, t.price_low, t.price_high) for t in doc.transactions] == [
            (Decimal("3090"), Decimal("66.7"), Decimal("66.52"), Decimal("67.4")),
            (Decimal("6083"), Decimal("68.04"), Decimal("67.62"), Decimal("68.3")),
            (Decimal("827"), Decimal("68.48"), Decimal("68.38"), Decimal("68.56")),
        ]

    def test_amendment(self) -> None:
        doc = load_sample("form4/joeychilson_edgar_client__form4a.xml")
        assert doc.document_type == "4/A"
        assert doc.date_of_original_submission == date(2021, 12, 15)
        assert doc.issuer.trading_symbol == "PANW"
        [tx] = doc.transactions
        assert (tx.code, tx.shares, tx.price, tx.shares_owned_after) == (
            "A",
            Decimal("661"),
            Decimal("0"),
            Decimal("7448"),
        )
        assert doc.remarks is not None
        assert doc.remarks.startswith("The sole purpose of this amendment")

    def test_checkbox_absent_before_2023(self) -> None:
        doc = load_sample("form4/0000320193-22-000061.xml")
        assert doc.aff10b5one is None
        assert len(doc.transactions) == 7

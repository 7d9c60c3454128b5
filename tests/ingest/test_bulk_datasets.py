"""SEC Form 3/4/5 data sets to ParsedForm4: small data sets written here, TSV quirks, real partial files."""

from __future__ import annotations

import zipfile
from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from app.ingest.bulk_datasets import iter_dataset_filings, known_at_estimate
from app.ingest.bulk_tsv import BulkDatasetError, BulkRowError, DatasetSummary, iter_table
from app.ingest.form4_parser import parse
from app.schemas.form4 import (
    ParsedForm4,
    ParsedHolding,
    ParsedIssuer,
    ParsedOwner,
    ParsedSignature,
    ParsedTransaction,
)

# Physical headers of the eight files (real 2024q4/2025q2 files; SUBMISSION and REPORTINGOWNER from
# FORM_345_metadata.json, whose CONTACT_* columns the real SUBMISSION.tsv does not carry).
HEADERS = {
    table: cols.split()
    for table, cols in {
        "SUBMISSION": """
        ACCESSION_NUMBER FILING_DATE PERIOD_OF_REPORT DATE_OF_ORIG_SUB NO_SECURITIES_OWNED
        NOT_SUBJECT_SEC16 FORM3_HOLDINGS_REPORTED FORM4_TRANS_REPORTED DOCUMENT_TYPE ISSUERCIK ISSUERNAME
        ISSUERTRADINGSYMBOL REMARKS AFF10B5ONE""",
        "REPORTINGOWNER": """
        ACCESSION_NUMBER RPTOWNERCIK RPTOWNERNAME RPTOWNER_RELATIONSHIP RPTOWNER_TITLE
        RPTOWNER_TXT RPTOWNER_STREET1 RPTOWNER_STREET2 RPTOWNER_CITY RPTOWNER_STATE RPTOWNER_ZIPCODE
        RPTOWNER_STATE_DESC FILE_NUMBER""",
        "NONDERIV_TRANS": """
        ACCESSION_NUMBER NONDERIV_TRANS_SK SECURITY_TITLE SECURITY_TITLE_FN TRANS_DATE
        TRANS_DATE_FN DEEMED_EXECUTION_DATE DEEMED_EXECUTION_DATE_FN TRANS_FORM_TYPE TRANS_CODE
        EQUITY_SWAP_INVOLVED EQUITY_SWAP_TRANS_CD_FN TRANS_TIMELINESS TRANS_TIMELINESS_FN TRANS_SHARES
        TRANS_SHARES_FN TRANS_PRICEPERSHARE TRANS_PRICEPERSHARE_FN TRANS_ACQUIRED_DISP_CD
        TRANS_ACQUIRED_DISP_CD_FN SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN VALU_OWND_FOLWNG_TRANS
        VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP
        NATURE_OF_OWNERSHIP_FN""",
        "NONDERIV_HOLDING": """
        ACCESSION_NUMBER NONDERIV_HOLDING_SK SECURITY_TITLE SECURITY_TITLE_FN
        TRANS_FORM_TYPE TRANS_FORM_TYPE_FN SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN
        VALU_OWND_FOLWNG_TRANS VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP
        DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP NATURE_OF_OWNERSHIP_FN""",
        "DERIV_TRANS": """
        ACCESSION_NUMBER DERIV_TRANS_SK SECURITY_TITLE SECURITY_TITLE_FN CONV_EXERCISE_PRICE
        CONV_EXERCISE_PRICE_FN TRANS_DATE TRANS_DATE_FN DEEMED_EXECUTION_DATE DEEMED_EXECUTION_DATE_FN
        TRANS_FORM_TYPE TRANS_CODE EQUITY_SWAP_INVOLVED EQUITY_SWAP_TRANS_CD_FN TRANS_TIMELINESS
        TRANS_TIMELINESS_FN TRANS_SHARES TRANS_SHARES_FN TRANS_TOTAL_VALUE TRANS_TOTAL_VALUE_FN
        TRANS_PRICEPERSHARE TRANS_PRICEPERSHARE_FN TRANS_ACQUIRED_DISP_CD TRANS_ACQUIRED_DISP_CD_FN
        EXCERCISE_DATE EXCERCISE_DATE_FN EXPIRATION_DATE EXPIRATION_DATE_FN UNDLYNG_SEC_TITLE
        UNDLYNG_SEC_TITLE_FN UNDLYNG_SEC_SHARES UNDLYNG_SEC_SHARES_FN UNDLYNG_SEC_VALUE UNDLYNG_SEC_VALUE_FN
        SHRS_OWND_FOLWNG_TRANS SHRS_OWND_FOLWNG_TRANS_FN VALU_OWND_FOLWNG_TRANS VALU_OWND_FOLWNG_TRANS_FN
        DIRECT_INDIRECT_OWNERSHIP DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP NATURE_OF_OWNERSHIP_FN""",
        "DERIV_HOLDING": """
        ACCESSION_NUMBER DERIV_HOLDING_SK SECURITY_TITLE SECURITY_TITLE_FN CONV_EXERCISE_PRICE
        CONV_EXERCISE_PRICE_FN TRANS_FORM_TYPE TRANS_FORM_TYPE_FN EXERCISE_DATE EXERCISE_DATE_FN
        EXPIRATION_DATE EXPIRATION_DATE_FN UNDLYNG_SEC_TITLE UNDLYNG_SEC_TITLE_FN UNDLYNG_SEC_SHARES
        UNDLYNG_SEC_SHARES_FN UNDLYNG_SEC_VALUE UNDLYNG_SEC_VALUE_FN SHRS_OWND_FOLWNG_TRANS
        SHRS_OWND_FOLWNG_TRANS_FN VALU_OWND_FOLWNG_TRANS VALU_OWND_FOLWNG_TRANS_FN DIRECT_INDIRECT_OWNERSHIP
        DIRECT_INDIRECT_OWNERSHIP_FN NATURE_OF_OWNERSHIP NATURE_OF_OWNERSHIP_FN""",
        "FOOTNOTES": "ACCESSION_NUMBER FOOTNOTE_ID FOOTNOTE_TXT",
        "OWNER_SIGNATURE": "ACCESSION_NUMBER OWNERSIGNATURENAME OWNERSIGNATUREDATE",
    }.items()
}

A = "0000899243-25-000101"  # Form 4, joint owners, two P purchases (price footnotes), rows out of SK order
B = "0000899243-25-000102"  # 4/A, S sale under a 10b5-1 plan, placeholder ticker
C = "0001209191-25-000103"  # Form 3, holdings only (non-derivative and derivative)
D = "0001127602-25-000104"  # Form 4, option exercise: derivative M row + non-derivative M row
E = "0000899243-25-000105"  # Form 5, not subject to Section 16, no rows

WEIGHTED_F1 = (
    "The price reported is a weighted average price. These shares were purchased in multiple "
    "transactions at prices ranging from $10.05 to $10.25, inclusive."
)
ACME = {"ISSUERCIK": "320193", "ISSUERNAME": "Acme Widgets, Inc.", "ISSUERTRADINGSYMBOL": "ACME"}
BETA = {"ISSUERCIK": "1800", "ISSUERNAME": "Beta Bank Corp", "ISSUERTRADINGSYMBOL": "ABC.OB"}


def row(acc: str, base: dict[str, str] | None = None, **values: str) -> dict[str, str]:
    """One TSV row as {column: text}; columns left out are empty, as in the SEC files."""
    return {"ACCESSION_NUMBER": acc, **(base or {}), **values}


def base_tables() -> dict[str, list[dict[str, str]]]:
    """Rows for the five filings above, in the SEC's value formats ("1000.0", "31-MAR-2025", "F1, F2")."""
    return {
        "SUBMISSION": [
            row(
                A,
                ACME,
                FILING_DATE="02-APR-2025",
                PERIOD_OF_REPORT="31-MAR-2025",
                NOT_SUBJECT_SEC16="0",
                DOCUMENT_TYPE="4",
                REMARKS="Joint filing; see Exhibit 99.",
                AFF10B5ONE="0",
            ),
            row(
                B,
                ACME,
                FILING_DATE="03-APR-2025",
                PERIOD_OF_REPORT="28-MAR-2025",
                DATE_OF_ORIG_SUB="01-APR-2025",
                DOCUMENT_TYPE="4/A",
                ISSUERCIK="0000320193",
                ISSUERTRADINGSYMBOL="NONE",
                AFF10B5ONE="true",
            ),
            row(
                C,
                BETA,
                FILING_DATE="07-APR-2025",
                PERIOD_OF_REPORT="27-MAR-2025",
                NO_SECURITIES_OWNED="0",
                DOCUMENT_TYPE="3",
            ),
            row(
                D,
                BETA,
                FILING_DATE="10-APR-2025",
                PERIOD_OF_REPORT="08-APR-2025",
                NOT_SUBJECT_SEC16="0",
                DOCUMENT_TYPE="4",
                AFF10B5ONE="0",
            ),
            row(
                E,
                ACME,
                FILING_DATE="14-APR-2025",
                PERIOD_OF_REPORT="31-DEC-2024",
                NOT_SUBJECT_SEC16="1",
                DOCUMENT_TYPE="5",
                AFF10B5ONE="0",
            ),
        ],
        "REPORTINGOWNER": [
            row(
                A,
                RPTOWNERCIK="1234567",
                RPTOWNERNAME="Capital Partners LP",
                RPTOWNER_RELATIONSHIP="Director,TenPercentOwner",
                RPTOWNER_STREET1="1 Main St",
                RPTOWNER_CITY="Springfield",
                RPTOWNER_STATE="IL",
                RPTOWNER_ZIPCODE="62701",
            ),
            row(
                A,
                RPTOWNERCIK="7654321",
                RPTOWNERNAME="Doe Jane",
                RPTOWNER_RELATIONSHIP="Officer",
                RPTOWNER_TITLE="Chief Executive Officer",
                RPTOWNER_CITY="Springfield",
            ),
            row(
                B,
                RPTOWNERCIK="7654321",
                RPTOWNERNAME="Doe Jane",
                RPTOWNER_RELATIONSHIP="Officer",
                RPTOWNER_TITLE="Chief Executive Officer",
            ),
            row(C, RPTOWNERCIK="1999999", RPTOWNERNAME="Smith John A", RPTOWNER_RELATIONSHIP="Director"),
            row(
                D,
                RPTOWNERCIK="2000001",
                RPTOWNERNAME="Müller Jörg",
                RPTOWNER_RELATIONSHIP="Director,Officer,Other",
                RPTOWNER_TITLE="President",
                RPTOWNER_TXT="Trustee of the ESOP",
            ),
            row(
                E,
                RPTOWNERCIK="3000003",
                RPTOWNERNAME="Former Insider",
                RPTOWNER_RELATIONSHIP="Other",
                RPTOWNER_TXT="Former director",
            ),
        ],
        # A's rows are written out of surrogate-key order; the SK, not the file order, is document order.
        "NONDERIV_TRANS": [
            row(
                A,
                NONDERIV_TRANS_SK="5002",
                SECURITY_TITLE="Common Stock",
                TRANS_DATE="01-APR-2025",
                TRANS_FORM_TYPE="4",
                TRANS_CODE="P",
                EQUITY_SWAP_INVOLVED="0",
                TRANS_SHARES="500.0",
                TRANS_PRICEPERSHARE_FN="F2",
                TRANS_ACQUIRED_DISP_CD="A",
                SHRS_OWND_FOLWNG_TRANS="51500.0",
                DIRECT_INDIRECT_OWNERSHIP="I",
                NATURE_OF_OWNERSHIP="By Capital Partners LP",
                NATURE_OF_OWNERSHIP_FN="F3",
            ),
            row(
                A,
                NONDERIV_TRANS_SK="5001",
                SECURITY_TITLE="Common Stock",
                TRANS_DATE="31-MAR-2025",
                TRANS_FORM_TYPE="4",
                TRANS_CODE="P",
                EQUITY_SWAP_INVOLVED="0",
                TRANS_SHARES="1000.0",
                TRANS_PRICEPERSHARE="10.12",
                TRANS_PRICEPERSHARE_FN="F1",
                TRANS_ACQUIRED_DISP_CD="A",
                SHRS_OWND_FOLWNG_TRANS="51000.0",
                DIRECT_INDIRECT_OWNERSHIP="D",
            ),
            row(
                B,
                NONDERIV_TRANS_SK="6001",
                SECURITY_TITLE="Common Stock",
                TRANS_DATE="28-MAR-2025",
                TRANS_FORM_TYPE="4",
                TRANS_CODE="S",
                EQUITY_SWAP_INVOLVED="false",
                EQUITY_SWAP_TRANS_CD_FN="F1",
                TRANS_TIMELINESS="L",
                TRANS_SHARES="250.0",
                TRANS_PRICEPERSHARE="11.5",
                TRANS_ACQUIRED_DISP_CD="D",
                SHRS_OWND_FOLWNG_TRANS="50750.0",
                DIRECT_INDIRECT_OWNERSHIP="D",
            ),
            row(
                D,
                NONDERIV_TRANS_SK="9101",
                SECURITY_TITLE='Class "A" Common Stock',
                TRANS_DATE="08-APR-2025",
                TRANS_FORM_TYPE="4",
                TRANS_CODE="M",
                EQUITY_SWAP_INVOLVED="0",
                TRANS_SHARES="2000.0",
                TRANS_PRICEPERSHARE="12.5",
                TRANS_ACQUIRED_DISP_CD="A",
                SHRS_OWND_FOLWNG_TRANS="3200.0",
                DIRECT_INDIRECT_OWNERSHIP="D",
            ),
        ],
        "NONDERIV_HOLDING": [
            row(
                C,
                NONDERIV_HOLDING_SK="7002",
                SECURITY_TITLE="Common Stock",
                SHRS_OWND_FOLWNG_TRANS="300.0",
                SHRS_OWND_FOLWNG_TRANS_FN="F1",
                DIRECT_INDIRECT_OWNERSHIP="I",
                NATURE_OF_OWNERSHIP="By spouse",
            ),
            row(
                C,
                NONDERIV_HOLDING_SK="7001",
                SECURITY_TITLE="Common Stock",
                SHRS_OWND_FOLWNG_TRANS="1200.0",
                DIRECT_INDIRECT_OWNERSHIP="D",
            ),
        ],
        "DERIV_TRANS": [
            row(
                D,
                DERIV_TRANS_SK="9001",
                SECURITY_TITLE="Stock Option (Right to Buy)",
                CONV_EXERCISE_PRICE="12.5",
                TRANS_DATE="08-APR-2025",
                TRANS_FORM_TYPE="4",
                TRANS_CODE="M",
                EQUITY_SWAP_INVOLVED="0",
                TRANS_SHARES="2000.0",
                TRANS_PRICEPERSHARE="0.0",
                TRANS_ACQUIRED_DISP_CD="D",
                EXCERCISE_DATE="15-MAR-2025",
                EXCERCISE_DATE_FN="F3, F1",
                EXPIRATION_DATE="15-MAR-2034",
                UNDLYNG_SEC_TITLE="Common Stock",
                UNDLYNG_SEC_SHARES="2000.0",
                SHRS_OWND_FOLWNG_TRANS="3000.0",
                DIRECT_INDIRECT_OWNERSHIP="D",
            ),
        ],
        "DERIV_HOLDING": [
            row(
                C,
                DERIV_HOLDING_SK="8001",
                SECURITY_TITLE="Stock Option (Right to Buy)",
                CONV_EXERCISE_PRICE="12.5",
                EXERCISE_DATE_FN="F2",
                EXPIRATION_DATE="15-MAR-2034",
                UNDLYNG_SEC_TITLE="Common Stock",
                UNDLYNG_SEC_SHARES="5000.0",
                SHRS_OWND_FOLWNG_TRANS="5000.0",
                DIRECT_INDIRECT_OWNERSHIP="D",
            ),
        ],
        "FOOTNOTES": [
            row(A, FOOTNOTE_ID="F3", FOOTNOTE_TXT="Held by Capital Partners LP."),
            row(A, FOOTNOTE_ID="F1", FOOTNOTE_TXT=WEIGHTED_F1),
            row(A, FOOTNOTE_ID="F2", FOOTNOTE_TXT="Weighted average; prices ranged from $10.30 to $10.40."),
            row(B, FOOTNOTE_ID="F1", FOOTNOTE_TXT="Sold under a Rule 10b5-1 plan adopted December 2, 2024."),
            row(C, FOOTNOTE_ID="F1", FOOTNOTE_TXT="Held by the reporting person's spouse."),
            row(C, FOOTNOTE_ID="F2", FOOTNOTE_TXT="Vests in four equal annual installments."),
            row(D, FOOTNOTE_ID="F1", FOOTNOTE_TXT="Exercisable immediately."),
            row(D, FOOTNOTE_ID="F3", FOOTNOTE_TXT="Granted under the 2020 plan."),
        ],
        "OWNER_SIGNATURE": [
            row(
                A,
                OWNERSIGNATURENAME="Capital Partners LP, by /s/ John Roe, Managing Member",
                OWNERSIGNATUREDATE="02-APR-2025",
            ),
            row(A, OWNERSIGNATURENAME="/s/ Jane Doe", OWNERSIGNATUREDATE="02-APR-2025"),
            row(B, OWNERSIGNATURENAME="/s/ Jane Doe", OWNERSIGNATUREDATE="03-APR-2025"),
            row(C, OWNERSIGNATURENAME="/s/ John A. Smith", OWNERSIGNATUREDATE="07-APR-2025"),
            row(D, OWNERSIGNATURENAME="/s/ Jörg Müller", OWNERSIGNATUREDATE="10-APR-2025"),
            row(E, OWNERSIGNATURENAME="/s/ Former Insider", OWNERSIGNATUREDATE="14-APR-2025"),
        ],
    }


def cell(value: str) -> str:
    # The SEC export CSV-quotes a cell that contains a double quote: "Class ""A"" shares".
    return '"' + value.replace('"', '""') + '"' if '"' in value else value


def tsv_text(table: str, rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    header = header or HEADERS[table]
    lines = ["\t".join(header)] + ["\t".join(cell(r.get(col, "")) for col in header) for r in rows]
    return "\n".join(lines) + "\n"


def write_dataset(
    folder: Path, tables: dict[str, list[dict[str, str]]], *, skip: tuple[str, ...] = ()
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        if table not in skip:
            (folder / f"{table}.tsv").write_text(tsv_text(table, rows), encoding="utf-8")
    return folder


def filings_and_errors(
    path: Path, summary: DatasetSummary | None = None
) -> tuple[dict[str, ParsedForm4], list[BulkRowError]]:
    filings: dict[str, ParsedForm4] = {}
    errors: list[BulkRowError] = []
    for item in iter_dataset_filings(path, summary=summary):
        if isinstance(item, BulkRowError):
            errors.append(item)
        else:
            assert item.accession is not None
            filings[item.accession] = item
    return filings, errors


def tx(table: str, index: int, **kw: object) -> ParsedTransaction:
    fields: dict[str, object] = {
        "security_title": None,
        "transaction_date": None,
        "deemed_execution_date": None,
        "form_type": None,
        "code": None,
        "acquired_disposed": None,
        "shares": None,
        "total_value": None,
        "price": None,
        "price_low": None,
        "price_high": None,
        "shares_owned_after": None,
        "value_owned_after": None,
        "direct_indirect": None,
        "nature_of_ownership": None,
        "equity_swap_involved": None,
        "timeliness": None,
    }
    return ParsedTransaction(table=table, index=index, **{**fields, **kw})  # type: ignore[arg-type]


def holding(table: str, index: int, **kw: object) -> ParsedHolding:
    fields: dict[str, object] = {
        "security_title": None,
        "shares_owned": None,
        "value_owned": None,
        "direct_indirect": None,
        "nature_of_ownership": None,
    }
    return ParsedHolding(table=table, index=index, **{**fields, **kw})  # type: ignore[arg-type]


EXPECTED_A = ParsedForm4(
    accession=A,
    accepted_at=None,
    filed_date=date(2025, 4, 2),
    document_type="4",
    schema_version=None,
    period_of_report=date(2025, 3, 31),
    date_of_original_submission=None,
    aff10b5one=False,
    not_subject_to_section16=False,
    issuer=ParsedIssuer(
        cik="0000320193", name="Acme Widgets, Inc.", trading_symbol="ACME", trading_symbol_raw="ACME"
    ),
    reporting_owners=[
        ParsedOwner(
            cik="0001234567", name="Capital Partners LP", is_director=True, is_ten_percent_owner=True
        ),
        ParsedOwner(
            cik="0007654321", name="Doe Jane", is_officer=True, officer_title="Chief Executive Officer"
        ),
    ],
    transactions=[
        tx(
            "non_derivative",
            0,
            security_title="Common Stock",
            transaction_date=date(2025, 3, 31),
            form_type="4",
            code="P",
            acquired_disposed="A",
            shares=Decimal("1000"),
            price=Decimal("10.12"),
            price_low=Decimal("10.05"),
            price_high=Decimal("10.25"),
            shares_owned_after=Decimal("51000"),
            direct_indirect="D",
            equity_swap_involved=False,
            footnotes={"price": ["F1"]},
            flags=["price_range_from_footnote"],
        ),
        # Price only in a footnote: NULL price (never 0), the unambiguous range kept as low/high.
        tx(
            "non_derivative",
            1,
            security_title="Common Stock",
            transaction_date=date(2025, 4, 1),
            form_type="4",
            code="P",
            acquired_disposed="A",
            shares=Decimal("500"),
            price=None,
            price_low=Decimal("10.30"),
            price_high=Decimal("10.40"),
            shares_owned_after=Decimal("51500"),
            direct_indirect="I",
            nature_of_ownership="By Capital Partners LP",
            equity_swap_involved=False,
            footnotes={"price": ["F2"], "nature_of_ownership": ["F3"]},
            flags=["price_range_from_footnote"],
        ),
    ],
    holdings=[],
    footnotes={
        "F1": WEIGHTED_F1,
        "F2": "Weighted average; prices ranged from $10.30 to $10.40.",
        "F3": "Held by Capital Partners LP.",
    },
    remarks="Joint filing; see Exhibit 99.",
    signatures=[
        ParsedSignature(name="Capital Partners LP, by /s/ John Roe, Managing Member", date=date(2025, 4, 2)),
        ParsedSignature(name="/s/ Jane Doe", date=date(2025, 4, 2)),
    ],
)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "2025q2_form345", base_tables())


class TestSyntheticDataset:
    def test_yields_one_filing_per_submission_row_in_file_order(self, dataset: Path) -> None:
        summary = DatasetSummary()
        items = list(iter_dataset_filings(dataset, summary=summary))
        assert [i.accession for i in items] == [A, B, C, D, E]
        assert all(isinstance(i, ParsedForm4) for i in items)
        assert summary.rows == {
            "SUBMISSION": 5,
            "REPORTINGOWNER": 6,
            "NONDERIV_TRANS": 4,
            "DERIV_TRANS": 1,
            "NONDERIV_HOLDING": 2,
            "DERIV_HOLDING": 1,
            "FOOTNOTES": 8,
            "OWNER_SIGNATURE": 6,
        }
        assert (summary.filings, summary.row_errors, summary.orphan_accessions) == (5, 0, 0)
        assert (summary.missing_files, summary.missing_columns, summary.extra_columns) == ([], {}, {})

    def test_joint_purchase_filing_matches_exactly(self, dataset: Path) -> None:
        filings, _ = filings_and_errors(dataset)
        assert filings[A] == EXPECTED_A
        # Canonical Decimals, as the XML parser stores them: the export's "1000.0" is 1000.
        assert [str(t.shares) for t in filings[A].transactions] == ["1000", "500"]

    def test_amendment_with_10b5_1_sale(self, dataset: Path) -> None:
        doc = filings_and_errors(dataset)[0][B]
        assert (doc.is_amendment, doc.base_form) == (True, "4")
        assert doc.date_of_original_submission == date(2025, 4, 1)
        assert doc.aff10b5one is True
        assert doc.not_subject_to_section16 is None  # empty cell: unknown, not False
        assert doc.issuer == ParsedIssuer(
            cik="0000320193", name="Acme Widgets, Inc.", trading_symbol=None, trading_symbol_raw="NONE"
        )
        assert doc.transactions == [
            tx(
                "non_derivative",
                0,
                security_title="Common Stock",
                transaction_date=date(2025, 3, 28),
                form_type="4",
                code="S",
                acquired_disposed="D",
                shares=Decimal("250"),
                price=Decimal("11.5"),
                shares_owned_after=Decimal("50750"),
                direct_indirect="D",
                equity_swap_involved=False,
                timeliness="L",
                footnotes={"code": ["F1"]},
            ),
        ]

    def test_holding_only_form3(self, dataset: Path) -> None:
        doc = filings_and_errors(dataset)[0][C]
        assert (doc.document_type, doc.aff10b5one, doc.transactions) == ("3", None, [])
        assert (doc.issuer.trading_symbol, doc.issuer.trading_symbol_raw) == ("ABC", "ABC.OB")
        assert doc.reporting_owners == [ParsedOwner(cik="0001999999", name="Smith John A", is_director=True)]
        assert doc.holdings == [
            holding(
                "non_derivative",
                0,
                security_title="Common Stock",
                shares_owned=Decimal("1200"),
                direct_indirect="D",
            ),
            holding(
                "non_derivative",
                1,
                security_title="Common Stock",
                shares_owned=Decimal("300"),
                direct_indirect="I",
                nature_of_ownership="By spouse",
                footnotes={"shares_owned": ["F1"]},
            ),
            holding(
                "derivative",
                0,
                security_title="Stock Option (Right to Buy)",
                shares_owned=Decimal("5000"),
                direct_indirect="D",
                conversion_or_exercise_price=Decimal("12.5"),
                expiration_date=date(2034, 3, 15),
                underlying_security_title="Common Stock",
                underlying_shares=Decimal("5000"),
                footnotes={"exercise_date": ["F2"]},
            ),
        ]

    def test_derivative_exercise_and_quoted_title(self, dataset: Path) -> None:
        doc = filings_and_errors(dataset)[0][D]
        assert doc.reporting_owners == [
            ParsedOwner(
                cik="0002000001",
                name="Müller Jörg",
                is_director=True,
                is_officer=True,
                officer_title="President",
                is_other=True,
                other_text="Trustee of the ESOP",
            )
        ]
        (deriv,) = (t for t in doc.transactions if t.table == "derivative")
        assert deriv == tx(
            "derivative",
            0,
            security_title="Stock Option (Right to Buy)",
            transaction_date=date(2025, 4, 8),
            form_type="4",
            code="M",
            acquired_disposed="D",
            shares=Decimal("2000"),
            price=Decimal("0"),
            shares_owned_after=Decimal("3000"),
            direct_indirect="D",
            equity_swap_involved=False,
            conversion_or_exercise_price=Decimal("12.5"),
            exercise_date=date(2025, 3, 15),
            expiration_date=date(2034, 3, 15),
            underlying_security_title="Common Stock",
            underlying_shares=Decimal("2000"),
            footnotes={"exercise_date": ["F1", "F3"]},
        )
        (nonderiv,) = (t for t in doc.transactions if t.table == "non_derivative")
        assert nonderiv.security_title == 'Class "A" Common Stock'
        assert (nonderiv.index, nonderiv.code, nonderiv.shares) == (0, "M", Decimal("2000"))
        assert nonderiv.price == Decimal("12.5")

    def test_not_subject_to_section16_without_rows(self, dataset: Path) -> None:
        doc = filings_and_errors(dataset)[0][E]
        assert (doc.document_type, doc.not_subject_to_section16) == ("5", True)
        assert (doc.transactions, doc.holdings, doc.footnotes) == ([], [], {})
        assert doc.reporting_owners == [
            ParsedOwner(cik="0003000003", name="Former Insider", is_other=True, other_text="Former director")
        ]

    def test_missing_optional_file_means_no_rows_of_that_kind(self, tmp_path: Path) -> None:
        folder = write_dataset(tmp_path / "q", base_tables(), skip=("DERIV_HOLDING",))
        summary = DatasetSummary()
        filings, errors = filings_and_errors(folder, summary)
        assert (errors, len(filings)) == ([], 5)
        assert summary.missing_files == ["DERIV_HOLDING.tsv"]
        assert "DERIV_HOLDING" not in summary.rows
        assert [h.table for h in filings[C].holdings] == ["non_derivative", "non_derivative"]
        assert filings[A] == EXPECTED_A

    def test_zip_gives_the_same_filings_as_the_folder(self, dataset: Path, tmp_path: Path) -> None:
        archive = tmp_path / "2025q2_form345.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(dataset.glob("*.tsv")):
                zf.write(path, f"2025q2_form345/{path.name}")  # nested folder inside the zip
        from_zip, errors = filings_and_errors(archive)
        assert errors == []
        assert from_zip == filings_and_errors(dataset)[0]
        assert from_zip[A] == EXPECTED_A

    def test_missing_submission_file_is_fatal(self, tmp_path: Path) -> None:
        folder = write_dataset(tmp_path / "q", base_tables(), skip=("SUBMISSION",))
        with pytest.raises(BulkDatasetError, match="SUBMISSION"):
            list(iter_dataset_filings(folder))

    def test_not_a_dataset_is_fatal(self, tmp_path: Path) -> None:
        bogus = tmp_path / "x.zip"
        bogus.write_bytes(b"not a zip")
        with pytest.raises(BulkDatasetError):
            list(iter_dataset_filings(bogus))


class TestTsvQuirks:
    def test_crlf_bom_and_latin1_bytes(self, tmp_path: Path) -> None:
        folder = write_dataset(tmp_path / "q", base_tables())
        for path in folder.glob("*.tsv"):
            path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        sub = folder / "SUBMISSION.tsv"
        sub.write_bytes(b"\xef\xbb\xbf" + sub.read_bytes())
        owners = folder / "REPORTINGOWNER.tsv"  # one legacy cp1252 line among UTF-8 ones
        name = "Müller Jörg"
        owners.write_bytes(owners.read_bytes().replace(name.encode(), name.encode("cp1252")))
        summary = DatasetSummary()
        filings, errors = filings_and_errors(folder, summary)
        assert (errors, summary.decode_fallback_lines) == ([], 1)
        assert filings[A] == EXPECTED_A
        assert filings[D].reporting_owners[0].name == "Müller Jörg"

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param('"Line one\nline ""two"""', id="quoted-newline"),
            pytest.param('Line one\nline "two"', id="raw-newline"),
        ],
    )
    def test_footnote_text_spanning_lines(self, tmp_path: Path, text: str) -> None:
        folder = write_dataset(tmp_path / "q", base_tables())
        footnotes = folder / "FOOTNOTES.tsv"
        footnotes.write_text(footnotes.read_text() + f"{E}\tF9\t{text}\n{E}\tF10\tAfter.\n")
        filings, errors = filings_and_errors(folder)
        assert errors == []
        assert filings[E].footnotes == {"F9": 'Line one line "two"', "F10": "After."}

    def test_bad_values_become_none_with_flags_and_located_warnings(self, tmp_path: Path) -> None:
        tables = base_tables()
        tables["NONDERIV_TRANS"][2].update(TRANS_SHARES="12O.0", TRANS_DATE="31-FOO-2025")  # B's row, line 4
        filings, errors = filings_and_errors(write_dataset(tmp_path / "q", tables))
        doc = filings[B]
        assert (doc.transactions[0].shares, doc.transactions[0].transaction_date) == (None, None)
        assert doc.transactions[0].flags == ["invalid_number:shares", "invalid_date:transaction_date"]
        assert doc.warnings == [
            "NONDERIV_TRANS.tsv line 4: shares: not a number: '12O.0'",
            "NONDERIV_TRANS.tsv line 4: transaction_date: not a date: '31-FOO-2025'",
        ]
        assert errors == []

    def test_flags_mirror_the_xml_parser(self, tmp_path: Path) -> None:
        tables = base_tables()
        tables["NONDERIV_TRANS"][2].update(
            TRANS_CODE="s", TRANS_ACQUIRED_DISP_CD="a", TRANS_DATE="2027-01-05"
        )
        (row_b,) = filings_and_errors(write_dataset(tmp_path / "q", tables))[0][B].transactions
        assert (row_b.code, row_b.acquired_disposed, row_b.transaction_date) == ("S", "A", date(2027, 1, 5))
        assert row_b.flags == ["code_direction_mismatch", "implausible_transaction_date"]

    def test_broken_rows_orphans_and_duplicates_are_reported(self, tmp_path: Path) -> None:
        tables = base_tables()
        tables["SUBMISSION"].append({**tables["SUBMISSION"][0], "REMARKS": "duplicate"})
        orphan = "0000000001-25-000001"
        tables["OWNER_SIGNATURE"].append(
            row(orphan, OWNERSIGNATURENAME="/s/ Nobody", OWNERSIGNATUREDATE="01-APR-2025")
        )
        folder = write_dataset(tmp_path / "q", tables)
        holdings = folder / "NONDERIV_HOLDING.tsv"
        holdings.write_text(holdings.read_text() + f"{C}\t7003\tCommon Stock\ttoo few fields\n")
        summary = DatasetSummary()
        filings, errors = filings_and_errors(folder, summary)
        assert errors == [
            BulkRowError("SUBMISSION", 7, A, "duplicate ACCESSION_NUMBER; first row kept"),
            BulkRowError("NONDERIV_HOLDING", 4, C, "expected 14 fields, got 4"),
            BulkRowError("SUBMISSION", None, orphan, "rows in OWNER_SIGNATURE (1) but no SUBMISSION row"),
        ]
        assert (summary.filings, summary.row_errors, summary.orphan_accessions) == (5, 3, 1)
        # The filings that lost a row say so; everything else about them is intact.
        assert filings[A].warnings == [
            "row dropped: SUBMISSION.tsv line 7: duplicate ACCESSION_NUMBER; first row kept"
        ]
        assert filings[C].warnings == ["row dropped: NONDERIV_HOLDING.tsv line 4: expected 14 fields, got 4"]
        assert len(filings[C].holdings) == 3

    def test_unusable_submission_row_is_an_error_not_a_filing(self, tmp_path: Path) -> None:
        tables = base_tables()
        tables["SUBMISSION"][4]["ISSUERCIK"] = "ACME"
        filings, errors = filings_and_errors(write_dataset(tmp_path / "q", tables))
        assert list(filings) == [A, B, C, D]
        assert [(e.table, e.line, e.accession) for e in errors] == [("SUBMISSION", 6, E)]

    def test_older_layouts_and_alias_spellings(self, tmp_path: Path) -> None:
        # Before 2023 SUBMISSION has no AFF10B5ONE; the metadata JSON spells EQUITY_SWAP_INVOLVED_FN.
        tables = base_tables()
        folder = write_dataset(tmp_path / "q", tables)
        sub_header = [c for c in HEADERS["SUBMISSION"] if c != "AFF10B5ONE"]
        (folder / "SUBMISSION.tsv").write_text(tsv_text("SUBMISSION", tables["SUBMISSION"], sub_header))
        alias = {"EQUITY_SWAP_TRANS_CD_FN": "EQUITY_SWAP_INVOLVED_FN"}
        nd_header = [alias.get(c, c) for c in HEADERS["NONDERIV_TRANS"]]
        nd_rows = [{alias.get(k, k): v for k, v in r.items()} for r in tables["NONDERIV_TRANS"]]
        (folder / "NONDERIV_TRANS.tsv").write_text(tsv_text("NONDERIV_TRANS", nd_rows, nd_header))
        summary = DatasetSummary()
        filings, errors = filings_and_errors(folder, summary)
        assert errors == []
        assert {f.aff10b5one for f in filings.values()} == {None}
        assert filings[B].transactions[0].footnotes == {"code": ["F1"]}
        assert summary.missing_columns == {"SUBMISSION": ["AFF10B5ONE"]}

    def test_iso_dates_are_tolerated(self, tmp_path: Path) -> None:
        tables = base_tables()
        tables["SUBMISSION"][0].update(FILING_DATE="2025-04-02", PERIOD_OF_REPORT="2025-03-31")
        assert filings_and_errors(write_dataset(tmp_path / "q", tables))[0][A] == EXPECTED_A

    def test_dates_at_the_end_of_the_calendar_do_not_crash(self, tmp_path: Path) -> None:
        # A period of 9999-12-31 puts the plausibility bound (period + 1 year) past date.max.
        tables = base_tables()
        tables["SUBMISSION"][0].update(FILING_DATE="31-DEC-9999", PERIOD_OF_REPORT="31-DEC-9999")
        filings, errors = filings_and_errors(write_dataset(tmp_path / "q", tables))
        assert filings[A].period_of_report == date(9999, 12, 31)
        assert [t.transaction_date for t in filings[A].transactions] == [
            t.transaction_date for t in EXPECTED_A.transactions
        ]


class TestKnownAtEstimate:
    @pytest.mark.parametrize(
        ("filed", "expected"),
        [
            pytest.param(date(2025, 3, 31), datetime(2025, 4, 1, 2, 0, tzinfo=UTC), id="EDT"),
            pytest.param(date(2025, 1, 15), datetime(2025, 1, 16, 3, 0, tzinfo=UTC), id="EST"),
        ],
    )
    def test_is_22_00_new_york_time_in_utc(self, filed: date, expected: datetime) -> None:
        assert known_at_estimate(filed) == expected


# --- real partial data sets (edgar-samples/bulk: no SUBMISSION, REPORTINGOWNER or NONDERIV_TRANS) ------

REAL_FILES = [
    ("2006q1_form345", "NONDERIV_HOLDING"),
    ("2024q4_form345", "DERIV_HOLDING"),
    ("2024q4_form345", "DERIV_TRANS"),
    ("2024q4_form345", "NONDERIV_HOLDING"),
    ("2024q4_form345", "OWNER_SIGNATURE"),
    ("2025q2_form345", "DERIV_HOLDING"),
    ("2025q2_form345", "NONDERIV_HOLDING"),
]
REAL_2024Q4 = ("DERIV_HOLDING", "DERIV_TRANS", "NONDERIV_HOLDING", "OWNER_SIGNATURE")


def line_count(path: Path) -> int:
    """Data rows by a plain newline count (the real files hold no embedded newlines)."""
    return path.read_bytes().count(b"\n") - 1


def first_column(path: Path) -> list[str]:
    return [line.split(b"\t", 1)[0].decode() for line in path.read_bytes().splitlines()[1:]]


def sec_date(day: date | None) -> str:
    months = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
    return f"{day.day:02d}-{months[day.month - 1]}-{day.year}" if day else ""


def link_real_tables(real: Path, folder: Path) -> Path:
    """A data-set folder whose tables are the real files, used in place (never copied)."""
    folder.mkdir()
    for table in REAL_2024Q4:
        (folder / f"{table}.tsv").symlink_to(real / f"{table}.tsv")
    return folder


class TestRealPartialFiles:
    @pytest.mark.parametrize(("quarter", "table"), [pytest.param(q, t, id=f"{q}-{t}") for q, t in REAL_FILES])
    def test_every_row_reads_with_its_header(self, samples_dir: Path, quarter: str, table: str) -> None:
        path = samples_dir / "bulk" / quarter
        rows = list(iter_table(path, table))
        assert not [r for r in rows if isinstance(r, BulkRowError)]
        assert len(rows) == line_count(path / f"{table}.tsv")

    def test_spot_checked_rows(self, samples_dir: Path) -> None:
        q2006 = {
            (r["ACCESSION_NUMBER"], r["NONDERIV_HOLDING_SK"]): r
            for r in iter_table(samples_dir / "bulk" / "2006q1_form345", "NONDERIV_HOLDING")
            if isinstance(r, dict)
        }
        # A CSV-quoted cell cut at 100 characters by the export, so its last quote is the closing one.
        assert q2006[("0001020569-06-000003", "1797839")]["NATURE_OF_OWNERSHIP"] == (
            "Shares held in the Carla E. Meyer Three-Year Annuity Trust, dated August 4, 2003 "
            '("Meyer 2003 Trust"'
        )
        assert q2006[("0000902664-06-000202", "1817155")]["NATURE_OF_OWNERSHIP_FN"] == "F1, F2"
        signatures = [
            r
            for r in iter_table(samples_dir / "bulk" / "2024q4_form345", "OWNER_SIGNATURE")
            if isinstance(r, dict) and r["ACCESSION_NUMBER"] == "0001437749-24-037480"
        ]
        assert signatures == [
            {
                "ACCESSION_NUMBER": "0001437749-24-037480",
                "OWNERSIGNATURENAME": '/s/ Katayoun ("Katy") Motiey',
                "OWNERSIGNATUREDATE": "13-DEC-2024",
            }
        ]

    def test_filings_assembled_from_real_tables(self, samples_dir: Path, tmp_path: Path) -> None:
        real = samples_dir / "bulk" / "2024q4_form345"
        folder = link_real_tables(real, tmp_path / "2024q4_form345")
        picked = [
            "0001828108-24-000143",
            "0001140361-24-050723",
            "0000912282-24-000951",
            "0001493152-24-052783",
        ]
        (folder / "SUBMISSION.tsv").write_text(
            tsv_text(
                "SUBMISSION",
                [row(a, FILING_DATE="31-DEC-2024", DOCUMENT_TYPE="4", ISSUERCIK="1828108") for a in picked],
            )
        )
        summary = DatasetSummary()
        filings, errors = filings_and_errors(folder, summary)
        assert list(filings) == picked

        # Independent counts: plain first-column tallies over the raw files.
        columns = {t: first_column(real / f"{t}.tsv") for t in REAL_2024Q4}
        for acc, doc in filings.items():
            counts = {
                "DERIV_TRANS": sum(t.table == "derivative" for t in doc.transactions),
                "DERIV_HOLDING": sum(h.table == "derivative" for h in doc.holdings),
                "NONDERIV_HOLDING": sum(h.table == "non_derivative" for h in doc.holdings),
                "OWNER_SIGNATURE": len(doc.signatures),
            }
            assert counts == {t: columns[t].count(acc) for t in counts}, acc
        others = set().union(*columns.values()) - set(picked)
        assert summary.orphan_accessions == len(others) == len(errors)
        assert summary.rows == {"SUBMISSION": 4, **{t: len(c) for t, c in columns.items()}}

        # Checked by hand against the rows (SK order, not file order) and the filing's XML.
        aur = filings["0001828108-24-000143"]
        assert [(h.table, h.index, h.shares_owned) for h in aur.holdings] == [
            ("non_derivative", 0, Decimal("1000000")),
            ("non_derivative", 1, Decimal("6883086")),
            ("non_derivative", 2, Decimal("674719")),
            ("non_derivative", 3, Decimal("286247")),
            ("derivative", 0, Decimal("782088")),
        ]
        assert [(t.code, t.shares, t.footnotes["nature_of_ownership"]) for t in aur.transactions] == [
            ("C", Decimal("6343637"), ["F2", "F3"]),
            ("C", Decimal("352425"), ["F2", "F4"]),
            ("C", Decimal("352425"), ["F2", "F5"]),
        ]
        option = filings["0001140361-24-050723"].transactions
        assert [
            (t.transaction_date, t.conversion_or_exercise_price, t.shares_owned_after) for t in option
        ] == [
            (date(2024, 12, 27), Decimal("3.85"), Decimal("11976234")),
            (date(2024, 12, 30), Decimal("3.85"), Decimal("11726234")),
        ]
        assert option[0].expiration_date == date(2032, 4, 19)
        assert option[0].footnotes == {"exercise_date": ["F2"]}

    def test_matches_the_xml_parser_on_accessions_in_both(self, samples_dir: Path, tmp_path: Path) -> None:
        """The data set as an oracle (protocol §6.4): the same rows as parsing each filing's own XML."""
        real = samples_dir / "bulk" / "2024q4_form345"
        in_bulk = set().union(*(first_column(real / f"{t}.tsv") for t in REAL_2024Q4[:3]))
        xml_paths = {p.stem: p for p in (samples_dir / "form4").glob("*.xml") if p.stem in in_bulk}
        assert len(xml_paths) == 11
        parsed = {acc: parse(path.read_bytes(), accession=acc) for acc, path in sorted(xml_paths.items())}
        folder = link_real_tables(real, tmp_path / "q")
        (folder / "SUBMISSION.tsv").write_text(
            tsv_text(
                "SUBMISSION",
                [
                    row(
                        acc,
                        DOCUMENT_TYPE=doc.document_type,
                        ISSUERCIK=doc.issuer.cik,
                        PERIOD_OF_REPORT=sec_date(doc.period_of_report),
                    )
                    for acc, doc in parsed.items()
                ],
            )
        )
        bulk = filings_and_errors(folder)[0]

        def comparable(r: ParsedTransaction | ParsedHolding) -> dict[str, object]:
            # The data sets store NUMBER(16,2), rounded half-up: 201.785 in the XML is 201.79 there.
            return {
                k: v.quantize(Decimal("0.01"), ROUND_HALF_UP) if isinstance(v, Decimal) else v
                for k, v in asdict(r).items()
            }

        rounded = 0
        for acc, xml_doc in parsed.items():
            ours = bulk[acc]
            theirs_tx = [t for t in xml_doc.transactions if t.table == "derivative"]  # no NONDERIV_TRANS here
            assert [comparable(t) for t in ours.transactions] == [comparable(t) for t in theirs_tx], acc
            assert [comparable(h) for h in ours.holdings] == [comparable(h) for h in xml_doc.holdings], acc
            assert ours.signatures == xml_doc.signatures, acc
            rounded += sum(a != b for a, b in zip(ours.transactions, theirs_tx, strict=True))
        # 0001062993-24-020387 filed 201.785 RSUs (201.79 here), 0001062993-24-020617 28.593 (28.59).
        assert rounded == 2

"""Full-submission envelopes: SGML header fields, the ownership <XML> body, and SEC error bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.ingest import sgml
from app.ingest.form4_parser import parse
from app.schemas.form4 import Form4ParseError
from tests.conftest import FIXTURES_DIR

FORM4_FIXTURES = FIXTURES_DIR / "form4"

CLASSIC_HEADER = b"""<SEC-DOCUMENT>0001999999-25-000123.txt : 20250114
<SEC-HEADER>0001999999-25-000123.hdr.sgml : 20250114
<ACCEPTANCE-DATETIME>20250114163012
ACCESSION NUMBER:\t\t0001999999-25-000123
CONFORMED SUBMISSION TYPE:\t4
PUBLIC DOCUMENT COUNT:\t\t1
CONFORMED PERIOD OF REPORT:\t20250110
FILED AS OF DATE:\t\t20250111
DATE AS OF CHANGE:\t\t20250114

REPORTING-OWNER:

\tOWNER DATA:
\t\tCOMPANY CONFORMED NAME:\t\t\tMORALES JAVIER
\t\tCENTRAL INDEX KEY:\t\t\t0001100007

ISSUER:

\tCOMPANY DATA:
\t\tCOMPANY CONFORMED NAME:\t\t\tCinder Labs Inc
\t\tCENTRAL INDEX KEY:\t\t\t0001666777
\t\tSTANDARD INDUSTRIAL CLASSIFICATION:\tSERVICES-PREPACKAGED SOFTWARE [7372]
</SEC-HEADER>
"""


def document(body: bytes, doc_type: bytes = b"4", sequence: int = 1) -> bytes:
    return (
        b"<DOCUMENT>\n<TYPE>"
        + doc_type
        + b"\n<SEQUENCE>%d\n<FILENAME>form4.xml\n<TEXT>\n<XML>\n" % sequence
        + body
        + b"\n</XML>\n</TEXT>\n</DOCUMENT>\n"
    )


def submission(*documents: bytes, header: bytes = CLASSIC_HEADER) -> bytes:
    return header + b"".join(documents) + b"</SEC-DOCUMENT>\n"


def fixture(name: str) -> bytes:
    return (FORM4_FIXTURES / name).read_bytes()


class TestHeader:
    def test_classic_header_fields(self) -> None:
        header = sgml.parse_header(submission(document(fixture("implausible_dates.xml"))))
        assert header.accession == "0001999999-25-000123"
        assert header.form_type == "4"
        assert header.filed_date == date(2025, 1, 11)
        assert header.period_of_report == date(2025, 1, 10)
        # 16:30:12 EST (UTC-5) on 2025-01-14.
        assert header.accepted_at == datetime(2025, 1, 14, 21, 30, 12, tzinfo=UTC)

    def test_compact_nc_header_on_one_line(self) -> None:
        data = (
            b"<SUBMISSION>\n<ACCESSION-NUMBER>0001127602-25-004598<TYPE>4<PUBLIC-DOCUMENT-COUNT>1"
            b"<PERIOD>20250212<FILING-DATE>20250213<DATE-OF-FILING-DATE-CHANGE>20250213<REPORTING-OWNER>"
            b"<OWNER-DATA><CONFORMED-NAME>X<CIK>0001870985</OWNER-DATA></REPORTING-OWNER>"
            b"<DOCUMENT><TYPE>4<SEQUENCE>1<TEXT><XML>"
            + fixture("open_market_purchase.xml")
            + b"</XML></TEXT></DOCUMENT></SUBMISSION>"
        )
        header, xml = sgml.split_submission(data)
        assert header.accession == "0001127602-25-004598"
        assert header.form_type == "4"
        assert header.filed_date == date(2025, 2, 13)
        assert header.period_of_report == date(2025, 2, 12)
        assert header.accepted_at is None
        assert xml == fixture("open_market_purchase.xml").strip()

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            pytest.param("20250110160730", datetime(2025, 1, 10, 21, 7, 30, tzinfo=UTC), id="winter-EST"),
            pytest.param("20220506183057", datetime(2022, 5, 6, 22, 30, 57, tzinfo=UTC), id="summer-EDT"),
            pytest.param("20240310023000", datetime(2024, 3, 10, 7, 30, tzinfo=UTC), id="spring-forward-gap"),
        ],
    )
    def test_acceptance_time_is_eastern_wall_clock(self, raw: str, expected: datetime) -> None:
        accepted = sgml.parse_acceptance_datetime(raw)
        assert accepted == expected
        assert accepted.tzinfo is UTC

    @pytest.mark.parametrize("raw", ["2025011016073", "2025-01-10 16:07", "20251310160730"])
    def test_bad_acceptance_time_raises(self, raw: str) -> None:
        with pytest.raises(ValueError, match=r"YYYYMMDDHHMMSS|month"):
            sgml.parse_acceptance_datetime(raw)

    def test_acceptance_time_past_the_last_utc_datetime_raises_value_error(self) -> None:
        # 9999-12-31 23:00 in New York is in year 10000 in UTC: OverflowError escaped the parser.
        with pytest.raises(ValueError, match="out of range"):
            sgml.parse_acceptance_datetime("99991231230000")

    def test_bad_acceptance_time_in_header_is_a_warning(self) -> None:
        warnings: list[str] = []
        header = sgml.parse_header(CLASSIC_HEADER.replace(b"20250114163012", b"20251314163012"), warnings)
        assert header.accepted_at is None
        assert warnings
        assert "ACCEPTANCE-DATETIME" in warnings[0]


class TestOwnershipBody:
    def test_parse_accepts_a_full_submission(self) -> None:
        doc = parse(submission(document(fixture("implausible_dates.xml"))))
        assert doc.accession == "0001999999-25-000123"
        assert doc.accepted_at == datetime(2025, 1, 14, 21, 30, 12, tzinfo=UTC)
        assert doc.filed_date == date(2025, 1, 11)
        assert doc.xml.startswith(b"<?xml")

    def test_trade_after_the_filing_is_flagged(self) -> None:
        doc = parse(submission(document(fixture("implausible_dates.xml"))))
        # Accepted 2025-01-14, so a 2025-01-13 trade is fine; bare XML knows no filing date at all.
        assert doc.transactions[2].flags == []
        late = parse(
            submission(
                document(fixture("implausible_dates.xml")),
                header=CLASSIC_HEADER.replace(b"20250114163012", b"20250111163012"),
            )
        )
        assert late.transactions[2].flags == ["implausible_transaction_date"]

    def test_given_accession_kept_when_header_disagrees(self) -> None:
        doc = parse(
            submission(document(fixture("open_market_purchase.xml"))), accession="0000000000-00-000001"
        )
        assert doc.accession == "0000000000-00-000001"
        assert any("SGML header says" in w for w in doc.warnings)

    def test_header_form_type_fills_a_missing_document_type(self) -> None:
        body = fixture("open_market_purchase.xml").replace(b"<documentType>4</documentType>", b"")
        doc = parse(submission(document(body)))
        assert doc.document_type == "4"
        assert any("documentType missing" in w for w in doc.warnings)

    def test_non_ownership_xml_parts_are_skipped(self) -> None:
        exhibit = document(b"<?xml version='1.0'?><exhibit>power of attorney</exhibit>", b"EX-24", 2)
        doc = parse(submission(document(fixture("sale_10b5_1.xml")), exhibit))
        assert doc.issuer.trading_symbol == "TDRB"

    def test_indented_envelope(self) -> None:
        data = b"    " + submission(document(b"            " + fixture("open_market_purchase.xml")))
        assert sgml.is_submission(data)
        assert parse(data).issuer.cik == "0001234567"


class TestRejectedSubmissions:
    def test_several_ownership_documents(self) -> None:
        data = submission(
            document(fixture("open_market_purchase.xml")), document(fixture("sale_10b5_1.xml"), sequence=2)
        )
        with pytest.raises(Form4ParseError, match="2 ownership <XML> documents"):
            parse(data)

    def test_header_only(self) -> None:
        with pytest.raises(Form4ParseError, match="header only"):
            parse(submission())

    def test_no_ownership_document_in_xml_blocks(self) -> None:
        data = submission(document(b"<?xml version='1.0'?><edgarSubmission/>", b"144"))
        with pytest.raises(Form4ParseError, match="no ownershipDocument"):
            parse(data)

    def test_unterminated_xml_block(self) -> None:
        data = CLASSIC_HEADER + b"<DOCUMENT>\n<TEXT>\n<XML>\n" + fixture("open_market_purchase.xml")[:500]
        with pytest.raises(Form4ParseError, match="without </XML>"):
            parse(data)

    def test_pre_xml_plain_text_form(self) -> None:
        header = CLASSIC_HEADER.replace(b"FILED AS OF DATE:\t\t20250111", b"FILED AS OF DATE:\t\t20000314")
        text = (
            b"<DOCUMENT>\n<TYPE>4\n<TEXT>\nFORM 4\nSTATEMENT OF CHANGES IN BENEFICIAL OWNERSHIP\n"
            b"</TEXT>\n</DOCUMENT>\n"
        )
        with pytest.raises(Form4ParseError, match=r"pre-XML plain-text Form 4 \(filed 2000-03-14\)"):
            parse(submission(text, header=header))

    def test_real_plain_text_form_from_2000(self, samples_dir: Path) -> None:
        data = (samples_dir / "submissions" / "0001094891-00-000193.txt").read_bytes()
        with pytest.raises(Form4ParseError, match="pre-XML plain-text Form 4"):
            parse(data)


class TestErrorPages:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            pytest.param(
                b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                b'<html xmlns="http://www.w3.org/1999/xhtml">\n<head>\n'
                b"<title>SEC.gov | Request Rate Threshold Exceeded</title></head><body>"
                b"<h1>Your Request Originates from an Undeclared Automated Tool</h1></body></html>",
                "Undeclared Automated Tool",
                id="undeclared-tool",
            ),
            pytest.param(
                b"<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head>"
                b"<body>Please wait 10 minutes.</body></html>",
                "Request Rate Threshold Exceeded",
                id="rate-limit",
            ),
            pytest.param(
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                b"<Message>The specified key does not exist.</Message></Error>",
                "NoSuchKey",
                id="s3-no-such-key",
            ),
            pytest.param(
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code></Error>',
                r"code AccessDenied",
                id="s3-other",
            ),
            pytest.param(
                b"<!DOCTYPE html><html><head><title>Page Not Found</title></head></html>",
                "HTML page instead of an ownership document",
                id="html-404",
            ),
        ],
    )
    def test_error_page_rejected_with_reason(self, body: bytes, reason: str) -> None:
        assert sgml.sniff_error_page(body) is not None
        with pytest.raises(Form4ParseError, match=reason):
            parse(body)

    def test_ownership_xml_is_not_an_error_page(self) -> None:
        assert sgml.sniff_error_page(fixture("open_market_purchase.xml")) is None


class TestRealSubmissions:
    def test_classic_submission(self, samples_dir: Path) -> None:
        doc = parse((samples_dir / "submissions" / "0000320193-22-000061.txt").read_bytes())
        assert doc.accession == "0000320193-22-000061"
        assert doc.accepted_at == datetime(2022, 5, 6, 22, 30, 57, tzinfo=UTC)
        assert doc.filed_date == date(2022, 5, 6)
        assert doc.issuer.cik == "0000320193"
        assert len(doc.transactions) == 7

    def test_compact_submission(self, samples_dir: Path) -> None:
        doc = parse((samples_dir / "submissions" / "0001127602-25-004598.nc.txt").read_bytes())
        assert doc.accession == "0001127602-25-004598"
        assert doc.accepted_at is None
        assert doc.filed_date == date(2025, 2, 13)
        assert [t.code for t in doc.transactions] == ["A", "F"]

    def test_header_only_sample(self, samples_dir: Path) -> None:
        data = (samples_dir / "submissions" / "0001140361-23-028639.header-only.txt").read_bytes()
        with pytest.raises(Form4ParseError, match="header only"):
            parse(data)

"""Daily index parsing on the real form.20200318.idx, on layout variants, and fetching through the server."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.config import Settings
from app.ingest.daily_index import (
    IndexEntry,
    IndexFormatError,
    fetch_daily_index,
    form4_accessions,
    parse_form_index,
)
from app.ingest.sec_client import EdgarClient
from tests.edgar_server import EdgarServer, layout_samples

HEADER_2020 = """Description:           Daily Index of EDGAR Dissemination Feed by Form Type
Last Data Received:    Mar 18, 2020
Comments:              webmaster@sec.gov
Anonymous FTP:         ftp://ftp.sec.gov/edgar/
 
 
Form Type   Company Name                                                  CIK         Date Filed  File Name
---------------------------------------------------------------------------------------------------------------------------------------------
"""  # noqa: W291, W293 (EDGAR's header carries lines holding one space)

# 2026 layout: a 17-wide form column, an extra header line and a wrapped column-title line (protocol §2.1).
INDEX_2026 = """Description:           Daily Index of EDGAR Dissemination Feed by Form Type
Last Data Received:    Oct 06, 2026
Comments:              webmaster@sec.gov
Anonymous FTP:         ftp://ftp.sec.gov/edgar/
Cloud HTTP:            https://www.sec.gov/Archives/

Form Type        Company Name                                                  CIK
         Date Filed  File Name
--------------------------------------------------------------------------------------------------------------------------------------------------
4                AFLAC INC                                                     4977        20261006    edgar/data/4977/0001209191-26-050001.txt         
4                Lake Daniel P                                                 1823456     20261006    edgar/data/1823456/0001209191-26-050001.txt      
4/A              BANK OF AMERICA CORP /DE/                                     70858       20261006    edgar/data/70858/0000070858-26-000123.txt        
1-A POS          Belpointe REIT, Inc.                                          1749817     20261006    edgar/data/1749817/0001010549-26-000033.txt      
"""  # noqa: E501, W291 (real column widths and trailing spaces)

# An older, narrower layout: 10-wide form column, 40-wide company column, ISO dates.
INDEX_NARROW = """Description:           Daily Index of EDGAR Dissemination Feed by Form Type
Last Data Received:    Mar 3, 1998

Form Type Company Name                            CIK       Date Filed File Name
-----------------------------------------------------------------------------------------------
4         SMITH  JOHN  Q                          912345    1998-03-03 edgar/data/912345/0000912345-98-000001.txt
10-K405   ACME DYNAMITE CO                        1234      1998-03-03 edgar/data/1234/0000950109-98-001234.txt
SC 13D/A  FUND 2000 PARTNERS L P                  1045678   1998-03-03 edgar/data/1045678/0001045678-98-000002.txt
"""  # noqa: E501

# company.idx: Company Name before Form Type, wrapped header (real 2022 layout).
INDEX_COMPANY_FIRST = """Description:           Daily Index of EDGAR Dissemination Feed by Company Name
Last Data Received:    Oct  3, 2022

Company Name                                                  Form Type   CIK
      Date Filed  File Name
-------------------------------------------------------------------------------------------------------------------------------------------------
1st stREIT Office Inc.                                        1-A POS     1700461     20221003    edgar/data/1700461/0001104659-22-105357.txt         
ABERNATHY ROBERT E                                            4           1222888     20221003    edgar/data/1222888/0001127602-22-023172.txt         
"""  # noqa: E501, W291

INDEX_MASTER = """Description:           Master Index of EDGAR Dissemination Feed
Last Data Received:    May 5, 2025

CIK|Company Name|Form Type|Date Filed|File Name
--------------------------------------------------------------------------------
320193|Apple Inc.|8-K|20250505|edgar/data/320193/0000320193-25-000055.txt
1214156|Levinson Arthur D|4|2025-05-05|edgar/data/1214156/0000320193-25-000056.txt
"""


def row(form: str, company: str, cik: int, acc: str, widths: tuple[int, int] = (12, 62)) -> str:
    return (
        f"{form:<{widths[0]}}{company:<{widths[1]}}{cik:<12}20200318    edgar/data/{cik}/{acc}.txt         "
    )


@pytest.fixture(scope="module")
def entries(samples_dir: Path) -> list[IndexEntry]:
    return parse_form_index((samples_dir / "index" / "form.20200318.idx").read_text(encoding="latin-1"))


class TestRealIndex:
    def test_every_row_is_parsed(self, entries: list[IndexEntry], samples_dir: Path) -> None:
        lines = (samples_dir / "index" / "form.20200318.idx").read_text(encoding="latin-1").splitlines()
        data_lines = lines[[i for i, line in enumerate(lines) if line.startswith("-----")][0] + 1 :]
        assert len(entries) == len([line for line in data_lines if line.strip()]) == 4084

    def test_form4_rows_and_distinct_accessions(self, entries: list[IndexEntry]) -> None:
        form4_rows = [e for e in entries if e.form_type == "4"]
        assert len(form4_rows) == 2040
        assert len({e.accession for e in form4_rows}) == 974
        assert len(form4_accessions(entries, forms=("4",))) == 974
        assert len([e for e in entries if e.form_type == "4/A"]) == 34

    def test_default_forms_are_4_and_4a_deduplicated(self, entries: list[IndexEntry]) -> None:
        picked = form4_accessions(entries)
        assert {e.form_type for e in picked} == {"4", "4/A"}
        assert len(picked) == len({e.accession for e in picked}) == 991

    def test_row_fields(self, entries: list[IndexEntry]) -> None:
        arena = next(e for e in entries if e.accession == "0001209191-20-019882")
        assert arena == IndexEntry(
            form_type="4/A",
            company_name="ARENA PHARMACEUTICALS INC",
            cik="0001080709",
            date_filed=date(2020, 3, 18),
            file_name="edgar/data/1080709/0001209191-20-019882.txt",
            accession="0001209191-20-019882",
        )
        belpointe = next(e for e in entries if e.cik == "0001749817")
        assert (belpointe.form_type, belpointe.company_name) == ("1-A POS", "Belpointe REIT, Inc.")

    def test_prefix_forms_are_not_form_4(self, entries: list[IndexEntry]) -> None:
        forms = {e.form_type for e in form4_accessions(entries)}
        assert {"40-APP", "424B2", "40-F"} & {e.form_type for e in entries}
        assert not forms - {"4", "4/A"}


class TestLayouts:
    def test_2026_wide_form_column_and_wrapped_header(self) -> None:
        entries = parse_form_index(INDEX_2026)
        assert [(e.form_type, e.company_name, e.cik) for e in entries] == [
            ("4", "AFLAC INC", "0000004977"),
            ("4", "Lake Daniel P", "0001823456"),
            ("4/A", "BANK OF AMERICA CORP /DE/", "0000070858"),
            ("1-A POS", "Belpointe REIT, Inc.", "0001749817"),
        ]
        assert [e.accession for e in form4_accessions(entries)] == [
            "0001209191-26-050001",
            "0000070858-26-000123",
        ]

    def test_older_narrow_layout_with_iso_dates(self) -> None:
        entries = parse_form_index(INDEX_NARROW)
        assert [(e.form_type, e.company_name) for e in entries] == [
            ("4", "SMITH  JOHN  Q"),  # double spaces inside a name stay in the name
            ("10-K405", "ACME DYNAMITE CO"),
            ("SC 13D/A", "FUND 2000 PARTNERS L P"),
        ]
        assert entries[0].date_filed == date(1998, 3, 3)

    def test_company_first_layout(self) -> None:
        entries = parse_form_index(INDEX_COMPANY_FIRST)
        assert [(e.form_type, e.company_name, e.accession) for e in entries] == [
            ("1-A POS", "1st stREIT Office Inc.", "0001104659-22-105357"),
            ("4", "ABERNATHY ROBERT E", "0001127602-22-023172"),
        ]

    def test_master_pipe_layout(self) -> None:
        entries = parse_form_index(INDEX_MASTER)
        assert [(e.form_type, e.company_name, e.cik, e.date_filed) for e in entries] == [
            ("8-K", "Apple Inc.", "0000320193", date(2025, 5, 5)),
            ("4", "Levinson Arthur D", "0001214156", date(2025, 5, 5)),
        ]

    def test_form_type_filling_its_column_falls_back_to_header_offsets(self) -> None:
        # "SC 14D9/A" + two more chars fill the 12-wide column: only one space before the company name.
        text = HEADER_2020 + row("SC 14D9C/AX", "TARGET CO", 1111, "0001111111-20-000001") + "\n"
        (entry,) = parse_form_index(text)
        assert (entry.form_type, entry.company_name) == ("SC 14D9C/AX", "TARGET CO")

    def test_crlf_line_endings_and_trailing_blank_lines(self) -> None:
        text = (HEADER_2020 + row("4", "AAR CORP", 1750, "0001127602-20-011233") + "\n\n\n").replace(
            "\n", "\r\n"
        )
        (entry,) = parse_form_index(text)
        assert (entry.form_type, entry.company_name, entry.cik) == ("4", "AAR CORP", "0000001750")

    def test_malformed_row_is_skipped_not_fatal(self, caplog: pytest.LogCaptureFixture) -> None:
        text = (
            HEADER_2020
            + "4           BROKEN ROW WITHOUT COLUMNS\n"
            + row("4", "AAR CORP", 1750, "0001127602-20-011233")
        )
        assert [e.company_name for e in parse_form_index(text)] == ["AAR CORP"]
        assert "skipped" in caplog.text

    def test_real_empty_day_has_no_rows(self, samples_dir: Path) -> None:
        assert parse_form_index((samples_dir / "index" / "edgartools_empty-form.idx").read_text()) == []

    def test_text_without_separator_is_rejected(self) -> None:
        with pytest.raises(IndexFormatError):
            parse_form_index("<html><body>Not Found</body></html>")


class TestForm4Accessions:
    def test_exact_form_match_and_first_occurrence_wins(self) -> None:
        text = HEADER_2020 + "\n".join(
            [
                row("4", "ISSUER INC", 100, "0000000001-20-000001"),
                row("4", "OWNER JANE", 200, "0000000001-20-000001"),
                row("40-F", "CANADA CO", 300, "0000000003-20-000003"),
                row("424B2", "BANK", 400, "0000000004-20-000004"),
                row("4/A", "OWNER JOE", 500, "0000000005-20-000005"),
                row("4", "OWNER JILL", 600, "0000000006-20-000006"),
            ]
        )
        picked = form4_accessions(parse_form_index(text))
        assert [(e.accession, e.company_name) for e in picked] == [
            ("0000000001-20-000001", "ISSUER INC"),
            ("0000000005-20-000005", "OWNER JOE"),
            ("0000000006-20-000006", "OWNER JILL"),
        ]


class TestFetch:
    def test_fetches_the_day_from_its_quarter_folder(
        self, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path
    ) -> None:
        layout_samples(edgar_server.root, samples_dir, only=["daily"])
        with EdgarClient(edgar_settings) as client:
            entries = fetch_daily_index(client, date(2020, 3, 18))
        assert entries is not None
        assert len(form4_accessions(entries, forms=("4",))) == 974
        assert edgar_server.paths() == ["/Archives/edgar/daily-index/2020/QTR1/form.20200318.idx"]

    def test_missing_day_is_none(self, edgar_server: EdgarServer, edgar_settings: Settings) -> None:
        with EdgarClient(edgar_settings) as client:
            assert fetch_daily_index(client, date(2020, 3, 21)) is None  # a Saturday
        assert edgar_server.paths() == ["/Archives/edgar/daily-index/2020/QTR1/form.20200321.idx"]

    def test_small_error_page_for_a_missing_day_is_none(
        self, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        edgar_server.put_daily_index(
            date(2024, 1, 1), "<?xml version='1.0'?><Error><Code>NoSuchKey</Code></Error>"
        )
        with EdgarClient(edgar_settings) as client:
            assert fetch_daily_index(client, date(2024, 1, 1)) is None

    def test_company_index_kind(
        self, edgar_server: EdgarServer, edgar_settings: Settings, samples_dir: Path
    ) -> None:
        layout_samples(edgar_server.root, samples_dir, only=["daily"])
        with EdgarClient(edgar_settings) as client:
            entries = fetch_daily_index(client, date(2022, 10, 3), kind="company")
        assert entries is not None
        assert any(e.company_name == "ABERNATHY ROBERT E" and e.form_type == "4" for e in entries)

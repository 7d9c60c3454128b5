"""Hostile and broken XML: every case ends in a clear Form4ParseError (or a recorded repair), quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.ingest import safe_xml
from app.ingest.form4_parser import parse
from app.schemas.form4 import Form4ParseError

SIMPLE = b'<?xml version="1.0"?><ownershipDocument><remarks>ok</remarks></ownershipDocument>'

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ownershipDocument><remarks>&lol9;</remarks></ownershipDocument>"""


def entity_document(declaration: bytes, reference: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE ownershipDocument [\n  ' + declaration + b"\n]>\n"
        b"<ownershipDocument><remarks>" + reference + b"</remarks></ownershipDocument>"
    )


class TestEntitiesAndDtds:
    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(BILLION_LAUGHS, id="billion-laughs"),
            pytest.param(
                entity_document(b'<!ENTITY xxe SYSTEM "file:///etc/passwd">', b"&xxe;"), id="external-file"
            ),
            pytest.param(
                entity_document(b'<!ENTITY xxe SYSTEM "http://127.0.0.1:9/evil.xml">', b"&xxe;"),
                id="external-network",
            ),
            pytest.param(
                entity_document(b'<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;', b""),
                id="parameter-entity",
            ),
            pytest.param(
                b'<?xml version="1.0"?><!DOCTYPE ownershipDocument SYSTEM "http://127.0.0.1:9/x.dtd">'
                b"<ownershipDocument/>",
                id="external-dtd",
            ),
            pytest.param(
                b"<!doctype ownershipDocument [<!entity a 'b'>]><ownershipDocument>&a;</ownershipDocument>",
                id="lowercase-doctype",
            ),
            pytest.param(
                b"<?xml version='1.0'?>\n<!--note-->\n<!DOCTYPE x []><ownershipDocument/>",
                id="doctype-after-comment",
            ),
        ],
    )
    def test_rejected_never_expanded(self, data: bytes) -> None:
        started = time.perf_counter()
        with pytest.raises(Form4ParseError, match="DOCTYPE/ENTITY"):
            safe_xml.parse(data)
        assert time.perf_counter() - started < 0.5

    def test_utf16_doctype_cannot_hide_from_the_byte_check(self) -> None:
        data = BILLION_LAUGHS.decode().replace(
            '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
        )
        with pytest.raises(Form4ParseError, match="DOCTYPE/ENTITY"):
            safe_xml.parse(data.encode("utf-16"))

    @pytest.mark.parametrize("encoding", ["UTF-7", "EBCDIC-US", "UTF-32", "UTF-16", "klingon"])
    def test_unsupported_encodings_rejected(self, encoding: str) -> None:
        data = f'<?xml version="1.0" encoding="{encoding}"?><ownershipDocument/>'.encode()
        with pytest.raises(Form4ParseError, match=f"unsupported XML encoding '{encoding.lower()}'"):
            safe_xml.parse(data)

    def test_parser_rejects_entity_laden_filing_with_reason(self) -> None:
        with pytest.raises(Form4ParseError, match="billion-laughs"):
            parse(BILLION_LAUGHS)


class TestLimits:
    def test_oversize_rejected(self) -> None:
        with pytest.raises(Form4ParseError, match="over the 1,000-byte limit"):
            safe_xml.parse(SIMPLE + b" " * 1000, max_bytes=1000)

    def test_parser_uses_the_same_limit(self) -> None:
        with pytest.raises(Form4ParseError, match="over the 5,000,000-byte limit"):
            parse(b"<ownershipDocument>" + b"x" * 5_000_001)

    def test_nesting_beyond_libxml2_limit(self) -> None:
        deep = b"<a>" * 10_000 + b"</a>" * 10_000
        started = time.perf_counter()
        with pytest.raises(Form4ParseError, match="nested"):
            safe_xml.parse(deep)
        assert time.perf_counter() - started < 0.5

    def test_nesting_beyond_requested_depth(self) -> None:
        deep = b"<ownershipDocument>" + b"<a>" * 40 + b"</a>" * 40 + b"</ownershipDocument>"
        safe_xml.parse(deep)  # fine under libxml2's own limit
        with pytest.raises(Form4ParseError, match="nested deeper than 32 levels"):
            safe_xml.parse(deep, max_depth=32)


class TestEncodings:
    def test_declared_latin1(self) -> None:
        data = '<?xml version="1.0" encoding="ISO-8859-1"?><r><n>Ren\u00e9e</n></r>'.encode("latin-1")
        result = safe_xml.parse(data)
        assert result.root.findtext("n") == "Ren\u00e9e"
        assert result.warnings == []

    def test_undeclared_windows_1252_bytes_are_re_decoded(self) -> None:
        data = b'<?xml version="1.0"?><r><n>Ren\xe9e \x93quoted\x94</n></r>'
        result = safe_xml.parse(data)
        assert result.root.findtext("n") == "Ren\u00e9e \u201cquoted\u201d"
        assert result.warnings == ["re-decoded invalid UTF-8 as Windows-1252"]

    def test_utf16_with_bom(self) -> None:
        data = '<?xml version="1.0" encoding="UTF-16"?><r><n>\u00e9</n></r>'.encode("utf-16")
        result = safe_xml.parse(data)
        assert result.root.findtext("n") == "\u00e9"
        assert result.warnings == ["transcoded UTF-16 to UTF-8"]

    def test_utf8_bom_and_leading_whitespace(self) -> None:
        result = safe_xml.parse(b"\xef\xbb\xbf\r\n  " + SIMPLE)
        assert result.root.tag == "ownershipDocument"
        assert result.warnings == []

    def test_nul_bytes_rejected(self) -> None:
        with pytest.raises(Form4ParseError, match="NUL bytes"):
            safe_xml.parse(SIMPLE.replace(b"ok", b"o\x00k"))


class TestBrokenMarkup:
    def test_truncated_body(self) -> None:
        with pytest.raises(Form4ParseError, match="truncated XML: no closing </ownershipDocument>"):
            safe_xml.parse(SIMPLE[:-25])

    def test_truncated_body_without_recovery(self) -> None:
        with pytest.raises(Form4ParseError, match="malformed XML"):
            safe_xml.parse(SIMPLE[:-25], recover=False)

    def test_bare_ampersand_escaped(self) -> None:
        result = safe_xml.parse(b"<r><n>AT&T & Sons &amp; Co &#38; &#x26;</n></r>")
        assert result.root.findtext("n") == "AT&T & Sons & Co & &"
        assert result.warnings == ["escaped bare '&' characters"]

    def test_html_entities_become_characters(self) -> None:
        result = safe_xml.parse(b"<r><n>caf&eacute;&nbsp;bar &bogus;</n></r>")
        assert result.root.findtext("n") == "caf\u00e9\u00a0bar &bogus;"
        assert result.warnings == ["replaced undefined HTML entities with character references"]

    @pytest.mark.parametrize(
        "reference",
        [
            pytest.param(b"&#xD800;", id="high-surrogate-hex"),
            pytest.param(b"&#57343;", id="low-surrogate-decimal"),
            pytest.param(b"&#1;", id="control-character"),
            pytest.param(b"&#xFFFE;", id="non-character"),
            pytest.param(b"&#x110000;", id="beyond-unicode"),
        ],
    )
    def test_invalid_character_references_become_replacement_characters(self, reference: bytes) -> None:
        result = safe_xml.parse(b"<r><n>a" + reference + b"b &#233; &#x1F600;</n></r>")
        assert result.root.findtext("n") == "a\ufffdb \u00e9 \U0001f600"
        assert result.warnings == ["replaced invalid character references with U+FFFD"]

    def test_invalid_character_reference_with_another_repair(self) -> None:
        result = safe_xml.parse(b"<r><t ativeTable><n>&#xD800;</n></t></r>")
        assert result.root.findtext("t/n") == "\ufffd"
        assert result.warnings[0] == "replaced invalid character references with U+FFFD"
        assert result.warnings[1].startswith("recovered malformed XML")

    def test_mangled_attribute_recovered(self) -> None:
        result = safe_xml.parse(b"<r><t ativeTable><x>1</x></t></r>")
        assert result.root.findtext("t/x") == "1"
        assert result.warnings[0].startswith("recovered malformed XML")

    def test_mangled_attribute_refused_without_recovery(self) -> None:
        with pytest.raises(Form4ParseError, match="malformed XML"):
            safe_xml.parse(b"<r><t ativeTable><x>1</x></t></r>", recover=False)

    def test_trailing_junk_dropped(self) -> None:
        result = safe_xml.parse(SIMPLE + b"\n<script>alert(1)</script>")
        assert result.root.findtext("remarks") == "ok"
        assert result.warnings == ["dropped content after the root element"]

    def test_leading_junk_dropped(self) -> None:
        result = safe_xml.parse(b"HTTP/1.1 200 OK\r\n\r\n" + SIMPLE)
        assert result.root.findtext("remarks") == "ok"
        assert result.warnings == ["skipped 19 bytes before the XML document"]

    def test_comments_and_processing_instructions_removed(self) -> None:
        data = b"<r><!-- c --><?pi x?><n>a<!-- inner -->b</n></r>"
        result = safe_xml.parse(data)
        assert [child.tag for child in result.root] == ["n"]
        assert result.root.findtext("n") == "ab"

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            pytest.param(b"", "empty document", id="empty"),
            pytest.param(b"   \n\t ", "empty document", id="blank"),
            pytest.param(b"no markup at all", "not XML", id="text"),
            pytest.param(b'{"json": true}', "not XML", id="json"),
        ],
    )
    def test_not_xml(self, data: bytes, reason: str) -> None:
        with pytest.raises(Form4ParseError, match=reason):
            safe_xml.parse(data)

    def test_non_bytes(self) -> None:
        with pytest.raises(Form4ParseError, match="expected bytes"):
            safe_xml.parse("<r/>")  # type: ignore[arg-type]


class TestErrorPagesThroughTheParser:
    def test_html_error_page(self) -> None:
        page = (
            b"<!DOCTYPE html>\n<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title>"
            b"</head><body>Your request has been identified as part of a network of automated tools"
            b"</body></html>"
        )
        with pytest.raises(Form4ParseError, match="rate-limit page"):
            parse(page)


def test_security_cases_are_fast(tmp_path: Path) -> None:
    """All refusals above happen before any expansion or network access: well under a second."""
    started = time.perf_counter()
    for _ in range(50):
        with pytest.raises(Form4ParseError):
            safe_xml.parse(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1.0

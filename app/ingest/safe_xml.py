"""Hardened lxml parsing for untrusted EDGAR XML: no DTD, no entity expansion, no network, bounded size
and depth, plus the narrow repairs real filings need (bare ``&``, junk around the root, mangled markup).

Every failure is a ``Form4ParseError`` whose message is a one-line reason (DESIGN §5 "hostile input").
"""

from __future__ import annotations

import html.entities
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

from app.config import Settings
from app.schemas.form4 import Form4ParseError

# Same default as Settings.max_document_bytes; callers pass the configured value (no I/O here).
DEFAULT_MAX_BYTES: int = Settings.model_fields["max_document_bytes"].default
# libxml2 refuses documents nested deeper than 256 levels unless huge_tree is set (it never is here).
# An ownership document is at most 6 levels deep; callers wanting a tighter bound pass max_depth,
# which costs one XPath probe (~25 us on a typical filing, so it is off by default).
LIBXML2_MAX_DEPTH = 256

# Encodings a filing may declare. Anything else (UTF-7, EBCDIC, UTF-32, …) could hide markup such as
# "<!DOCTYPE" from the byte-level checks below, so it is refused rather than handed to iconv.
# A real UTF-16 document is transcoded to UTF-8 (and its declaration rewritten) before any check, so a
# UTF-16 label left on 8-bit bytes is a lie and is refused too.
# fmt: off
_ALLOWED_ENCODINGS = frozenset({
    "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin-1", "latin1", "iso-8859-15",
    "windows-1252", "cp1252",
})
# fmt: on
_DECL_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_DECL = re.compile(rb"^<\?xml[^>]*\?>")
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
# DTD machinery in any case (lowercase is not well-formed, but recover mode would still see it).
_DTD_MARKUP = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
# "&" not starting a well-formed reference: filers type "AT&T" and "Smith & Co" unescaped (parser-anchors A6).
_BARE_AMP = re.compile(rb"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_NAMED_REF = re.compile(rb"&([A-Za-z_][\w.-]*);")
_CHAR_REF = re.compile(rb"&#(?:x([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_XML_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w.:-]*)")

_local = threading.local()


def _parser(recover: bool) -> etree.XMLParser:
    # lxml parsers keep per-parse state, so each thread gets its own pair.
    parsers: tuple[etree.XMLParser, ...] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = tuple(
            etree.XMLParser(
                resolve_entities=False,  # never expand entities (billion laughs, XXE)
                no_network=True,
                load_dtd=False,
                dtd_validation=False,
                attribute_defaults=False,
                huge_tree=False,  # keeps libxml2's own limits (depth 256, text node size)
                remove_comments=True,
                remove_pis=True,
                # Drops whitespace-only text between elements: ~1.5x faster parse of indented filings.
                remove_blank_text=True,
                collect_ids=False,
                recover=flag,
            )
            for flag in (False, True)
        )
        _local.parsers = parsers
    return parsers[1] if recover else parsers[0]


@lru_cache(maxsize=8)
def _depth_probe(max_depth: int) -> etree.XPath:
    # True when any element sits deeper than max_depth; evaluated in C, stops at the first empty level.
    return etree.XPath("boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")")


@dataclass(slots=True)
class SafeXml:
    """A parsed document: its root element, the bytes lxml read and the repairs that were needed."""

    root: etree._Element
    data: bytes  # the bytes lxml finally parsed (after any repair)
    warnings: list[str] = field(default_factory=list)


def parse(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int | None = None,
    recover: bool = True,
) -> SafeXml:
    """Parse untrusted XML bytes safely, repairing only known filer mistakes; raise Form4ParseError."""
    if not isinstance(data, bytes):
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        else:
            raise Form4ParseError(f"expected bytes, got {type(data).__name__}")
    size = len(data)
    if size > max_bytes:
        raise Form4ParseError(f"document is {size:,} bytes, over the {max_bytes:,}-byte limit")
    warnings: list[str] = []
    data = _transcode_utf16(data, warnings)
    # Refuse DTDs before anything else looks at the bytes, junk-skipping included.
    encoding = _check_declarations(data)
    data = _strip_leading(data, warnings)
    if not data:
        raise Form4ParseError("empty document")
    if (encoding is None or encoding in _UTF8) and not data.isascii():
        data = _fix_utf8(data, warnings)

    try:
        root = etree.fromstring(data, _parser(False))
    except etree.XMLSyntaxError as exc:
        root, data = _repair(data, exc, warnings, recover)

    # Defence in depth: nothing above let a DTD through. (lxml-stubs' DocInfo lacks `doctype`.)
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise Form4ParseError("document declares a DOCTYPE; DTDs are refused")
    if max_depth is not None and max_depth < LIBXML2_MAX_DEPTH and _depth_probe(max_depth)(root):
        raise Form4ParseError(f"XML nested deeper than {max_depth} levels")
    return SafeXml(root, data, warnings)


def _transcode_utf16(data: bytes, warnings: list[str]) -> bytes:
    """Turn a UTF-16 document into UTF-8, so that the byte-level checks below see its markup."""
    head = data[:4]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:2] in (b"<\x00", b"\x00<"):
        try:
            text = data.decode(
                "utf-16"
                if head[:2] in (b"\xff\xfe", b"\xfe\xff")
                else ("utf-16-le" if head[:1] == b"<" else "utf-16-be")
            )
        except UnicodeDecodeError as exc:
            raise Form4ParseError(f"invalid UTF-16 document: {exc.reason}") from None
        data = _DECL.sub(b'<?xml version="1.0"?>', text.lstrip("\ufeff").encode("utf-8"), count=1)
        warnings.append("transcoded UTF-16 to UTF-8")
    return data


def _strip_leading(data: bytes, warnings: list[str]) -> bytes:
    """Strip BOMs and whitespace, and drop junk before the XML declaration or the root element."""
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    if data[:5] == b"<?xml":
        return data
    data = data.lstrip()
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:].lstrip()
    if data[:5] == b"<?xml" or not data:
        return data
    # Junk before the document: a browser-saved copy, a stray line from a mail gateway, a second BOM.
    pos = data.find(b"<?xml", 0, 65536)
    if pos == -1:
        match = _ROOT_NAME.search(data, 0, 65536)
        pos = match.start() if match else -1
    if pos > 0:
        warnings.append(f"skipped {pos} bytes before the XML document")
        return data[pos:]
    if pos == -1:
        raise Form4ParseError("not XML: no start tag in the first 64 KB")
    return data


def _check_declarations(data: bytes) -> str | None:
    """Refuse DTDs/entity declarations and encodings that could smuggle them past byte checks.

    Return the declared encoding (lower case), or None when the document declares none.
    """
    # Look for "!" rather than "<!": memchr on the rare "!" is ~10x faster than scanning every "<".
    bang = data.find(b"!")
    while bang != -1:
        if data[bang - 1 : bang] == b"<":
            break
        bang = data.find(b"!", bang + 1)
    if bang != -1 and _DTD_MARKUP.search(data):
        raise Form4ParseError(
            "document declares a DOCTYPE/ENTITY; DTDs and entity declarations are refused "
            "(billion-laughs and external-entity attacks)"
        )
    if b"\x00" in data:
        raise Form4ParseError("NUL bytes in document (binary or mis-declared encoding)")
    head = data[:300].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:5] == b"<?xml" and b"encoding" in head:
        match = _DECL_ENCODING.match(head)
        if match:
            encoding = match.group(1).decode("ascii", "replace").strip().lower()
            if encoding not in _ALLOWED_ENCODINGS:
                raise Form4ParseError(f"unsupported XML encoding {encoding!r}")
            return encoding
    return None


def _fix_utf8(data: bytes, warnings: list[str]) -> bytes:
    """Re-decode as Windows-1252 a document that claims UTF-8 (or nothing) but is not valid UTF-8."""
    # Pre-2008 filings carry Windows-1252 bytes ("é" in a name) with no encoding declaration; libxml2
    # would silently turn each into U+FFFD.
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        text = _DECL.sub(b'<?xml version="1.0"?>', data, count=1).decode("cp1252", "replace")
        warnings.append("re-decoded invalid UTF-8 as Windows-1252")
        return text.encode("utf-8")
    return data


def _repair(
    data: bytes, first: etree.XMLSyntaxError, warnings: list[str], recover: bool
) -> tuple[etree._Element, bytes]:
    """Apply the known repairs one at a time, then lxml recover mode as the last resort."""
    exc: etree.XMLSyntaxError = first
    for _ in range(4):
        message = exc.msg or str(exc)
        if "Excessive depth" in message or "Maximum depth" in message:
            raise Form4ParseError(f"XML nested deeper than {LIBXML2_MAX_DEPTH} levels (libxml2 limit)")
        if "Document is empty" in message or "Start tag expected" in message:
            raise Form4ParseError(f"not XML: {message}")
        fixed = _fix(data, message, warnings)
        if fixed is None:
            break
        data = fixed
        try:
            return etree.fromstring(data, _parser(False)), data
        except etree.XMLSyntaxError as again:
            exc = again
    reason = exc.msg or str(exc)
    if not recover:
        raise Form4ParseError(f"malformed XML: {reason}")
    # Recover mode would keep a bad character reference as undecodable bytes: replace those first.
    data = _fix_char_refs(data, warnings) or data
    # A cut-off download must not pass as a shorter filing: recover mode would happily close the
    # open elements and return a tree missing every row after the cut.
    match = _ROOT_NAME.search(data, 5 if data[:5] == b"<?xml" else 0)
    if match is None or data.rfind(b"</" + match.group(1)) == -1:
        name = match.group(1).decode("ascii", "replace") if match else "root"
        raise Form4ParseError(f"truncated XML: no closing </{name}> tag ({reason})")
    try:
        root = etree.fromstring(data, _parser(True))
    except etree.XMLSyntaxError as final:
        raise Form4ParseError(f"malformed XML: {final.msg or final}") from None
    if root is None:
        raise Form4ParseError(f"malformed XML: {reason}")
    # Recover mode salvages e.g. AAR CORP 2004's `<nonDerivativeTable ativeTable>` (parser-anchors A6).
    warnings.append(f"recovered malformed XML with lxml recover mode: {reason}")
    return root, data


def _valid_xml_char(code: int) -> bool:
    # The XML 1.0 Char production: no C0 controls but tab/LF/CR, no surrogates, no U+FFFE/U+FFFF.
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _fix_char_refs(data: bytes, warnings: list[str]) -> bytes | None:
    """Replace character references to non-characters (e.g. a lone surrogate &#xD800;) with U+FFFD."""
    # libxml2 rejects them; its recover mode keeps them as invalid UTF-8 that lxml cannot decode later.
    if b"&#" not in data:
        return None

    def replace(match: re.Match[bytes]) -> bytes:
        code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        return match.group(0) if _valid_xml_char(code) else b"&#xFFFD;"

    fixed = _CHAR_REF.sub(replace, data)
    if fixed == data:
        return None
    warnings.append("replaced invalid character references with U+FFFD")
    return fixed


def _fix(data: bytes, message: str, warnings: list[str]) -> bytes | None:
    """Return data with the one repair this lxml error calls for, or None when none applies."""
    if "CharRef" in message:
        fixed = _fix_char_refs(data, warnings)
        if fixed is not None:
            return fixed
    if "EntityRef" in message or "xmlParseEntityRef" in message or "xmlParseCharRef" in message:
        fixed = _BARE_AMP.sub(b"&amp;", data)
        if fixed != data:
            warnings.append("escaped bare '&' characters")
            return fixed
    if "Entity '" in message and "not defined" in message:
        # HTML entities (&nbsp; &eacute;) typed into text: turn them into character references.
        def replace(match: re.Match[bytes]) -> bytes:
            name = match.group(1)
            if name in _XML_ENTITIES:
                return match.group(0)
            point = html.entities.name2codepoint.get(name.decode("ascii", "replace"))
            return b"&#%d;" % point if point is not None else b"&amp;" + name + b";"

        fixed = _NAMED_REF.sub(replace, data)
        if fixed != data:
            warnings.append("replaced undefined HTML entities with character references")
            return fixed
    if "Extra content at the end of the document" in message:
        match = _ROOT_NAME.search(data, 5 if data[:5] == b"<?xml" else 0)
        if match:
            close = b"</" + match.group(1) + b">"
            end = data.rfind(close)
            if end != -1 and end + len(close) < len(data):
                warnings.append("dropped content after the root element")
                return data[: end + len(close)]
    return None

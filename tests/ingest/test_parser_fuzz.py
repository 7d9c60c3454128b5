"""Property tests: mutated real filings give a ParsedForm4 or a Form4ParseError, never another exception."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.ingest.form4_parser import parse
from app.schemas.form4 import Form4ParseError, ParsedForm4
from tests.conftest import FIXTURES_DIR, SAMPLES_DIR

# A spread of shapes: derivative rows, holdings, joint filers, footnotes, an SGML envelope.
SAMPLE_NAMES = [
    "form4/0001062993-23-020702.xml",
    "form4/edgartools_form4.snow.xml",
    "form4/secform4project__softbank_derivative_acquisition.xml",
    "form4/0001127602-15-028697.xml",
    "submissions/0000320193-22-000061.txt",
]


def corpus() -> list[bytes]:
    docs = [path.read_bytes() for path in sorted((FIXTURES_DIR / "form4").glob("*.xml"))]
    docs += [(SAMPLES_DIR / name).read_bytes() for name in SAMPLE_NAMES if (SAMPLES_DIR / name).is_file()]
    return docs


DOCS = corpus()
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(data: bytes) -> ParsedForm4 | None:
    """Parse, accepting only the two allowed outcomes."""
    try:
        doc = parse(data)
    except Form4ParseError as exc:
        reason = str(exc)
        doc = None
    else:
        reason = "parsed"
    assert reason, "a rejection must carry a reason"
    if doc is None:
        return None
    assert isinstance(doc, ParsedForm4)
    for tx in doc.transactions:
        assert tx.table in ("non_derivative", "derivative")
    return doc


documents = st.sampled_from(DOCS)


@FUZZ
@given(doc=documents, data=st.data())
def test_byte_flips(doc: bytes, data: st.DataObject) -> None:
    mutated = bytearray(doc)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    outcome(bytes(mutated))


@FUZZ
@given(doc=documents, data=st.data())
def test_truncation(doc: bytes, data: st.DataObject) -> None:
    outcome(doc[: data.draw(st.integers(0, len(doc)))])


@FUZZ
@given(doc=documents, data=st.data())
def test_garbage_insertion(doc: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(doc)))
    garbage = data.draw(
        st.one_of(
            st.binary(min_size=1, max_size=40),
            st.sampled_from(
                [
                    b"&",
                    b"<",
                    b"]]>",
                    b"<!DOCTYPE x>",
                    b"&nbsp;",
                    b"<value>",
                    b"</value>",
                    b"<footnoteId id='F9'/>",
                    b"\xff\xfe",
                    b"\x00",
                    b"<?xml version='1.0'?>",
                    b"&#xD800;",
                    b"&#1;",
                    b"&#x110000;",
                ]
            ),
        )
    )
    outcome(doc[:position] + garbage + doc[position:])


def _tree_mutation(doc: bytes, data: st.DataObject, duplicate: bool) -> bytes:
    start = doc.find(b"<ownershipDocument")
    end = doc.rfind(b"</ownershipDocument>") + len(b"</ownershipDocument>")
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(doc[start:end], parser)
    elements = [el for el in root.iter() if el is not root and isinstance(el.tag, str)]
    if not elements:
        return doc
    for _ in range(data.draw(st.integers(1, 4))):
        victim = data.draw(st.sampled_from(elements))
        parent = victim.getparent()
        if parent is None:
            continue
        if duplicate:
            parent.insert(parent.index(victim), copy.deepcopy(victim))
        else:
            parent.remove(victim)
            elements = [el for el in root.iter() if el is not root and isinstance(el.tag, str)]
            if not elements:
                break
    return doc[:start] + etree.tostring(root) + doc[end:]


@FUZZ
@given(doc=documents, data=st.data())
def test_element_deletion(doc: bytes, data: st.DataObject) -> None:
    outcome(_tree_mutation(doc, data, duplicate=False))


@FUZZ
@given(doc=documents, data=st.data())
def test_element_duplication(doc: bytes, data: st.DataObject) -> None:
    mutated = _tree_mutation(doc, data, duplicate=True)
    parsed = outcome(mutated)
    if parsed is not None:
        # Duplicated rows stay rows: document order numbering never repeats within a table.
        keys = [(t.table, t.index) for t in parsed.transactions]
        assert len(keys) == len(set(keys))


@pytest.mark.parametrize("doc", DOCS[:3])
def test_unmutated_documents_parse(doc: bytes) -> None:
    assert outcome(doc) is not None

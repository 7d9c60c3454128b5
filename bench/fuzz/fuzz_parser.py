"""Long fuzz run of the Form 4 parser over mutated real filings (../shared/edgar-samples): every input must
give a ParsedForm4 or a Form4ParseError with a reason, in bounded time; anything else is a finding.

    .venv/bin/python bench/fuzz/fuzz_parser.py hypothesis --examples 20000      # structured mutations
    .venv/bin/python bench/fuzz/fuzz_parser.py atheris --seconds 600            # coverage-guided (libFuzzer)

Findings (the input bytes and the traceback) go to data/fuzz/findings/ (outside git); each one found is
turned into a regression test in tests/ingest/test_parser_fuzz.py. `atheris` is in the `bench` extra.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT.parent / "shared" / "edgar-samples"
FIXTURES = ROOT / "tests" / "fixtures" / "form4"
FINDINGS = ROOT / "data" / "fuzz" / "findings"
SLOW_S = 1.0  # CPU seconds: a document parsing slower than this is a finding too (quadratic paths)


def corpus() -> list[bytes]:
    """Every real ownership document and full submission, plus the hand-written fixtures."""
    paths = sorted((SAMPLES / "form4").glob("*.xml")) + sorted((SAMPLES / "submissions").glob("*.txt"))
    paths += sorted(FIXTURES.glob("*.xml"))
    if not paths:
        sys.exit(f"no documents found under {SAMPLES} or {FIXTURES}")
    return [p.read_bytes() for p in paths]


class Oracle:
    """Parse one input and check the contract; count outcomes and keep findings."""

    def __init__(self) -> None:
        from app.ingest.form4_parser import parse
        from app.schemas.form4 import Form4ParseError, to_canonical_dict

        self._parse = parse
        self._error = Form4ParseError
        self._canonical = to_canonical_dict
        self.outcomes: Counter[str] = Counter()
        self.findings: dict[str, str] = {}  # sha -> first line of the problem
        self.slowest = 0.0

    def __call__(self, data: bytes) -> None:
        started = time.process_time()  # CPU time: other jobs on the machine do not count
        try:
            doc = self._parse(data)
            self._canonical(doc)  # what the store hashes: must not fail either
            self.outcomes["parsed"] += 1
        except self._error as exc:
            if not str(exc).strip():
                self._finding(data, "Form4ParseError without a reason")
            self.outcomes["rejected"] += 1
        except Exception:  # the contract allows nothing else: record, keep fuzzing
            self._finding(data, traceback.format_exc())
            self.outcomes["crashed"] += 1
        elapsed = time.process_time() - started
        self.slowest = max(self.slowest, elapsed)
        if elapsed > SLOW_S:
            # A garbage-collection pause can land on any input: only a repeatably slow one counts.
            elapsed = min(elapsed, *(self._time(data) for _ in range(2)))
            if elapsed > SLOW_S:
                self._finding(data, f"slow: {elapsed:.2f} s CPU")

    def _time(self, data: bytes) -> float:
        started = time.process_time()
        try:
            self._parse(data)
        except Exception:  # outcome already recorded; only the time matters here
            pass
        return time.process_time() - started

    def _finding(self, data: bytes, problem: str) -> None:
        sha = hashlib.sha256(data).hexdigest()[:16]
        if sha in self.findings:
            return
        self.findings[sha] = problem.strip().splitlines()[-1]
        FINDINGS.mkdir(parents=True, exist_ok=True)
        (FINDINGS / f"{sha}.bin").write_bytes(data)
        (FINDINGS / f"{sha}.txt").write_text(problem)
        print(f"FINDING {sha}: {self.findings[sha]}", flush=True)

    def summary(self, label: str, seconds: float) -> str:
        total = sum(self.outcomes.values())
        return (
            f"{label}: {total:,} documents fuzzed in {seconds:.0f} s ({total / max(seconds, 1e-9):,.0f}/s): "
            f"{self.outcomes['parsed']:,} parsed, {self.outcomes['rejected']:,} rejected with a reason, "
            f"{self.outcomes['crashed']:,} crashed; {len(self.findings)} distinct findings; "
            f"slowest {self.slowest * 1000:.1f} ms CPU"
        )


# --- hypothesis: structured mutations -------------------------------------------------------------------
GARBAGE = [
    b"&",
    b"<",
    b">",
    b"]]>",
    b"<![CDATA[",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
    b"&a;",
    b"&nbsp;",
    b"&#0;",
    b"&#xD800;",
    b"<value>",
    b"</value>",
    b"<footnoteId id='F1'/>",
    b"<footnoteId/>",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\x00",
    b"\xc3",
    b"<?xml version='1.0' encoding='UTF-16'?>",
    b"<XML>",
    b"</XML>",
    b"<DOCUMENT>",
    b"<html><title>x</title>",
    b"-1e308",
    b"9" * 400,
    b"NaN",
    b"Infinity",
    b"0x1F",
    b"1,234.5",
    b"$12.34",
    b"2024-02-30",
    b"99999-01-01",
    b"0000-00-00",
    b"<transactionCode>P</transactionCode>",
    b"<rptOwnerCik>x</rptOwnerCik>",
    b"<issuerCik></issuerCik>",
    b"<a>" * 300,
]
# Leaf values replaced inside <value>/<element> text: the number, date and flag readers' edge cases.
LEAF_VALUES = [
    "",
    " ",
    "-0",
    "1e9999",
    "-1e-9999",
    "NaN",
    "inf",
    "1_000",
    "١٢٣",  # Arabic-Indic digits: int() accepts them
    "0" * 200 + "1",
    "12.345.67",
    "$1,000.00",
    "(1.00)",
    "2024-13-01",
    "2024-02-29T25:61:00",
    "0001-01-01",
    "9999-12-31-05:00",
    "true",
    "Y",
    "<b>",
    "=cmd|' /C calc'!A0",
    "\u202e",
    "x" * 5000,
]


def run_hypothesis(examples: int, seed: int | None) -> Oracle:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st
    from lxml import etree

    oracle = Oracle()
    docs = corpus()
    documents = st.sampled_from(docs)
    config = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
    )

    def flips(doc: bytes, data: st.DataObject) -> bytes:
        out = bytearray(doc)
        if not out:
            return doc
        for _ in range(data.draw(st.integers(1, 16))):
            out[data.draw(st.integers(0, len(out) - 1))] = data.draw(st.integers(0, 255))
        return bytes(out)

    def truncate(doc: bytes, data: st.DataObject) -> bytes:
        return doc[: data.draw(st.integers(0, len(doc)))]

    def insert(doc: bytes, data: st.DataObject) -> bytes:
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(doc)))
            junk = data.draw(st.one_of(st.binary(min_size=1, max_size=64), st.sampled_from(GARBAGE)))
            doc = doc[:at] + junk + doc[at:]
        return doc

    def splice(doc: bytes, data: st.DataObject) -> bytes:
        other = data.draw(documents)
        return doc[: data.draw(st.integers(0, len(doc)))] + other[data.draw(st.integers(0, len(other))) :]

    def tree(doc: bytes, data: st.DataObject) -> bytes:
        try:
            return _tree(doc, data)
        except (etree.Error, ValueError, TypeError):
            return doc  # the mutation itself was impossible (lxml refused it): fuzz the input as is

    def _tree(doc: bytes, data: st.DataObject) -> bytes:
        start = doc.find(b"<ownershipDocument")
        end = doc.rfind(b"</ownershipDocument>")
        if start == -1 or end == -1:
            return doc
        end += len(b"</ownershipDocument>")
        parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
        root = etree.fromstring(doc[start:end], parser)
        if root is None:
            return doc
        for _ in range(data.draw(st.integers(1, 6))):
            elements = [el for el in root.iter() if el is not root and isinstance(el.tag, str)]
            if not elements:
                break
            victim = data.draw(st.sampled_from(elements))
            parent = victim.getparent()
            action = data.draw(st.sampled_from(["delete", "duplicate", "move", "leaf", "rename"]))
            if action == "delete":
                parent.remove(victim)
            elif action == "duplicate":
                parent.insert(parent.index(victim), copy.deepcopy(victim))
            elif action == "move":
                parent.remove(victim)
                targets = [e for e in root.iter() if isinstance(e.tag, str)]
                data.draw(st.sampled_from(targets)).append(victim)
            elif action == "leaf":
                victim.text = data.draw(st.sampled_from(LEAF_VALUES))
                for child in list(victim):
                    victim.remove(child)
            else:
                victim.tag = data.draw(st.sampled_from(["value", "footnoteId", "x", victim.tag.upper()]))
        return doc[:start] + etree.tostring(root) + doc[end:]

    def reencode(doc: bytes, data: st.DataObject) -> bytes:
        encoding = data.draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252"]))
        text = doc.decode("utf-8", "replace")
        declared = data.draw(st.sampled_from(["UTF-8", "UTF-16", "ISO-8859-1", "windows-1252", None]))
        if declared and text.startswith("<?xml"):
            text = text.replace("?>", f' encoding="{declared}"?>', 1)
        return text.encode(encoding, "replace")

    mutators: dict[str, Callable[[bytes, st.DataObject], bytes]] = {
        "byte_flips": flips,
        "truncation": truncate,
        "insertion": insert,
        "splice": splice,
        "tree": tree,
        "reencode": reencode,
    }

    def make_property(mutate: Callable[[bytes, st.DataObject], bytes]) -> Callable[[], None]:
        @config
        @given(doc=documents, data=st.data())
        def property_(doc: bytes, data: st.DataObject) -> None:
            # Stacked mutations reach states a single one cannot (a flip inside an inserted tag).
            doc = mutate(doc, data)
            if data.draw(st.booleans()):
                doc = data.draw(st.sampled_from(list(mutators.values())))(doc, data)
            oracle(doc)

        return hyp_seed(seed)(property_) if seed is not None else property_

    for name, mutate in mutators.items():
        before = sum(oracle.outcomes.values())
        started = time.perf_counter()
        make_property(mutate)()
        print(
            f"  {name}: {sum(oracle.outcomes.values()) - before:,} documents in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return oracle


# --- atheris: coverage-guided libFuzzer over the same seeds ---------------------------------------------
def run_atheris(seconds: int, max_len: int, extra: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["app.ingest", "app.schemas"]):
        oracle = Oracle()
    corpus_dir = Path(tempfile.mkdtemp(prefix="fuzz-corpus-"))
    for i, doc in enumerate(corpus()):
        (corpus_dir / f"seed{i:04d}").write_bytes(doc[:max_len])
    started = time.perf_counter()
    report_every = 20_000

    def one_input(data: bytes) -> None:
        oracle(data)
        total = sum(oracle.outcomes.values())
        if total % report_every == 0:
            print(oracle.summary("atheris", time.perf_counter() - started), flush=True)

    argv = [sys.argv[0], f"-max_total_time={seconds}", f"-max_len={max_len}", "-print_final_stats=1"]
    argv += [*extra, str(corpus_dir)]
    atheris.Setup(argv, one_input)
    try:
        atheris.Fuzz()  # exits the process at max_total_time (libFuzzer prints "Done N runs")
    finally:
        shutil.rmtree(corpus_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="engine", required=True)
    hyp = sub.add_parser("hypothesis", help="structured mutations of the real documents")
    hyp.add_argument("--examples", type=int, default=20_000, help="examples per mutator (6 mutators)")
    hyp.add_argument("--seed", type=int, default=None, help="random seed (default: derandomized)")
    ath = sub.add_parser("atheris", help="coverage-guided fuzzing (libFuzzer)")
    ath.add_argument("--seconds", type=int, default=600)
    ath.add_argument("--max-len", type=int, default=262_144)
    ath.add_argument("libfuzzer_args", nargs="*", help="extra libFuzzer flags, e.g. -jobs=2")
    args = ap.parse_args()
    print(f"corpus: {len(corpus())} real documents and fixtures; findings to {FINDINGS}", flush=True)
    if args.engine == "atheris":
        run_atheris(args.seconds, args.max_len, args.libfuzzer_args)
        return
    started = time.perf_counter()
    oracle = run_hypothesis(args.examples, args.seed)
    print(oracle.summary("hypothesis", time.perf_counter() - started))
    if oracle.findings:
        sys.exit(1)


if __name__ == "__main__":
    main()

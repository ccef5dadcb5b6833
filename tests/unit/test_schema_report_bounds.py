"""Validation reports cost time linear in the payload, however many errors it has (issue 9, item 16).

libxml2 names each error's element by counting its preceding siblings, so 40,000 invalid
siblings used to cost minutes (15 to 115 s) in lxml alone, and the report then asked
xmlschema to validate the whole document again for readable paths.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.xml import schema_report
from gateway.xml.schema_report import MAX_ISSUES
from gateway.xml.schemas import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]
XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:r" xmlns="urn:r"
  elementFormDefault="qualified">
  <xs:element name="r"><xs:complexType><xs:sequence>
    <xs:element name="i" type="xs:int" maxOccurs="unbounded"/>
  </xs:sequence><xs:attribute name="a" type="xs:int"/></xs:complexType></xs:element>
</xs:schema>"""


@pytest.fixture
def registry(tmp_path: Path) -> SchemaRegistry:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "r.xsd").write_text(XSD)
    registry = SchemaRegistry(bundles_dir=tmp_path / "bundles")
    registry.add_bundle("r", tmp_path / "src")
    return registry


def _siblings(count: int, *, bad: str = "x", good_before: int = 0) -> bytes:
    return b'<r xmlns="urn:r">\n' + b"<i>1</i>\n" * good_before + f"<i>{bad}</i>\n".encode() * count + b"</r>"


def test_a_huge_invalid_payload_is_reported_in_linear_time(tmp_path: Path) -> None:
    """120,000 invalid siblings: well under a second now; the old code needed minutes.

    Run in a child process with a generous limit, so a slow machine cannot make it flaky
    and a regression cannot hang the suite.
    """
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "r.xsd").write_text(XSD)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from gateway.xml.schemas import SchemaRegistry
        registry = SchemaRegistry(bundles_dir={str(tmp_path / "bundles")!r})
        registry.add_bundle("r", {str(tmp_path / "src")!r})
        data = b'<r xmlns="urn:r">' + b'<i>x</i>' * 120_000 + b'</r>'
        report = registry.validate("r", data)
        assert not report.valid and len(report.errors) == {MAX_ISSUES}
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_report_keeps_the_first_errors_only(registry: SchemaRegistry) -> None:
    report = registry.validate("r", _siblings(500))
    assert not report.valid and len(report.errors) == MAX_ISSUES
    assert report.errors[0].path == "/r/i[1]" and report.errors[-1].path == f"/r/i[{MAX_ISSUES}]"
    assert [e.line for e in report.errors[:3]] == [2, 3, 4] and report.errors[0].column == 1


def test_wide_documents_are_validated_streaming(registry: SchemaRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the work bound, lxml's tree validation (which names every error's element) is not used."""
    data = _siblings(10_000)
    work, _dearest = schema_report._node_path_work(SchemaRegistry.validate.__globals__["parse_untrusted"](data))
    assert work > schema_report.MAX_NODE_PATH_WORK
    calls = []
    real = schema_report._issues
    monkeypatch.setattr(schema_report, "_issues", lambda *a: calls.append(a) or real(*a))
    report = registry.validate("r", data)
    assert not report.valid and len(report.errors) == MAX_ISSUES and calls == []
    assert all(e.path is None and e.line is None and "'x'" in e.message for e in report.errors)
    assert registry.validate("r", _siblings(10_000, bad="7")).valid


def test_a_wide_document_with_few_errors_still_gets_paths(registry: SchemaRegistry) -> None:
    data = _siblings(1, good_before=20_000).replace(b'<r xmlns="urn:r">', b'<r xmlns="urn:r" a="q">')
    report = registry.validate("r", data)
    assert [(e.line, e.path) for e in report.errors] == [(1, "/r"), (20_002, "/r/i[20001]")]


def test_paths_follow_prefixes_and_default_namespaces(registry: SchemaRegistry) -> None:
    data = b'<p:r xmlns:p="urn:r"><p:i>1</p:i><p:i>y</p:i></p:r>'
    [issue] = registry.validate("r", data).errors
    assert issue.path == "/p:r/p:i[2]" and issue.column == data.index(b"<p:i>y") + 1


_MEMORY_CHILD = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from gateway.xml.parser import INLINE_DOCUMENTS, parse_untrusted
from gateway.xml.schema_report import MAX_ISSUES
from gateway.xml.schemas import SchemaRegistry
registry = SchemaRegistry(bundles_dir=sys.argv[2])
if sys.argv[3] == "r":
    registry.add_bundle("r", sys.argv[4])
    data = b'<r xmlns="urn:r">' + b'<i>x</i>' * 1_000_000 + b'</r>'
else:
    registry = SchemaRegistry.builtin()
    data = b'<Message xmlns="https://DigitalPost.dk/MeMo-1" memoVersion="1.2">' + b'<y/>' * 1_000_000 + b'</Message>'
tree = parse_untrusted(data, policy=INLINE_DOCUMENTS)  # what validation needs anyway
del tree
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = registry.validate(sys.argv[3], data, policy=INLINE_DOCUMENTS)
extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
issue = report.errors[0]
print(report.valid, len(report.errors), issue.line, issue.column, issue.path, extra >> 10)
"""


@pytest.mark.parametrize("schema, errors, line", [("memo-1.2", 1, 1), ("r", MAX_ISSUES, None)])
def test_a_payload_of_a_million_elements_is_reported_in_bounded_memory(tmp_path: Path, schema: str, errors: int,
                                                                       line: int | None) -> None:
    """1,000,000 small elements (``<y/>`` where MeMo wants a header; ``<i>x</i>``, all invalid):
    validation needs little more than the parsed tree. Naming the elements and finding columns
    indexed every one (3,000,000 cost 1.7 GB), the streaming validator built a second tree and
    libxml2 logged every error (430 MB for a million)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "r.xsd").write_text(XSD)
    done = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(ROOT), str(tmp_path / "bundles"), schema,
                           str(tmp_path / "src")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    valid, count, first_line, column, path, extra_mib = done.stdout.split()
    assert (valid, int(count), column, path) == ("False", errors, "None", "None")
    assert first_line == str(line)
    assert int(extra_mib) < 40, f"{extra_mib} MiB above the parsed tree"

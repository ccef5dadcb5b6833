"""The team's MeMo schemas against the official ones, and the schema registry.

The official MeMo 1.1 XSD and examples under ../shared/specs/memo are the yardstick and are
only ever read by path. The agreement test mutates the official 1.1 examples in many small
ways (deleted, duplicated, reordered, renamed elements; values just inside and just outside
every facet) and requires our memo-1.1 and the official schema to give the same verdict on
every variant.
"""
from __future__ import annotations

import copy
import functools
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.errors import FaultCode, HostileXmlError, RequestError, ValidationError
from gateway.xml.bundles import BundleError
from gateway.xml.schema_report import SchemaIssue, ValidationReport
from gateway.xml.schemas import SchemaRegistry, UnknownSchema
from tests.conftest import ROOT, SPECS, require_spec

MEMO = SPECS / "memo"
OFFICIAL_11 = MEMO / "xsd-1.1" / "MeMo_core.xsd"
EXAMPLES = MEMO / "examples"
EXAMPLES_11 = {"full": "MeMo_v1.1_Full_Example.xml", "minimum": "MeMo_v1.1_Minimum_Example.xml"}
EXAMPLES_12 = {"full": "MeMo_v1.2_Full_Example.xml", "minimum": "MeMo_v1.2_Minimum_Example.xml"}

MEMO_NS = "https://DigitalPost.dk/MeMo-1"
DT_NS = "https://data.gov.dk/model/dataTypes/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
M = f"{{{MEMO_NS}}}"


def example(name: str) -> bytes:
    return require_spec(EXAMPLES / name).read_bytes()


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.builtin()


@functools.cache
def _compiled(which: str) -> etree.XMLSchema:
    """The official 1.1 XSD, or ours compiled straight from the files the registry uses
    (bulk checks need only lxml's verdict). Cached, since hypothesis tests take no fixtures."""
    if which == "official":
        return etree.XMLSchema(etree.parse(str(require_spec(OFFICIAL_11))))
    bundle = SchemaRegistry.builtin().bundle(which)
    return etree.XMLSchema(etree.parse(str(bundle.folder / bundle.entry)))


@pytest.fixture(scope="module")
def official() -> etree.XMLSchema:
    return _compiled("official")


@pytest.fixture(scope="module")
def ours() -> dict[str, etree.XMLSchema]:
    return {name: _compiled(name) for name in ("memo-1.1", "memo-1.2")}


# ---------------------------------------------------------------- the official examples


@pytest.mark.parametrize("name", EXAMPLES_11.values())
def test_official_11_examples_fit_memo_11_and_12(registry: SchemaRegistry, name: str) -> None:
    data = example(name)
    assert registry.validate("memo-1.1", data) == ValidationReport(valid=True)
    assert registry.validate("memo-1.2", data).valid  # 1.2 only relaxes and adds


@pytest.mark.parametrize("name", EXAMPLES_12.values())
def test_official_12_examples_fit_memo_12(registry: SchemaRegistry, name: str) -> None:
    assert registry.validate("memo-1.2", example(name)) == ValidationReport(valid=True)


def test_12_examples_are_refused_by_11_for_the_12_changes_only(registry: SchemaRegistry, official: etree.XMLSchema) -> None:
    full = registry.validate("memo-1.1", example(EXAMPLES_12["full"]))
    assert not full.valid
    assert [(e.line, e.path) for e in full.errors] == [
        (2, "/memo:Message"),
        (95, "/memo:Message/memo:MessageHeader/memo:Sender/memo:Representative"),
        (232, "/memo:Message/memo:MessageHeader/memo:ForwardData/memo:originalRepresentative"),
    ]
    assert "memoSchVersion" in full.errors[0].message
    minimum = registry.validate("memo-1.1", example(EXAMPLES_12["minimum"]))
    assert not minimum.valid
    assert "memoSchVersion" in minimum.errors[0].message
    assert minimum.errors[1].path == "/memo:Message/memo:MessageHeader/memo:Sender"
    assert "mandatory" in minimum.errors[1].message  # mandatory/legalNotification were required
    for name in EXAMPLES_12.values():  # and the official 1.1 schema agrees
        assert not official.validate(etree.fromstring(example(name)))


def test_12_keeps_tolerating_memo_sch_version_and_checks_representative(registry: SchemaRegistry) -> None:
    root = etree.fromstring(example(EXAMPLES_12["full"]))
    root.set("memoSchVersion", "1.1.0")  # allowed, see xsd/memo-1.2/memo.xsd
    assert registry.validate("memo-1.2", root).valid
    root.set("memoSchVersion", "x" * 257)
    assert not registry.validate("memo-1.2", root).valid
    root = etree.fromstring(example(EXAMPLES_12["full"]))
    representative = root.find(f".//{M}Representative")
    representative.remove(representative.find(f"{M}representativeID"))
    report = registry.validate("memo-1.2", root)
    assert not report.valid and report.errors[0].path.endswith("memo:Representative/memo:idType")
    root = etree.fromstring(example(EXAMPLES_12["full"]))
    forward = root.find(f".//{M}ForwardData")
    forward.append(copy.deepcopy(forward.find(f"{M}originalRepresentative")))  # after comment: wrong place
    assert not registry.validate("memo-1.2", root).valid


# ---------------------------------------------------------------- structure


def test_same_global_declarations_and_simple_types_as_official() -> None:
    """Names of every global element and type, and every simple type's facets, are the official ones."""
    import xmlschema

    official_dir = require_spec(OFFICIAL_11).parent.resolve()
    theirs = xmlschema.XMLSchema(str(official_dir / OFFICIAL_11.name), base_url=str(official_dir), allow="sandbox")
    bundle = SchemaRegistry.builtin().bundle("memo-1.1")
    mine = xmlschema.XMLSchema(str(bundle.folder.resolve() / bundle.entry), base_url=str(bundle.folder.resolve()), allow="sandbox")
    assert sorted(mine.maps.elements) == sorted(theirs.maps.elements)
    assert len(mine.maps.elements) == 121
    assert sorted(mine.maps.types) == sorted(theirs.maps.types)
    for qname, element in theirs.maps.elements.items():
        counterpart = mine.maps.elements[qname]
        assert counterpart.type.is_simple() == element.type.is_simple(), qname
        assert counterpart.type.name == element.type.name, qname  # anonymous where official is
        assert counterpart.default == element.default, qname
    for qname, simple in theirs.maps.types.items():
        if qname.startswith(f"{{{DT_NS}}}"):
            counterpart = mine.maps.types[qname]
            assert _facets(counterpart) == _facets(simple), qname
            for probe in PROBES:  # our patterns are spelled differently; they must match the same
                assert counterpart.is_valid(probe) == simple.is_valid(probe), (qname, probe)


# Strings around every simple type's pattern, length and bounds.
PROBES = (
    "", "a", "ab", "abc", "x" * 7, "x" * 8, "x" * 150, "x" * 151, "x" * 256, "x" * 257, "x" * 512, "x" * 513,
    "da", "DA", "dan", "d1", "DIGITALPOST", "NEMSMS", "digitalpost",
    "8c2ea15d-61fb-4ba9-9366-42f8b194c114", "8C2EA15D-61FB-4BA9-B366-42F8B194C114", "8c2ea15d-61fb-3ba9-9366-42f8b194c114",
    "8c2ea15d-61fb-4ba9-c366-42f8b194c114", "8c2ea15d-61fb-4ba9-a366-42f8b194c11", "8c2ea15d61fb4ba9936642f8b194c114",
    "2018-05-03T12:00:00Z", "2018-05-03T12:00:00", "2018-05-03T12:00:00+01:00", "2018-05-03T12:00:00.5Z", "2018-05-03",
    "9999999999", "10000000000", "9999999999999", "10000000000000", "-1", "12a", "https://x.dk/a b",
)


def _facets(simple_type: object) -> tuple[object, ...]:
    """Primitive type, and every facet but the pattern text: kind, value, enumeration."""
    described = []
    for key, facet in sorted(simple_type.facets.items(), key=lambda item: str(item[0])):  # type: ignore[attr-defined]
        described.append((key, getattr(facet, "value", None), tuple(getattr(facet, "enumeration", None) or ())))
    return (simple_type.primitive_type.name, described)  # type: ignore[attr-defined]


def test_our_schema_files_are_not_copies_of_the_official_ones() -> None:
    official = {p.read_bytes() for p in require_spec(OFFICIAL_11).parent.glob("*.xsd")}
    ours = list((ROOT / "xsd" / "memo-1.1").glob("*.xsd")) + list((ROOT / "xsd" / "memo-1.2").glob("*.xsd"))
    assert len(ours) == 18
    assert not [p for p in ours if p.read_bytes() in official]


# ---------------------------------------------------------------- variants of the official examples


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    data: bytes


Mutation = Callable[[etree._Element, list[etree._Element]], bool | None]

_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_DIGITS = re.compile(r"^\d+$")

# Lengths on both sides of every length facet in MeMo (7, 150, 256, 512) and the 2 of language.
LENGTHS = (2, 3, 7, 8, 150, 151, 256, 257, 512, 513)


def _leaves(elements: list[etree._Element]) -> list[int]:
    return [i for i, el in enumerate(elements) if len(el) == 0 and i > 0]


def _first_per_place(elements: list[etree._Element], indexes: list[int]) -> list[int]:
    """One index per distinct (parent tag, tag): enough to reach each declaration once."""
    seen, chosen = set(), []
    for i in indexes:
        parent = elements[i].getparent()
        key = (parent.tag if parent is not None else None, elements[i].tag)
        if key not in seen:
            seen.add(key)
            chosen.append(i)
    return chosen


def _set_text(i: int, text: str) -> Mutation:
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        els[i].text = text
    return mutate


def _delete(i: int) -> Mutation:
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        els[i].getparent().remove(els[i])
    return mutate


def _duplicate(i: int, times: int = 1) -> Mutation:
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        for _ in range(times):
            els[i].addnext(copy.deepcopy(els[i]))
    return mutate


def _swap_with_next(i: int) -> Mutation:
    def mutate(_root: etree._Element, els: list[etree._Element]) -> bool:
        following = els[i].getnext()
        while following is not None and not isinstance(following.tag, str):
            following = following.getnext()
        if following is None or following.tag == els[i].tag:
            return False
        following.addnext(els[i])  # moves it
        return True
    return mutate


def _rename(i: int, tag: str) -> Mutation:
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        els[i].tag = tag
    return mutate


def _nil(i: int) -> Mutation:
    """An empty element marked xsi:nil: valid only where the declaration is nillable."""
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        for child in list(els[i]):
            els[i].remove(child)
        els[i].text = None
        els[i].set(f"{{{XSI}}}nil", "true")
    return mutate


def _append_child(i: int, tag: str) -> Mutation:
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        etree.SubElement(els[i], tag).text = "x"
    return mutate


def _set_attribute(i: int, name: str, value: str | None) -> Mutation:
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        if value is None:
            els[i].attrib.pop(name, None)
        else:
            els[i].set(name, value)
    return mutate


def _value_mutations(text: str) -> list[tuple[str, str]]:
    """Values for a leaf, chosen by what its example value looks like."""
    if _UUID.match(text):
        lower = text.lower()
        return [
            ("uuid-lower", lower), ("uuid-upper", text.upper()),
            *((f"uuid-version-{d}", lower[:14] + d + lower[15:]) for d in "1235"),
            *((f"uuid-variant-{d}", lower[:19] + d + lower[20:]) for d in "07cCf9A"),
            ("uuid-short", lower[:-1]), ("uuid-long", lower + "0"), ("uuid-no-hyphens", lower.replace("-", "")),
            ("uuid-braces", "{" + lower + "}"), ("uuid-spaced", " " + lower + " "), ("uuid-g", "g" + lower[1:]),
            ("uuid-empty", ""),
        ]
    if _DATETIME.match(text):
        plain = text[:-1]
        return [
            ("dt-no-z", plain), ("dt-plus-0", plain + "+00:00"), ("dt-plus-1", plain + "+01:00"),
            ("dt-fraction", plain + ".123Z"), ("dt-lower-z", plain + "z"), ("dt-date-only", text[:10]),
            ("dt-24h", text[:11] + "24:00:00Z"), ("dt-month-13", text[:5] + "13" + text[7:]),
            ("dt-space", text[:10] + " " + text[11:]), ("dt-padded", "  " + text + "\n"), ("dt-zz", text + "Z"),
            ("dt-negative-year", "-" + text), ("dt-empty", ""),
        ]
    if _DATE.match(text):
        return [("date-z", text + "Z"), ("date-offset", text + "+01:00"), ("date-short-month", text[:5] + "9" + text[7:]),
                ("date-danish", f"{text[8:]}-{text[5:7]}-{text[:4]}"), ("date-feb-30", text[:5] + "02-30"),
                ("date-time", text + "T12:00:00Z"), ("date-empty", "")]
    if text in ("true", "false"):
        return [(f"bool-{v.strip() or 'empty'}", v) for v in ("1", "0", "TRUE", "yes", "", " true ", "false")]
    if text in ("DIGITALPOST", "NEMSMS"):
        return [(f"enum-{i}", v) for i, v in enumerate(("NEMSMS", "DIGITALPOST", "digitalpost", "EBOKS", "", " DIGITALPOST", "DIGITALPOST ", "NEM SMS"))]
    if _DIGITS.match(text) and len(text) in (10, 13):  # P-number and GLN
        return [(f"num-{i}", v) for i, v in enumerate((
            "9999999999", "10000000000", "9999999999999", "10000000000000", "-5", "+5", "0001", "12a", "", " 42 ", "1.0"))]
    if text == "da":
        return [(f"lang-{i}", v) for i, v in enumerate(("en", "DA", "dan", "d", "", "d1", "da-DK", "1a"))]
    if text.startswith(("http://", "https://")):
        return [("uri-256", "https://x.dk/" + "a" * 243), ("uri-257", "https://x.dk/" + "a" * 244),
                ("uri-relative", "spørgeskema.html"), ("uri-spaces", "https://x.dk/a b")]
    if text == "VGhpcyBpcyBhIHRlc3Q=":
        return [(f"b64-{i}", v) for i, v in enumerate(("abc", "!!!!", "", "VGhp cyBp", "VGhpcw==", "VGhpcw=", "====", "QUJD\nREVG"))]
    return []


def _mutations(root: etree._Element) -> Iterator[tuple[str, Mutation]]:
    """Every systematic mutation of one example, by name."""
    elements = list(root.iter(etree.Element))
    local = {i: etree.QName(el).localname for i, el in enumerate(elements)}
    for i in range(1, len(elements)):
        yield f"delete[{i}]:{local[i]}", _delete(i)
        yield f"duplicate[{i}]:{local[i]}", _duplicate(i)
        yield f"swap[{i}]:{local[i]}", _swap_with_next(i)
    places = _first_per_place(elements, list(range(1, len(elements))))
    for i in places:
        yield f"other-namespace[{i}]:{local[i]}", _rename(i, f"{{urn:not-memo}}{local[i]}")
        ns = etree.QName(elements[i]).namespace
        if ns != MEMO_NS:
            yield f"memo-namespace[{i}]:{local[i]}", _rename(i, f"{M}{local[i]}")
        if len(elements[i]):
            yield f"unknown-child[{i}]:{local[i]}", _append_child(i, f"{M}unknownElement")
            yield f"duplicate-5x[{i}]:{local[i]}", _duplicate(i, 5)
        yield f"xsi-nil[{i}]:{local[i]}", _set_attribute(i, f"{{{XSI}}}nil", "true")
        yield f"xsi-nil-empty[{i}]:{local[i]}", _nil(i)
        yield f"stray-attribute[{i}]:{local[i]}", _set_attribute(i, "stray", "1")
    for i in _first_per_place(elements, _leaves(elements)):
        text = elements[i].text or ""
        for length in LENGTHS:
            yield f"length-{length}[{i}]:{local[i]}", _set_text(i, "æ" + "x" * (length - 1))
        for label, value in _value_mutations(text):
            yield f"{label}[{i}]:{local[i]}", _set_text(i, value)
    for i in _leaves(elements):  # every UUID and timestamp, not only the first of each place
        if i not in places and (_UUID.match(elements[i].text or "") or _DATETIME.match(elements[i].text or "")):
            for label, value in _value_mutations(elements[i].text or ""):
                yield f"{label}[{i}]:{local[i]}", _set_text(i, value)
    for attribute in ("memoVersion", "memoSchVersion"):
        yield f"attr-drop:{attribute}", _set_attribute(0, attribute, None)
        yield f"attr-qualified:{attribute}", _set_attribute(0, f"{M}{attribute}", "1.1")
    for value in ("1.2", "1", "abc", "", "1,1", " 1.1 ", "-0.5", "1e1"):
        yield f"attr-memoVersion={value!r}", _set_attribute(0, "memoVersion", value)
    for length in (255, 256, 257):
        yield f"attr-memoSchVersion-len-{length}", _set_attribute(0, "memoSchVersion", "v" * length)
    yield from _count_mutations(elements)
    yield from _type_mutations(elements)


def _count_mutations(elements: list[etree._Element]) -> Iterator[tuple[str, Mutation]]:
    """Repeat bounded elements up to and past their maxOccurs."""
    def first(localname: str) -> int | None:
        return next((i for i, el in enumerate(elements) if el.tag == f"{M}{localname}"), None)

    for localname, counts in (("AdditionalContentData", (8, 9, 10)), ("AdditionalReplyData", (1, 2, 3)),
                              ("ContactInfo", (1, 2)), ("File", (1, 20)), ("ReplyData", (3,)), ("AdditionalDocument", (4,)),
                              ("TechnicalDocument", (2,)), ("Action", (6,)), ("MainDocument", (1,))):
        i = first(localname)
        if i is not None:
            for extra in counts:
                yield f"repeat+{extra}:{localname}", _duplicate(i, extra)
    action = first("Action")
    if action is not None:
        def both_targets(_root: etree._Element, els: list[etree._Element]) -> None:
            etree.SubElement(etree.SubElement(els[action], f"{M}EntryPoint"), f"{M}url").text = "https://x.dk"
        yield "action-with-reservation-and-entrypoint", both_targets

        def only_codes(_root: etree._Element, els: list[etree._Element]) -> None:
            for child in list(els[action])[2:]:
                els[action].remove(child)
        yield "action-without-window-and-target", only_codes


def _type_mutations(elements: list[etree._Element]) -> Iterator[tuple[str, Mutation]]:
    """xsi:type makes type names visible to instances."""
    targets = {etree.QName(el).localname: i for i, el in reversed(list(enumerate(elements)))}
    for localname in ("label", "messageUUID", "createdDateTime", "Message", "File", "globalLocationNumber"):
        i = targets.get(localname)
        if i is None:
            continue
        for type_name in ("dt:memoTextType", "dt:memoUuidType", "dt:memoDateTimeType", "dt:memoGLNType", "xs:string",
                          "dt:memoTextTypeX", "memo:FileType", "xs:anyType"):
            if i == 0:
                continue  # the root cannot be replaced in place
            yield f"xsi-type={type_name}:{localname}", _with_xsi_type(i, type_name)


def _with_xsi_type(i: int, type_name: str) -> Mutation:
    """Replace element ``i`` by a copy that declares the prefixes ``type_name`` may use."""
    def mutate(_root: etree._Element, els: list[etree._Element]) -> None:
        nsmap = {"dt": DT_NS, "xs": "http://www.w3.org/2001/XMLSchema", "xsi": XSI, "memo": MEMO_NS}
        holder = etree.Element(els[i].tag, attrib=dict(els[i].attrib), nsmap=nsmap)
        holder.set(f"{{{XSI}}}type", type_name)
        holder.text, holder.tail = els[i].text, els[i].tail
        holder.extend(list(els[i]))
        els[i].getparent().replace(els[i], holder)
    return mutate


def _standalone_roots(root: etree._Element) -> Iterator[Variant]:
    """Each distinct element of the example as a document of its own (global ones are valid roots)."""
    seen = set()
    for el in root.iter(etree.Element):
        if el.tag in seen:
            continue
        seen.add(el.tag)
        yield Variant(f"root:{el.prefix}:{etree.QName(el).localname}", etree.tostring(copy.deepcopy(el)))


def _apply(base: etree._Element, mutate: Mutation) -> bytes | None:
    """The mutated copy, or None when the mutation does not apply (nothing to swap with)."""
    root = copy.deepcopy(base)
    if mutate(root, list(root.iter(etree.Element))) is False:
        return None
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _variants() -> list[Variant]:
    variants = []
    for label, name in EXAMPLES_11.items():
        base = etree.fromstring(example(name))
        for mutation_name, mutate in _mutations(base):
            data = _apply(base, mutate)
            if data is not None:
                variants.append(Variant(f"{label}:{mutation_name}", data))
        variants.extend(Variant(f"{label}:{v.name}", v.data) for v in _standalone_roots(base))
    return variants


@pytest.fixture(scope="module")
def variants() -> list[Variant]:
    require_spec(EXAMPLES)
    return _variants()


def _verdict(schema: etree.XMLSchema, data: bytes) -> bool:
    return bool(schema.validate(etree.fromstring(data)))


def test_memo_11_agrees_with_the_official_schema_on_every_variant(variants: list[Variant], official: etree.XMLSchema,
                                                                  ours: dict[str, etree.XMLSchema]) -> None:
    names = [v.name for v in variants]
    assert len(names) == len(set(names))
    disagreements, families = [], Counter()
    for variant in variants:
        theirs, mine = _verdict(official, variant.data), _verdict(ours["memo-1.1"], variant.data)
        families[(re.split(r"[-\[:=+]", variant.name.split(":", 1)[1])[0], theirs)] += 1
        if theirs != mine:
            disagreements.append(f"{variant.name}: official={theirs} ours={mine}")
    valid = sum(n for (_family, ok), n in families.items() if ok)
    invalid = len(variants) - valid
    print(f"\nMeMo 1.1 agreement: {len(variants)} variants, {valid} valid, {invalid} invalid, {len(disagreements)} disagreements")
    for family in sorted({family for family, _ok in families}):
        print(f"  {family:10} valid {families[(family, True)]:4}  invalid {families[(family, False)]:4}")
    assert len(variants) >= 300
    assert valid >= 60 and invalid >= 60, (valid, invalid)
    assert disagreements == []


def test_the_registry_gives_the_same_verdicts_with_details(variants: list[Variant], official: etree.XMLSchema,
                                                          registry: SchemaRegistry) -> None:
    """A sample through the full registry path (parse_untrusted, lxml, xmlschema paths)."""
    sample = variants[::15]
    assert len(sample) >= 100
    for variant in sample:
        report = registry.validate("memo-1.1", variant.data)
        assert report.valid == _verdict(official, variant.data), variant.name
        assert report.valid == (not report.errors), variant.name
        for issue in report.errors:
            assert issue.line and issue.column and issue.message, (variant.name, issue)
            assert issue.path and issue.path.startswith("/"), (variant.name, issue)


def test_memo_12_accepts_everything_official_11_accepts(variants: list[Variant], official: etree.XMLSchema,
                                                        ours: dict[str, etree.XMLSchema]) -> None:
    """1.2 only relaxes and adds; the variants only 1.2 accepts are exactly the relaxed ones."""
    relaxed = re.compile(r"(delete\[\d+\]:(mandatory|legalNotification)|attr-drop:memoSchVersion)$")
    only_12 = []
    for variant in variants:
        theirs, mine_12 = _verdict(official, variant.data), _verdict(ours["memo-1.2"], variant.data)
        assert mine_12 or not theirs, variant.name
        if mine_12 and not theirs:
            only_12.append(variant.name)
    assert only_12 and all(relaxed.search(name) for name in only_12), only_12


_KINDS = ("delete", "duplicate", "swap", "text", "rename")
_TEXTS = ("", "x", "æ" * 151, "x" * 257, "2018-05-03T12:00:00", "8c2ea15d-61fb-4ba9-9366-42f8b194c114", "DIGITALPOST", "true", "12a")


@functools.cache
def _base(which: str) -> etree._Element:
    return etree.fromstring(example(EXAMPLES_11[which]))


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(sorted(EXAMPLES_11)),
       steps=st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(min_value=1, max_value=10_000), st.sampled_from(_TEXTS)),
                      min_size=1, max_size=3))
def test_random_combinations_agree(which: str, steps: list[tuple[str, int, str]]) -> None:
    """Hypothesis-chosen sequences of up to three mutations; both schemas must agree on each."""
    root = copy.deepcopy(_base(which))
    for kind, index, text in steps:
        elements = list(root.iter(etree.Element))
        if len(elements) < 2:
            break
        i = 1 + index % (len(elements) - 1)
        mutation = {"delete": _delete, "duplicate": _duplicate, "swap": _swap_with_next,
                    "text": (lambda i: _set_text(i, text)) if len(elements[i]) == 0 else _duplicate,
                    "rename": lambda i: _rename(i, f"{M}{etree.QName(elements[i]).localname}x")}[kind](i)
        mutation(root, elements)
    data = etree.tostring(root)
    assert _verdict(_compiled("official"), data) == _verdict(_compiled("memo-1.1"), data), (which, steps)


# ---------------------------------------------------------------- reports


def test_invalid_document_report_has_line_column_path_message(registry: SchemaRegistry) -> None:
    data = (b'<?xml version="1.0"?>\n<m:Message xmlns:m="https://DigitalPost.dk/MeMo-1" memoVersion="1.1" memoSchVersion="1.1.0">\n'
            b'  <m:MessageHeader>\n    <m:messageType>DIGITALPOST</m:messageType>\n'
            b'    <m:messageUUID>8c2ea15d-61fb-4ba9-9366-42f8b194c114</m:messageUUID>\n'
            b'    <m:label>' + b"x" * 257 + b'</m:label>\n  </m:MessageHeader>\n</m:Message>')
    report = registry.validate("memo-1.1", data)
    assert not report.valid
    first = report.errors[0]
    assert first == SchemaIssue(line=6, column=5, path="/m:Message/m:MessageHeader/m:label", message=first.message)
    assert "maxLength" in first.message or "length" in first.message
    second = report.errors[1]  # the header ends too early: lxml blames the header
    assert second.line == 3 and second.path == "/m:Message/m:MessageHeader" and "mandatory" in second.message


def test_default_namespace_paths_are_readable(registry: SchemaRegistry) -> None:
    data = (b'<Message xmlns="https://DigitalPost.dk/MeMo-1" memoVersion="1.1" memoSchVersion="1"><MessageHeader>'
            b'<messageType>X</messageType><messageUUID>8C2EA15D-61FB-4BA9-9366-42F8B194C114</messageUUID>'
            b'<label>a</label><label>b</label></MessageHeader></Message>')
    errors = registry.validate("memo-1.1", data).errors
    assert [(e.line, e.column, e.path) for e in errors] == [
        (1, data.index(b"<messageType>") + 1, "/Message/MessageHeader/messageType"),
        (1, data.rindex(b"<label>") + 1, "/Message/MessageHeader/label[2]"),
    ]


def test_elements_validate_too_without_columns(registry: SchemaRegistry) -> None:
    root = etree.fromstring(example(EXAMPLES_11["minimum"]))
    assert registry.validate("memo-1.1", root).valid
    root.find(f"{M}MessageHeader/{M}messageType").text = "EBOKS"
    (issue,) = registry.validate("memo-1.1", root).errors
    assert issue.column is None and issue.line == 16
    assert issue.path == "/memo:Message/memo:MessageHeader/memo:messageType"


@pytest.mark.parametrize("encoding", ["Shift_JIS", "EUC-JP", "GB18030", "UTF-7", "Big5", "EUC-KR", "ISO-2022-JP", "UTF-16"])
def test_documents_in_encodings_expat_cannot_read_get_a_report(registry: SchemaRegistry, encoding: str) -> None:
    """libxml2 reads these encodings; expat, which finds the columns, refuses multi-byte ones
    (a ValueError, once a server fault): the report then has lines and paths, no columns."""
    data = (f'<?xml version="1.0" encoding="{encoding}"?>\n<Message xmlns="{MEMO_NS}" memoVersion="1.2">\n'
            f'<!-- 日本 --><Nonsense/></Message>').encode(encoding)
    report = registry.validate("memo-1.2", data)
    assert not report.valid
    [issue] = report.errors
    assert (issue.line, issue.path) == (3, "/Message/Nonsense") and "Nonsense" in issue.message
    assert issue.column is None or encoding in ("ISO-2022-JP", "UTF-16")


def test_decode_gives_data_or_a_validation_error(registry: SchemaRegistry) -> None:
    data = registry.decode("memo-1.1", example(EXAMPLES_11["minimum"]))
    assert data["memo:MessageHeader"]["memo:mandatory"] is False
    broken = example(EXAMPLES_11["minimum"]).replace(b"DIGITALPOST", b"EBOKS")
    with pytest.raises(ValidationError) as err:
        registry.decode("memo-1.1", broken)
    assert err.value.field == "/memo:Message/memo:MessageHeader/memo:messageType"


@pytest.mark.parametrize("doc, error, code", [
    (b'<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><m>&x;</m>', HostileXmlError, FaultCode.FORBIDDEN_DTD),
    (b'<!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><m>&b;</m>', HostileXmlError, FaultCode.FORBIDDEN_DTD),
    (b"<m:Message xmlns:m='x'>", RequestError, FaultCode.MALFORMED_XML),
    (b"", RequestError, FaultCode.MALFORMED_XML),
])
def test_hostile_or_broken_xml_is_refused(registry: SchemaRegistry, doc: bytes, error: type, code: FaultCode) -> None:
    with pytest.raises(error) as err:
        registry.validate("memo-1.1", doc)
    assert err.value.code == code


def test_unknown_schema_name(registry: SchemaRegistry) -> None:
    for query in (registry.validate, registry.decode):
        with pytest.raises(UnknownSchema, match="no schema named 'memo-9'; known: memo-1.1, memo-1.2") as err:
            query("memo-9", b"<a/>")
        assert (err.value.code, err.value.field) == (FaultCode.SCHEMA_UNKNOWN, "schema")
    with pytest.raises(UnknownSchema):
        registry.bundle("memo-9")


def test_builtin_schemas_come_from_the_project_xsd_folder(registry: SchemaRegistry) -> None:
    assert registry.names() == ("memo-1.1", "memo-1.2")
    assert registry.bundle("memo-1.1").folder.resolve() == (ROOT / "xsd" / "memo-1.1").resolve()
    assert registry.bundle("memo-1.2").entry == "memo.xsd"


# ---------------------------------------------------------------- operator bundles

RECEIPT_NS = "urn:example:receipt:1"
MAIN_XSD = f"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:r="{RECEIPT_NS}" targetNamespace="{RECEIPT_NS}"
           elementFormDefault="qualified">
  <xs:include schemaLocation="types/common.xsd"/>
  <xs:element name="Receipt">
    <xs:complexType><xs:sequence><xs:element name="id" type="r:Code"/></xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""
COMMON_XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{ns}">
  <xs:simpleType name="Code"><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{{3}}"/></xs:restriction></xs:simpleType>
</xs:schema>
""".format(ns=RECEIPT_NS)
GOOD = f'<r:Receipt xmlns:r="{RECEIPT_NS}"><r:id>ABC</r:id></r:Receipt>'.encode()
BAD = f'<r:Receipt xmlns:r="{RECEIPT_NS}">\n  <r:id>abc</r:id></r:Receipt>'.encode()


def _write_bundle(folder: Path, *, extra: dict[str, str] | None = None) -> Path:
    files = {"receipt.xsd": MAIN_XSD, "types/common.xsd": COMMON_XSD, **(extra or {})}
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _zip(path: Path, entries: dict[str, str], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_add_bundle_from_a_folder(tmp_path: Path) -> None:
    registry = SchemaRegistry.builtin(bundles_dir=tmp_path / "bundles")
    bundle = registry.add_bundle("receipt-1", _write_bundle(tmp_path / "src"))
    assert bundle.entry == "receipt.xsd" and bundle.folder == tmp_path / "bundles" / "receipt-1" / "files"
    assert registry.names() == ("memo-1.1", "memo-1.2", "receipt-1")
    assert registry.validate("receipt-1", GOOD).valid
    (issue,) = registry.validate("receipt-1", BAD).errors
    assert (issue.line, issue.column, issue.path) == (2, 3, "/r:Receipt/r:id")


def test_add_bundle_from_a_zip_with_a_top_folder_and_bundle_toml(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "receipt.zip", {
        "receipt-v1/receipt.xsd": MAIN_XSD, "receipt-v1/types/common.xsd": COMMON_XSD,
        "receipt-v1/other.xsd": COMMON_XSD, "receipt-v1/bundle.toml": 'entry = "receipt.xsd"\n',
    })
    registry = SchemaRegistry(bundles_dir=tmp_path / "bundles")
    bundle = registry.add_bundle("receipt", archive)
    assert bundle.entry == "receipt-v1/receipt.xsd"
    assert registry.validate("receipt", GOOD).valid and not registry.validate("receipt", BAD).valid


def test_the_entry_must_be_clear(tmp_path: Path) -> None:
    folder = _write_bundle(tmp_path / "src", extra={"second.xsd": COMMON_XSD})
    registry = SchemaRegistry(bundles_dir=tmp_path / "bundles")
    with pytest.raises(BundleError, match="entry"):
        registry.add_bundle("receipt", folder)
    assert registry.add_bundle("receipt", folder, entry="receipt.xsd").entry == "receipt.xsd"


def test_load_restores_added_bundles(tmp_path: Path) -> None:
    bundles = tmp_path / "bundles"
    SchemaRegistry.builtin(bundles_dir=bundles).add_bundle("receipt", _write_bundle(tmp_path / "src"))
    (bundles / ".staging-leftover").mkdir()  # a crashed add leaves no manifest: ignored
    restored = SchemaRegistry.load(bundles)
    assert restored.names() == ("memo-1.1", "memo-1.2", "receipt")
    assert restored.validate("receipt", GOOD).valid
    assert not restored.validate("receipt", BAD).valid
    assert SchemaRegistry.load(bundles, builtin=False).names() == ("receipt",)
    with pytest.raises(BundleError, match="already"):
        restored.add_bundle("receipt", tmp_path / "src")


@pytest.mark.parametrize("entries, symlink, message", [
    ({"../evil.xsd": MAIN_XSD}, None, r"\.\."),
    ({"ok/../../evil.xsd": MAIN_XSD}, None, r"\.\."),
    ({"/etc/evil.xsd": MAIN_XSD}, None, "absolute"),
    ({"C:/evil.xsd": MAIN_XSD}, None, "absolute"),
    ({"a\\..\\evil.xsd": MAIN_XSD}, None, "absolute or non-portable"),
    ({"receipt.xsd": MAIN_XSD}, "types/common.xsd", "symlink"),
])
def test_unsafe_zip_entries_are_refused(tmp_path: Path, entries: dict[str, str], symlink: str | None, message: str) -> None:
    archive = _zip(tmp_path / "evil.zip", entries, symlink=symlink)
    bundles = tmp_path / "bundles"
    registry = SchemaRegistry(bundles_dir=bundles)
    with pytest.raises(BundleError, match=message):
        registry.add_bundle("evil", archive)
    assert registry.names() == ()
    assert list(bundles.iterdir()) == []  # nothing kept, not even the staging folder
    assert not (tmp_path / "evil.xsd").exists()


def test_symlinks_in_a_folder_are_refused(tmp_path: Path) -> None:
    folder = _write_bundle(tmp_path / "src")
    (folder / "types" / "passwd.xsd").symlink_to("/etc/passwd")
    with pytest.raises(BundleError, match="symlink"):
        SchemaRegistry(bundles_dir=tmp_path / "bundles").add_bundle("receipt", folder)


@pytest.mark.parametrize("location, message", [
    ("../outside.xsd", "outside the bundle"),
    ("http://192.0.2.1/common.xsd", "relative path"),
    ("file:///etc/common.xsd", "relative path"),
    ("/etc/common.xsd", "relative path"),
    ("%2e%2e/outside.xsd", "relative path"),
    ("types\\common.xsd", "relative path"),
    ("types/missing.xsd", "not a file"),
])
def test_schema_locations_must_stay_inside_the_bundle(tmp_path: Path, location: str, message: str) -> None:
    (tmp_path / "outside.xsd").write_text(COMMON_XSD, encoding="utf-8")
    folder = _write_bundle(tmp_path / "src", extra={"receipt.xsd": MAIN_XSD.replace("types/common.xsd", location)})
    with pytest.raises(BundleError, match=message):
        SchemaRegistry(bundles_dir=tmp_path / "bundles").add_bundle("receipt", folder)


def test_schemas_with_a_doctype_or_errors_are_refused(tmp_path: Path) -> None:
    registry = SchemaRegistry(bundles_dir=tmp_path / "bundles")
    doctype = '<?xml version="1.0"?>\n<!DOCTYPE xs:schema [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + MAIN_XSD.split("?>", 1)[1]
    with pytest.raises(BundleError, match="DOCTYPE"):
        registry.add_bundle("a", _write_bundle(tmp_path / "a", extra={"receipt.xsd": doctype}))
    with pytest.raises(BundleError, match="does not compile"):
        registry.add_bundle("b", _write_bundle(tmp_path / "b", extra={"receipt.xsd": MAIN_XSD.replace("r:Code", "r:Nope")}))
    assert registry.names() == ()


def test_bundle_names_and_storage_are_checked(tmp_path: Path) -> None:
    folder = _write_bundle(tmp_path / "src")
    with pytest.raises(BundleError, match="bundles_dir"):
        SchemaRegistry.builtin().add_bundle("receipt", folder)
    registry = SchemaRegistry.builtin(bundles_dir=tmp_path / "bundles")
    for name in ("../x", "", "a/b", ".hidden", "x" * 65):
        with pytest.raises(BundleError, match="name"):
            registry.add_bundle(name, folder)
    with pytest.raises(BundleError, match="already"):
        registry.add_bundle("memo-1.1", folder)
    with pytest.raises(BundleError, match="neither"):
        registry.add_bundle("receipt", tmp_path / "src" / "receipt.xsd")

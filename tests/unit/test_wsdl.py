"""The WSDL the gateway serves matches the official contract's names and shapes."""
from lxml import etree

from gateway.soap.svarut import PATH, wsdl_document
from tests.conftest import ROOT, SVARUT_WSDL, require_spec

XS = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
NS = "http://www.ks.no/svarut/servicesV9"


def _shapes(doc: etree._Element) -> dict[str, list[tuple[str, str, str]]]:
    """complexType name → [(element name, minOccurs, maxOccurs)] in order, bases included."""
    schema = next(s for s in doc.iter(f"{XS}schema") if s.get("targetNamespace") == NS)
    shapes = {}
    for ct in schema.findall(f"{XS}complexType"):
        shapes[ct.get("name")] = [
            (el.get("name"), el.get("minOccurs", "1"), el.get("maxOccurs", "1"))
            for el in ct.iter(f"{XS}element")
        ]
    return shapes


def _operations(doc: etree._Element) -> set[str]:
    return {op.get("name") for op in doc.iter(f"{WSDL}operation")}


def test_served_wsdl_has_the_official_types_and_operations():
    official = etree.parse(str(require_spec(SVARUT_WSDL))).getroot()
    ours = etree.fromstring(wsdl_document("http://127.0.0.1:8080" + PATH))
    assert _operations(ours) == _operations(official)
    assert len(_operations(ours)) == 12
    official_shapes, our_shapes = _shapes(official), _shapes(ours)
    for name, members in official_shapes.items():
        assert name in our_shapes, name
        assert our_shapes[name] == members, name
    binding = ours.find(f"{WSDL}binding")
    assert binding.find("{http://schemas.xmlsoap.org/wsdl/soap12/}binding") is not None


def test_exported_wsdls_are_current():
    from gateway.cli import _wsdl_exports

    for filename, (path, document) in _wsdl_exports().items():
        exported = (ROOT / "wsdl" / filename).read_bytes()
        assert exported == document("http://127.0.0.1:8080" + path), f"{filename}: run gateway export-wsdl"

"""The WSDL the gateway serves for SvarUt V9 means what the official contract means."""
import pytest
from lxml import etree

from gateway.soap.svarut import PATH, wsdl_document
from tests.conftest import ROOT, SVARUT_WSDL, require_spec
from tests.wsdl_semantics import differences, meaning

XS = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
NS = "http://www.ks.no/svarut/servicesV9"
URL = "http://127.0.0.1:8080" + PATH


def test_served_wsdl_is_semantically_the_official_contract():
    """Names, types, cardinality, the abstract digitalAdresse and its extensions, xmime
    annotations, messages and parts, operations, binding, soapAction, service and port."""
    official = require_spec(SVARUT_WSDL).read_bytes()
    found = differences(meaning(official), meaning(wsdl_document(URL)))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ((b'abstract="true" ', b""), "complexTypes/digitalAdresse"),
        ((b' xmime:expectedContentTypes="application/octet-stream"', b""), "complexTypes/dokument"),
        ((b'<xs:extension base="tns:digitalAdresse">', b'<xs:extension base="tns:postAdresse">'), "complexTypes/organisasjonDigitalAdresse"),
        ((b'soapAction=""', b'soapAction="urn:x"'), "bindings/ForsendelsesServiceV9SoapBinding"),
        ((b'name="parameters"', b'name="sendForsendelse"'), "messages/"),
        ((b'<wsdl:binding name="ForsendelsesServiceV9SoapBinding"', b'<wsdl:binding name="ForsendelsesServiceV9"'), "bindings/"),
        ((b'<xs:element minOccurs="0" name="fnr"', b'<xs:element name="fnr"'), "complexTypes/personDigitalAdresse"),
        ((b'<xs:element name="sendForsendelse" type="tns:sendForsendelse"/>',
          b'<xs:element name="sendForsendelse" type="tns:sendForsendelse"/><xs:element name="adresse" type="tns:adresse"/>'), "elements/adresse"),
        ((b'<wsdl:port binding="tns:ForsendelsesServiceV9SoapBinding" name="ForsendelsesServiceV9">',
          b'<wsdl:port binding="tns:ForsendelsesServiceV9SoapBinding" name="ForsendelsesServiceV9Port">'), "services/ForsendelsesServiceV9"),
    ],
)
def test_the_comparison_sees_each_kind_of_difference(change, where):
    """The comparison above can fail: each change to the official file is one it reports."""
    official = require_spec(SVARUT_WSDL).read_bytes()
    old, new = change
    assert old in official
    found = differences(meaning(official), meaning(official.replace(old, new, 1)))
    assert found and any(where in line for line in found), found


def test_the_comparison_ignores_prefixes_order_and_defaults():
    """Spelled differently, meaning the same: no difference."""
    official = require_spec(SVARUT_WSDL).read_bytes()
    respelled = (
        official.replace(b"xs:", b"xsd:").replace(b"xmlns:xs=", b"xmlns:xsd=")
        .replace(b'<xs:element name="data"', b'<xs:element minOccurs="1" nillable="false" name="data"'.replace(b"xs:", b"xsd:"))
    )
    tree = etree.fromstring(respelled)
    schema = tree.find(f"{WSDL}types/{XS}schema")
    schema[:] = list(reversed(schema))  # declaration order is not meaning
    assert not differences(meaning(official), meaning(tree))


def test_served_wsdl_names_the_given_address():
    doc = etree.fromstring(wsdl_document("https://post.kommune.example/gw" + PATH))
    [address] = doc.findall(f"{WSDL}service/{WSDL}port/{{http://schemas.xmlsoap.org/wsdl/soap12/}}address")
    assert address.get("location") == "https://post.kommune.example/gw" + PATH


def test_exported_wsdls_are_current():
    from gateway.cli.reference import _wsdl_exports

    for filename, (path, document) in _wsdl_exports().items():
        exported = (ROOT / "wsdl" / filename).read_bytes()
        assert exported == document("http://127.0.0.1:8080" + path), f"{filename}: run gateway export-wsdl"


def test_the_exported_svarut_wsdl_is_the_served_one():
    """wsdl/ForsendelsesServiceV9.wsdl is what clients get from ?wsdl, so it is the contract too."""
    official = require_spec(SVARUT_WSDL).read_bytes()
    exported = (ROOT / "wsdl" / "ForsendelsesServiceV9.wsdl").read_bytes()
    assert not differences(meaning(official), meaning(exported))

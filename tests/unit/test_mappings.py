"""The tables in mappings/ are complete and agree with the official contract."""

from lxml import etree

from gateway.catalogue import faults_markdown
from gateway.mapping.tables import FieldNamer, StatusMap
from gateway.resources import load_table
from gateway.model import Status
from tests.conftest import ROOT, SVARUT_WSDL, require_spec


def test_every_internal_status_maps_to_an_official_svarut_status():
    wsdl = etree.parse(str(require_spec(SVARUT_WSDL)))
    official = set(wsdl.xpath("//xs:simpleType[@name='forsendelseStatus']//xs:enumeration/@value",
                              namespaces={"xs": "http://www.w3.org/2001/XMLSchema"}))
    assert len(official) == 13
    mapping = StatusMap("svarut")
    produced = {mapping(s) for s in Status}
    assert produced <= official
    assert produced | set(load_table("status")["svarut_unused"]["values"]) == official


def test_field_namer_keeps_indexes_and_falls_back_to_prefix():
    name = FieldNamer("svarut_fields")
    assert name("documents[3].filename") == "forsendelse.dokumenter[3].filnavn"
    assert name("links[1].url") == "forsendelse.lenker[1].urlLenke"
    assert name("recipient.address.postcode") == "forsendelse.mottaker.postAdresse.postnr"
    assert name("recipient.address.lines") == "forsendelse.mottaker.postAdresse.lines"
    assert name("unknown.path") == "unknown.path"


def test_docs_faults_md_is_generated_from_the_code():
    assert (ROOT / "docs" / "faults.md").read_text(encoding="utf-8") == faults_markdown()

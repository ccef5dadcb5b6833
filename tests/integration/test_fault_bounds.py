"""A fault never echoes an unbounded amount of what the caller sent (defect 15's answers)."""
from __future__ import annotations

import requests

from gateway.soap.validation import NS as VNS, PATH as VPATH
from tests.conftest import SENDER_PASSWORD, fault_code

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def test_a_huge_schema_name_is_not_echoed(sqlite_gateway):
    name = "S" * 300_000
    body = (f'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v="{VNS}"><e:Body><v:validate>'
            f"<v:schemaName>{name}</v:schemaName><v:payload>PHgvPg==</v:payload></v:validate></e:Body></e:Envelope>")
    r = requests.post(sqlite_gateway.base_url + VPATH, data=body.encode(), auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"validate"'})
    assert fault_code(r.content) == "SCHEMA_UNKNOWN"
    assert len(r.content) < 4000


def test_a_huge_header_block_name_is_not_echoed(sqlite_gateway):
    template = (Path := __import__("pathlib").Path)(__file__).resolve().parents[1] / "security" / "corpus" / "conformant-minimal-send.xml"
    envelope = template.read_text().replace(
        "<s:Body>", f'<s:Header><x:{"B" * 300_000} xmlns:x="urn:x" s:mustUnderstand="true"/></s:Header><s:Body>')
    r = requests.post(sqlite_gateway.svarut_url, data=envelope.encode(), auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                      headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    assert fault_code(r.content) == "MUST_UNDERSTAND"
    assert len(r.content) < 4000
    assert sqlite_gateway.runtime.repository.count_shipments() == 0

"""/memo and /validation refuse what their served WSDL does not allow, over SOAP 1.1 and 1.2,
instead of dropping it (the SvarUt cases are in the security corpus); a conformant call
still works."""
from __future__ import annotations

import base64

import pytest
import requests
from lxml import etree

from gateway.soap import memo, validation
from tests.conftest import SENDER_PASSWORD

SOAP = {
    "1.1": ("http://schemas.xmlsoap.org/soap/envelope/", "text/xml; charset=utf-8"),
    "1.2": ("http://www.w3.org/2003/05/soap-envelope", "application/soap+xml; charset=utf-8"),
}
PAYLOAD = base64.b64encode(b'<?xml version="1.0"?><x/>').decode()


def _post(gw, path: str, version: str, body: str) -> requests.Response:
    env, content_type = SOAP[version]
    envelope = f'<s:Envelope xmlns:s="{env}"><s:Body>{body}</s:Body></s:Envelope>'
    headers = {"Content-Type": content_type}
    if version == "1.1":
        headers["SOAPAction"] = '""'
    return requests.post(gw.base_url + path, data=envelope.encode(), headers=headers,
                         auth=("kommune-sak", SENDER_PASSWORD), timeout=30)


def _fault(response: requests.Response) -> tuple[str | None, str]:
    doc = etree.fromstring(response.content)
    code = doc.find(".//{urn:gateway:faults}code")
    field = doc.find(".//{urn:gateway:faults}field")
    return (code.text if code is not None else None), (field.text if field is not None else "")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f'<v:validate xmlns:v="{validation.NS}"><v:schemaName>memo-1.2</v:schemaName><v:payload>{PAYLOAD}</v:payload>'
         "<v:strict>true</v:strict></v:validate>", "strict"),
        (f'<v:validate xmlns:v="{validation.NS}"><v:payload>{PAYLOAD}</v:payload><v:schemaName>memo-1.2</v:schemaName></v:validate>',
         "payload"),
        (f'<v:validate xmlns:v="{validation.NS}"><schemaName>memo-1.2</schemaName><payload>{PAYLOAD}</payload></v:validate>',
         "schemaName"),
        (f'<v:listSchemas xmlns:v="{validation.NS}"><v:filter>memo</v:filter></v:listSchemas>', "listSchemas"),
    ],
    ids=["unknown-element", "wrong-order", "unqualified-members", "element-in-empty-request"],
)
def test_validation_refuses_what_its_wsdl_does_not_allow(sqlite_gateway, version, body, field):
    r = _post(sqlite_gateway, validation.PATH, version, body)
    assert r.status_code >= 400, r.text[:300]
    assert _fault(r) == ("INVALID_REQUEST", field)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_validation_takes_a_conformant_call(sqlite_gateway, version):
    body = f'<v:validate xmlns:v="{validation.NS}"><v:schemaName>memo-1.2</v:schemaName><v:payload>{PAYLOAD}</v:payload></v:validate>'
    r = _post(sqlite_gateway, validation.PATH, version, body)
    assert r.status_code == 200, r.text[:300]
    assert b"<tns:valid>false</tns:valid>" in r.content or b"valid>false<" in r.content


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f'<m:sendMessage xmlns:m="{memo.NS}"><m:message>{PAYLOAD}</m:message><m:priority>high</m:priority></m:sendMessage>',
         "priority"),
        (f'<m:getStatus xmlns:m="{memo.NS}"/>', "getStatus"),
        (f'<m:getStatus xmlns:m="{memo.NS}"><m:messageUUID>a</m:messageUUID><m:messageUUID>b</m:messageUUID></m:getStatus>',
         "messageUUID[1]"),
        (f'<m:getHistory xmlns:m="{memo.NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
         '<m:messageUUID xsi:type="m:SendResult">a</m:messageUUID></m:getHistory>', "messageUUID"),
    ],
    ids=["unknown-element", "missing-required", "repeated", "xsi-type-elsewhere"],
)
def test_memo_refuses_what_its_wsdl_does_not_allow(sqlite_gateway, version, body, field):
    before = sqlite_gateway.runtime.repository.count_shipments()
    r = _post(sqlite_gateway, memo.PATH, version, body)
    assert r.status_code >= 400, r.text[:300]
    assert _fault(r) == ("INVALID_REQUEST", field)
    assert sqlite_gateway.runtime.repository.count_shipments() == before

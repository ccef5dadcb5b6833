"""No file is ever opened for XML a caller sent, on any endpoint (issue 9, item 4).

A DOCTYPE naming a FIFO would pin a SOAP thread forever if libxml2 opened it, and the answer
for a file that exists must not differ from one for a file that does not.
"""
from __future__ import annotations

import base64

import requests

from gateway.soap import memo, validation
from tests.conftest import SENDER_PASSWORD
from tests.fifo_watch import fifo_watch

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def _doctypes(target: str) -> list[bytes]:
    return [
        f'<!DOCTYPE a SYSTEM "{target}"><a/>'.encode(),
        f'<?xml version="1.0"?><!DOCTYPE a PUBLIC "-//x//y" "file://{target}"><a/>'.encode(),
        f'<!DOCTYPE a [<!ENTITY % p SYSTEM "{target}"> %p;]><a/>'.encode(),
        f'<!DOCTYPE a SYSTEM "{target}"><a/>'.encode("utf-16"),
    ]


def _fault_code(r: requests.Response) -> str:
    from lxml import etree

    return etree.fromstring(r.content).find(".//{urn:gateway:faults}code").text


def _post_envelope(gw, body: bytes) -> requests.Response:
    return requests.post(gw.svarut_url, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=30,
                         headers={"Content-Type": "application/soap+xml; charset=utf-8"})


def _post_payload(gw, path: str, operation: str, ns: str, part: str, payload: bytes, extra: str = "") -> requests.Response:
    body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:o="{ns}"><e:Body><o:{operation}>{extra}'
            f'<o:{part}>{base64.b64encode(payload).decode()}</o:{part}></o:{operation}></e:Body></e:Envelope>')
    return requests.post(gw.base_url + path, data=body.encode(), auth=("kommune-sak", SENDER_PASSWORD), timeout=30,
                         headers={"Content-Type": "text/xml; charset=utf-8"})


def test_no_endpoint_opens_a_file_named_in_a_doctype(sqlite_gateway, tmp_path):
    gw = sqlite_gateway
    with fifo_watch(tmp_path) as fifo:
        for doc in _doctypes(str(fifo.path)):
            answers = [
                _post_envelope(gw, doc),
                _post_payload(gw, validation.PATH, "validate", validation.NS, "payload", doc,
                              extra=f"<o:schemaName>memo-1.2</o:schemaName>"),
                _post_payload(gw, memo.PATH, "sendMessage", memo.NS, "message", doc),
            ]
            assert [_fault_code(r) for r in answers] == ["FORBIDDEN_DTD"] * 3, [r.text[:300] for r in answers]
        assert fifo.opened == 0
    assert gw.runtime.repository.count_shipments() == 0


def test_the_answer_does_not_tell_whether_a_file_exists(sqlite_gateway, tmp_path):
    existing = tmp_path / "exists.dtd"
    existing.write_text("<!ELEMENT a EMPTY>")
    answers = set()
    for target in (existing, tmp_path / "missing.dtd", "/etc/passwd", "/nonexistent/x.dtd"):
        for doc in _doctypes(str(target)):
            r = _post_envelope(sqlite_gateway, doc)
            answers.add((r.status_code, r.content))
    assert len(answers) == 1

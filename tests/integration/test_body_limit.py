"""The request-body limit is enforced in twisted.web before the body reaches spyne."""
from __future__ import annotations

import base64
import socket

import pytest
import requests

from tests import rawhttp
from tests.conftest import ROOT, SENDER_PASSWORD

LIMIT = 64 * 1024
_BASIC = "Basic " + base64.b64encode(f"kommune-sak:{SENDER_PASSWORD}".encode()).decode()


def _post(gw, body, **kwargs):
    return requests.post(
        gw.svarut_url, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
        headers={"Content-Type": "application/soap+xml; charset=utf-8"}, **kwargs,
    )


def _code(r: requests.Response) -> str:
    from lxml import etree

    return etree.fromstring(r.content).find(".//{urn:gateway:faults}code").text


def test_oversized_body_with_content_length(start_gateway, settings_factory):
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    r = _post(gw, b"<x>" + b"A" * (LIMIT + 1) + b"</x>")
    assert r.status_code == 413 and _code(r) == "REQUEST_TOO_LARGE"
    # just under the limit reaches the SOAP layer (and is then refused for what it is)
    r = _post(gw, b"<x>" + b"A" * (LIMIT - 100) + b"</x>")
    assert r.status_code == 400 and _code(r) == "INVALID_REQUEST"


def test_oversized_chunked_body(start_gateway, settings_factory):
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))

    def chunks():
        for _ in range(40):
            yield b"B" * 8192

    r = _post(gw, chunks())
    assert r.status_code == 413 and _code(r) == "REQUEST_TOO_LARGE"


@pytest.mark.parametrize("header", [
    "X-Gateway-Rejected", "X_Gateway_Rejected", "x_gateway_rejected", "X-GATEWAY-REJECTED", "X-Gateway_Rejected",
    "Gateway.Refusal", "gateway-refusal",
])
def test_client_cannot_forge_the_rejection_marker(start_gateway, settings_factory, header):
    """WSGI maps '-' and '_' in header names alike; no header can pose as the gateway's own refusal."""
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    body = b"<x/>"
    with rawhttp.connect(gw.svarut_url) as s:
        s.sendall(rawhttp.request_head(gw.svarut_url, {
            "Content-Type": "application/soap+xml", "Content-Length": str(len(body)), "Connection": "close",
            "Authorization": _BASIC, header: "too-large"}) + body)
        response = rawhttp.read_response(s)
    assert response.status == 400 and rawhttp.fault_code(response.body) == "INVALID_REQUEST"


def test_declared_oversized_body_is_answered_before_it_is_sent(start_gateway, settings_factory):
    """413 comes back on the headers alone; the connection closes; no body byte is awaited."""
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    for extra in ({}, {"Expect": "100-continue"}):
        with rawhttp.connect(gw.svarut_url, timeout=20) as s:
            s.sendall(rawhttp.request_head(gw.svarut_url, {
                "Content-Type": "application/soap+xml", "Content-Length": str(LIMIT + 1), "Authorization": _BASIC, **extra}))
            response = rawhttp.read_response(s)  # nothing of the body was sent
        assert response.status == 413 and rawhttp.fault_code(response.body) == "REQUEST_TOO_LARGE"
        assert response.closed, "the connection stays open: the server would read the body"


def test_chunked_body_is_answered_as_soon_as_it_passes_the_limit(start_gateway, settings_factory):
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    with rawhttp.connect(gw.svarut_url, timeout=20) as s:
        s.sendall(rawhttp.request_head(gw.svarut_url, {
            "Content-Type": "application/soap+xml", "Transfer-Encoding": "chunked", "Authorization": _BASIC}))
        sent = 0
        while sent <= LIMIT:  # just past the limit, then nothing more: no terminating chunk
            s.sendall(b"%x\r\n" % 4096 + b"D" * 4096 + b"\r\n")
            sent += 4096
        response = rawhttp.read_response(s)
    assert response.status == 413 and rawhttp.fault_code(response.body) == "REQUEST_TOO_LARGE"
    assert response.closed


def test_chunk_framing_counts_towards_the_limit(start_gateway, settings_factory):
    """1-byte chunks with 1 KiB of chunk extensions: little content, much to read. Refused
    once the bytes on the wire pass the limit and its allowance for framing."""
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    chunk = b"1;" + b"e" * 1000 + b"\r\nF\r\n"
    with rawhttp.connect(gw.svarut_url, timeout=20) as s:
        s.sendall(rawhttp.request_head(gw.svarut_url, {
            "Content-Type": "application/soap+xml", "Transfer-Encoding": "chunked", "Authorization": _BASIC}))
        sent = 0
        try:
            while sent <= 2 * LIMIT + 64 * 1024:  # past limit + limit/8 + 64 KiB; no terminating chunk
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = rawhttp.read_response(s)
    assert response.status == 413 and rawhttp.fault_code(response.body) == "REQUEST_TOO_LARGE"


def test_chunked_body_within_the_limit_in_small_chunks_is_read(start_gateway, settings_factory):
    """Framing of ordinary small chunks stays well inside the allowance."""
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    body = (ROOT / "tests" / "security" / "corpus" / "conformant-minimal-send.xml").read_bytes()
    assert len(body) < LIMIT // 2
    with rawhttp.connect(gw.svarut_url, timeout=20) as s:
        s.sendall(rawhttp.request_head(gw.svarut_url, {
            "Content-Type": "application/soap+xml", "Transfer-Encoding": "chunked", "Authorization": _BASIC,
            "Connection": "close"}))
        s.sendall(b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 64]), body[i:i + 64]) for i in range(0, len(body), 64)) + b"0\r\n\r\n")
        response = rawhttp.read_response(s)
    assert response.status == 200, response.body[:300]


def test_nothing_after_a_refused_body_is_read(start_gateway, settings_factory):
    """A request pipelined behind a refused one is never processed (the connection closes)."""
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    follow = rawhttp.request_head(gw.base_url + "/health", {}, method="GET")
    with rawhttp.connect(gw.svarut_url, timeout=20) as s:
        s.sendall(rawhttp.request_head(gw.svarut_url, {
            "Content-Type": "application/soap+xml", "Content-Length": str(LIMIT + 1), "Authorization": _BASIC})
            + b"E" * 1000 + follow)
        response = rawhttp.read_response(s, wait_for_close=False)
        rest = b""
        try:
            while chunk := s.recv(65536):
                rest += chunk
        except ConnectionResetError:
            pass
    assert response.status == 413
    assert b"HTTP/1.1" not in rest


def test_gateway_keeps_serving_after_a_refusal(start_gateway, settings_factory):
    gw = start_gateway(settings_factory(max_request_bytes=LIMIT))
    with socket.create_connection(("127.0.0.1", int(gw.base_url.rsplit(":", 1)[1])), timeout=30) as s:
        s.sendall(b"POST /tjenester/forsendelseservice/ForsendelsesServiceV9 HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/soap+xml\r\nContent-Length: 999999999\r\n\r\n" + b"C" * 100_000)
    assert requests.get(gw.base_url + "/health", timeout=30).json()["status"] == "ok"


def test_a_large_document_passes_every_layer(sqlite_gateway, svarut_client):
    """12 MB: over spyne's default 2 MiB cap, libxml2's 10 MB text-node cap and Twisted's
    in-memory threshold, under the gateway's limit."""
    import hashlib

    from bench.bench_intake import make_pdf
    from tests.svarut_builders import dokument, forsendelse

    big = make_pdf(12 * 1024 * 1024)
    client, svc = svarut_client(sqlite_gateway)
    sid = svc.sendForsendelse(forsendelse=forsendelse(client, dokumenter=[dokument(big, "stor.pdf")]))
    [doc] = sqlite_gateway.runtime.repository.get(sid).shipment.documents
    assert doc.sha256 == hashlib.sha256(big).hexdigest()
    assert sqlite_gateway.runtime.documents.get(doc.storage_ref) == big


def test_chunked_request_is_read(sqlite_gateway):
    """Java SOAP stacks (CXF) send large calls with chunked transfer encoding."""
    body = (ROOT / "tests" / "security" / "corpus" / "conformant-minimal-send.xml").read_bytes()

    def chunks():
        for i in range(0, len(body), 500):
            yield body[i : i + 500]

    r = _post(sqlite_gateway, chunks())
    assert r.status_code == 200, r.text
    assert sqlite_gateway.runtime.repository.count_shipments() == 1


def test_mtom_xop_attachment_is_accepted(sqlite_gateway):
    """SOAP 1.2 MTOM (XOP), as CXF-based SvarUt clients can send documents."""
    import base64
    import hashlib
    import re

    from tests.conftest import make_pdf

    template = (ROOT / "tests" / "security" / "corpus" / "conformant-minimal-send.xml").read_text()
    envelope = re.sub(
        r"<data>[^<]+</data>",
        '<data><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:doc1@example.no"/></data>',
        template,
    ).encode()
    pdf = make_pdf("MTOM")
    boundary = "uuid:7f1c8f0e-mtom"
    body = (
        f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n"
        "Content-Transfer-Encoding: binary\r\nContent-ID: <root.message@example.no>\r\n\r\n"
    ).encode() + envelope + (
        f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-ID: <doc1@example.no>\r\n\r\n"
    ).encode() + pdf + f"\r\n--{boundary}--\r\n".encode()
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        'start="<root.message@example.no>"; start-info="application/soap+xml"'
    )
    r = requests.post(sqlite_gateway.svarut_url, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                      headers={"Content-Type": content_type})
    assert r.status_code == 200, r.text
    sid = re.search(rb"<return>([^<]+)</return>", r.content).group(1).decode()
    [doc] = sqlite_gateway.runtime.repository.get(sid).shipment.documents
    assert doc.sha256 == hashlib.sha256(pdf).hexdigest(), base64.b64encode(pdf)[:20]

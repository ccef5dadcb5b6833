"""``?wsdl`` names the configured address whatever Host a caller sends, and is built once.

It used to be built from the request's Host header and cached: one unauthenticated request
chose the address every client would then send its password to, and /memo and /validation
answered 500 for every other host while memory grew.
"""
from __future__ import annotations

import gc
import socket
import tracemalloc

import pytest
import requests
from lxml import etree

from gateway.soap import memo, svarut, validation

PATHS = [svarut.PATH, memo.PATH, validation.PATH]
ADDRESS = ("{http://schemas.xmlsoap.org/wsdl/soap/}address", "{http://schemas.xmlsoap.org/wsdl/soap12/}address")
HOSTILE_HOSTS = [
    "evil.example",
    "evil.example:443",
    "127.0.0.1:1",
    "[::1]:9",
    "bad<host>\"'&;",
    "x" * 8000,
    "ok.example/../../etc",
    "ок.пример",
]


def _get(url: str, host: str | None = None) -> requests.Response:
    headers = {"Host": host} if host is not None else {}
    return requests.get(url, headers=headers, timeout=30)


def _locations(document: bytes) -> set[str]:
    return {a.get("location") for a in etree.fromstring(document).iter(*ADDRESS)}


def _raw_get(gw, request: bytes) -> bytes:
    host, port = gw.running.address
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("path", PATHS)
def test_hostile_host_headers_get_the_configured_address(sqlite_gateway, path):
    url = sqlite_gateway.base_url + path + "?wsdl"
    first = _get(url, "attacker.example")
    assert first.status_code == 200
    assert _locations(first.content) == {sqlite_gateway.base_url + path}
    for host in HOSTILE_HOSTS:
        r = _get(url, host.encode("utf-8").decode("latin-1"))
        assert r.status_code == 200, (host[:40], r.status_code)
        assert r.content == first.content, host[:40]
    for variant in ("?WSDL", "?wsdl=1", "?wsdl&x=1", "/x.wsdl"):
        r = _get(sqlite_gateway.base_url + path + variant, "evil.example")
        assert (r.status_code, r.content) == (200, first.content), variant
    forwarded = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "1",
                 "Forwarded": "host=evil.example;proto=https", "X-Original-URL": "/evil"}
    r = requests.get(url, headers=forwarded, timeout=30)
    assert (r.status_code, r.content) == (200, first.content)


@pytest.mark.parametrize("path", PATHS)
def test_no_host_header_at_all(sqlite_gateway, path):
    answer = _raw_get(sqlite_gateway, f"GET {path}?wsdl HTTP/1.0\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head[:100]
    assert _locations(body) == {sqlite_gateway.base_url + path}


def test_many_hosts_do_not_grow_memory(sqlite_gateway):
    """Nothing is built or cached per Host."""
    def sweep(tag: str, n: int) -> None:
        for i in range(n):
            for path in PATHS:
                r = _get(sqlite_gateway.base_url + path + "?wsdl", f"{tag}-{i}.example")
                assert r.status_code == 200

    sweep("warm", 5)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        sweep("host", 100)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 512 * 1024, f"{grown} bytes more after 300 WSDL requests from 100 hosts"


def test_public_url_is_what_every_wsdl_names(start_gateway, settings_factory):
    public = "https://post.kommune.example/gateway"
    gw = start_gateway(settings_factory(public_url=public + "/"))
    for path in PATHS:
        r = _get(gw.base_url + path + "?wsdl", "evil.example")
        assert r.status_code == 200
        assert _locations(r.content) == {public + path}


def test_zeep_from_the_served_wsdl_calls_the_published_address(start_gateway, settings_factory):
    import zeep
    from zeep.transports import Transport

    gw = start_gateway(settings_factory())
    session = requests.Session()
    session.headers["Host"] = "evil.example"  # the WSDL fetch cannot redirect the client
    client = zeep.Client(gw.base_url + memo.PATH + "?wsdl", transport=Transport(session=session, timeout=30))
    service = client.bind("MemoService", "MemoServiceSoap12")
    assert service._binding_options["address"] == gw.base_url + memo.PATH

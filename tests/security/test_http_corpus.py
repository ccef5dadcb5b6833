"""The HTTP corpus: raw requests, each sent byte for byte over its own connection.

A file ``<CODE>-<status>-<what>.http`` must get HTTP ``status`` and, unless CODE is ``OK``,
a fault with gateway code CODE, and nothing may be stored. Its first line is ``METHOD
endpoint`` (``svarut``, ``memo`` or ``validation``), then header lines, a blank line and the
body; a body ``@name`` is the file ``name`` from the XML corpus. The test adds ``Host``,
``Connection: close``, the sender's ``Authorization`` (unless the file has one; ``none``
drops it) and ``Content-Length`` (unless the file has one). Add a file to add a case.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path

from gateway.soap import memo, svarut, validation
from tests import rawhttp
from tests.conftest import SENDER_PASSWORD

HTTP_CORPUS = Path(__file__).with_name("http")
XML_CORPUS = Path(__file__).with_name("corpus")
NAME = re.compile(r"^(OK|[A-Z_]+)-(\d{3})-[\w-]+\.http$")
ENDPOINTS = {"svarut": svarut.PATH, "memo": memo.PATH, "validation": validation.PATH}
AUTH = "Basic " + base64.b64encode(f"kommune-sak:{SENDER_PASSWORD}".encode()).decode()


def _request(path: Path, base_url: str) -> tuple[bytes, bool]:
    """The bytes to send, and whether the body was withheld (a declared Content-Length)."""
    head, _, body = path.read_bytes().partition(b"\n\n")
    first, *lines = head.decode().split("\n")
    method, endpoint = first.split()
    headers = dict(line.split(":", 1) for line in lines)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    body = body.rstrip(b"\n")
    if body.startswith(b"@"):
        body = (XML_CORPUS / body[1:].decode()).read_bytes()
    if headers.get("Authorization") == "none":
        del headers["Authorization"]
    else:
        headers.setdefault("Authorization", AUTH)
    declared = "Content-Length" in headers
    headers.setdefault("Content-Length", str(len(body)))
    headers["Connection"] = "close"
    url = base_url + ENDPOINTS[endpoint]
    return rawhttp.request_head(url, headers, method=method) + (b"" if declared else body), declared


def test_http_corpus(sqlite_gateway):
    files = sorted(HTTP_CORPUS.glob("*.http"))
    assert len(files) >= 30, "the HTTP corpus is missing"
    repo = sqlite_gateway.runtime.repository
    problems: list[str] = []
    accepted = 0
    for path in files:
        match = NAME.match(path.name)
        if match is None:
            problems.append(f"{path.name}: not named <CODE>-<status>-<what>.http")
            continue
        code, status = match.group(1), int(match.group(2))
        data, _declared = _request(path, sqlite_gateway.base_url)
        before = repo.count_shipments()
        with rawhttp.connect(sqlite_gateway.base_url, timeout=30) as s:
            s.sendall(data)
            response = rawhttp.read_response(s)
        got = rawhttp.fault_code(response.body) if response.body.lstrip().startswith(b"<") else None
        if response.status != status or (code != "OK" and got != code):
            problems.append(f"{path.name}: expected {code} with {status}, got {response.status} {got!r}: {response.body[:300]!r}")
        if code == "OK":
            accepted += repo.count_shipments() - before
        elif repo.count_shipments() != before:
            problems.append(f"{path.name}: something was stored")
        if b"Traceback" in response.body or b"Error:" in response.body:
            problems.append(f"{path.name}: the answer leaks a Python error")
    assert not problems, "\n".join(problems)

"""The MTOM corpus: every file in ``mtom/`` is posted to the SvarUt endpoint as it stands.

A file is the request's ``Content-Type`` header line, a blank line and the raw
``multipart/related`` body (CRLF line ends, bytes as a client would send them). As in
``corpus/``: ``nonconformant-<CODE>-<what>.mime`` must be refused with fault code CODE, a
4xx status and nothing stored; ``conformant-*.mime`` must be accepted, with the attached
PDF stored byte for byte. Each file is sent twice: with a Content-Length, and chunked in
small pieces (as Apache CXF sends every body over 4 KB). Add a file to add a case.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.conftest import SENDER_PASSWORD, fault_code

CORPUS = Path(__file__).with_name("mtom")
NAME = re.compile(r"^nonconformant-([A-Z_]+)-[\w-]+\.mime$")
#: The PDF every conformant case attaches (the one in corpus/conformant-minimal-send.xml).
_MINIMAL = (Path(__file__).with_name("corpus") / "conformant-minimal-send.xml").read_text()
PDF_SHA256 = hashlib.sha256(base64.b64decode(re.search(r"<data>([^<]+)</data>", _MINIMAL).group(1))).hexdigest()


def load(path: Path) -> tuple[str, bytes]:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    name, _, value = head.decode().partition(":")
    assert name.lower() == "content-type", path.name
    return value.strip(), body


def _chunked(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i:i + size]


def test_mtom_corpus(sqlite_gateway):
    files = sorted(CORPUS.glob("*.mime"))
    assert len(files) >= 25, "the corpus is missing"
    repo = sqlite_gateway.runtime.repository
    problems: list[str] = []
    accepted = 0
    for path in files:
        content_type, body = load(path)
        for how, data in (("length", body), ("chunked", _chunked(body))):
            before = repo.count_shipments()
            r = requests.post(sqlite_gateway.svarut_url, data=data, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                              headers={"Content-Type": content_type})
            where = f"{path.name} ({how})"
            if path.name.startswith("conformant-"):
                if r.status_code != 200:
                    problems.append(f"{where}: expected acceptance, got {r.status_code} {r.text[:300]}")
                    continue
                accepted += 1
                sid = re.search(rb"<return>([^<]+)</return>", r.content).group(1).decode()
                stored = repo.get(sid).shipment
                if [d.sha256 for d in stored.documents] != [PDF_SHA256]:
                    problems.append(f"{where}: the stored document is not the attached PDF")
                if stored.title != "Vedtak":
                    problems.append(f"{where}: the title was changed to {stored.title[:80]!r}")
                continue
            match = NAME.match(path.name)
            if match is None:
                problems.append(f"{path.name}: not named nonconformant-<CODE>-<what>.mime or conformant-<what>.mime")
                continue
            expected, got = match.group(1), fault_code(r.content)
            if not (400 <= r.status_code < 600) or r.status_code == 500 and got == "INTERNAL_ERROR" or got != expected:
                problems.append(f"{where}: expected {expected}, got {r.status_code} {got!r}: {r.text[:300]}")
            if b"root:" in r.content or b"Expanded" in r.content:
                problems.append(f"{where}: the answer leaks file or entity content")
            if repo.count_shipments() != before:
                problems.append(f"{where}: something was stored")
    assert repo.count_shipments() == accepted
    assert not problems, "\n".join(problems)

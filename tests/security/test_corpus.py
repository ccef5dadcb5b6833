"""The attack corpus: every file in ``corpus/`` is posted to the SvarUt endpoint.

``nonconformant-<CODE>-<what>.xml`` must be refused with fault code CODE, the status the fault
table gives it (4xx, or 500 for SOAP's VersionMismatch and MustUnderstand) and nothing
stored; ``conformant-*.xml`` must be accepted. Add a file to add a case.
"""
from __future__ import annotations

import re
from pathlib import Path

import requests

from gateway.catalogue import all_faults
from tests.conftest import SENDER_PASSWORD, fault_code

CORPUS = Path(__file__).with_name("corpus")
NAME = re.compile(r"^nonconformant-([A-Z_]+)-[\w-]+\.xml$")
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
PYTHON_ERROR = re.compile(rb"NoneType|has no attribute|Traceback|object is not|invalid literal|Errno|Error\(|could not be validated")


def test_corpus(sqlite_gateway):
    files = sorted(CORPUS.glob("*.xml"))
    assert len(files) >= 15, "the corpus is missing"
    repo = sqlite_gateway.runtime.repository
    problems: list[str] = []
    accepted = 0
    for path in files:
        body = path.read_bytes()
        before = repo.count_shipments()
        r = requests.post(
            sqlite_gateway.svarut_url, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        )
        if path.name.startswith("conformant-"):
            if r.status_code != 200:
                problems.append(f"{path.name}: expected acceptance, got {r.status_code} {r.text[:300]}")
            accepted += 1
            continue
        match = NAME.match(path.name)
        if match is None:
            problems.append(f"{path.name}: not named nonconformant-<CODE>-<what>.xml or conformant-<what>.xml")
            continue
        expected = match.group(1)
        got = fault_code(r.content)
        status = dict(all_faults())[expected].http_status if expected in dict(all_faults()) else 400
        if r.status_code != status or got != expected:
            problems.append(f"{path.name}: expected {expected} with {status}, got {r.status_code} {got!r}: {r.text[:300]}")
        if b"root:" in r.content or b"/etc/passwd" in r.content and expected != "FORBIDDEN_DTD":
            problems.append(f"{path.name}: the answer leaks file content")
        if repo.count_shipments() != before:
            problems.append(f"{path.name}: something was stored")
        if PYTHON_ERROR.search(r.content):
            problems.append(f"{path.name}: the fault leaks a Python error text: {r.text[:300]}")
    assert repo.count_shipments() == accepted
    assert not problems, "\n".join(problems)

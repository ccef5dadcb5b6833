"""The noarkExchange attack corpus: every file in ``noark/`` is posted to ``/noarkExchange``.

Which answer a case must get is the answer a real archive would get for it:

* ``nonconformant-<CODE>-<what>.xml`` whose CODE is a refusal of the letter (a payload with
  a DTD, a bomb, a wrong ``contentNamespace``, a bad orgnr, a sender it may not send for)
  must get HTTP 200 and ``PutMessageResponse/result`` an ``AppReceipt`` with ``type="ERROR"``
  and one ``message`` whose ``code`` is CODE: the contract's own answer, which the archive
  shows its user.
* A case whose request cannot be read at all (the body over the size bound: an HTTP-level
  code such as REQUEST_TOO_LARGE; or the envelope itself not well-formed XML) must get a SOAP
  fault whose ``Detail/code`` is CODE with the catalogue's status: there is no request to
  answer with a receipt. Every other case, whatever its payload holds, must get the receipt.

Every nonconformant case stores nothing (the repository's shipment count is unchanged),
leaks no Python internals and no file content, and the gateway keeps serving: after the
corpus a good sample is still accepted. ``conformant-*.xml`` must get ``OK`` and a letter.
The files are written by ``noark/make_corpus.py``; add a case there.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path

import pytest
import requests
from lxml import etree

from gateway.catalogue import all_faults
from gateway.config import NoarkSettings
from gateway.soap.faults import HTTP_LEVEL_CODES
from gateway.soap.noark import PATH
from tests.conftest import SENDER_PASSWORD, fault_code

CORPUS = Path(__file__).with_name("noark")
NAME = re.compile(r"^nonconformant-([A-Z_]+)-[\w-]+\.xml$")
TYPES = "http://www.arkivverket.no/Noark/Exchange/types"
PYTHON_ERROR = re.compile(rb"NoneType|has no attribute|Traceback|object is not|invalid literal|Errno|Error\(|File \"|\.py\b|lxml|spyne")
#: what /etc/passwd starts with on every Unix
FILE_CONTENT = re.compile(rb"root:.?:0:0:|/bin/(ba)?sh|nologin")
#: The corpus gateway's organisation of its own (make_corpus.OWN) and its body bound: small, so
#: that an oversize payload is a small file.
OWN = "991825827"
MAX_REQUEST_BYTES = 64 * 1024


@pytest.fixture
def corpus_gateway(start_gateway, settings_factory):
    settings = settings_factory(max_request_bytes=MAX_REQUEST_BYTES)
    return start_gateway(dataclasses.replace(settings, noark=NoarkSettings(own_organization_numbers=(OWN,))))


def _post(gw, body: bytes) -> requests.Response:
    return requests.post(gw.base_url + PATH, data=body, auth=("kommune-sak", SENDER_PASSWORD), timeout=60,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def _receipt(response: requests.Response) -> tuple[str | None, list[str]]:
    """(type, codes) of the AppReceipt in a PutMessageResponse, or (None, []) for none."""
    try:
        result = etree.fromstring(response.content).find(f".//{{{TYPES}}}PutMessageResponse/result")
    except etree.XMLSyntaxError:
        return None, []
    if result is None:
        return None, []
    return result.get("type"), [m.get("code") for m in result.iterfind("message")]


def _unreadable(path: Path, code: str) -> bool:
    """The request cannot be read, so no receipt can answer it: too large, or no XML at all."""
    if code in HTTP_LEVEL_CODES:
        return True
    try:
        etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError:
        return True
    return False


def _problems(path: Path, response: requests.Response) -> list[str]:
    expected = NAME.match(path.name)
    if expected is None:
        return [f"{path.name}: not named nonconformant-<CODE>-<what>.xml or conformant-<what>.xml"]
    code = expected.group(1)
    kind, codes = _receipt(response)
    problems: list[str] = []
    if not _unreadable(path, code):
        if (response.status_code, kind, codes) != (200, "ERROR", [code]):
            problems.append(f"{path.name}: expected an ERROR receipt with {code}, got {response.status_code} {kind} {codes}"
                            f": {response.text[:300]}")
    else:
        # SOAP 1.1 answers a fault with 500 (WS-I BP R1126), a refusal at the HTTP level with its own status
        status = dict(all_faults())[code].http_status if code in HTTP_LEVEL_CODES else 500
        got = fault_code(response.content)
        if (response.status_code, got) != (status, code):
            problems.append(f"{path.name}: the request cannot be read: expected a SOAP fault with {code} ({status}), "
                            f"got {response.status_code} {got!r}: {response.text[:300]}")
    if FILE_CONTENT.search(response.content):
        problems.append(f"{path.name}: the answer leaks file content")
    if PYTHON_ERROR.search(response.content):
        problems.append(f"{path.name}: the answer leaks a Python error text: {response.text[:300]}")
    return problems


def test_noark_corpus(corpus_gateway):
    files = sorted(CORPUS.glob("*.xml"))
    assert len(files) >= 40, "the corpus is missing: run tests/security/noark/make_corpus.py"
    repo = corpus_gateway.runtime.repository
    problems: list[str] = []
    accepted = 0
    for path in files:
        before = repo.count_shipments()
        response = _post(corpus_gateway, path.read_bytes())
        if path.name.startswith("conformant-"):
            kind, codes = _receipt(response)
            if response.status_code != 200 or kind != "OK" or repo.count_shipments() != before + 1:
                problems.append(f"{path.name}: expected OK and one letter, got {response.status_code} {kind} {codes}: {response.text[:300]}")
            accepted += 1
            continue
        problems += _problems(path, response)
        if repo.count_shipments() != before:
            problems.append(f"{path.name}: something was stored")
    assert not problems, "\n".join(problems)
    assert repo.count_shipments() == accepted
    # and it keeps serving: a good message after all that
    response = _post(corpus_gateway, _fresh(CORPUS / "conformant-escaped-payload.xml")[0])
    assert _receipt(response)[0] == "OK", response.text[:500]
    assert repo.count_shipments() == accepted + 1


def _fresh(path: Path) -> tuple[bytes, str]:
    """The file with a fresh conversationId, and that id."""
    conversation_id = str(uuid.uuid4())
    return re.sub(rb'conversationId="[^"]*"', f'conversationId="{conversation_id}"'.encode(), path.read_bytes()), conversation_id


def test_a_conversation_id_again_with_other_content_is_refused_and_the_first_letter_stays(corpus_gateway):
    repo = corpus_gateway.runtime.repository
    first, conversation_id = _fresh(CORPUS / "conformant-cdata-payload.xml")
    assert _receipt(_post(corpus_gateway, first))[0] == "OK"
    stored = repo.count_shipments()
    for other in (first.replace(b"<jpInnhold>Test1</jpInnhold>", b"<jpInnhold>Noe annet</jpInnhold>"),
                  first.replace(b"<amPostnr>6863</amPostnr>", b"<amPostnr>6900</amPostnr>")):
        response = _post(corpus_gateway, other)
        assert (response.status_code, *_receipt(response)) == (200, "ERROR", ["SHIPMENT_ID_CONFLICT"]), response.text[:300]
        assert repo.count_shipments() == stored
    # the first message again is still the same letter
    again = _post(corpus_gateway, first)
    assert _receipt(again)[0] == "OK" and repo.count_shipments() == stored
    [letter] = corpus_gateway.runtime.shipments.ids_by_external_ref("kommune-sak", conversation_id)
    assert corpus_gateway.runtime.shipments.get("kommune-sak", letter).shipment.title == "Test1"

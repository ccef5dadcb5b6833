"""The signed MeMo attack corpus, run through the real MeMo intake end to end.

Every file in ``memo/`` goes through :meth:`gateway.domain.memo_intake.MemoIntake.accept`, the
path ``/memo sendMessage`` takes (parse, verify, MeMo rules, schema, mapping, PDF checks,
store), on a real database: so a crash in any later stage shows up here, not only a refusal in
the first ones. ``conformant-<what>.xml`` must be accepted and stored (pinned to
``corpus-signer.crt``); ``nonconformant-<CODE>-<what>.xml`` must be refused with exactly CODE
(a :class:`SignatureCode`, :class:`MemoRule` or fault code, found in ``details["code"]`` or the
error's code), leave one audit record with that outcome and store nothing. The files are
committed; ``memo/make_corpus.py`` regenerates them from the official examples.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest
from cryptography import x509

from gateway.domain.memo_rules import MemoRule
from gateway.errors import GatewayError
from gateway.mapping.memo import shipment_from_memo
from gateway.runtime import Runtime
from gateway.xml.parser import INLINE_DOCUMENTS, parse_untrusted
from gateway.xml.dsig import DS
from gateway.xml.signatures import SignatureCode
from tests.xmldsig import verify_with_xmlsec1

CORPUS = Path(__file__).with_name("memo")
NAME = re.compile(r"^nonconformant-([A-Z0-9_]+)-[\w-]+\.xml$")
SUPPORT = {"make_corpus.py", "corpus-signer.pem", "corpus-signer.crt", "unpinned-signer.pem", "unpinned-signer.crt"}
NOT_IN_CORPUS = {SignatureCode.SIGNATURE_CERTIFICATE_EXPIRED}  # time-dependent; see tests/unit/test_signatures.py
SENDER = "kommune-sak"


@pytest.fixture
def runtime(settings_factory, sqlite_url):
    settings = settings_factory(sqlite_url)
    senders = tuple(dataclasses.replace(s, signing_certificate=str(CORPUS / "corpus-signer.crt")) if s.name == SENDER else s
                    for s in settings.senders)
    opened = Runtime.open(dataclasses.replace(settings, senders=senders), channels={})
    yield opened
    opened.close()


def _outcome(runtime: Runtime, data: bytes) -> tuple[str | None, str]:
    """(code, detail) of a refusal, or (None, shipment id) of an acceptance. Anything but a
    :class:`GatewayError` is what the endpoint would answer with HTTP 500: it fails the test."""
    try:
        acceptance = runtime.memo.accept(data, sender=_sender(runtime))
    except GatewayError as exc:
        return exc.details.get("code", str(exc.code)), f"{exc.field or ''} {exc.message}"
    except Exception as exc:  # noqa: BLE001 - the point of this test
        return "CRASH", f"{type(exc).__name__}: {exc}"
    return None, str(acceptance.shipment_id)


def _sender(runtime: Runtime):
    return next(s for s in runtime.settings.senders if s.name == SENDER)


def test_memo_corpus_through_the_real_intake(runtime):
    files = sorted(path for path in CORPUS.iterdir() if path.is_file())
    stray = {path.name for path in files if path.suffix != ".xml"} - SUPPORT
    assert not stray, f"unexpected files in {CORPUS}: {sorted(stray)}"
    documents = [path for path in files if path.suffix == ".xml"]
    assert len(documents) >= 40, "the corpus is missing: run tests/security/memo/make_corpus.py"

    problems: list[str] = []
    seen: set[str] = set()
    accepted = 0
    for path in documents:
        audits_before = len(runtime.repository.audit_records(sender=SENDER))
        got, detail = _outcome(runtime, path.read_bytes())
        audits = runtime.repository.audit_records(sender=SENDER)[audits_before:]
        if path.name.startswith("conformant-"):
            if got is not None:
                problems.append(f"{path.name}: expected acceptance, got {got}: {detail}")
                continue
            accepted += 1
            stored = runtime.repository.get(detail)
            if stored is None or stored.shipment.sender != SENDER:
                problems.append(f"{path.name}: accepted as {detail} but not stored")
            continue
        match = NAME.match(path.name)
        if match is None:
            problems.append(f"{path.name}: not named nonconformant-<CODE>-<what>.xml or conformant-<what>.xml")
            continue
        seen.add(match.group(1))
        if got != match.group(1):
            problems.append(f"{path.name}: expected {match.group(1)}, got {got}: {detail}")
        elif [a["outcome"] for a in audits] != [got]:
            problems.append(f"{path.name}: refused with {got}, but audited as {[a['outcome'] for a in audits]}")
        if runtime.repository.count_shipments() != accepted:
            problems.append(f"{path.name}: refused, but a shipment was stored")
    assert not problems, "\n".join(problems)
    assert accepted >= 8
    expected = {str(code) for code in SignatureCode if code not in NOT_IN_CORPUS} | {str(rule) for rule in MemoRule}
    assert expected <= seen, f"codes without a corpus file: {sorted(expected - seen)}"


def test_processing_instructions_are_signed_data_but_not_stored(runtime):
    """``<?app note?>`` in the header or the body, signed by xmlsec1 and by signxml with exclusive
    and inclusive C14N: canonical XML keeps PIs, so the digest covers it (dropped while parsing,
    each was SIGNATURE_INVALID); what is stored is the message without it."""
    cert = x509.load_pem_x509_certificate((CORPUS / "corpus-signer.crt").read_bytes())
    files = sorted(CORPUS.glob("conformant-*-pi-in-*.xml"))
    assert len(files) == 8
    for path in files:
        data = path.read_bytes()
        assert data.count(b"<?app note?>") == 1 and verify_with_xmlsec1(data, cert), path.name
        got, shipment_id = _outcome(runtime, data)
        assert got is None, f"{path.name}: {got}: {shipment_id}"
        without = parse_untrusted(data.replace(b"<?app note?>", b""), policy=INLINE_DOCUMENTS)
        without.remove(without.find(f"{{{DS}}}Signature"))
        expected, contents = shipment_from_memo(without, sender=_sender(runtime))
        stored = runtime.repository.get(shipment_id).shipment
        # the store fills in where each document is kept and its page count; the rest is the message's
        assert dataclasses.replace(stored, documents=()) == dataclasses.replace(expected, documents=()), path.name
        assert [_as_sent(d) for d in stored.documents] == [_as_sent(d) for d in expected.documents], path.name
        assert [d.sha256 for d in stored.documents] == [hashlib.sha256(c).hexdigest() for c in contents], path.name


def _as_sent(document) -> tuple:
    return document.filename, document.media_type, document.size, document.sha256, document.role, document.language

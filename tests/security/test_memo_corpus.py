"""The signed MeMo attack corpus: every file in ``memo/`` is parsed, verified and rule-checked.

``conformant-<what>.xml`` must verify against the pinned ``corpus-signer.crt`` and pass every
MeMo rule; ``nonconformant-<CODE>-<what>.xml`` must be refused with exactly CODE (a
:class:`SignatureCode` or :class:`MemoRule`, found in ``details["code"]``). The files are
committed; ``memo/make_corpus.py`` regenerates them from the official examples.
"""
from __future__ import annotations

import re
from pathlib import Path

from gateway.domain.memo_rules import MemoRule, check_memo
from gateway.errors import GatewayError
from gateway.xml.parser import parse_untrusted
from gateway.xml.signatures import SignatureCode, SignaturePolicy, SignatureVerifier, fingerprint

CORPUS = Path(__file__).with_name("memo")
NAME = re.compile(r"^nonconformant-([A-Z0-9_]+)-[\w-]+\.xml$")
SUPPORT = {"make_corpus.py", "corpus-signer.pem", "corpus-signer.crt", "unpinned-signer.pem", "unpinned-signer.crt"}
NOT_IN_CORPUS = {SignatureCode.SIGNATURE_CERTIFICATE_EXPIRED}  # time-dependent; see tests/unit/test_signatures.py


def _outcome(verifier: SignatureVerifier, data: bytes) -> tuple[str | None, str]:
    try:
        verified = verifier.verify(parse_untrusted(data))
        check_memo(verified.root)
    except GatewayError as exc:
        return exc.details.get("code", str(exc.code)), f"{exc.field or ''} {exc.message}"
    return None, f"signed by {verified.signer_fingerprint}" if verified.signed else "unsigned"


def test_memo_corpus():
    policy = SignaturePolicy.from_pem_files(pinned=[CORPUS / "corpus-signer.crt"])
    verifier = SignatureVerifier(policy)
    pinned = fingerprint(policy.pinned_certificates[0])
    files = sorted(path for path in CORPUS.iterdir() if path.is_file())
    stray = {path.name for path in files if path.suffix != ".xml"} - SUPPORT
    assert not stray, f"unexpected files in {CORPUS}: {sorted(stray)}"
    documents = [path for path in files if path.suffix == ".xml"]
    assert len(documents) >= 30, "the corpus is missing: run tests/security/memo/make_corpus.py"

    problems: list[str] = []
    seen: set[str] = set()
    conformant = 0
    for path in documents:
        got, detail = _outcome(verifier, path.read_bytes())
        if path.name.startswith("conformant-"):
            conformant += 1
            if got is not None or detail != f"signed by {pinned}":
                problems.append(f"{path.name}: expected acceptance, got {got}: {detail}")
            continue
        match = NAME.match(path.name)
        if match is None:
            problems.append(f"{path.name}: not named nonconformant-<CODE>-<what>.xml or conformant-<what>.xml")
            continue
        seen.add(match.group(1))
        if got != match.group(1):
            problems.append(f"{path.name}: expected {match.group(1)}, got {got}: {detail}")
    assert not problems, "\n".join(problems)
    assert conformant >= 4
    expected = {str(code) for code in SignatureCode if code not in NOT_IN_CORPUS} | {str(rule) for rule in MemoRule}
    assert expected <= seen, f"codes without a corpus file: {sorted(expected - seen)}"

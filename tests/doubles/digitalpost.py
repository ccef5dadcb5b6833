"""Test double for Danish Digital Post's NgDP REST API, over real mutual TLS on loopback.

Written from NgDP's OpenAPI 1.68.0 as github.com/sjkp/digitalpost's generated client
``src/digitalpost/DigitalPostClient.cs`` shows it (paths, query names, JSON names, enums),
not from the gateway's channel. The server holds a certificate for 127.0.0.1 issued by a
test CA and requires a client certificate signed by the same CA: a client without one, or
with one from another CA, fails in the TLS handshake (``handshake_failures``) and never
reaches HTTP. Every request needs HTTP Basic ``systemId:apiToken`` (else 401 ``ErrorMessage``).

* ``POST /apis/v1/memos/?memo-message-uuid=<uuid>`` with ``Content-Type: application/xml``
  (or ``text/xml``) and the raw MeMo as the body: 201 with a ``Receipt`` (RECEIVED). Refused
  with 400 ``ErrorMessage`` (``code``, ``message``, ``fieldErrors``): another content type
  (archives, ``application/x-lzma`` or multipart, are not modelled), a missing or malformed
  query parameter, one that is not the MeMo's messageUUID, a body that is not a MeMo written
  with the literal ``memo:`` prefix, a memoVersion other than 1.1 or 1.2, a MeMo that does not
  fit its schema (1.1: the official XSD from ../shared/specs; 1.2 has no official XSD, so the
  project's xsd/memo-1.2), and (``repeat="refuse"``, the default) a messageUUID already used.
  ``repeat="accept"`` plays a service that takes a repeat as a second letter.
* ``GET /apis/v1/receipts/?page=&size=``: a ``PagingResultUUID`` of receipt ids, oldest first.
  ``GET /apis/v1/receipts/{id}?delete=true|false``: the ``Receipt`` (deleted after with
  ``delete=true``); ``DELETE /apis/v1/receipts/{id}``: 204. Unknown id: 404.
  After the RECEIVED receipt a message gets COMPLETED (``auto_complete``), or the receipt
  set in ``outcome_for[recipientID]`` (INVALID / NOT_ALLOWED with errorCode/errorMessage).
* ``GET /apis/v1/contacts/?cprNumber=`` or ``?cvrNumber=`` (``page``, ``size``): a
  ``ContactSearchResult``; ``contacts`` maps a number to its ``publicRegistrationStatus``
  (REGISTERED / EXEMPT / CLOSED / UNKNOWN, or None for a contact without a mailbox
  subscription); an unknown number answers no contacts.

Knobs: ``fail_next(n, status=503)`` (answered before anything is stored), ``drop_answer_next(n)``
(the upload is stored, then the connection closes unanswered: a lost answer),
``wait_for_handshake_failures(n)``. :func:`make_pki` makes the certificates.
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import math
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from tests.doubles.http import LoopbackServer, quiet

MEMO_NS = "https://DigitalPost.dk/MeMo-1"
API = "/apis/v1/"
RECEIPT = re.compile(r"/apis/v1/receipts/(?P<id>[^/]+)")
#: The raw-bytes rule Digital Post enforces: after BOM, declaration, whitespace and comments
#: the root element is written with the literal ``memo:`` prefix.
LITERAL_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml[^>]*\?>)?(?:\s|<!--.*?-->)*<memo:Message[\s/>]", re.DOTALL)
_PROJECT = Path(__file__).resolve().parents[2]
SCHEMAS = {
    "1.1": _PROJECT.parent / "shared" / "specs" / "memo" / "xsd-1.1" / "MeMo_core.xsd",  # the official XSD
    "1.2": _PROJECT / "xsd" / "memo-1.2" / "memo.xsd",  # no official 1.2 XSD exists
}
REGISTRATION_STATUSES = ("REGISTERED", "EXEMPT", "CLOSED", "UNKNOWN")
RECEIPT_STATUSES = ("RECEIVED", "COMPLETED", "INVALID", "NOT_ALLOWED")


# ---------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Pki:
    """PEM files of a small private CA, the server, the gateway's client, and a rogue client
    whose certificate comes from another CA."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path
    rogue_key: Path
    client_subject: str  # RFC 4514, as the double records it
    rogue_subject: str


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _authority(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name((NameOID.COUNTRY_NAME, "DK"), (NameOID.ORGANIZATION_NAME, "Test"), (NameOID.COMMON_NAME, common_name))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], subject: x509.Name, *,
           server: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def make_pki(directory: Path) -> Pki:
    """A test CA with a server certificate for 127.0.0.1 and a client certificate, plus a
    rogue client certificate from a second CA that the server does not trust."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, rogue_ca = _authority("Test Digital Post CA"), _authority("Rogue CA")
    server = _issue(ca, _name((NameOID.COUNTRY_NAME, "DK"), (NameOID.COMMON_NAME, "127.0.0.1")), server=True)
    client = _issue(ca, _name((NameOID.COUNTRY_NAME, "DK"), (NameOID.ORGANIZATION_NAME, "Eksempel Kommune"),
                              (NameOID.COMMON_NAME, "Nordic Mail Gateway")), server=False)
    rogue = _issue(rogue_ca, _name((NameOID.COUNTRY_NAME, "DK"), (NameOID.COMMON_NAME, "Rogue System")), server=False)
    ca_cert, _ = _write(directory, "ca", ca[0])
    server_cert, server_key = _write(directory, "server", *server)
    client_cert, client_key = _write(directory, "client", *client)
    rogue_cert, rogue_key = _write(directory, "rogue", *rogue)
    return Pki(ca_cert=ca_cert, server_cert=server_cert, server_key=server_key, client_cert=client_cert, client_key=client_key,
               rogue_cert=rogue_cert, rogue_key=rogue_key, client_subject=client[0].subject.rfc4514_string(),
               rogue_subject=rogue[0].subject.rfc4514_string())


def server_context(pki: Pki) -> ssl.SSLContext:
    """TLS for the double: its own certificate, and client certificates from the test CA only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=pki.ca_cert)
    return context


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Seen:
    """One HTTP request that got past the handshake (``path`` with its query)."""

    method: str
    path: str
    client_subject: str
    user: str | None
    content_type: str | None


@dataclass(frozen=True)
class Memo:
    """One letter the double took."""

    uuid: str  # canonical (lower case)
    query_uuid: str  # memo-message-uuid exactly as sent
    data: bytes
    content_type: str
    client_subject: str
    recipient: str


class Refusal(Exception):
    """A 400 with an ``ErrorMessage``."""

    def __init__(self, code: str, message: str, field_errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.body = {"code": code, "message": message, "fieldErrors": field_errors or []}


def _canonical(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- the double


class DigitalPostDouble:
    def __init__(self, pki: Pki, *, system_id: str, system_password: str, repeat: str = "refuse",
                 auto_complete: bool = True) -> None:
        assert repeat in ("refuse", "accept")
        self.pki = pki
        self.system_id = system_id
        self.system_password = system_password
        self.repeat = repeat
        self.auto_complete = auto_complete
        self.lock = threading.Lock()
        self.messages: dict[str, Memo] = {}  # by canonical messageUUID: the first letter of each
        self.letters: list[Memo] = []  # every letter taken, repeats included (repeat="accept")
        self.receipts: dict[str, dict[str, Any]] = {}  # by receipt id, oldest first
        self.outcome_for: dict[str, tuple[str, str, str]] = {}  # recipientID → (status, errorCode, errorMessage)
        self.contacts: dict[str, str | None] = {}  # CPR/CVR number → publicRegistrationStatus (None: no mailbox)
        self.seen: list[Seen] = []
        self.uploads = 0  # memo POSTs that reached the handler, refused ones included
        self.rejected: list[str] = []
        self.handshake_failures: list[str] = []
        self._fail: list[int] = []
        self._drop = 0
        self._schemas: dict[str, etree.XMLSchema] = {}
        self.server = LoopbackServer(server=_TlsServer(_handler(), context=server_context(pki), double=self), scheme="https")

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        """What ``[channels.digitalpost] base_url`` is set to."""
        return self.server.url + API

    def fail_next(self, n: int, status: int = 503) -> None:
        with self.lock:
            self._fail += [status] * n

    def drop_answer_next(self, n: int = 1) -> None:
        with self.lock:
            self._drop += n

    def wait_for_handshake_failures(self, n: int = 1, *, timeout: float = 5.0) -> list[str]:
        """The refused handshakes, once ``n`` are recorded: the client may notice the refusal
        before the server's thread has written it down."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.handshake_failures) >= n or time.monotonic() > deadline:
                    return list(self.handshake_failures)
            time.sleep(0.01)

    def add_receipt(self, message_uuid: str, status: str, *, error_code: str | None = None,
                    error_message: str | None = None) -> str:
        """Post a receipt for a message (as NgDP does when it has processed it); its id."""
        assert status in RECEIPT_STATUSES
        receipt_id = str(uuid.uuid4())
        with self.lock:
            self.receipts[receipt_id] = {
                "transmissionId": str(uuid.uuid4()), "messageUUID": message_uuid, "messageId": None,
                "errorCode": error_code, "errorMessage": error_message, "timeStamp": _now(), "receiptStatus": status,
            }
        return receipt_id

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "DigitalPostDouble":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- protocol ---

    def take_fault(self) -> int | None:
        with self.lock:
            return self._fail.pop(0) if self._fail else None

    def take_drop(self) -> bool:
        with self.lock:
            if self._drop:
                self._drop -= 1
                return True
            return False

    def authorized(self, user: str | None, password: str | None) -> bool:
        return user == self.system_id and password == self.system_password

    def upload(self, query: dict[str, list[str]], content_type: str, body: bytes, *, client_subject: str) -> tuple[int, Any]:
        with self.lock:
            self.uploads += 1
        try:
            memo = self._read_memo(query, content_type, body, client_subject=client_subject)
        except Refusal as refusal:
            with self.lock:
                self.rejected.append(refusal.body["message"])
            return 400, refusal.body
        with self.lock:
            if memo.uuid in self.messages and self.repeat == "refuse":
                message = f"memo with messageUUID {memo.query_uuid} already exists"
                self.rejected.append(message)
                return 400, {"code": "MEMO_ALREADY_EXISTS", "message": message, "fieldErrors": []}
            self.messages.setdefault(memo.uuid, memo)
            self.letters.append(memo)
        received = self.add_receipt(memo.query_uuid, "RECEIVED")
        outcome = self.outcome_for.get(memo.recipient)
        if outcome is not None:
            self.add_receipt(memo.query_uuid, outcome[0], error_code=outcome[1], error_message=outcome[2])
        elif self.auto_complete:
            self.add_receipt(memo.query_uuid, "COMPLETED")
        with self.lock:
            return 201, dict(self.receipts[received])

    def _read_memo(self, query: dict[str, list[str]], content_type: str, body: bytes, *, client_subject: str) -> Memo:
        media = content_type.split(";")[0].strip().lower()
        if media not in ("application/xml", "text/xml"):
            raise Refusal("UNSUPPORTED_CONTENT_TYPE", f"Content-Type {content_type!r}: a single MeMo is application/xml or "
                          "text/xml (archives, application/x-lzma, are not modelled by this double)")
        given = query.get("memo-message-uuid", [])
        if len(given) != 1 or _canonical(given[0]) is None:
            raise Refusal("INVALID_PARAMETER", f"memo-message-uuid must be one UUID, got {given!r}",
                          [{"field": "memo-message-uuid", "code": "NotNull", "rejectedValue": given}])
        if not LITERAL_ROOT.match(body):
            raise Refusal("INVALID_MEMO", "the root element must be written <memo:Message")
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
        except etree.XMLSyntaxError as exc:
            raise Refusal("INVALID_MEMO", f"not well-formed XML: {exc}") from None
        if root.tag != f"{{{MEMO_NS}}}Message":
            raise Refusal("INVALID_MEMO", f"the root element is {root.tag}, not MeMo Message")
        version = root.get("memoVersion")
        if version not in SCHEMAS:
            raise Refusal("INVALID_MEMO", f"memoVersion {version!r} is not 1.1 or 1.2")
        schema = self._schema(version)
        if not schema.validate(root):
            error = schema.error_log[0]
            raise Refusal("INVALID_MEMO", f"the MeMo does not match the MeMo {version} schema",
                          [{"resource": "memo", "field": error.path, "code": "Schema", "message": error.message}])
        found = (root.findtext(f"{{{MEMO_NS}}}MessageHeader/{{{MEMO_NS}}}messageUUID") or "").strip()
        if _canonical(found) != _canonical(given[0]):
            raise Refusal("INVALID_PARAMETER", f"memo-message-uuid {given[0]} is not the MeMo's messageUUID {found or 'none'}")
        recipient = root.findtext(f"{{{MEMO_NS}}}MessageHeader/{{{MEMO_NS}}}Recipient/{{{MEMO_NS}}}recipientID") or ""
        return Memo(uuid=str(_canonical(found)), query_uuid=given[0], data=body, content_type=content_type,
                    client_subject=client_subject, recipient=recipient.strip())

    def _schema(self, version: str) -> etree.XMLSchema:
        with self.lock:
            if version not in self._schemas:
                self._schemas[version] = etree.XMLSchema(etree.parse(str(SCHEMAS[version])))
            return self._schemas[version]

    def receipt_list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            page, size = int(query.get("page", ["0"])[0]), int(query.get("size", ["20"])[0])
        except ValueError:
            return 400, {"code": "INVALID_PARAMETER", "message": "page and size are numbers", "fieldErrors": []}
        with self.lock:
            ids = list(self.receipts)
        pages = max(1, math.ceil(len(ids) / size)) if size > 0 else 1
        return 200, {"content": ids[page * size:(page + 1) * size], "number": page, "size": size,
                     "totalElements": len(ids), "totalPages": pages, "previous": None, "next": None}

    def receipt(self, receipt_id: str, *, delete: bool) -> tuple[int, Any]:
        with self.lock:
            found = self.receipts.pop(receipt_id, None) if delete else self.receipts.get(receipt_id)
        if found is None:
            return 404, {"code": "NOT_FOUND", "message": f"receipt {receipt_id} not found", "fieldErrors": []}
        return 200, dict(found)

    def contact_search(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            page, size = int(query.get("page", ["0"])[0]), int(query.get("size", ["20"])[0])
        except ValueError:
            return 400, {"code": "INVALID_PARAMETER", "message": "page and size are numbers", "fieldErrors": []}
        wanted = {("cprNumber", n) for n in query.get("cprNumber", [])} | {("cvrNumber", n) for n in query.get("cvrNumber", [])}
        with self.lock:
            contacts = [self._contact(number, status) for number, status in self.contacts.items()]
        if wanted:
            contacts = [c for c in contacts if any(c.get(f) == n for f, n in wanted)]
        shown = contacts[page * size:(page + 1) * size]
        return 200, {"contacts": shown, "currentPage": page, "totalPages": max(1, math.ceil(len(contacts) / size)),
                     "elementsOnPage": len(shown), "totalElements": len(contacts), "next": None}

    @staticmethod
    def _contact(number: str, status: str | None) -> dict[str, Any]:
        company = len(number) == 8
        contact: dict[str, Any] = {"id": str(uuid.uuid5(uuid.NAMESPACE_OID, number)), "version": 1,
                                   "type": "COMPANY" if company else "CITIZEN",
                                   ("cvrNumber" if company else "cprNumber"): number}
        if status is not None:
            contact["mailboxSubscription"] = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, number)), "version": 1,
                                              "publicRegistrationStatus": status, "startTime": "2013-11-21T00:08:06.770Z"}
        return contact


class _TlsServer(ThreadingHTTPServer):
    """Hands each accepted connection to its own thread, which does the TLS handshake there
    (a slow or refused handshake never blocks the accept loop)."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, context: ssl.SSLContext, double: DigitalPostDouble) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.tls = context
        self.double = double

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self.double.lock:
                self.double.handshake_failures.append(str(exc))
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()


def _handler() -> type[BaseHTTPRequestHandler]:
    @quiet
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # an idle keep-alive connection frees its thread

        @property
        def double(self) -> DigitalPostDouble:
            return self.server.double  # type: ignore[attr-defined]

        def _reply(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="Digital Post"')
            self.end_headers()
            self.wfile.write(data)

        def _credentials(self) -> tuple[str | None, str | None]:
            header = self.headers.get("Authorization") or ""
            if not header.startswith("Basic "):
                return None, None
            try:
                user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
            except ValueError:
                return None, None
            return user, password

        def _admit(self) -> str | None:
            """Record the request; answer faults and bad credentials. The client subject, or None."""
            der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
            subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
            user, password = self._credentials()
            with self.double.lock:
                self.double.seen.append(Seen(method=self.command, path=self.path, client_subject=subject, user=user,
                                             content_type=self.headers.get("Content-Type")))
            status = self.double.take_fault()
            if status:
                self._reply(status, {"code": "UNAVAILABLE", "message": f"simulated {status}", "fieldErrors": []})
                return None
            if not self.double.authorized(user, password):
                self._reply(401, {"code": "UNAUTHORIZED", "message": "unknown system or wrong api token", "fieldErrors": []})
                return None
            return subject

        def _route(self) -> tuple[str, dict[str, list[str]]]:
            url = urlsplit(self.path)
            return url.path, parse_qs(url.query, keep_blank_values=True)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            subject = self._admit()
            if subject is None:
                return
            path, query = self._route()
            if path != API + "memos/":
                self._reply(404, {"code": "NOT_FOUND", "message": path, "fieldErrors": []})
                return
            answer = self.double.upload(query, self.headers.get("Content-Type", ""), body, client_subject=subject)
            if answer[0] == 201 and self.double.take_drop():
                self.close_connection = True  # taken, but the answer is lost on the way back
                return
            self._reply(*answer)

        def do_GET(self) -> None:
            if self._admit() is None:
                return
            path, query = self._route()
            if path == API + "receipts/":
                self._reply(*self.double.receipt_list(query))
            elif m := RECEIPT.fullmatch(path):
                delete = query.get("delete", ["false"])[0]
                if delete not in ("true", "false"):
                    self._reply(400, {"code": "INVALID_PARAMETER", "message": f"delete={delete!r}", "fieldErrors": []})
                else:
                    self._reply(*self.double.receipt(unquote(m["id"]), delete=delete == "true"))
            elif path == API + "contacts/":
                self._reply(*self.double.contact_search(query))
            else:
                self._reply(404, {"code": "NOT_FOUND", "message": path, "fieldErrors": []})

        def do_DELETE(self) -> None:
            if self._admit() is None:
                return
            path, _ = self._route()
            if m := RECEIPT.fullmatch(path):
                status, body = self.double.receipt(unquote(m["id"]), delete=True)
                self._reply(204) if status == 200 else self._reply(status, body)
            else:
                self._reply(404, {"code": "NOT_FOUND", "message": path, "fieldErrors": []})

    return Handler

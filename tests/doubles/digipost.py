"""Test double for Digipost's API v8 (print), written from the official artifacts in
``../shared/specs/print/digipost`` and the official Java client (digipost-api-client-java):

* every request must be signed as ``RequestMessageSignatureUtil`` builds it (method, path,
  the Content-MD5/Date/X-Content-SHA256/X-Digipost-UserId headers in sorted order as
  ``name: value``, query) with RSA-SHA256 by the key registered for ``X-Digipost-UserId``;
  a body must match ``X-Content-SHA256``; ``Date`` must be within five minutes. Otherwise 403
  with an ``error``. (This module builds the canonical string itself, from the Java source,
  and never imports the gateway's signing code.)
* ``GET /``: the ``entrypoint`` with Digipost's certificate and the links (``create_message``,
  ``create_batch``, ``get_batch``).
* ``POST /messages``: ``multipart/vnd.digipost-v8+xml``; the first part is the ``message``
  (``application/vnd.digipost-v8+xml``), validated with lxml against ``api_v8.xsd``; every
  document of the message must come as a part named by its uuid, and no other part; a message
  id or document uuid seen before answers 409 ``DUPLICATE_MESSAGE_ID``. A message naming a batch
  needs that batch CREATED or NOT_COMMITTED.
* ``POST /batches`` (a ``batch`` with a uuid), ``GET /batches/{uuid}``, ``POST /batches/{uuid}/complete``
  (states CREATED → NOT_COMMITTED → DONE, 5_batch.md), ``DELETE /batches/{uuid}``.
* ``GET /documents/{sender}/{uuid}/status``: ``document-status``, DELIVERED on PRINT once its
  message is delivered to print (sent alone, or its batch committed).

Every answer is signed as ``ResponseMessageSignatureUtil`` reads it (status, path, headers),
with ``Date`` and ``X-Content-SHA256``. Knobs: ``refuse_names`` (a recipient name that Digipost
refuses, 400 ``INVALID_PRINT_ADDRESS``), ``lose_answers`` (POSTs carried out, then no answer), ``stall`` (slow messages), ``sign_with`` (another key: forged answers), ``skew``.
"""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from tests.conftest import SPECS, require_spec
from tests.doubles.http import LoopbackServer, quiet

XSD = SPECS / "print" / "digipost" / "api_v8.xsd"
NS = "http://api.digipost.no/schema/v8"
MEDIA = "application/vnd.digipost-v8+xml"
RELATIONS = "https://api.digipost.no/relations/"
SKEW = dt.timedelta(minutes=5)
_SIGNED = ("content-md5", "date", "x-content-sha256", "x-digipost-userid")
_schema_lock = threading.Lock()
_schema: etree.XMLSchema | None = None


def schema() -> etree.XMLSchema:
    global _schema
    with _schema_lock:
        if _schema is None:
            _schema = etree.XMLSchema(etree.parse(str(require_spec(XSD))))
        return _schema


def self_signed(key: rsa.RSAPrivateKey, name: str = "api.digipost.no") -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))


def canonical(first_line: str, path: str, headers: dict[str, str], query: str | None) -> str:
    """The Java client's canonical string: ``query`` None for a response (no query line)."""
    lines = [first_line, path.lower()]
    lines += [f"{name.lower()}: {value}" for name, value in sorted(headers.items()) if name.lower() in _SIGNED]
    text = "\n".join(lines) + "\n"
    return text + (query.lower() + "\n" if query is not None else "")


@dataclass
class Message:
    message_id: str
    xml: etree._Element
    documents: dict[str, bytes]
    batch: str | None
    delivered: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class DigipostDouble:
    def __init__(self, *, users: dict[str, rsa.RSAPublicKey], now: Any = None) -> None:
        self.users = dict(users)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate = self_signed(self.key)
        self.sign_with: rsa.RSAPrivateKey | None = None
        self.skew = dt.timedelta()
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.refuse_names: set[str] = set()
        self.lose_answers = 0  # POSTs that are carried out, then the connection drops unanswered
        self.lose_only = ""  # ... only POSTs to paths ending so
        self.stall = 0.0  # seconds each message waits before it is answered
        self.messages: dict[str, Message] = {}
        self.documents: dict[str, str] = {}  # document uuid -> message id
        self.batches: dict[str, dict[str, Any]] = {}
        self.refusals: list[tuple[int, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        schema()  # fail (or skip) early without the official XSD
        self.server = LoopbackServer(_handler(self))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "DigipostDouble":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request checks ---

    def check_request(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        """Raise _Refusal(403) unless the request is signed by the registered key of its user."""
        user = headers.get("X-Digipost-UserId", "")
        if user not in self.users:
            raise _Refusal(403, "UNKNOWN_USER", f"no sender {user!r}")
        date = headers.get("Date")
        if not date:
            raise _Refusal(403, "MISSING_DATE", "Date header is required")
        try:
            when = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            raise _Refusal(403, "INVALID_DATE", f"Date {date!r} is not RFC 1123") from None
        if when.tzinfo is None or abs(when - self.now()) > SKEW:
            raise _Refusal(403, "INVALID_DATE", f"Date {date!r} is not within {SKEW} of the server's clock")
        if body:
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if headers.get("X-Content-SHA256") != digest:
                raise _Refusal(403, "INVALID_CONTENT_HASH", "X-Content-SHA256 does not match the body")
        signature = headers.get("X-Digipost-Signature")
        if not signature:
            raise _Refusal(403, "MISSING_SIGNATURE", "X-Digipost-Signature header is required")
        parts = urlsplit(target)
        text = canonical(method.upper(), parts.path, headers, parts.query)
        try:
            self.users[user].verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise _Refusal(403, "INVALID_SIGNATURE", "the signature does not match the request") from None

    def sign_response(self, status: int, path: str, body: bytes) -> dict[str, str]:
        headers = {"Date": email.utils.format_datetime(self.now() + self.skew, usegmt=True)}
        if body:
            headers["X-Content-SHA256"] = base64.b64encode(hashlib.sha256(body).digest()).decode()
        text = canonical(str(status), path, headers, None)
        key = self.sign_with or self.key
        headers["X-Digipost-Signature"] = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        return headers

    # --- resources ---

    def entrypoint(self) -> bytes:
        pem = self.certificate_pem.decode()
        links = "".join(f'<link rel="{RELATIONS}{rel}" uri="{self.url}{path}" media-type="{MEDIA}"/>'
                        for rel, path in (("create_message", "/messages"), ("create_batch", "/batches"),
                                          ("get_batch", "/batches/")))
        return f'<?xml version="1.0" encoding="UTF-8"?><entrypoint xmlns="{NS}"><certificate>{pem}</certificate>{links}</entrypoint>'.encode()

    def receive_message(self, content_type: str, body: bytes, user: str) -> bytes:
        if not content_type.startswith("multipart/vnd.digipost-v8+xml"):
            raise _Refusal(415, "UNSUPPORTED_MEDIA_TYPE", f"expected multipart/vnd.digipost-v8+xml, got {content_type}")
        mime = email.message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP)
        parts = list(mime.iter_parts()) if mime.is_multipart() else []
        if not parts or parts[0].get_filename() != "message" or parts[0].get_content_type() != MEDIA:
            raise _Refusal(400, "INVALID_MULTIPART", "the first part must be the message (application/vnd.digipost-v8+xml)")
        try:
            root = etree.fromstring(parts[0].get_payload(decode=True))
        except etree.XMLSyntaxError as exc:
            raise _Refusal(400, "INVALID_XML", str(exc)) from None
        if not schema().validate(root):
            raise _Refusal(400, "INVALID_XML", str(schema().error_log.last_error))
        q = f"{{{NS}}}"
        uuids = [d.findtext(q + "uuid") for d in root if d.tag in (q + "primary-document", q + "attachment")]
        files = {p.get_filename(): p.get_payload(decode=True) for p in parts[1:]}
        if set(files) != set(uuids) or len(parts) - 1 != len(uuids):
            raise _Refusal(400, "INVALID_MULTIPART", f"parts {sorted(files)} do not match the documents {uuids}")
        for name, data in files.items():
            if not data.startswith(b"%PDF-"):
                raise _Refusal(400, "INVALID_DOCUMENT", f"document {name} is not a PDF")
        if root.find(f"{q}recipient/{q}print-details") is None:
            raise _Refusal(400, "NOT_PRINT", "this double takes print-only messages")
        message_id = root.findtext(q + "message-id") or str(uuid.uuid4())
        name = root.findtext(f"{q}recipient/{q}print-details/{q}recipient/{q}name")
        batch = root.findtext(f"{q}batch/{q}uuid")
        with self.lock:
            if message_id in self.messages or any(u in self.documents for u in uuids):
                raise _Refusal(409, "DUPLICATE_MESSAGE_ID", f"message {message_id} was already sent")
            if name in self.refuse_names:
                raise _Refusal(400, "INVALID_PRINT_ADDRESS", f"the print recipient {name!r} cannot be printed")
            if batch is not None:
                info = self.batches.get(batch)
                if info is None or info["status"] not in ("CREATED", "NOT_COMMITTED"):
                    raise _Refusal(400, "BATCH_NOT_OPEN", f"batch {batch} does not take messages")
                info["status"] = "NOT_COMMITTED"
                info["messages"].append(message_id)
            self.messages[message_id] = Message(message_id, root, files, batch, delivered=batch is None)
            for u in uuids:
                self.documents[u] = message_id
        status = "DELIVERED_TO_PRINT" if batch is None else "NOT_COMPLETE"
        sender = root.findtext(q + "sender-id") or user
        docs = "".join(f"<{tag}><uuid>{u}</uuid><file-type>pdf</file-type></{tag}>"
                       for tag, u in zip(["primary-document"] + ["attachment"] * len(uuids), uuids))
        time = f"<delivery-time>{self.now().isoformat()}</delivery-time>" if batch is None else ""
        return (f'<?xml version="1.0" encoding="UTF-8"?><message-delivery xmlns="{NS}"><message-id>{message_id}</message-id>'
                f"<delivery-method>PRINT</delivery-method><sender-id>{sender}</sender-id><status>{status}</status>{time}{docs}"
                "</message-delivery>").encode()

    def batch_xml(self, batch_uuid: str) -> bytes:
        info = self.batches[batch_uuid]
        links = (f'<link rel="{RELATIONS}complete_batch" uri="{self.url}/batches/{batch_uuid}/complete"/>'
                 f'<link rel="{RELATIONS}cancel_batch" uri="{self.url}/batches/{batch_uuid}"/>')
        return (f'<?xml version="1.0" encoding="UTF-8"?><batch xmlns="{NS}"><uuid>{batch_uuid}</uuid>'
                f'<status>{info["status"]}</status><count-digipost>0</count-digipost>'
                f'<count-print>{len(info["messages"])}</count-print>{links}</batch>').encode()

    def document_status(self, document_uuid: str) -> bytes:
        message = self.messages[self.documents[document_uuid]]
        status, channel = ("DELIVERED", "PRINT") if message.delivered else ("NOT_DELIVERED", "PENDING")
        return (f'<?xml version="1.0" encoding="UTF-8"?><document-status xmlns="{NS}" uuid="{document_uuid}" '
                f'status="{status}" channel="{channel}" is-primary-document="true"/>').encode()


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(code: str, message: str) -> bytes:
    text = message.replace("&", "&amp;").replace("<", "&lt;")
    return (f'<?xml version="1.0" encoding="UTF-8"?><error xmlns="{NS}"><error-code>{code}</error-code>'
            f"<error-message>{text}</error-message><error-type>CLIENT_DATA</error-type></error>").encode()


def _handler(double: DigipostDouble) -> type[BaseHTTPRequestHandler]:
    @quiet
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes) -> None:
            headers = double.sign_response(status, urlsplit(self.path).path, body)
            self.send_response_only(status)  # no Date of http.server's own: the signed one only
            self.send_header("Content-Type", MEDIA)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _handle(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()}
            path = urlsplit(self.path).path
            double.requests.append((method, path))
            try:
                double.check_request(method, self.path, headers, body)
                status, answer = self._route(method, path, headers, body)
            except _Refusal as refusal:
                double.refusals.append((refusal.status, refusal.code))
                status, answer = refusal.status, _error(refusal.code, refusal.message)
            if double.lose_answers and status < 300 and method == "POST" and path.endswith(double.lose_only):
                double.lose_answers -= 1
                self.close_connection = True
                return
            self._answer(status, answer)

        def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
            parts = [p for p in path.split("/") if p]
            if method == "GET" and not parts:
                return 200, double.entrypoint()
            if method == "POST" and parts == ["messages"]:
                time.sleep(double.stall)
                return 200, double.receive_message(headers.get("Content-Type", ""), body, headers["X-Digipost-UserId"])
            if method == "POST" and parts == ["batches"]:
                root = etree.fromstring(body)
                if not schema().validate(root):
                    raise _Refusal(400, "INVALID_XML", str(schema().error_log.last_error))
                batch_uuid = root.findtext(f"{{{NS}}}uuid")
                with double.lock:
                    if batch_uuid in double.batches:
                        raise _Refusal(409, "DUPLICATE_BATCH", f"batch {batch_uuid} exists")
                    double.batches[batch_uuid] = {"status": "CREATED", "messages": []}
                return 201, double.batch_xml(batch_uuid)
            if len(parts) >= 2 and parts[0] == "batches" and parts[1] in double.batches:
                batch_uuid = parts[1]
                if method == "GET" and len(parts) == 2:
                    return 200, double.batch_xml(batch_uuid)
                if method == "POST" and parts[2:] == ["complete"]:
                    with double.lock:
                        info = double.batches[batch_uuid]
                        if info["status"] not in ("CREATED", "NOT_COMMITTED"):
                            raise _Refusal(400, "BATCH_NOT_OPEN", f"batch {batch_uuid} is {info['status']}")
                        info["status"] = "DONE"
                        for message_id in info["messages"]:
                            double.messages[message_id].delivered = True
                    return 200, double.batch_xml(batch_uuid)
                if method == "DELETE" and len(parts) == 2:
                    with double.lock:
                        info = double.batches.pop(batch_uuid)
                        for message_id in info["messages"]:
                            double.messages.pop(message_id, None)
                    return 200, b""
            if method == "GET" and len(parts) == 4 and parts[0] == "documents" and parts[3] == "status":
                if parts[2] not in double.documents:
                    raise _Refusal(404, "NOT_FOUND", f"no document {parts[2]}")
                return 200, double.document_status(parts[2])
            raise _Refusal(404, "NOT_FOUND", f"{method} {path}")

        def do_GET(self) -> None:  # noqa: N802
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._handle("DELETE")

    return Handler

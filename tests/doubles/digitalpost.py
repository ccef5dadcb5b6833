"""Test double for Danish Digital Post (NgDP), over real mutual TLS on loopback.

The server holds a certificate for 127.0.0.1 issued by a test CA and requires a client
certificate signed by the same CA, so a client without one, or with one from another CA,
fails in the TLS handshake (recorded in ``handshake_failures``) and never reaches HTTP.
Every request that gets through records the client certificate's subject and the Basic user.

* ``POST /apis/v1/messages/memo``: ``multipart/form-data`` with exactly one file part
  ``file`` named ``{messageUUID}.xml`` (the UUID read from ``memo:MessageHeader/memo:messageUUID``),
  whose raw bytes start with ``<memo:Message`` after the prolog. Stored by UUID; a repeated
  UUID answers 409.
* ``GET /apis/v1/contacts/registration/{CPR|CVR}/{identifier}``: from ``registered`` (else 404).
* ``GET /apis/v1/messages/{messageUUID}/status``: from ``statuses`` (PENDING if unset, 404 if unknown).

Knobs: ``fail_next(n, status=503)``; ``wait_for_handshake_failures(n)``. Use :func:`make_pki` for the certificates.
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from tests.doubles.http import LoopbackServer, quiet

MEMO_NS = "https://DigitalPost.dk/MeMo-1"
MEMO_PATH = "/apis/v1/messages/memo"
REGISTRATION = re.compile(r"/apis/v1/contacts/registration/(?P<id_type>[^/]+)/(?P<identifier>[^/]+)")
STATUS = re.compile(r"/apis/v1/messages/(?P<uuid>[^/]+)/status")
#: The raw-bytes rule Digital Post enforces: after BOM, declaration, whitespace and comments
#: the root element is written with the literal ``memo:`` prefix.
LITERAL_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml[^>]*\?>)?(?:\s|<!--.*?-->)*<memo:Message[\s/>]", re.DOTALL)


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
    """One HTTP request that got past the handshake."""

    method: str
    path: str
    client_subject: str
    user: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class Memo:
    uuid: str
    filename: str
    data: bytes
    content_type: str
    idempotency_key: str | None
    client_subject: str


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """multipart/form-data → parts, keeping each payload byte for byte."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match or not content_type.lower().startswith("multipart/form-data"):
        raise ValueError(f"not multipart/form-data: {content_type!r}")
    delimiter = b"\r\n--" + match.group(1).encode()
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("multipart body without a closing boundary")
    parts = []
    for chunk in chunks[1:-1]:
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without a blank line after its headers")
        headers = {}
        for line in head.decode("utf-8").strip().split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = dict(re.findall(r';\s*(\w+)="([^"]*)"', headers.get("content-disposition", "")))
        parts.append(Part(name=params.get("name", ""), filename=params.get("filename"),
                          content_type=headers.get("content-type", "text/plain"), data=payload))
    return parts


# ---------------------------------------------------------------- the double


class DigitalPostDouble:
    def __init__(self, pki: Pki, *, system_id: str, system_password: str) -> None:
        self.pki = pki
        self.system_id = system_id
        self.system_password = system_password
        self.lock = threading.Lock()
        self.messages: dict[str, Memo] = {}  # by messageUUID
        self.registered: dict[str, bool] = {}  # by CPR/CVR number; missing → 404
        self.statuses: dict[str, str] = {}  # by messageUUID; missing → PENDING
        self.seen: list[Seen] = []
        self.uploads = 0  # memo POSTs that reached the handler, duplicates included
        self.rejected: list[str] = []
        self.handshake_failures: list[str] = []
        self._fail: list[int] = []
        self.server = LoopbackServer(server=_TlsServer(_handler(), context=server_context(pki), double=self), scheme="https")

    @property
    def url(self) -> str:
        return self.server.url

    def fail_next(self, n: int, status: int = 503) -> None:
        with self.lock:
            self._fail += [status] * n

    def wait_for_handshake_failures(self, n: int = 1, *, timeout: float = 5.0) -> list[str]:
        """The refused handshakes, once ``n`` are recorded: the client may notice the refusal
        before the server's thread has written it down."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.handshake_failures) >= n or time.monotonic() > deadline:
                    return list(self.handshake_failures)
            time.sleep(0.01)

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

    def authorized(self, user: str | None, password: str | None) -> bool:
        return user == self.system_id and password == self.system_password

    def upload(self, content_type: str, body: bytes, *, idempotency_key: str | None, client_subject: str) -> tuple[int, Any]:
        with self.lock:
            self.uploads += 1
        try:
            parts = parse_multipart(content_type, body)
        except ValueError as exc:
            return self._reject(str(exc))
        if len(parts) != 1 or parts[0].name != "file" or parts[0].filename is None:
            return self._reject(f"expected exactly one file part named 'file', got {[(p.name, p.filename) for p in parts]}")
        part = parts[0]
        if part.content_type.split(";")[0].strip().lower() != "application/xml":
            return self._reject(f"the file must be application/xml, not {part.content_type!r}")
        if not LITERAL_ROOT.match(part.data):
            return self._reject("the root element must be written <memo:Message")
        try:
            root = etree.fromstring(part.data, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            return self._reject(f"not well-formed XML: {exc}")
        if root.tag != f"{{{MEMO_NS}}}Message":
            return self._reject(f"the root element is {root.tag}, not MeMo Message")
        found = root.findtext(f"{{{MEMO_NS}}}MessageHeader/{{{MEMO_NS}}}messageUUID")
        message_uuid = (found or "").strip()
        if not message_uuid:
            return self._reject("no memo:MessageHeader/memo:messageUUID")
        if part.filename != f"{message_uuid}.xml":
            return self._reject(f"the file is named {part.filename!r}, not {message_uuid}.xml")
        with self.lock:
            if message_uuid.lower() in self.messages:
                return 409, {"title": "Conflict", "detail": f"message {message_uuid} already exists"}
            self.messages[message_uuid.lower()] = Memo(uuid=message_uuid, filename=part.filename, data=part.data,
                                                       content_type=part.content_type, idempotency_key=idempotency_key,
                                                       client_subject=client_subject)
        return 202, {"messageUUID": message_uuid}

    def registration(self, id_type: str, identifier: str) -> tuple[int, Any]:
        if id_type not in ("CPR", "CVR"):
            return 400, {"title": "Bad Request", "detail": f"unknown id type {id_type}"}
        with self.lock:
            registered = self.registered.get(identifier)
        if registered is None:
            return 404, {"title": "Not Found", "detail": f"{id_type} {identifier} is not known"}
        return 200, {"registered": registered}

    def status(self, message_uuid: str) -> tuple[int, Any]:
        key = message_uuid.lower()
        with self.lock:
            if key not in self.messages:
                return 404, {"title": "Not Found", "detail": f"message {message_uuid} is not known"}
            return 200, {"messageUUID": message_uuid, "status": self.statuses.get(message_uuid, self.statuses.get(key, "PENDING"))}

    def _reject(self, reason: str) -> tuple[int, Any]:
        with self.lock:
            self.rejected.append(reason)
        return 400, {"title": "Bad Request", "detail": reason}


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

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
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
                                             idempotency_key=self.headers.get("Idempotency-Key")))
            status = self.double.take_fault()
            if status:
                self._reply(status, {"title": f"simulated {status}"})
                return None
            if not self.double.authorized(user, password):
                self._reply(401, {"title": "Unauthorized", "detail": "unknown system or wrong password"})
                return None
            return subject

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            subject = self._admit()
            if subject is None:
                return
            if urlsplit(self.path).path != MEMO_PATH:
                self._reply(404, {"title": "Not Found"})
                return
            self._reply(*self.double.upload(self.headers.get("Content-Type", ""), body,
                                            idempotency_key=self.headers.get("Idempotency-Key"), client_subject=subject))

        def do_GET(self) -> None:
            if self._admit() is None:
                return
            path = urlsplit(self.path).path
            if m := REGISTRATION.fullmatch(path):
                self._reply(*self.double.registration(unquote(m["id_type"]), unquote(m["identifier"])))
            elif m := STATUS.fullmatch(path):
                self._reply(*self.double.status(unquote(m["uuid"])))
            else:
                self._reply(404, {"title": "Not Found"})

    return Handler

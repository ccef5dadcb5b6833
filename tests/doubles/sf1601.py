"""Test double for KOMBIT SF1601 on Serviceplatformen with KOMBIT's STS, over mutual TLS.

Written from the public senders (itk-dev/serviceplatformen ``docs/SF1601.md``, ``SF1601.php``,
``AbstractRESTService.php``; itk-dev-rpa/python-serviceplatformen ``authentication.py``,
``digital_post.py``, ``models/physical_mail.py``; OS2Forms ``ForsendelseHelper.php``), not from
our client. One TLS server (certificates from :func:`tests.doubles.digitalpost.make_pki`; a
client without a certificate of the test CA fails in the handshake) answers:

* ``POST /runtime/api/rest/wstrust/v1/issue``: JSON with TokenType, RequestType, KeyType,
  ``AnvenderKontekst.Cvr`` (the known CVR), ``UseKey`` (the TLS client certificate on one
  line: the token is holder-of-key) and ``AppliesTo.EndpointReference.Address`` (a known entity
  id); else 400. Answers ``RequestedSecurityToken.Assertion`` (base64 SAML with
  ``Conditions/@NotOnOrAfter``) and ``Lifetime``.
* ``POST /service/AccessTokenService_1/token``: form ``saml-token`` (one it issued, not expired)
  → ``{"access_token", "token_type": "Holder-of-key", "expires_in"}``.
* ``POST /service/KombiPostAfsend_1/kombi`` (and ``/memos``): ``Authorization: Holder-of-key``
  with a live token for kombipostafsend/1 (else 401), ``x-TransaktionsId`` a UUID and
  ``x-TransaktionsTid`` ISO time (else 400), a ``kombi_request`` whose KombiValgKode is one of
  the four, whose ``memo:Message`` has the literal prefix and is valid MeMo, and, for
  "Fysisk Post", a ``fjernprint:ForsendelseISamling/fjernprint:ForsendelseI`` with its
  required fields and a PDF (else 400). Answers a ``kombi_response`` (Result, TransmissionID).
* ``GET /service/PostForespoerg_1/digitalpost?cprNumber=…|cvrNumber=…``: a live token for
  postforespoerg/1 and the transaction headers → ``{"result": bool}`` (unknown: false).

Knobs: ``registered``, ``expire_tokens()``, ``token_seconds``; records ``issued`` (STS calls),
``access_tokens_issued``, ``sends``, ``lookups``, ``refused``.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from tests.doubles.digitalpost import Pki, _TlsServer, server_context
from tests.doubles.http import LoopbackServer, quiet

ROOT = Path(__file__).resolve().parents[2]
MEMO_NS = "https://DigitalPost.dk/MeMo-1"
FJERNPRINT_NS = "urn:oio:fjernprint:1.0.0"
DKAL_NS = "urn:oio:dkal:1.0.0"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SEND_ENTITY = "http://entityid.kombit.dk/service/kombipostafsend/1"
LOOKUP_ENTITY = "http://entityid.kombit.dk/service/postforespoerg/1"
BF_ENTITY = "http://entityid.kombit.dk/service/bfo_modtag/2"
STS_PATH = "/runtime/api/rest/wstrust/v1/issue"
TOKEN_PATH = "/service/AccessTokenService_1/token"
SEND_PATHS = ("/service/KombiPostAfsend_1/kombi", "/service/KombiPostAfsend_1/memos")
LOOKUP_PATH = "/service/PostForespoerg_1/digitalpost"
KOMBI_VALG_KODER = ("Digital Post", "Fysisk Post", "Automatisk Valg", "NemSMS")
POST_KATEGORIER = ("Prioritaire", "Economique", "Bulk", "Rekommanderet", "Rekommanderet med modtagerbevis", "Forkyndelse")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
LITERAL_MEMO = re.compile(rb"<memo:Message[\s>]")
LITERAL_FJERNPRINT = re.compile(rb"<fjernprint:ForsendelseISamling[\s>]")


def memo_schema(version: str) -> etree.XMLSchema:
    """1.1: the official XSD (../shared/specs); 1.2, which has no official XSD: the project's bundle."""
    path = (ROOT.parent / "shared" / "specs" / "memo" / "xsd-1.1" / "MeMo_core.xsd" if version == "1.1"
            else ROOT / "xsd" / "memo-1.2" / "memo.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


@dataclass(frozen=True)
class Send:
    transaction_id: str
    transaction_time: str
    kombi_valg_kode: str
    path: str
    body: bytes
    memo: etree._Element | None
    forsendelse: etree._Element | None


@dataclass(frozen=True)
class Token:
    entity_id: str
    expires: dt.datetime


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Sf1601Double:
    def __init__(self, pki: Pki, *, cvr: str, token_seconds: int = 3600, saml_seconds: int = 8 * 3600) -> None:
        self.pki = pki
        self.cvr = cvr
        self.token_seconds = token_seconds
        self.saml_seconds = saml_seconds
        self.lock = threading.Lock()
        self.registered: dict[str, bool] = {}
        self.issued: list[dict[str, Any]] = []  # STS requests that got a token
        self.access_tokens_issued = 0
        self.sends: list[Send] = []
        self.lookups: list[tuple[str, str]] = []  # (parameter, number)
        self.refused: list[str] = []
        self.handshake_failures: list[str] = []
        self._saml: dict[str, Token] = {}  # assertion → its entity and end
        self._tokens: dict[str, Token] = {}  # access token → ...
        self._schemas: dict[str, etree.XMLSchema] = {}
        self.server = LoopbackServer(server=_TlsServer(_handler(), context=server_context(pki), double=self), scheme="https")  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def sts_url(self) -> str:
        return self.url + STS_PATH

    def expire_tokens(self) -> None:
        """Every access token handed out so far ends now (the service answers them 401)."""
        with self.lock:
            past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
            self._tokens = {k: Token(v.entity_id, past) for k, v in self._tokens.items()}

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "Sf1601Double":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- STS and access tokens ---

    def issue(self, body: bytes, client_der: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body)
        except ValueError:
            raise Refused(400, "the STS request is not JSON") from None
        if not isinstance(request, dict):
            raise Refused(400, "the STS request is not a JSON object")
        for key, value in (("TokenType", "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"),
                           ("RequestType", "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"),
                           ("KeyType", "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey")):
            if request.get(key) != value:
                raise Refused(400, f"{key} must be {value}")
        cvr = (request.get("AnvenderKontekst") or {}).get("Cvr")
        if cvr != self.cvr:
            raise Refused(400, f"AnvenderKontekst.Cvr {cvr!r} is not an authority with access")
        if request.get("UseKey") != base64.b64encode(client_der).decode():
            raise Refused(400, "UseKey is not the certificate of this TLS connection on one line")
        entity = ((request.get("AppliesTo") or {}).get("EndpointReference") or {}).get("Address")
        if entity not in (SEND_ENTITY, LOOKUP_ENTITY, BF_ENTITY):
            raise Refused(400, f"AppliesTo {entity!r} is no service entity id")
        ends = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=self.saml_seconds)
        saml = (f'<saml:Assertion xmlns:saml="{SAML_NS}" ID="_{uuid.uuid4()}" Version="2.0"><saml:Issuer>double-sts</saml:Issuer>'
                f'<saml:Conditions NotBefore="{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}" '
                f'NotOnOrAfter="{ends:%Y-%m-%dT%H:%M:%SZ}"><saml:AudienceRestriction><saml:Audience>{entity}</saml:Audience>'
                f'</saml:AudienceRestriction></saml:Conditions></saml:Assertion>')
        assertion = base64.b64encode(saml.encode()).decode()
        with self.lock:
            self.issued.append(request)
            self._saml[assertion] = Token(entity, ends)
        return {"RequestedSecurityToken": {"Assertion": assertion}, "Lifetime": f"{ends:%m/%d/%Y %H:%M:%S}",
                "TokenType": request["TokenType"]}

    def access_token(self, body: bytes, content_type: str) -> dict[str, Any]:
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise Refused(400, "the token request must be a form")
        assertion = (parse_qs(body.decode()).get("saml-token") or [""])[0]
        with self.lock:
            saml = self._saml.get(assertion)
            if saml is None or saml.expires <= dt.datetime.now(dt.timezone.utc):
                raise Refused(401, "saml-token is not a live SAML token of this STS")
            token = str(uuid.uuid4())
            self._tokens[token] = Token(saml.entity_id, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.token_seconds))
            self.access_tokens_issued += 1
        return {"access_token": token, "token_type": "Holder-of-key", "expires_in": self.token_seconds}

    def admit(self, headers: Any, entity: str) -> tuple[str, str]:
        """The checks every service call passes: a live token for ``entity``, the transaction headers."""
        authorization = headers.get("Authorization") or ""
        kind, _, token = authorization.partition(" ")
        with self.lock:
            held = self._tokens.get(token) if kind == "Holder-of-key" else None
        if held is None or held.entity_id != entity:
            raise Refused(401, f"no Holder-of-key access token for {entity}")
        if held.expires <= dt.datetime.now(dt.timezone.utc):
            raise Refused(401, "the access token has expired")
        transaction_id = headers.get("x-TransaktionsId") or ""
        if not UUID_RE.fullmatch(transaction_id):
            raise Refused(400, f"x-TransaktionsId must be a UUID, not {transaction_id!r}")
        transaction_time = headers.get("x-TransaktionsTid") or ""
        try:
            dt.datetime.fromisoformat(transaction_time.replace("Z", "+00:00"))
        except ValueError:
            raise Refused(400, f"x-TransaktionsTid must be an ISO 8601 time, not {transaction_time!r}") from None
        return transaction_id, transaction_time

    # --- the services ---

    def send(self, path: str, headers: Any, body: bytes) -> bytes:
        transaction_id, transaction_time = self.admit(headers, SEND_ENTITY)
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise Refused(400, f"not well-formed XML: {exc}") from None
        if root.tag != "kombi_request" or not len(root) or root[0].tag != "KombiValgKode":
            raise Refused(400, "the body must be <kombi_request> starting with <KombiValgKode>")
        code = (root[0].text or "").strip()
        if code not in KOMBI_VALG_KODER:
            raise Refused(400, f"KombiValgKode {code!r} is not one of {KOMBI_VALG_KODER}")
        memo = root.find(f"{{{MEMO_NS}}}Message")
        if memo is not None:
            if not LITERAL_MEMO.search(body):
                raise Refused(400, "the MeMo must be written with the literal memo: prefix")
            version = memo.get("memoVersion", "")
            if version not in ("1.1", "1.2"):
                raise Refused(400, f"memoVersion {version!r} is not supported")
            schema = self._schemas.get(version) or self._schemas.setdefault(version, memo_schema(version))
            if not schema.validate(etree.fromstring(etree.tostring(memo))):
                raise Refused(400, f"the MeMo is not valid: {schema.error_log.last_error}")
        forsendelse = root.find(f"{{{FJERNPRINT_NS}}}ForsendelseISamling/{{{FJERNPRINT_NS}}}ForsendelseI")
        if code in ("Digital Post", "NemSMS") and memo is None:
            raise Refused(400, f"{code} needs a memo:Message")
        if code == "Fysisk Post":
            if forsendelse is None:
                raise Refused(400, "Fysisk Post needs fjernprint:ForsendelseISamling/fjernprint:ForsendelseI")
            if not LITERAL_FJERNPRINT.search(body):
                raise Refused(400, "ForsendelseISamling must be written with the literal fjernprint: prefix")
            self._check_forsendelse(forsendelse)
        with self.lock:
            self.sends.append(Send(transaction_id=transaction_id, transaction_time=transaction_time, kombi_valg_kode=code,
                                   path=path, body=body, memo=memo, forsendelse=forsendelse))
        return (f"<kombi_response><Result>true</Result><TransmissionID>{uuid.uuid4()}</TransmissionID>"
                f"<HovedoplysningerSvarREST><SvarReaktion><Advis><AdvisId>1</AdvisId><AdvisTekst>Received</AdvisTekst>"
                f"</Advis></SvarReaktion></HovedoplysningerSvarREST></kombi_response>").encode()

    @staticmethod
    def _check_forsendelse(f: etree._Element) -> None:
        def text(path: str) -> str:
            return (f.findtext(path) or "").strip()

        fp, dk = f"{{{FJERNPRINT_NS}}}", f"{{{DKAL_NS}}}"
        if not 1 <= len(text(fp + "AfsendelseIdentifikator")) <= 38:
            raise Refused(400, "ForsendelseI needs an AfsendelseIdentifikator of 1-38 characters")
        if not text(fp + "ForsendelseTypeIdentifikator").isdigit():
            raise Refused(400, "ForsendelseI needs a numeric ForsendelseTypeIdentifikator")
        if text(dk + "FilformatNavn").lower() != "pdf":
            raise Refused(400, "ForsendelseI's FilformatNavn must be PDF")
        try:
            pdf = base64.b64decode(text(dk + "MeddelelseIndholdData"), validate=True)
        except ValueError:
            pdf = b""
        if not pdf.startswith(b"%PDF-"):
            raise Refused(400, "ForsendelseI's MeddelelseIndholdData is not a base64 PDF")
        if f.find(fp + "DokumentParametre") is None:
            raise Refused(400, "ForsendelseI needs DokumentParametre")
        if text(f"{fp}PostParametre/{fp}PostKategoriKode") not in POST_KATEGORIER:
            raise Refused(400, f"PostKategoriKode must be one of {POST_KATEGORIER}")
        if f.find(f"{fp}ForsendelseModtager/{fp}ModtagerAdresse") is None:
            raise Refused(400, "ForsendelseI needs ForsendelseModtager/ModtagerAdresse")

    def lookup(self, query: str, headers: Any) -> dict[str, Any]:
        self.admit(headers, LOOKUP_ENTITY)
        params = parse_qs(query)
        (name, values), = params.items() if len(params) == 1 else ((None, None),)
        if name not in ("cprNumber", "cvrNumber") or not values:
            raise Refused(400, "PostForespoerg needs one cprNumber or cvrNumber")
        with self.lock:
            self.lookups.append((name, values[0]))
            return {"result": self.registered.get(values[0], False)}


def _handler() -> type[BaseHTTPRequestHandler]:
    @quiet
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        @property
        def double(self) -> Sf1601Double:
            return self.server.double  # type: ignore[attr-defined]

        def _reply(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, answer: Any) -> None:
            try:
                result = answer()
            except Refused as exc:
                with self.double.lock:
                    self.double.refused.append(str(exc))
                self._reply(exc.status, json.dumps({"error": str(exc)}).encode(), "application/json")
                return
            if isinstance(result, bytes):
                self._reply(200, result, "application/xml")
            else:
                self._reply(200, json.dumps(result).encode(), "application/json")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
            if path == STS_PATH:
                self._serve(lambda: self.double.issue(body, der))
            elif path == TOKEN_PATH:
                self._serve(lambda: self.double.access_token(body, self.headers.get("Content-Type", "")))
            elif path in SEND_PATHS:
                self._serve(lambda: self.double.send(path, self.headers, body))
            else:
                self._reply(404, b"{}", "application/json")

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == LOOKUP_PATH:
                self._serve(lambda: self.double.lookup(parts.query, self.headers))
            else:
                self._reply(404, b"{}", "application/json")

    return Handler


def client_der(pki: Pki) -> bytes:
    return x509.load_pem_x509_certificate(pki.client_cert.read_bytes()).public_bytes(serialization.Encoding.DER)

"""Test double for Altinn 3 Correspondence and Maskinporten, speaking the real protocols.

* ``POST /token``: Maskinporten JWT grant, checked as the real endpoint does
  (:mod:`tests.doubles.maskinporten`): the key named by ``kid`` (registered) or ``x5c`` (a chain to a
  trusted certificate), the signature, aud, iss, scope, iat/exp; a jti is used once.
* ``GET /authentication/api/v1/exchange/maskinporten``: exchanges a Maskinporten token for an
  Altinn token (a signed JWT with ``exp`` and the scope granted).
* Every correspondence call needs the APIM header ``Ocp-Apim-Subscription-Key`` (APIM's 401
  otherwise), then a token with ``altinn:correspondence.write`` (an Altinn token; a raw
  Maskinporten token also needs ``altinn:serviceowner``): 401 (4001) without one, 403 with too little scope.
* ``POST /correspondence/api/v1/correspondence/upload``: multipart form as in the official
  OpenAPI file, rebuilt into the JSON object the contract describes and validated against the
  contract's own schema (from ``../shared/specs``); then every rule of ``SERVICE-RULES.md``
  (:mod:`tests.doubles.altinn3_rules`), each answered with the service's error code; a repeated
  ``IdempotentKey`` answers 409 (1034) without the existing id.
* ``GET /correspondence/api/v1/correspondence?resourceId=&role=&sendersReference=&idempotentKey=``
  (``role`` required) and ``/{id}``: ``status`` is the highest status reached (Fetched left out),
  ``read`` when it was read; a purged correspondence answers 404 (1001).

Knobs: ``fail_next(n, status=503)``, ``stall_next(n, seconds)``, ``reserved`` recipients (422),
``mark_read(id)``, ``archive(id)``, ``mark_failed(id)``, ``add_status(id, name)``, ``purge(id)``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import jwt
from cryptography import x509

from tests.conftest import SPECS, require_spec
from tests.doubles import altinn3_rules as rules
from tests.doubles.http import LoopbackServer, quiet
from tests.doubles.maskinporten import GrantRefused, GrantVerifier

OPENAPI = SPECS / "altinn" / "correspondence-altinn3" / "altinn-correspondence-v1.json"
UPLOAD = "/correspondence/api/v1/correspondence/upload"
LIST = "/correspondence/api/v1/correspondence"


def upload_validator() -> jsonschema.Draft202012Validator:
    doc = json.loads(require_spec(OPENAPI).read_text(encoding="utf-8"))
    schema = dict(doc["paths"][UPLOAD]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"])
    schema["components"] = doc["components"]
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def form_to_json(fields: list[tuple[str, str]], files: list[dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the contract's JSON object from form fields, the way ASP.NET binds them."""
    props = schema["properties"]
    components = schema["components"]["schemas"]
    out: dict[str, Any] = {}

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = components[s["$ref"].rsplit("/", 1)[1]]
        return s

    def coerce(value: str, s: dict[str, Any]) -> Any:
        s = resolve(s)
        if s.get("type") == "boolean":
            return {"true": True, "false": False}.get(value.lower(), value)
        if s.get("type") == "integer":
            return int(value) if value.lstrip("-").isdigit() else value
        return value

    for key, value in fields:
        m = re.fullmatch(r"(?P<name>[\w.]+?)\[(?P<index>[^\]]+)\](?:\.(?P<member>\w+))?", key)
        if m:
            name, index, member = m["name"], m["index"], m["member"]
            spec = resolve(props.get(name, {}))
            if spec.get("type") == "array" and member:
                items = resolve(spec["items"])
                real = next((p for p in items.get("properties", {}) if p.lower() == member.lower()), member)
                lst = out.setdefault(name, [])
                while len(lst) <= int(index):
                    lst.append({})
                lst[int(index)][real] = coerce(value, items.get("properties", {}).get(real, {}))
            else:  # dictionary: Name[key]=value
                out.setdefault(name, {})[index] = value
            continue
        spec = resolve(props.get(key, {}))
        if spec.get("type") == "array":
            out.setdefault(key, []).append(coerce(value, spec.get("items", {})))
        else:
            out[key] = coerce(value, spec)
    if files:
        out["attachments"] = [f["filename"] for f in files]
    return out


@dataclass
class Correspondence:
    id: str
    form: dict[str, Any]
    files: list[dict[str, Any]]
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    statuses: list[tuple[str, dt.datetime]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.statuses:
            self.statuses = [("Initialized", self.created), ("Published", self.created)]

    @property
    def status(self) -> str:
        """The highest status reached, Fetched left out (the overview's ``status``)."""
        return max((name for name, _ in self.statuses if name != "Fetched"), key=rules.STATUS_ORDER.index)

    @property
    def read(self) -> dt.datetime | None:
        return next((at for name, at in self.statuses if name == "Read"), None)


class Altinn3Double:
    def __init__(self, *, client_id: str, public_key_pem: bytes | None = None, key_id: str = "kid-1",
                 trusted_certificates: Iterable[x509.Certificate] = (), scope: str = "altinn:correspondence.write",
                 audience: str | None = None, token_lifetime: int = 120, clock: Callable[[], float] = time.time,
                 subscription_key: str = "test-subscription-key") -> None:
        """``public_key_pem`` is registered on the client as ``key_id``; ``trusted_certificates`` (CA or
        leaf) are what an ``x5c`` chain must lead to."""
        self.client_id = client_id
        self.scope = scope
        self.subscription_key = subscription_key
        self.token_lifetime = token_lifetime
        self._secret = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.correspondences: dict[str, Correspondence] = {}
        self.by_key: dict[str, str] = {}
        self.uploads: list[dict[str, Any]] = []  # every upload that reached the handler
        self.rejected: list[str] = []  # contract violations
        self.searches: list[dict[str, list[str]]] = []  # every list query that passed access
        self.grants: list[dict[str, Any]] = []
        self.seen_jti: set[str] = set()
        self.reserved: set[str] = set()
        self._fail: list[int] = []
        self._stall: list[float] = []
        self._stall_after: list[float] = []
        self.validator = upload_validator()
        self.server = LoopbackServer(_handler(), context=self)
        self.audience = audience or self.server.url + "/"
        self.verifier = GrantVerifier(client_id=client_id, audience=self.audience, scope=scope, clock=clock,
                                      keys={key_id: public_key_pem} if public_key_pem else {}, trusted=trusted_certificates)

    # --- knobs ---

    @property
    def url(self) -> str:
        return self.server.url

    def fail_next(self, n: int, status: int = 503) -> None:
        with self.lock:
            self._fail += [status] * n

    def stall_next(self, n: int, seconds: float) -> None:
        with self.lock:
            self._stall += [seconds] * n

    def stall_after_next(self, n: int, seconds: float) -> None:
        """Create the next ``n`` correspondences, then wait before answering (a client may die meanwhile)."""
        with self.lock:
            self._stall_after += [seconds] * n

    def take_stall_after(self) -> float:
        with self.lock:
            return self._stall_after.pop(0) if self._stall_after else 0.0

    def add_status(self, correspondence_id: str, name: str) -> None:
        assert name in rules.STATUS_ORDER, name
        with self.lock:
            self.correspondences[correspondence_id].statuses.append((name, dt.datetime.now(dt.timezone.utc)))

    def mark_read(self, correspondence_id: str) -> None:
        """The recipient opens the letter: Fetched, then Read (ReadBeforeFetched is error 1024)."""
        self.add_status(correspondence_id, "Fetched")
        self.add_status(correspondence_id, "Read")

    def archive(self, correspondence_id: str) -> None:
        self.add_status(correspondence_id, "Archived")

    def mark_failed(self, correspondence_id: str) -> None:
        self.add_status(correspondence_id, "Failed")

    def purge(self, correspondence_id: str) -> None:
        """Purged (by the recipient or Altinn): the overview answers 404 (1001) from now on."""
        with self.lock:
            del self.correspondences[correspondence_id]

    def by_senders_reference(self, reference: str) -> list[Correspondence]:
        with self.lock:
            return [c for c in self.correspondences.values() if c.form.get("Correspondence.SendersReference") == reference]

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "Altinn3Double":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- protocol ---

    def take_fault(self) -> tuple[int | None, float]:
        with self.lock:
            status = self._fail.pop(0) if self._fail else None
            stall = self._stall.pop(0) if self._stall else 0.0
        return status, stall

    def grant(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = self.verifier.verify(form.get("assertion", [""])[0])
        except GrantRefused as refused:
            return 400, refused.body
        with self.lock:
            if claims["jti"] in self.seen_jti:
                return 400, {"error": "invalid_grant", "error_description": "jti reused"}
            self.seen_jti.add(claims["jti"])
            self.grants.append(claims)
        token = jwt.encode({"mp": True, "client": self.client_id, "scope": claims["scope"],
                            "exp": int(time.time()) + self.token_lifetime}, self._secret, "HS256")
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime, "scope": self.scope}

    def exchange(self, authorization: str | None) -> tuple[int, Any]:
        claims = self._bearer(authorization, want="mp")
        if claims is None:
            return 401, {"title": "invalid Maskinporten token"}
        return 200, jwt.encode({"altinn": True, "exp": claims["exp"], "scope": claims.get("scope", "")}, self._secret, "HS256")

    def access(self, headers: Any) -> tuple[int, Any] | None:
        """None when the call may go on; else APIM's or the service's refusal."""
        if headers.get("Ocp-Apim-Subscription-Key") != self.subscription_key:
            return 401, {"statusCode": 401, "message": "Access denied due to missing subscription key. "
                         "Make sure to include subscription key when making requests to an API."}
        authorization = headers.get("Authorization")
        claims = self._bearer(authorization, want="altinn") or self._bearer(authorization, want="mp")
        if claims is None:
            return rules.problem(rules.NO_ACCESS)
        scopes = set(str(claims.get("scope", "")).split())
        needed = {"altinn:correspondence.write"} | (set() if claims.get("altinn") else {"altinn:serviceowner"})
        if not needed <= scopes:
            return 403, {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.4", "title": "Forbidden", "status": 403}
        return None

    def _bearer(self, authorization: str | None, *, want: str) -> dict[str, Any] | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        try:
            claims = jwt.decode(authorization[7:], self._secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return None
        return claims if claims.get(want) else None

    def upload(self, fields: list[tuple[str, str]], files: list[dict[str, Any]]) -> tuple[int, Any]:
        body = form_to_json(fields, files, self.validator.schema)
        key = body.get("IdempotentKey")
        if key is not None and not rules.is_guid(str(key)):
            return self._refused(body, files, rules.problem(rules.INVALID_IDEMPOTENCY_KEY))
        errors = sorted(self.validator.iter_errors(body), key=lambda e: list(e.path))
        if errors:
            self.rejected.append("; ".join(e.message for e in errors))
            return self._refused(body, files, rules.validation_problem({"$": [e.message for e in errors]}), contract=errors)
        answer = self._check(body, files)
        if answer is not None:
            return self._refused(body, files, answer)
        with self.lock:
            self.uploads.append({"json": body, "files": files, "errors": []})
            if key and key in self.by_key:
                return rules.problem(rules.DUPLICATE)  # the existing id is not named: find it by idempotentKey
            cid = str(uuid.uuid4())
            self.correspondences[cid] = Correspondence(cid, body, files)
            if key:
                self.by_key[key] = cid
        recipient = body["Recipients"][0]
        return 200, {"correspondences": [{"correspondenceId": cid, "status": "Published", "recipient": recipient}],
                     "attachmentIds": [str(uuid.uuid4()) for _ in files]}

    def _refused(self, body: dict[str, Any], files: list[dict[str, Any]], answer: tuple[int, Any], *, contract: Any = ()) -> tuple[int, Any]:
        with self.lock:
            self.uploads.append({"json": body, "files": files, "errors": [getattr(e, "message", e) for e in contract],
                                 "refused": answer})
        return answer

    def _check(self, body: dict[str, Any], files: list[dict[str, Any]]) -> tuple[int, Any] | None:
        """The service's checks, in its order: the model, the content, the notification, the attachments."""
        model = rules.model_errors(body)
        if model:
            return rules.validation_problem(model)
        error = rules.content_error(body)
        if error:
            return rules.problem(error)
        notification = rules.notification_error(body)
        if notification:
            return notification
        by_name = {f["filename"]: f for f in files}
        for meta in body.get("Correspondence.Content.Attachments", []):
            error = rules.attachment_name_error(meta.get("fileName"))
            if error:
                return rules.problem(error)
            file = by_name.get(meta["fileName"])
            if file is None:
                return rules.problem(rules.FILES_DO_NOT_MATCH)
            if meta.get("checksum") and meta["checksum"] != hashlib.md5(file["data"]).hexdigest():
                return rules.problem(rules.HASH_MISMATCH)
        recipient = body["Recipients"][0]
        if recipient.rsplit(":", 1)[-1] in self.reserved:
            return 422, {**rules.problem((1030, f"Recipient {recipient} has reserved themselves from public correspondences. "
                                                "Can be overridden using the 'IgnoreReservation' flag.", 422))[1]}
        return None

    def overview(self, cid: str) -> tuple[int, Any]:
        with self.lock:
            c = self.correspondences.get(cid)
            if c is None:
                return rules.problem(rules.CORRESPONDENCE_NOT_FOUND)
            status, read, changed = c.status, c.read, c.statuses[-1][1]
        return 200, {
            "correspondenceId": c.id, "status": status, "statusText": status, "statusChanged": changed.isoformat(),
            "resourceId": c.form["Correspondence.ResourceId"], "sendersReference": c.form["Correspondence.SendersReference"],
            "recipient": c.form["Recipients"][0], "created": c.created.isoformat(), "published": c.created.isoformat(),
            "read": read.isoformat() if read else None,
        }

    def search(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        self.searches.append(query)
        one = lambda name: (query.get(name) or [None])[0]  # noqa: E731
        if one("role") not in ("Recipient", "Sender", "RecipientAndSender"):
            return rules.validation_problem({"role": ["The role field is required."]})
        with self.lock:
            found = [c for c in self.correspondences.values()
                     if (one("resourceId") is None or c.form.get("Correspondence.ResourceId") == one("resourceId"))
                     and (one("sendersReference") is None or c.form.get("Correspondence.SendersReference") == one("sendersReference"))
                     and (one("idempotentKey") is None or self.by_key.get(one("idempotentKey") or "") == c.id)]
        return 200, {"ids": [c.id for c in found]}


def _parse_multipart(content_type: str, body: bytes) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """multipart/form-data → (fields, files). A small strict parser: the email package is
    several milliseconds per upload, which made the double the bottleneck of benchmarks."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match or not content_type.lower().startswith("multipart/form-data"):
        raise ValueError(f"not multipart/form-data: {content_type!r}")
    delimiter = b"--" + match.group(1).encode()
    fields, files = [], []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, payload = part.partition(b"\r\n\r\n")
        payload = payload[:-2] if payload.endswith(b"\r\n") else payload
        headers = {}
        for line in head.decode("utf-8").strip().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = dict(re.findall(r';\s*(\w+)="([^"]*)"', disposition))
        if "filename" in params:
            files.append({"name": params.get("name"), "filename": params["filename"], "data": payload,
                          "content_type": headers.get("content-type", "application/octet-stream").split(";")[0]})
        else:
            fields.append((params.get("name", ""), payload.decode("utf-8")))
    return fields, files


def _handler() -> type[BaseHTTPRequestHandler]:
    @quiet
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        @property
        def double(self) -> Altinn3Double:
            return self.server.context  # type: ignore[attr-defined]

        def _reply(self, status: int, body: Any) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            ctype = "text/plain" if isinstance(body, str) else ("application/json" if status < 400 else "application/problem+json")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _faults(self) -> bool:
            status, stall = self.double.take_fault()
            if stall:
                time.sleep(stall)
            if status:
                self._reply(status, {"title": f"simulated {status}"})
                return True
            return False

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            if path == "/token":
                form = parse_qs(body.decode())
                self._reply(*self.double.grant(form))
            elif path == UPLOAD:
                if self._faults():
                    return
                refused = self.double.access(self.headers)
                if refused:
                    self._reply(*refused)
                    return
                fields, files = _parse_multipart(self.headers.get("Content-Type", ""), body)
                answer = self.double.upload(fields, files)
                if answer[0] == 200:
                    time.sleep(self.double.take_stall_after())
                try:
                    self._reply(*answer)
                except OSError:
                    pass  # the client is gone
            else:
                self._reply(404, {"title": "not found"})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/authentication/api/v1/exchange/maskinporten":
                self._reply(*self.double.exchange(self.headers.get("Authorization")))
                return
            if self._faults():
                return
            refused = self.double.access(self.headers)
            if refused:
                self._reply(*refused)
                return
            if parts.path == LIST:
                self._reply(*self.double.search(parse_qs(parts.query)))
            elif parts.path.startswith(LIST + "/"):
                self._reply(*self.double.overview(parts.path.rsplit("/", 1)[1]))
            else:
                self._reply(404, {"title": "not found"})

    return Handler


__all__ = ["Altinn3Double", "form_to_json", "upload_validator", "Path"]

"""Danish Digital Post (NgDP): one MeMo message per letter over mutual TLS.

The gateway proves who it is twice: with its system certificate in the TLS handshake, and
with the system id and password as HTTP Basic (Digital Post identifies the calling system
by both). A letter is one ``multipart/form-data`` upload with a single ``file`` part named
``{messageUUID}.xml``. The messageUUID is Digital Post's own key: a repeated upload answers
409, which means an earlier attempt already delivered the letter, so it counts as success.
Digital Post only accepts MeMo whose elements carry the literal ``memo:`` prefix (a
default-namespace document is the same XML to a parser but is refused), so the channel
checks the bytes before it spends a network call on them.

``DigitalPostSettings`` lives here until the integrator moves it into ``gateway.config``.
"""
from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import requests

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange, sent_digital
from gateway.channels.http import environment_session, retry_after_seconds
from gateway.config import ConfigError, DigitalPostSettings
from gateway.model import Status, utcnow
from gateway.uuids import is_canonical_uuid

logger = logging.getLogger(__name__)

NAME = "digitalpost"
ID_TYPES = frozenset({"CPR", "CVR"})
SUCCESS = frozenset({200, 201, 202})

#: Digital Post message status → what it means for the letter (PENDING: nothing yet).
STATUS_MAP: dict[str, Status] = {"DELIVERED": Status.NOTIFIED, "READ": Status.READ}
FAILED = "FAILED"

Render = Callable[[Letter], tuple[str, bytes]]


# --- the MeMo bytes ---

_BOM = b"\xef\xbb\xbf"
_DECLARATION = re.compile(rb"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""\sencoding\s*=\s*["']([^"']*)["']""")
_MISC = re.compile(rb"(?:\s+|<!--.*?-->|<\?(?!xml[\s?])[^>]*?\?>)*", re.DOTALL)  # whitespace, comments, PIs
_ROOT = re.compile(rb"<memo:Message[\s/>]")
_UUID_ELEMENT = re.compile(rb"<memo:messageUUID>\s*([^<\s]*)\s*</memo:messageUUID>")


def check_upload_bytes(data: bytes, message_uuid: str) -> None:
    """Refuse bytes Digital Post would refuse, before any network call: not UTF-8, a root
    element without the literal ``memo:`` prefix, or a messageUUID that is not the one the
    file is named after."""
    if not is_canonical_uuid(message_uuid, any_case=True):
        raise ChannelRejected(f"the MeMo messageUUID {message_uuid!r} is not a UUID", channel=NAME)
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    declaration = _DECLARATION.match(body)
    if declaration:
        encoding = _ENCODING.search(declaration.group())
        if encoding and encoding.group(1).decode("ascii", "replace").lower() != "utf-8":
            raise ChannelRejected(f"the MeMo declares encoding {encoding.group(1)!r}; Digital Post requires UTF-8", channel=NAME)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChannelRejected(f"the MeMo is not UTF-8 (byte {exc.start}); Digital Post requires UTF-8", channel=NAME) from None
    start = _MISC.match(body, declaration.end() if declaration else 0).end()  # type: ignore[union-attr]
    if not _ROOT.match(body, start):
        head = body[start:start + 60].decode("utf-8", "replace")
        raise ChannelRejected(f"the MeMo root element must be written <memo:Message ...>, found {head!r}: "
                              "Digital Post requires the literal memo: prefix", channel=NAME)
    inside = _UUID_ELEMENT.search(body)
    if inside is None or inside.group(1).decode("utf-8") != message_uuid:
        found = inside.group(1).decode("utf-8", "replace") if inside else "none"
        raise ChannelRejected(f"the MeMo's memo:messageUUID ({found}) is not {message_uuid}, the name of the upload", channel=NAME)


# --- the channel ---


class DigitalPostChannel:
    name = NAME

    def __init__(self, settings: DigitalPostSettings, *, render: Render) -> None:
        _check_settings(settings)
        self.settings = settings
        self.render = render
        self.base = settings.base_url.rstrip("/")
        # configured once: requests keeps the connections (and their handshakes) in its pool
        self.session = environment_session(self.base)
        self.session.cert = (settings.client_certificate, settings.client_private_key)
        self.session.verify = settings.ca_bundle or True
        self.session.auth = (settings.system_id, settings.system_password)
        self.session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self.session.close()

    # --- submit ---

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        message_uuid, xml = self.render(letter)
        check_upload_bytes(xml, message_uuid)
        files = {"file": (f"{message_uuid}.xml", xml, "application/xml; charset=utf-8")}
        r = self._call("POST", self.settings.memo_path, files=files, headers={"Idempotency-Key": idempotency_key})
        if r.status_code in SUCCESS:
            detail = f"Digital Post accepted MeMo {message_uuid} (HTTP {r.status_code})"
        elif r.status_code == 409:
            detail = f"Digital Post already has MeMo {message_uuid}: an earlier attempt delivered it"
        else:
            self._raise_for(r)
        return sent_digital(letter, channel=NAME, idempotency_key=idempotency_key, reference=message_uuid, detail=detail)

    # --- lookups ---

    def is_registered(self, id_type: str, identifier: str) -> bool:
        """Whether a CPR or CVR number has a Digital Post mailbox (404: not known at all)."""
        if id_type not in ID_TYPES:
            raise ValueError(f"id_type must be CPR or CVR, not {id_type!r}")
        path = self.settings.registration_path.format(id_type=id_type, identifier=quote(identifier, safe=""))
        r = self._call("GET", path)
        if r.status_code == 404:
            return False
        if r.status_code != 200:
            raise ChannelUnavailable(f"Digital Post registration lookup answered {r.status_code}: {r.text[:300]}", channel=NAME)
        registered = _json(r).get("registered")
        if not isinstance(registered, bool):
            raise ChannelUnavailable(f"Digital Post registration lookup answered without a boolean 'registered': {r.text[:300]}", channel=NAME)
        return registered

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        changes = []
        for receipt in receipts:
            r = self._call("GET", self.settings.status_path.format(message_uuid=quote(receipt.reference, safe="")))
            if r.status_code == 404:
                logger.warning("Digital Post does not know MeMo %s (shipment %s)", receipt.reference, receipt.shipment_id)
                continue
            if r.status_code != 200:
                raise ChannelUnavailable(f"Digital Post status lookup answered {r.status_code}: {r.text[:300]}", channel=NAME)
            status = str(_json(r).get("status", ""))
            if status == FAILED:
                changes.append(StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference, status=None,
                                            at=utcnow(), failed=True, detail="Digital Post: FAILED"))
            elif status in STATUS_MAP:
                changes.append(StatusChange(shipment_id=receipt.shipment_id, reference=receipt.reference,
                                            status=STATUS_MAP[status], at=utcnow(), detail=f"Digital Post: {status}"))
            elif status != "PENDING":
                logger.warning("Digital Post answered an unknown status %r for MeMo %s", status, receipt.reference)
        return changes

    # --- HTTP ---

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, self.base + path, timeout=self.settings.timeout_seconds, **kwargs)
        except requests.Timeout as exc:
            raise ChannelUnavailable(f"Digital Post did not answer within {self.settings.timeout_seconds} s", channel=NAME) from exc
        except requests.exceptions.SSLError as exc:
            raise ChannelUnavailable(f"TLS with Digital Post failed (client certificate refused, or the server certificate "
                                     f"not trusted by ca_bundle): {exc}", channel=NAME) from exc
        except requests.RequestException as exc:
            raise ChannelUnavailable(f"Digital Post is not reachable: {exc}", channel=NAME) from exc

    @staticmethod
    def _raise_for(r: requests.Response) -> NoReturn:
        text = r.text[:500]
        if r.status_code >= 500 or r.status_code in (408, 429):
            raise ChannelUnavailable(f"Digital Post answered {r.status_code}: {text}", channel=NAME,
                                     retry_after=retry_after_seconds(r.headers.get("Retry-After"), now=utcnow()))
        if r.status_code in (401, 403):
            raise ChannelRejected(f"Digital Post refused the client certificate or system credentials ({r.status_code}): {text}", channel=NAME)
        raise ChannelRejected(f"Digital Post refused the MeMo ({r.status_code}): {text}", channel=NAME)


def _json(r: requests.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ChannelUnavailable(f"Digital Post answered {r.status_code} without a JSON object: {r.text[:300]}", channel=NAME)
    return body


def _check_settings(s: DigitalPostSettings) -> None:
    """Fail at start-up, not at the first letter: the certificate pair is loaded once here,
    so a missing file, a key that does not match, or an encrypted key (which OpenSSL would
    answer with a password prompt on the terminal) is a configuration error."""
    if not s.base_url.startswith("https://"):
        raise ConfigError(f"channels.digitalpost.base_url must be https:// (mutual TLS), not {s.base_url!r}")
    missing = [k for k in ("client_certificate", "client_private_key", "system_id", "system_password") if not getattr(s, k)]
    if missing:
        raise ConfigError(f"[channels.digitalpost] needs {', '.join(missing)}")
    for key in ("client_certificate", "client_private_key", "ca_bundle"):
        path = getattr(s, key)
        if path and not Path(path).is_file():
            raise ConfigError(f"channels.digitalpost.{key}: no such file {path!r}")

    def encrypted() -> bytes:
        raise ConfigError("channels.digitalpost.client_private_key is encrypted; give the key unencrypted (mode 0600)")

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(s.client_certificate, s.client_private_key, password=encrypted)
        if s.ca_bundle:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=s.ca_bundle)
    except ssl.SSLError as exc:
        raise ConfigError(f"[channels.digitalpost] certificate files unusable (is the key the certificate's?): {exc}") from exc

"""Danish Digital Post through KOMBIT's SF1601 "Afsend post" on Serviceplatformen (the way in
for municipalities), ``[channels.digitalpost] transport = "sf1601"``.

Every call carries mutual TLS with the authority's system certificate, an access token for
the service it calls (``Authorization: Holder-of-key …``, :mod:`gateway.channels.sf1601_tokens`)
and the transaction headers ``x-TransaktionsId`` (a UUID) and ``x-TransaktionsTid`` (ISO time).
A letter is one ``kombi_request`` (:mod:`gateway.channels.sf1601_xml`); the registration
lookup is PostForespoerg, ``GET …/digitalpost?cprNumber=…`` → ``{"result": true|false}``.

The letter's ``x-TransaktionsId``, its MeMo ``messageUUID`` and (for physical post) its
``AfsendelseIdentifikator`` are one and the same UUID, the shipment id, which is also the
receipt's reference: Beskedfordeler's status events name the letter by MessageUUID (os2forms)
and senders that keep the transaction id match the events on that (OpenPostbud), so whichever
the event carries, it finds the letter. A retry sends the same id again.

Physical post (``physical_post = "sf1601"``): KOMBIT prints the letters of Danish recipients
without a mailbox. The routing then cannot use the mailbox answer to choose print, so the
channel says :attr:`carries_physical_post` and the register sends every Danish letter here;
the channel asks PostForespoerg at submit and sends an unregistered recipient's letter as
"Fysisk Post" with a ForsendelseI, answered SENT_TO_PRINT (a text message to such a recipient
is refused: it is never printed). With ``physical_post = "print"``
the register asks :meth:`is_registered` at routing and our own print channel prints.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import ssl
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.credentials
import requests

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, Receipt, StatusChange
from gateway.channels.digitalpost_memo import check_memo_schema, check_upload_bytes
from gateway.channels.http import environment_session, retry_after_seconds
from gateway.channels.sf1601_events import BeskedfordelerFeed
from gateway.channels.sf1601_tokens import KombitTokens, one_line_certificate
from gateway.channels.sf1601_xml import DIGITAL_POST, NEMSMS, PHYSICAL_POST, forsendelse_i, kombi_request, read_kombi_response
from gateway.config import ConfigError, DigitalPostSettings
from gateway.delivery import FeedEntry
from gateway.model import PartyKind, Status, utcnow
from gateway.uuids import is_canonical_uuid
from gateway.xml.schemas import SchemaRegistry

logger = logging.getLogger(__name__)

NAME = "digitalpost"
ID_TYPES = {"CPR": "cprNumber", "CVR": "cvrNumber"}
DANISH = {PartyKind.DK_CPR: "CPR", PartyKind.DK_CVR: "CVR"}
PHYSICAL_POST_CHOICES = ("print", "sf1601")
Render = Callable[[Letter], tuple[str, bytes]]


def transaction_time(now: dt.datetime) -> str:
    """``x-TransaktionsTid``: ISO 8601 in UTC with a Z (itk-dev's ``formatDateTimeZulu``)."""
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sf1601Channel:
    name = NAME

    def __init__(self, settings: DigitalPostSettings, *, render: Render, clock: Callable[[], dt.datetime] = utcnow) -> None:
        check_settings(settings)
        self.settings = settings
        self.sf = settings.sf1601
        self.render = render
        self.clock = clock
        self.base = settings.base_url.rstrip("/")
        self.schemas = SchemaRegistry.builtin()
        #: Danish letters all come here and the channel picks Digital Post or Fysisk Post itself.
        self.carries_physical_post = self.sf.physical_post == "sf1601"
        self.session = environment_session(self.base)
        self.session.cert = (settings.client_certificate, settings.client_private_key)
        self.session.verify = settings.ca_bundle or True
        self.tokens = KombitTokens(
            self.session, channel=NAME, sts_url=self.sf.sts_url, access_token_url=self.base + self.sf.access_token_path,
            cvr=self.sf.authority_cvr, use_key=one_line_certificate(Path(settings.client_certificate).read_bytes()),
            margin=dt.timedelta(seconds=self.sf.token_margin_seconds), timeout=settings.timeout_seconds, clock=clock)

    def close(self) -> None:
        self.session.close()

    # --- submit ---

    def submit(self, letter: Letter, *, idempotency_key: str) -> Receipt:
        message_uuid, memo = self.render(letter)
        if not is_canonical_uuid(message_uuid, any_case=True):
            # it is the x-TransaktionsId too, which Serviceplatformen takes only as a UUID
            raise ChannelRejected(f"the MeMo messageUUID {message_uuid!r} is not a UUID", channel=NAME)
        # the same bytes rules as NgDP, and the project's own schema for the configured version
        check_upload_bytes(memo, message_uuid)
        check_memo_schema(memo, version=self.settings.memo_version, schemas=self.schemas)
        shipment = letter.shipment
        kind = shipment.recipient.kind
        text_message = bool(shipment.routing.handling.text_message)
        registered = True  # routing asked already, unless this channel prints itself
        if self.carries_physical_post and kind in DANISH and shipment.recipient.identifier:
            registered = self.is_registered(DANISH[kind], shipment.recipient.identifier)
        if not registered and text_message:
            raise ChannelRejected("the recipient has no Digital Post mailbox, and a text message is never printed", channel=NAME)
        if not registered:
            code = PHYSICAL_POST
            forsendelse = forsendelse_i(shipment, content=letter.content, reference=message_uuid,
                                        forsendelse_type=self.sf.forsendelse_type_identifikator,
                                        post_kategori=self.sf.post_kategori_kode)
            body = kombi_request(code, memo, forsendelse)
        else:
            code = NEMSMS if text_message else DIGITAL_POST
            body = kombi_request(code, memo)
        r = self._call("POST", self.sf.send_path, self.sf.send_entity_id, transaction_id=message_uuid, data=body,
                       headers={"Content-Type": "application/xml", "Accept": "application/xml"})
        if r.status_code not in (200, 201, 202):
            self._raise_for(r, "KombiPostAfsend")
        answer = _kombi_answer(r)
        status = Status.SENT_TO_PRINT if code == PHYSICAL_POST else Status.SENT_DIGITAL
        extra = {"kombi_valg_kode": code, **({"transmission_id": answer["transmissionid"]} if "transmissionid" in answer else {})}
        return Receipt(channel=NAME, shipment_id=shipment.id, idempotency_key=idempotency_key, reference=message_uuid,
                       status=status, detail=f"SF1601 took MeMo {message_uuid} as {code}", extra=extra)

    # --- lookups and status ---

    def is_registered(self, id_type: str, identifier: str) -> bool:
        """PostForespoerg: whether a CPR or CVR number has a Digital Post mailbox (an unknown
        number answers false, not 404)."""
        if id_type not in ID_TYPES:
            raise ValueError(f"id_type must be CPR or CVR, not {id_type!r}")
        r = self._call("GET", self.sf.lookup_path, self.sf.lookup_entity_id, transaction_id=str(uuid.uuid4()),
                       params={ID_TYPES[id_type]: identifier}, headers={"Accept": "application/json"})
        if r.status_code != 200:
            self._raise_for(r, "PostForespoerg", lookup=True)
        try:
            result = r.json().get("result")
        except (ValueError, AttributeError):
            result = None
        if not isinstance(result, bool):
            raise ChannelUnavailable(f"PostForespoerg answered without a boolean 'result': {r.text[:300]}", channel=NAME)
        return result

    def poll(self, receipts: Sequence[Receipt]) -> list[StatusChange]:
        """SF1601 has no status to ask for: news comes through Beskedfordeler (the feed)."""
        return []

    # --- HTTP ---

    def _call(self, method: str, path: str, entity_id: str, *, transaction_id: str, **kwargs: Any) -> requests.Response:
        """One call with a token; a 401 means the token ended early: once more with a new one."""
        for attempt in (1, 2):
            headers = {**kwargs.pop("headers", {}), "Authorization": self.tokens.authorization(entity_id),
                       "x-TransaktionsId": transaction_id, "x-TransaktionsTid": transaction_time(self.clock())}
            kwargs["headers"] = headers
            try:
                r = self.session.request(method, self.base + path, timeout=self.settings.timeout_seconds, **kwargs)
            except requests.Timeout as exc:
                raise ChannelUnavailable(f"Serviceplatformen did not answer within {self.settings.timeout_seconds} s",
                                         channel=NAME) from exc
            except requests.RequestException as exc:
                raise ChannelUnavailable(f"Serviceplatformen is not reachable (mutual TLS refused, or no answer): {exc}",
                                         channel=NAME) from exc
            if r.status_code == 401 and attempt == 1:
                logger.info("Serviceplatformen refused the access token for %s; fetching a new one", entity_id)
                self.tokens.forget(entity_id)
                continue
            return r
        return r

    def _raise_for(self, r: requests.Response, what: str, *, lookup: bool = False) -> Any:
        text = r.text[:500]
        if r.status_code >= 500 or r.status_code in (401, 403, 408, 429) or lookup:
            # 401/403 after a fresh token is the authority's access, not the letter: wait, do not fall back
            raise ChannelUnavailable(f"{what} answered {r.status_code}: {text}", channel=NAME,
                                     retry_after=retry_after_seconds(r.headers.get("Retry-After"), now=utcnow()))
        raise ChannelRejected(f"{what} refused the letter ({r.status_code}): {text}", channel=NAME)


def _kombi_answer(r: requests.Response) -> dict[str, str]:
    """The kombi_response of a 2xx; ``Result`` false refuses the letter."""
    try:
        answer = read_kombi_response(r.content)
    except ValueError as exc:
        raise ChannelUnavailable(f"KombiPostAfsend answered {r.status_code} without a kombi_response: {exc}", channel=NAME) from None
    if answer.get("result", "").lower() != "true":
        reason = answer.get("fejltekst") or answer.get("advistekst") or r.text[:300]
        raise ChannelRejected(f"KombiPostAfsend did not take the letter (Result {answer.get('result')!r}): {reason}", channel=NAME)
    return answer


class Sf1601FeedChannel(Sf1601Channel):
    """SF1601 with its status events from Beskedfordeler: a StatusFeed, and what the factory
    builds. ``amqp_url`` is required: SF1601 says what became of a letter only there, and a
    Danish letter that never hears of its delivery would be printed at its read deadline."""

    def __init__(self, settings: DigitalPostSettings, *, render: Render, clock: Callable[[], dt.datetime] = utcnow) -> None:
        if not (settings.sf1601.amqp_url and settings.sf1601.amqp_queue):
            raise ConfigError("[channels.digitalpost.sf1601] needs amqp_url and amqp_queue: SF1601 reports delivery only "
                              "through Beskedfordeler, and without it every letter would be printed at its read deadline")
        super().__init__(settings, render=render, clock=clock)
        self.feed = BeskedfordelerFeed(self._amqp_parameters, queue=self.sf.amqp_queue, channel=NAME)

    def fetch(self, *, limit: int) -> list[FeedEntry]:
        return self.feed.fetch(limit=limit)

    def acknowledge(self, entries: Sequence[FeedEntry]) -> None:
        self.feed.acknowledge(entries)

    def release(self, entries: Sequence[FeedEntry]) -> None:
        self.feed.release(entries)

    def close(self) -> None:
        self.feed.close()
        super().close()

    def _amqp_parameters(self) -> pika.ConnectionParameters:
        """From ``amqp_url``; over amqps with the system certificate, and with the decoded
        SAML token as the SASL EXTERNAL credential when ``amqp_token_auth`` is on."""
        params = pika.URLParameters(self.sf.amqp_url)
        params.heartbeat = self.sf.amqp_heartbeat_seconds
        params.connection_attempts = 1
        params.socket_timeout = self.settings.timeout_seconds
        params.blocked_connection_timeout = self.settings.timeout_seconds
        if self.sf.amqp_url.startswith("amqps://"):
            context = ssl.create_default_context(cafile=self.settings.ca_bundle or None)
            context.load_cert_chain(self.settings.client_certificate, self.settings.client_private_key)
            params.ssl_options = pika.SSLOptions(context, server_hostname=urlsplit(self.sf.amqp_url).hostname)
        if self.sf.amqp_token_auth:
            assertion = self.tokens.saml_assertion(self.sf.amqp_entity_id)
            params.credentials = TokenCredentials(base64.b64decode("".join(assertion.split())))
        return params


class TokenCredentials(pika.credentials.ExternalCredentials):
    """SASL EXTERNAL whose response is KOMBIT's SAML token (Beskedfordeler's login)."""

    def __init__(self, token: bytes) -> None:
        super().__init__()
        self.token = token

    def response_for(self, start: Any) -> tuple[str | None, bytes | None]:
        if self.TYPE not in (start.mechanisms or b"").decode("ascii", "replace").split():
            return None, None
        return self.TYPE, self.token


def check_settings(s: DigitalPostSettings) -> None:
    """Fail at start-up, naming the key, not at the first letter."""
    sf = s.sf1601
    where = "channels.digitalpost"
    if not s.base_url.startswith("https://"):
        raise ConfigError(f"{where}.base_url must be Serviceplatformen's https:// address, not {s.base_url!r}")
    if not sf.sts_url.startswith("https://"):
        raise ConfigError(f"{where}.sf1601.sts_url must be https://, not {sf.sts_url!r}")
    missing = [k for k in ("client_certificate", "client_private_key") if not getattr(s, k)]
    missing += [f"sf1601.{k}" for k in ("authority_cvr",) if not getattr(sf, k)]
    if missing:
        raise ConfigError(f"[{where}] with transport = \"sf1601\" needs {', '.join(missing)}")
    if not (sf.authority_cvr.isdigit() and len(sf.authority_cvr) == 8):
        raise ConfigError(f"{where}.sf1601.authority_cvr must be 8 digits, not {sf.authority_cvr!r}")
    if sf.physical_post not in PHYSICAL_POST_CHOICES:
        raise ConfigError(f"{where}.sf1601.physical_post must be \"print\" or \"sf1601\", not {sf.physical_post!r}")
    if sf.physical_post == "sf1601" and sf.forsendelse_type_identifikator <= 0:
        raise ConfigError(f"{where}.sf1601.forsendelse_type_identifikator is needed for physical_post = \"sf1601\" "
                          "(the print supplier hands it out)")
    if sf.amqp_url and not (sf.amqp_url.startswith(("amqp://", "amqps://")) and sf.amqp_queue):
        raise ConfigError(f"{where}.sf1601.amqp_url must be amqp:// or amqps:// and goes with amqp_queue")
    for key in ("client_certificate", "client_private_key", "ca_bundle"):
        path = getattr(s, key)
        if path and not Path(path).is_file():
            raise ConfigError(f"{where}.{key}: no such file {path!r}")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(s.client_certificate, s.client_private_key,
                                                               password=lambda: _encrypted())
    except ssl.SSLError as exc:
        raise ConfigError(f"[{where}] certificate files unusable (is the key the certificate's?): {exc}") from exc


def _encrypted() -> bytes:
    raise ConfigError("channels.digitalpost.client_private_key is encrypted; give the key unencrypted (mode 0600)")

"""Build the configured channels from settings (keys loaded once, here)."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from gateway.channels.base import Channel
from gateway.config import ConfigError, Settings
from gateway.config.maskinporten import maskinporten_credentials
from gateway.model import utcnow

logger = logging.getLogger(__name__)
#: Said at start-up whenever the Altinn 2 channel is switched on.
ALTINN2_SHUT_DOWN = (
    "[channels.altinn2] is enabled, but sending correspondence through Altinn II ended on 31 May 2026: "
    "letters routed to it will fail and fall back to print. Kept only for old installations; use [channels.altinn3]."
)


def build_channels(settings: Settings, *, clock: Callable[[], dt.datetime] = utcnow) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    c = settings.channels
    if c.altinn3.enabled:
        from gateway.channels.altinn3 import Altinn3Channel
        from gateway.channels.maskinporten import MaskinportenClient, TokenProvider

        a = c.altinn3
        credentials = maskinporten_credentials(a)
        exchange = f"{a.base_url.rstrip('/')}/authentication/api/v1/exchange/maskinporten"
        client = MaskinportenClient(token_url=a.token_url, audience=a.token_audience, client_id=a.client_id,
                                    scope=a.scope, key_id=credentials.key_id,
                                    certificate_chain=credentials.certificate_chain, exchange_url=exchange)
        tokens = TokenProvider(client, private_key_pem=credentials.private_key_pem, timeout=a.timeout_seconds)
        channels["altinn3"] = Altinn3Channel(a, tokens=tokens)
    if c.altinn2.enabled:
        from gateway.channels.altinn2 import Altinn2Channel

        if not (c.altinn2.wsdl_url and c.altinn2.endpoint_url):
            raise ConfigError("[channels.altinn2] needs wsdl_url and endpoint_url")
        logger.warning("%s", ALTINN2_SHUT_DOWN)
        channels["altinn2"] = Altinn2Channel(c.altinn2)
    if c.digitalpost.enabled and c.digitalpost.transport == "sf1601":
        from gateway.channels.sf1601 import Sf1601FeedChannel
        from gateway.mapping.memo_out import shipment_to_memo

        written = c.digitalpost.memo_version
        channels["digitalpost"] = Sf1601FeedChannel(
            c.digitalpost, clock=clock,
            render=lambda letter: shipment_to_memo(letter.shipment, content=letter.content, now=clock(), version=written),
        )
    elif c.digitalpost.enabled:
        from gateway.channels.digitalpost import DigitalPostChannel
        from gateway.mapping.memo_out import shipment_to_memo

        version = c.digitalpost.memo_version
        channels["digitalpost"] = DigitalPostChannel(
            c.digitalpost,
            render=lambda letter: shipment_to_memo(letter.shipment, content=letter.content, now=clock(), version=version),
        )
    if c.print.enabled and c.print.provider == "digipost":
        from gateway.channels.digipost import DigipostPrintChannel
        from gateway.channels.digipost_client import DigipostClient
        from gateway.config.digipost import digipost_server_certificate, digipost_signing_key

        d = c.print.digipost
        digipost = DigipostClient(d, key=digipost_signing_key(d), server_certificate=digipost_server_certificate(d), clock=clock)
        channels["print"] = DigipostPrintChannel(c.print, digipost, data_dir=Path(settings.storage.data_dir),
                                                 senders={s.name: s for s in settings.senders}, clock=clock,
                                                 policy=settings.intake)
    elif c.print.enabled:
        from gateway.channels.print import PrintChannel

        channels["print"] = PrintChannel(
            c.print, data_dir=Path(settings.storage.data_dir), senders={s.name: s for s in settings.senders}, clock=clock,
            policy=settings.intake,
        )
    return channels

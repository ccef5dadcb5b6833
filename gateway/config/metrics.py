"""``[metrics]``: who may read ``/metrics``.

A scrape names the channels in use, the senders' volumes and the fault codes they hit: not
secret, but not for everyone. By default only a scraper on the gateway's own host (loopback)
reads it; a Prometheus elsewhere is named by its networks in ``allowed_networks``, and a
``bearer_token_file`` (Prometheus' ``authorization.credentials_file``) makes it show a
token as well. Behind a reverse proxy every address is the proxy's: give a token.
"""
from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from gateway.frozen import frozen

__all__ = ["LOOPBACK_NETWORKS", "MIN_TOKEN_CHARACTERS", "MetricsAccess", "MetricsSettings"]

LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")
#: A bearer token shorter than this is guessable: refused at start.
MIN_TOKEN_CHARACTERS = 24


@frozen
class MetricsSettings:
    #: Serve ``/metrics`` at all (off: 404, as for any unknown path).
    enabled: bool = True
    #: Client addresses (CIDR) that may read it; an address outside them gets 403.
    allowed_networks: tuple[str, ...] = LOOPBACK_NETWORKS
    #: A file holding the token a scraper must send as ``Authorization: Bearer <token>``
    #: (besides coming from an allowed network); empty: no token asked for.
    bearer_token_file: str = ""


@frozen
class MetricsAccess:
    """The access rule of ``/metrics``, read once at start (the token file included)."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    token: bytes | None

    @classmethod
    def of(cls, settings: MetricsSettings) -> "MetricsAccess":
        """Raises ValueError (a bad network) or OSError (an unreadable token file)."""
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in settings.allowed_networks)
        token = None
        if settings.bearer_token_file:
            token = Path(settings.bearer_token_file).read_text(encoding="utf-8").strip().encode()
        return cls(networks=networks, token=token)

    def address_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a Unix socket or anything else without an IP address
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def token_accepted(self, authorization: bytes | None) -> bool:
        """True without a token configured; else the header must carry it (compared in constant time)."""
        if self.token is None:
            return True
        scheme, _, credentials = (authorization or b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)

"""Alerts the dispatcher raises where it decides (issue #13 item 3), as values for its outcomes:
a letter routed to print for an address problem, a channel whose circuit breaker has just
opened. Their texts are the operator's (``[detail]`` in ``mappings/alert_mail.toml``).
"""
from __future__ import annotations

from gateway.dispatch.alert_texts import channel_name, words
from gateway.dispatch.routing import PRINT, Route
from gateway.model import Shipment, is_norway
from gateway.store.health import ChannelHealth
from gateway.store.outcome import Alert

#: Route reasons that mean the letter's digital address is missing: it can go by post only.
NO_DIGITAL_ADDRESS = frozenset({"no_identifier"})
_DANISH = frozenset({"DK", "DNK", "DANMARK", "DENMARK"})


def address_print(shipment: Shipment, route: Route) -> tuple[Alert, ...]:
    """``address_print`` when ``route`` sends the letter to print because of its address: the
    postal address is abroad (for a Danish recipient: outside Denmark), or the recipient has no
    national identifier, only a postal address."""
    if route.channel != PRINT:
        return ()
    address = shipment.recipient.address
    country = (address.country or "").strip().upper() if address else ""
    home = country in _DANISH if shipment.recipient.kind.danish else is_norway(country)
    if address is not None and not home:
        detail = words("detail", "address_print_foreign", country=country)
    elif route.reason in NO_DIGITAL_ADDRESS:
        detail = words("detail", "address_print_no_identifier")
    else:
        return ()
    return (Alert(kind="address_print", channel=PRINT, shipment_id=shipment.id, detail=detail),)


def channel_down(before: ChannelHealth, after: ChannelHealth, *, threshold: int) -> tuple[Alert, ...]:
    """``channel_down`` when this failure is the one that opens the channel's circuit breaker
    (not each failure after it: the breaker reopening after a failed trial says nothing new)."""
    if not before.consecutive_failures < threshold <= after.consecutive_failures or after.open_until is None:
        return ()
    detail = words("detail", "channel_down", channel=channel_name(after.channel), failures=after.consecutive_failures,
                   until=after.open_until.isoformat(timespec="seconds"), error=after.last_error or "-")
    return (Alert(kind="channel_down", channel=after.channel, detail=detail),)


def not_deliverable(shipment_id: str, reason: str, channel: str | None = None) -> Alert:
    """The letter ends NOT_DELIVERED with no other alert saying so."""
    return Alert(kind="not_deliverable", channel=channel, shipment_id=shipment_id,
                 detail=words("detail", "not_deliverable", reason=reason))

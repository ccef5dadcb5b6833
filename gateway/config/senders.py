"""The sections about who sends: sending case systems, the SvarUt directory answers and the
noarkExchange endpoint's own organisations."""
from __future__ import annotations

import dataclasses

from gateway.frozen import frozen

__all__ = ["ARCHIVE_DIALECTS", "DEMO_ORGANIZATION_NUMBER", "DEMO_SENDER_NAME", "DEMO_SENDER_PASSWORD", "NoarkSettings",
           "ReceivingSystem", "SenderSettings", "SvarUtSettings"]

#: How an archive speaks noarkExchange when the gateway calls it (status receipts): Arkivverket's
#: contract, or one of the vendor dialects (Public 360, ePhorte, WebSak).
ARCHIVE_DIALECTS = ("standard", "p360", "ephorte", "websak")


@frozen
class SenderSettings:
    """One sending case system (SvarUt "avgivende system")."""

    name: str
    password_hash: str = dataclasses.field(repr=False)
    organization_number: str = ""
    display_name: str = ""
    #: Printed as the return address on cover pages.
    return_address: tuple[str, ...] = ()
    #: Overrides ``dispatch.read_deadline_working_hours`` for this sender's letters.
    read_deadline_working_hours: int = 0
    #: MeMo intake: PEM file(s) of the pinned certificate(s) the sender signs with, and/or of
    #: a private CA that issues them. Unsigned messages only with ``allow_unsigned``.
    signing_certificate: str = ""
    signing_ca: str = ""
    allow_unsigned: bool = False
    #: noarkExchange: organisations besides ``organization_number`` this account may name as
    #: the sender in a PutMessage envelope (an archive hosting several); ``"*"``: any.
    sends_for: tuple[str, ...] = ()
    #: noarkExchange: the sending archive's own PutMessage address; when set, a letter that came
    #: in through noarkExchange sends it an AppReceipt when it is delivered, printed, read or fails.
    archive_endpoint: str = ""
    #: How that archive speaks noarkExchange: one of :data:`ARCHIVE_DIALECTS`.
    archive_dialect: str = "standard"
    #: HTTP Basic credentials for the archive's endpoint (none when the user is empty).
    archive_username: str = ""
    archive_password: str = dataclasses.field(default="", repr=False)
    archive_timeout_seconds: float = 30.0

    def may_send_for(self, organization_number: str) -> bool:
        return (organization_number == self.organization_number or organization_number in self.sends_for
                or "*" in self.sends_for)


@frozen
class NoarkSettings:
    """``[noark]``: the noarkExchange (BEST/EDU) endpoint."""

    #: The gateway's own organisation numbers: a PutMessage addressed to one of them is a letter
    #: to every recipient its ``avsmot`` lists (the archive uses the gateway as its post room).
    own_organization_numbers: tuple[str, ...] = ()


@frozen
class ReceivingSystem:
    """An entry answered by ``retrieveMottakerSystemForOrgnr``."""

    organization_number: str
    system: str
    shipment_type: str = ""
    recipient_id: str = ""
    level: int = 3


@frozen
class SvarUtSettings:
    #: Answer of ``retreiveForsendelseTyper``: the forsendelseType values this gateway routes.
    shipment_types: tuple[str, ...] = ()
    receiving_systems: tuple[ReceivingSystem, ...] = ()


DEMO_SENDER_NAME = "demo"
DEMO_SENDER_PASSWORD = "demo"
DEMO_ORGANIZATION_NUMBER = "974720760"

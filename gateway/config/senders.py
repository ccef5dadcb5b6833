"""The sections about who sends: sending case systems, the SvarUt directory answers and the
noarkExchange endpoint's own organisations."""
from __future__ import annotations

import dataclasses

from gateway.frozen import frozen

__all__ = ["DEMO_ORGANIZATION_NUMBER", "DEMO_SENDER_NAME", "DEMO_SENDER_PASSWORD", "NoarkSettings",
           "ReceivingSystem", "SenderSettings", "SvarUtSettings"]

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

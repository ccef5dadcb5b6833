"""Which channel a letter takes, decided by the recipient register and the delivery policy.

The embedded register is a table in the database (``gateway registry import FILE.csv``);
:class:`RecipientRegister` is the seam for a real one (KRR, the Digital Post register).
An identifier the register does not know is treated as not reachable digitally.
"""
from __future__ import annotations

import csv
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateway.domain.identifiers import is_valid_norwegian_organization_number, is_valid_norwegian_person_id
from gateway.model import DeliveryMode, PartyKind, Shipment


class Reachability(enum.StrEnum):
    DIGITAL = "digital"  # has a digital mailbox
    RESERVED = "reserved"  # reserved against digital mail
    UNREACHABLE = "unreachable"  # no mailbox


class RecipientRegister(Protocol):
    def lookup(self, identifier: str, kind: PartyKind) -> Reachability | None: ...


@dataclass(frozen=True, slots=True)
class Route:
    """Where a letter goes and why. ``reason`` (and ``why``, the reason within it) are keys
    of ``route.*`` in ``mappings/dispatch_texts.toml``: the words are the recipient's."""

    channel: str | None  # None: the letter cannot be delivered
    reason: str
    why: str | None = None


PRINT = "print"
DIGITAL_KINDS = frozenset({PartyKind.NO_PERSON, PartyKind.NO_ORGANIZATION, PartyKind.DK_CPR, PartyKind.DK_CVR})
_WHY = {
    Reachability.RESERVED: "reserved",
    Reachability.UNREACHABLE: "unreachable",
    Reachability.DIGITAL: "no_digital_channel",
}


def choose_route(
    shipment: Shipment,
    *,
    register: RecipientRegister,
    digital_channels: Sequence[str],
    print_available: bool,
) -> Route:
    mode = shipment.delivery.mode
    if mode is DeliveryMode.PRINT_ONLY:
        return Route(PRINT, "print_only") if print_available else Route(None, "no_print", why="print_only")
    recipient = shipment.recipient
    status = register.lookup(recipient.identifier, recipient.kind) if recipient.identifier else None
    if status is Reachability.DIGITAL and digital_channels and recipient.kind in DIGITAL_KINDS:
        return Route(digital_channels[0], "digital_mailbox")
    why = _WHY[status] if status is not None else "not_registered" if recipient.identifier else "no_identifier"
    if mode is DeliveryMode.DIGITAL_ONLY:
        return Route(None, "digital_only", why=why)
    if not print_available:
        return Route(None, "no_print", why=why)
    return Route(PRINT, why)


def read_register_csv(path: str | Path) -> list[tuple[str, str, str]]:
    """``identifier,status`` rows (a header line is allowed) → (identifier, kind, status).

    Every line is checked; the error names the line.
    """
    entries: list[tuple[str, str, str]] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
                continue
            if number == 1 and row[0].strip().lower() in ("identifier", "id", "fnr", "orgnr", "fodselsnummer"):
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{number}: expected 'identifier,status'")
            identifier, status = row[0].strip(), row[1].strip().lower()
            if is_valid_norwegian_person_id(identifier):
                kind = "person"
            elif is_valid_norwegian_organization_number(identifier):
                kind = "organization"
            else:
                raise ValueError(f"{path}:{number}: {identifier!r} is neither a fødselsnummer/D-nummer nor an organisasjonsnummer")
            try:
                Reachability(status)
            except ValueError:
                raise ValueError(f"{path}:{number}: status must be one of {', '.join(r.value for r in Reachability)}, got {status!r}") from None
            entries.append((identifier, kind, status))
    return entries

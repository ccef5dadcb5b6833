"""What an archive's message maps to before its recipients are chosen.

A Noark 4 ``Melding`` and an ``arkivmelding`` both list every party of the journal entry
(``avsmot``, ``korrespondansepart``): the sender's own case officer, recipients, copy
recipients. Which of them become recipients is in each format's table
(``mappings/noark4.toml``, ``mappings/arkivmelding.toml``); which of those this message is for
is decided by the noarkExchange envelope (:mod:`gateway.domain.noark_intake`). The mapping
therefore answers the letter without a recipient, the candidates in order, and the document
bytes in the order of ``shipment.documents``.
"""
from __future__ import annotations

from gateway.frozen import frozen
from gateway.model import Party, Shipment
from gateway.spool import Content


@frozen
class ArchiveLetter:
    #: The letter as the archive described it; ``recipient`` is an empty :class:`Party`.
    shipment: Shipment
    #: The parties the format's table makes recipients, in document order. ``identifier`` and
    #: ``kind`` are set where the format carries an identifier (Noark 4 ``amOrgnr``).
    candidates: tuple[Party, ...]
    #: Document bytes, one per ``shipment.documents`` entry, in order.
    contents: tuple[Content, ...]

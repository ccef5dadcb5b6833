"""The real noarkExchange PutMessage requests of ../shared/specs/noark (Public 360, ePhorte and
the integrasjonspunkt's own example), with fresh ids and nothing else changed."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

from tests.conftest import SPECS, require_spec

NOARK = SPECS / "noark" / "noarkexchange"
SAMPLES = {
    "p360": "PutMessageFromP360.xml",
    "ephorte": "PutMessageFromePhorte.xml",
    "example": "putmessageExample.xml",
}
#: Each sample's sending organisation (the P360 sample leaves it empty).
SAMPLE_SENDERS = {"p360": "", "ephorte": "974763907", "example": "974720760"}
_CONVERSATION = re.compile(rb'conversationId="[^"]*"')


def official_wsdl() -> Path:
    return require_spec(NOARK / "noarkExchange.wsdl")


def sample(name: str, conversation_id: str | None = None) -> tuple[bytes, str]:
    """The sample's bytes with a fresh conversationId (its only id), and that id."""
    conversation_id = conversation_id or str(uuid.uuid4())
    data = require_spec(NOARK / "samples" / SAMPLES[name]).read_bytes()
    data, count = _CONVERSATION.subn(f'conversationId="{conversation_id}"'.encode(), data, count=1)
    assert count == 1
    return data, conversation_id

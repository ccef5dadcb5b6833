"""UUIDs, read one way everywhere: shipment ids, print job ids, MeMo's ``messageUUID``.

Python's :class:`uuid.UUID` reads several spellings (braces, ``urn:uuid:``, no hyphens, any
case); an id the gateway stores or names a file after is the canonical lower-case
8-4-4-4-12 form. Bottom layer: channels and the domain both check ids with these.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable

#: A version 4 UUID (RFC 4122 variant) in 8-4-4-4-12 form, any case: MeMo's ``dt:memoUuidType``
#: pattern verbatim from its XSD. :func:`is_v4_uuid` accepts exactly what it matches.
V4_PATTERN = "[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-4[a-fA-F0-9]{3}-[aAbB89][a-fA-F0-9]{3}-[a-fA-F0-9]{12}"


def _parse(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):  # not a UUID, or not a str at all
        return None


def canonical_uuid(value: str) -> str | None:
    """``value`` in canonical form if it is a UUID in any spelling Python reads, else ``None``."""
    parsed = _parse(value)
    return None if parsed is None else str(parsed)


def is_canonical_uuid(value: str, *, any_case: bool = False) -> bool:
    """Whether ``value`` is a UUID written in the 8-4-4-4-12 form (lower case unless ``any_case``)."""
    canonical = canonical_uuid(value)
    return canonical is not None and canonical == (value.lower() if any_case else value)


def is_v4_uuid(value: str) -> bool:
    """Whether ``value`` is a version 4 UUID in 8-4-4-4-12 form, any case (:data:`V4_PATTERN`)."""
    parsed = _parse(value)
    return parsed is not None and str(parsed) == value.lower() and parsed.version == 4


#: Any UUID in 8-4-4-4-12 form inside a text.
_ANY_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def outside_uuids(text: str, change: Callable[[str], str]) -> str:
    """``text`` with ``change`` applied to everything but the UUIDs in it: a letter id may hold
    runs of digits that a pattern for something else (a fødselsnummer) would take."""
    ids = _ANY_UUID.findall(text)
    parts = [change(part) for part in _ANY_UUID.split(text)]
    return "".join(part + (ids[i] if i < len(ids) else "") for i, part in enumerate(parts))

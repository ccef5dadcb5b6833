"""National identity numbers as a viewer sees them: masked.

Norwegian fødselsnummer and D-nummer are 11 digits; a Danish CPR number is 10 digits,
often written ``DDMMYY-SSSS``. Both say who the person is and when they were born, so a
viewer sees only the last two digits. Organisation numbers (9 digits) and CVR numbers (8)
name no person and are shown as they are.
"""
from __future__ import annotations

import re

from gateway.uuids import outside_uuids

_NATIONAL_ID = re.compile(r"(?<![0-9])(?:[0-9]{11}|[0-9]{6}-?[0-9]{4})(?![0-9])")


def _mask(match: re.Match[str]) -> str:
    digits = match.group(0)
    return re.sub(r"[0-9]", "*", digits[:-2]) + digits[-2:]


def mask_national_ids(text: object) -> str:
    """``text`` with every national identity number in it masked (all but its last two digits).
    Letter ids (UUIDs) are left whole: eleven digits in a row inside one are no fødselsnummer."""
    return outside_uuids("" if text is None else str(text), lambda part: _NATIONAL_ID.sub(_mask, part))

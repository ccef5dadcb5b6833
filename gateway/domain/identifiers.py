"""National identifiers: Norwegian fødselsnummer/D-nummer and organisasjonsnummer.

The check-digit arithmetic comes from python-stdnum. Only the two mod-11 check digits are
checked for persons, not the birth date, so synthetic test persons (month + 80) pass as they
do in the national test registers.
"""
from __future__ import annotations

from stdnum.no import fodselsnummer as _fnr
from stdnum.no import orgnr as _orgnr


def is_valid_norwegian_person_id(value: str) -> bool:
    """11 digits whose 10th and 11th digits are the mod-11 check digits."""
    if len(value) != 11 or not value.isascii() or not value.isdigit():
        return False
    return _fnr.calc_check_digit1(value[:9]) == value[9] and _fnr.calc_check_digit2(value[:10]) == value[10]


def is_valid_norwegian_organization_number(value: str) -> bool:
    """9 digits with a valid mod-11 check digit."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    return _orgnr.is_valid(value)

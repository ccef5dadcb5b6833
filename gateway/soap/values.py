"""What a simple value in a SOAP message must look like, and how a refusal of it is worded.

spyne decodes leniently without a validator (any text is ``False``, an Integer32 of 14
digits passes) and its own errors name neither the field nor the rule. The hardened input
(:mod:`gateway.soap.protocol`) checks each value's lexical form here first, and words a
refusal with the field in the contract's terms and what it takes, never Python's text.
"""
from __future__ import annotations

import re
from typing import Any

from lxml import etree
from spyne.model.binary import ByteArray
from spyne.model.enum import EnumBase
from spyne.model.primitive import Boolean, Date, DateTime, Decimal, Integer, Time

from gateway.errors import FaultCode, RequestError, quoted

_SHOWN = 40  # characters of a caller's value quoted in a refusal

_INTEGER = re.compile(r"[+-]?[0-9]{1,40}")
#: Types whose XSD whitespace facet is "collapse": surrounding spaces are not part of the value.
_COLLAPSED_TYPES = (Boolean, Decimal, DateTime, Date, Time)
_BOOLEAN = frozenset({"true", "false", "1", "0"})


#: What :func:`value_kind` answers: checked lexically; checked, and whitespace collapsed first.
CHECKED, COLLAPSED = "checked", "collapsed"
_KINDS: dict[Any, str | None] = {}


def value_kind(cls: Any) -> str | None:
    """Whether values of ``cls`` get the lexical check (and whitespace collapsed), worked out
    once per type: this runs for every element of every message."""
    try:
        return _KINDS[cls]
    except KeyError:
        pass
    except TypeError:  # not hashable: no cache
        return CHECKED
    kind = None
    if isinstance(cls, type):
        if issubclass(cls, _COLLAPSED_TYPES):
            kind = COLLAPSED
        elif issubclass(cls, (EnumBase, Boolean, Integer)):
            kind = CHECKED
    _KINDS[cls] = kind
    return kind


def _model_class(cls: Any) -> type[Any] | None:
    """``cls`` if it is a class (a spyne model: spyne has no type information), else None."""
    return cls if isinstance(cls, type) else None


def lexically_valid(cls: Any, text: str | None) -> bool:
    """The XSD lexical space for the types spyne decodes leniently (any text is ``False``,
    an Integer32 of 14 digits passes); other types fail inside spyne and are caught there."""
    model = _model_class(cls)
    if model is not None:
        if issubclass(model, EnumBase):
            return text in model.__values__
        if issubclass(model, Boolean):
            return text is not None and text.strip() in _BOOLEAN
        if issubclass(model, Integer):
            if text is None or not _INTEGER.fullmatch(text.strip()):
                return False
            low, high = getattr(model.Attributes, "min_bound", None), getattr(model.Attributes, "max_bound", None)
            return (low is None or int(text) >= low) and (high is None or int(text) <= high)
    return True


def undecodable(cls: Any, element: etree._Element, envelope_ns: str) -> RequestError:
    field = _wire_path(element, envelope_ns)
    xsi_type = element.get("{http://www.w3.org/2001/XMLSchema-instance}type")
    if xsi_type is not None:
        return RequestError(f"xsi:type {quoted(xsi_type, _SHOWN)} is not a type this element accepts, or its content does not fit it",
                            code=FaultCode.INVALID_REQUEST, field=field)
    text = element.text if element.text is not None else ""
    if not text.strip():
        got = "an empty value"
    elif isinstance(cls, type) and issubclass(cls, ByteArray):
        got = "characters outside it"
    else:
        got = quoted(text, _SHOWN)
    return RequestError(f"{_expected(cls)} is expected, got {got}", code=FaultCode.INVALID_REQUEST, field=field)


def _expected(cls: Any) -> str:
    model = _model_class(cls)
    if model is None:
        return "a valid value"
    if issubclass(model, EnumBase):
        return "one of " + ", ".join(model.__values__)
    if issubclass(model, Boolean):
        return "true or false"
    if issubclass(model, Integer):
        low, high = getattr(model.Attributes, "min_bound", None), getattr(model.Attributes, "max_bound", None)
        return f"a whole number from {low} to {high}" if low is not None and high is not None else "a whole number"
    if issubclass(model, Decimal):
        return "a number"
    if issubclass(model, DateTime):
        return "an xs:dateTime such as 2026-05-17T12:00:00+02:00"
    if issubclass(model, Date):
        return "an xs:date such as 2026-05-17"
    if issubclass(model, Time):
        return "an xs:time such as 12:00:00"
    if issubclass(model, ByteArray):
        return "base64Binary (the base64 alphabet; line breaks allowed)"
    return f"a valid {getattr(model, '__type_name__', None) or 'value'}"


def _wire_path(element: etree._Element, envelope_ns: str) -> str:
    """``forsendelse.printkonfigurasjon.brevtype``: local names below the operation element."""
    body = f"{{{envelope_ns}}}Body"
    names = []
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        if parent is None or parent.tag == body:
            break  # ``node`` is the operation element (or the tree has no Body): not part of the name
        names.append(etree.QName(node).localname)
        node = parent
    return ".".join(reversed(names)) or etree.QName(element).localname

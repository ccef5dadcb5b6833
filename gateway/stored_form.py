"""The stored form of model values: plain data for the JSON columns, and back.

:func:`to_data` is also what a letter's content digest is taken of, so a field added to the
model must not change the stored form of letters that leave it empty (see
:func:`_omitted_while_empty`): a repeat sent after an upgrade must still match its digest.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import operator
import types
import typing
from collections.abc import Callable
from typing import Any

from gateway.model import CaseMetadata, Document, RoutingMetadata, Shipment
from gateway.routing_storage import routing_from_stored, routing_to_stored


_SCALARS = frozenset({str, int, float, bool, type(None)})
#: Types whose stored form is not their fields: (to stored, from stored) over plain data.
_StoredForm = tuple[Callable[[dict[str, Any]], dict[str, Any]], Callable[[dict[str, Any]], dict[str, Any]]]


def _renamed(stored_names: dict[str, str]) -> _StoredForm:
    """The stored form of a type whose fields were renamed: ``stored_names`` maps a field's
    name to the key it is stored under (the other fields keep theirs, and the keys their order)."""
    field_names = {stored: name for name, stored in stored_names.items()}

    def to_stored(data: dict[str, Any]) -> dict[str, Any]:
        return {stored_names.get(key, key): value for key, value in data.items()}

    def from_stored(stored: dict[str, Any]) -> dict[str, Any]:
        return {field_names.get(key, key): value for key, value in stored.items()}
    return to_stored, from_stored


def _omitted_while_empty(names: tuple[str, ...]) -> _StoredForm:
    """The stored form of a type that gained ``names`` (optional fields) after rows were
    stored: left out while None, so older rows and their content digests stay as they were."""
    def to_stored(data: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in data.items() if key not in names or value is not None}
    return to_stored, lambda stored: stored


def _composed(first: _StoredForm, then: _StoredForm) -> _StoredForm:
    return (lambda data: then[0](first[0](data))), (lambda stored: first[1](then[1](stored)))


#: Shipment fields named since the first rows were stored → their stored keys. The stored keys
#: stay: stored shipments load, and the content digest every accepted letter is stored with
#: (taken of this form) does not change, so a repeat sent after an upgrade still matches it.
_SHIPMENT_STORED_NAMES = {"sender": "tenant", "sender_party": "sender", "source_system": "sending_system"}
_STORED_FORMS: dict[type, _StoredForm] = {
    RoutingMetadata: (routing_to_stored, routing_from_stored),
    Shipment: _composed(_renamed(_SHIPMENT_STORED_NAMES), _omitted_while_empty(("exchange",))),
    Document: _omitted_while_empty(("title",)),
    CaseMetadata: _omitted_while_empty(("case_title", "public_title", "access_code", "access_basis",
                                        "administrative_unit", "records_unit", "case_officer_id", "archive_part")),
}
#: One converter per type seen, built on first sight: a shipment is converted twice per
#: intake (digest and storage), and most of its ~300 values are plain scalars.
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def to_data(value: Any) -> Any:
    """Turn a model value into JSON-ready data (dataclasses → dicts, tuples → lists)."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    convert = _CONVERTERS.get(cls)
    if convert is None:
        convert = _CONVERTERS[cls] = _converter(cls)
    return convert(value)


def _with_empty_shortcut(empty: Any, convert: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Most letters carry no routing data: the empty value's stored form (scalars and empty
    lists) is worked out once, and each such letter gets a fresh copy (1 µs instead of 12)."""
    stored = convert(empty)
    return lambda value: {k: [] if v == [] else v for k, v in stored.items()} if value == empty else convert(value)


def _converter(cls: type) -> Callable[[Any], Any]:
    if dataclasses.is_dataclass(cls):
        names = tuple(f.name for f in dataclasses.fields(cls))

        def from_dataclass(value: Any) -> dict[str, Any]:
            out = {}
            for name in names:
                item = getattr(value, name)
                out[name] = item if type(item) in _SCALARS else to_data(item)
            return out

        stored_form = _STORED_FORMS.get(cls)
        if stored_form is not None:
            to_stored = stored_form[0]
            convert = lambda value: to_stored(from_dataclass(value))  # noqa: E731
            return _with_empty_shortcut(cls(), convert) if cls is RoutingMetadata else convert
        return from_dataclass
    if issubclass(cls, enum.Enum):
        return operator.attrgetter("value")
    if issubclass(cls, dt.datetime):
        return cls.isoformat
    if issubclass(cls, (list, tuple)):
        return _sequence
    return lambda value: value


def _sequence(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [item if type(item) in _SCALARS else to_data(item) for item in value]


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(cls: Any, data: Any) -> Any:
    """Inverse of :func:`to_data`, driven by the type hints of ``cls``."""
    if data is None:
        return None
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(cls) if a is not type(None)]
        return from_data(inner[0], data)
    if origin is tuple:
        args = typing.get_args(cls)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_data(args[0], v) for v in data)
        return tuple(from_data(a, v) for a, v in zip(args, data))
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        stored_form = _STORED_FORMS.get(cls)
        if stored_form is not None:
            data = stored_form[1](data)
        hints = _hints(cls)
        make: Callable[..., Any] = cls  # is_dataclass narrows to a protocol that takes no fields
        return make(**{k: from_data(hints[k], v) for k, v in data.items() if k in hints})
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return cls(data)
    if cls is dt.datetime:
        return dt.datetime.fromisoformat(data)
    return data

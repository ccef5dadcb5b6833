"""A WSDL 1.1 writer for document/literal SOAP 1.2 contracts, from the spyne models.

spyne's own ``Wsdl11`` cannot say what the SvarUt V9 contract says: it leaves out
abstract types and the extension of a base type without members, names bindings, parts
and ports its own way, adds a global element for every complex type and has no
``xmime:expectedContentTypes``. A client generated from such a WSDL sends a fødselsnummer
without ``xsi:type``. This writer emits the contract's shape from the same models that
spyne decodes with (so the served WSDL and the decoder cannot drift apart); what the models
cannot carry (abstract types, expected content types, the binding's name) is given in a
:class:`Contract`.

The output is built once per process; its schema is also what requests are validated
against (:mod:`gateway.soap.contract`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from spyne.model import ComplexModelBase
from spyne.model.enum import EnumBase

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XS = "http://www.w3.org/2001/XMLSchema"
XMIME = "http://www.w3.org/2005/05/xmlmime"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
#: The only part of each message, as JAX-WS (and so the SvarUt contract) names it.
PART = "parameters"


@dataclass(frozen=True, slots=True, kw_only=True)
class Contract:
    """What the published WSDL says beyond the models: names and schema annotations."""

    #: ``definitions/@name``, the port type, the service and its port.
    name: str
    tns: str
    binding: str
    #: Types that only appear through ``xsi:type`` (subtypes of a member's declared type).
    subtypes: tuple[type, ...] = ()
    #: Types a message may not use as they are (``abstract="true"``): a subtype is required.
    abstract: tuple[type, ...] = ()
    #: ``(model, member) → xmime:expectedContentTypes`` for base64Binary members.
    expected_content_types: Mapping[tuple[type, str], str] = field(default_factory=dict)


def write_wsdl(contract: Contract, operations: Iterable[Any], *, location: str) -> bytes:
    """The WSDL of ``operations`` (spyne method descriptors), served at ``location``."""
    ops = list(operations)
    tns = contract.tns
    root = etree.Element(
        _q(WSDL, "definitions"),
        nsmap={"wsdl": WSDL, "soap12": SOAP12, "xs": XS, "tns": tns},
        name=contract.name,
        targetNamespace=tns,
    )
    etree.SubElement(root, _q(WSDL, "types")).append(_schema(contract, ops))
    for op in ops:
        for message in (op.in_message, op.out_message):
            name = message.get_type_name()
            m = etree.SubElement(root, _q(WSDL, "message"), name=name)
            etree.SubElement(m, _q(WSDL, "part"), name=PART, element=f"tns:{name}")

    port_type = etree.SubElement(root, _q(WSDL, "portType"), name=contract.name)
    for op in ops:
        o = etree.SubElement(port_type, _q(WSDL, "operation"), name=op.name)
        for tag, message in (("input", op.in_message), ("output", op.out_message)):
            name = message.get_type_name()
            etree.SubElement(o, _q(WSDL, tag), name=name, message=f"tns:{name}")

    binding = etree.SubElement(root, _q(WSDL, "binding"), name=contract.binding, type=f"tns:{contract.name}")
    etree.SubElement(binding, _q(SOAP12, "binding"), style="document", transport=HTTP_TRANSPORT)
    for op in ops:
        o = etree.SubElement(binding, _q(WSDL, "operation"), name=op.name)
        etree.SubElement(o, _q(SOAP12, "operation"), soapAction="", style="document")
        for tag, message in (("input", op.in_message), ("output", op.out_message)):
            part = etree.SubElement(o, _q(WSDL, tag), name=message.get_type_name())
            etree.SubElement(part, _q(SOAP12, "body"), use="literal")

    service = etree.SubElement(root, _q(WSDL, "service"), name=contract.name)
    port = etree.SubElement(service, _q(WSDL, "port"), name=contract.name, binding=f"tns:{contract.binding}")
    etree.SubElement(port, _q(SOAP12, "address"), location=location)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _schema(contract: Contract, ops: list[Any]) -> etree._Element:
    tns = contract.tns
    nsmap = {"xs": XS, "tns": tns}
    if contract.expected_content_types:
        nsmap["xmime"] = XMIME
    schema = etree.Element(_q(XS, "schema"), nsmap=nsmap, targetNamespace=tns, elementFormDefault="unqualified")
    if contract.expected_content_types:
        etree.SubElement(schema, _q(XS, "import"), namespace=XMIME)

    messages = [m for op in ops for m in (op.in_message, op.out_message)]
    for message in sorted(messages, key=lambda m: m.get_type_name()):
        name = message.get_type_name()
        etree.SubElement(schema, _q(XS, "element"), name=name, type=f"tns:{name}")

    complex_types, simple_types = _reachable(messages + list(contract.subtypes), tns)
    for cls in complex_types:
        schema.append(_complex_type(contract, cls, complex_types))
    for cls in simple_types:
        schema.append(_simple_type(cls))
    return schema


def _reachable(roots: list[type], tns: str) -> tuple[list[type], list[type]]:
    """Complex and enumeration types of the contract's namespace, in discovery order."""
    complex_types: dict[str, type] = {}
    simple_types: dict[str, type] = {}
    pending = [_origin(r) for r in roots]
    while pending:
        cls = pending.pop(0)
        name = cls.get_type_name()
        if issubclass(cls, EnumBase):
            simple_types.setdefault(name, cls)
            continue
        if not issubclass(cls, ComplexModelBase) or name in complex_types:
            continue
        if cls.get_namespace() != tns:
            raise ValueError(f"{name}: only types of the contract's namespace can be written")
        complex_types[name] = cls
        pending.extend(_origin(member) for member in cls._type_info.values())
    return list(complex_types.values()), list(simple_types.values())


def _complex_type(contract: Contract, cls: type[Any], known: list[type[Any]]) -> etree._Element:
    ct = etree.Element(_q(XS, "complexType"), name=cls.get_type_name())
    if cls in contract.abstract:
        ct.set("abstract", "true")
    base = next((b for b in cls.__mro__[1:] if b in known), None)
    inherited = set(base._type_info) if base is not None else set()
    if base is not None:
        content = etree.SubElement(ct, _q(XS, "complexContent"))
        ext = etree.SubElement(content, _q(XS, "extension"), base=f"tns:{base.get_type_name()}")
        sequence = etree.SubElement(ext, _q(XS, "sequence"))
    else:
        sequence = etree.SubElement(ct, _q(XS, "sequence"))
    for member, model in cls._type_info.items():
        if member in inherited:
            continue
        sequence.append(_member(contract, cls, member, model))
    return ct


def _member(contract: Contract, owner: type, name: str, model: Any) -> etree._Element:
    attrs = model.Attributes
    el = etree.Element(_q(XS, "element"), name=name, type=_type_ref(model, contract.tns))
    if attrs.min_occurs != 1:
        el.set("minOccurs", str(attrs.min_occurs))
    if attrs.max_occurs != 1:
        el.set("maxOccurs", "unbounded" if math.isinf(attrs.max_occurs) else str(attrs.max_occurs))
    if attrs.nillable:
        el.set("nillable", "true")
    content_types = contract.expected_content_types.get((owner, name))
    if content_types:
        el.set(_q(XMIME, "expectedContentTypes"), content_types)
    return el


def _type_ref(model: Any, tns: str) -> str:
    namespace, name = model.get_namespace(), model.get_type_name()
    if namespace == XS:
        return f"xs:{name}"
    if namespace == tns:
        return f"tns:{name}"
    raise ValueError(f"{name}: a member type from namespace {namespace!r} cannot be written")


def _simple_type(cls: Any) -> etree._Element:
    st = etree.Element(_q(XS, "simpleType"), name=cls.get_type_name())
    restriction = etree.SubElement(st, _q(XS, "restriction"), base="xs:string")
    for value in cls.__values__:
        etree.SubElement(restriction, _q(XS, "enumeration"), value=value)
    return st


def _origin(model: Any) -> Any:
    """The class a member was customised from (``customize`` makes a subclass per use)."""
    while getattr(model, "__orig__", None) is not None:
        model = model.__orig__
    return model


def _q(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"

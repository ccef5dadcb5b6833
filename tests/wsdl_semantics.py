"""What a WSDL 1.1 document means, as plain data, so two documents compare semantically.

Prefixes, attribute and declaration order, whitespace, documentation and defaults written
out or left implicit (``minOccurs="1"``, ``nillable="false"``) make no difference; names,
types (as resolved QNames), cardinality, nillability, abstractness, extensions, foreign
attributes such as ``xmime:expectedContentTypes``, messages and their parts, operations,
bindings, SOAP actions and ports do. Only the port addresses' locations are left out: each
deployment has its own.
"""
from __future__ import annotations

from typing import Any

from lxml import etree

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
_DEFAULTS = {"minOccurs": "1", "maxOccurs": "1", "nillable": "false", "abstract": "false"}
_IGNORED = {"version", "id"}


def _qname(node: etree._Element, value: str | None) -> str | None:
    if value is None:
        return None
    prefix, _, local = value.rpartition(":")
    return f"{{{node.nsmap.get(prefix or None, '')}}}{local}"


def _attrs(node: etree._Element, *, qname_attrs: tuple[str, ...] = ("type", "base", "element", "message", "binding", "ref")) -> tuple:
    out = {}
    for key, value in node.attrib.items():
        if key in _IGNORED:
            continue
        if key in qname_attrs:
            value = _qname(node, value)
        if key in ("abstract", "nillable", "mixed"):
            value = value.strip().lower() in ("true", "1") and "true" or "false"
        if _DEFAULTS.get(key) == value:
            continue
        out[key] = value
    return tuple(sorted(out.items()))


def _xs(node: etree._Element) -> Any:
    """A schema component, with children in document order (sequences are ordered)."""
    children = [c for c in node if isinstance(c.tag, str) and c.tag != f"{{{XS}}}annotation"]
    return (etree.QName(node).localname, _attrs(node), tuple(_xs(c) for c in children))


def meaning(document: bytes | etree._Element) -> dict[str, Any]:
    root = etree.fromstring(document) if isinstance(document, bytes) else document
    ns = {"wsdl": WSDL, "xs": XS}
    schemas = {}
    for schema in root.findall("wsdl:types/xs:schema", ns):
        top: dict[str, Any] = {"imports": set(), "elements": {}, "complexTypes": {}, "simpleTypes": {}, "other": []}
        for child in schema:
            if not isinstance(child.tag, str) or child.tag == f"{{{XS}}}annotation":
                continue
            local = etree.QName(child).localname
            if local == "import":
                top["imports"].add((child.get("namespace"), child.get("schemaLocation")))
            elif local in ("element", "complexType", "simpleType"):
                top[local + "s"][child.get("name")] = _xs(child)
            else:
                top["other"].append(_xs(child))
        attrs = dict(schema.attrib)
        key = (attrs.get("targetNamespace"), attrs.get("elementFormDefault", "unqualified"),
               attrs.get("attributeFormDefault", "unqualified"))
        schemas[key] = top

    messages = {
        m.get("name"): tuple(sorted((p.get("name"), _qname(p, p.get("element")), _qname(p, p.get("type")))
                                    for p in m.findall("wsdl:part", ns)))
        for m in root.findall("wsdl:message", ns)
    }
    port_types = {}
    for pt in root.findall("wsdl:portType", ns):
        port_types[pt.get("name")] = {
            op.get("name"): tuple(
                (etree.QName(io).localname, io.get("name"), _qname(io, io.get("message")))
                for io in op if isinstance(io.tag, str) and etree.QName(io).localname in ("input", "output", "fault")
            )
            for op in pt.findall("wsdl:operation", ns)
        }
    bindings = {}
    for b in root.findall("wsdl:binding", ns):
        ext = [_soap(c) for c in b if isinstance(c.tag, str) and etree.QName(c).namespace != WSDL]
        ops = {}
        for op in b.findall("wsdl:operation", ns):
            parts = []
            for c in op:
                if not isinstance(c.tag, str):
                    continue
                if etree.QName(c).namespace == WSDL:
                    parts.append((etree.QName(c).localname, c.get("name"),
                                  tuple(_soap(x) for x in c if isinstance(x.tag, str))))
                else:
                    parts.append(_soap(c))
            ops[op.get("name")] = tuple(parts)
        bindings[b.get("name")] = {"type": _qname(b, b.get("type")), "extensions": tuple(ext), "operations": ops}
    services = {}
    for s in root.findall("wsdl:service", ns):
        services[s.get("name")] = {
            p.get("name"): (_qname(p, p.get("binding")),
                            tuple(etree.QName(a).text for a in p if isinstance(a.tag, str)))
            for p in s.findall("wsdl:port", ns)
        }
    return {
        "name": root.get("name"),
        "targetNamespace": root.get("targetNamespace"),
        "schemas": schemas,
        "messages": messages,
        "portTypes": port_types,
        "bindings": bindings,
        "services": services,
    }


def _soap(node: etree._Element) -> tuple:
    attrs = {k: v for k, v in node.attrib.items()}
    if etree.QName(node).localname == "operation":
        attrs.setdefault("soapAction", "")
    return (etree.QName(node).text, tuple(sorted(attrs.items())))


def differences(a: dict[str, Any], b: dict[str, Any], path: str = "") -> list[str]:
    """Readable differences between two :func:`meaning` results (empty when they agree)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            where = f"{path}/{key}"
            if key not in a:
                out.append(f"{where}: only in the second")
            elif key not in b:
                out.append(f"{where}: only in the first")
            else:
                out.extend(differences(a[key], b[key], where))
        return out
    return [] if a == b else [f"{path}: {_short(a)} != {_short(b)}"]


def _short(value: Any, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"

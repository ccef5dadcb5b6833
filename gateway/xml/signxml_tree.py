"""signxml's verifier fitted to the trees :mod:`gateway.xml.signatures` verifies.

Two adjustments, each keeping the check over exactly the signed bytes: a document root the
gateway has already parsed with its hardened parser is used as it is (signxml would serialise
and parse it again), and an element that is not a document root is canonicalised as the root
of its own document (libxml2's subtree canonicalisation gets inherited namespaces wrong,
signxml issue 275), with the ``xml:*`` attributes inclusive canonicalisation inherits.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lxml import etree
from signxml import CanonicalizationMethod, XMLVerifier
from signxml.exceptions import InvalidInput


class ParsedTreeVerifier(XMLVerifier):
    """signxml's verifier, taking the tree the gateway has already parsed and inspected.

    signxml serialises and re-parses an element it is given, to detach it from a parent's
    namespaces; a document root has no parent, was parsed by the same hardened parser signxml
    is handed, and signxml never modifies its input (it copies the tree before removing the
    signature). So a root is used as it is; signxml's own input checks (no DTD, no entity
    references) still run on it. Anything else takes signxml's path.
    """

    def get_root(self, data: object) -> etree._Element:
        if isinstance(data, etree._Element) and data.getparent() is None:
            docinfo = data.getroottree().docinfo
            if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
                raise InvalidInput("DTD declarations are not supported in XML input")
            for _entity in data.iter(etree.Entity):
                raise InvalidInput("Entities are not supported in XML input")
            return data
        return super().get_root(data)

    def _c14n(self, nodes: object, algorithm: CanonicalizationMethod, inclusive_ns_prefixes: list[str] | None = None) -> bytes:
        """Canonicalise an element that is not a document root as the root of its own document.

        libxml2's subtree canonicalisation (lxml 6, signxml 5.2: signxml issue 275) writes
        ``xmlns=""`` on the grandchildren of an element whose default namespace is declared on
        an ancestor, so a ``<Signature xmlns="…xmldsig#">`` (the .NET ``SignedXml`` shape) is
        checked against bytes its signer never signed. Serialising the element declares every
        in-scope namespace on it, and a whole document is canonicalised correctly; inclusive
        canonicalisation also renders the ``xml:*`` attributes the element inherits
        (:func:`inherited_xml_attributes`). The outcome is the subtree's canonical form as the
        specifications define it (what xmlsec1 and .NET sign), so the signature is still checked
        over exactly the signed bytes. Document roots (the referenced message) take signxml's path.
        """
        if isinstance(nodes, etree._Element) and nodes.getparent() is not None:
            standalone = self._fromstring(self._tostring(nodes, with_tail=False))
            exclusive = algorithm.value.startswith("http://www.w3.org/2001/10/xml-exc-c14n#")
            if not exclusive:
                for name, value in inherited_xml_attributes(nodes, self.outer_xml_attributes, algorithm).items():
                    standalone.set(name, value)
            nodes = standalone
        return super()._c14n(nodes, algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes)

    #: ``xml:*`` attributes of the message root, set per call by the signature verifier:
    #: signxml cuts the signature out of the message before canonicalising ``ds:SignedInfo``,
    #: and inclusive canonicalisation renders what ``ds:SignedInfo`` inherits from the root.
    outer_xml_attributes: Mapping[str, str] = MappingProxyType({})


_XML_NS = "http://www.w3.org/XML/1998/namespace"
#: C14N 1.1 inherits only these into a subtree's apex; ``xml:id`` is not inherited and
#: ``xml:base`` needs URI joining (refused below, as no MeMo signer has a reason to send it).
_C14N11_INHERITED = frozenset({f"{{{_XML_NS}}}lang", f"{{{_XML_NS}}}space"})


def xml_attributes(element: etree._Element) -> dict[str, str]:
    """The element's own ``xml:*`` attributes (``xml:lang``, ``xml:space``, ``xml:base``, ``xml:id``)."""
    return {name: value for name, value in element.attrib.items() if name.startswith(f"{{{_XML_NS}}}")}


def inherited_xml_attributes(element: etree._Element, outer: Mapping[str, str],
                              algorithm: CanonicalizationMethod) -> dict[str, str]:
    """The ``xml:*`` attributes inclusive canonicalisation puts on a subtree's apex.

    C14N 1.0 (section 2.4) renders every ``xml:*`` attribute of the ancestors that the
    element does not override, the nearest ancestor winning; C14N 1.1 only ``xml:lang`` and
    ``xml:space``, and ``xml:base`` only after URI fix-up, which is not implemented: such a
    signature is refused rather than checked against guessed bytes. ``outer`` holds the
    attributes of ancestors signxml has cut away (the message root).
    """
    inherited = dict(outer)
    for ancestor in reversed(list(element.iterancestors())):
        inherited.update(xml_attributes(ancestor))
    for name in xml_attributes(element):
        inherited.pop(name, None)
    if algorithm.value.startswith("http://www.w3.org/2006/12/xml-c14n11"):
        if f"{{{_XML_NS}}}base" in inherited:
            raise InvalidInput("xml:base above ds:SignedInfo under C14N 1.1 is not supported")
        inherited = {name: value for name, value in inherited.items() if name in _C14N11_INHERITED}
    return inherited


__all__ = ["ParsedTreeVerifier", "inherited_xml_attributes", "xml_attributes"]

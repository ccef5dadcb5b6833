"""XOP: put MTOM attachments back where the message's ``xop:Include`` elements stand.

The tree was parsed by the hardened parser from the root part alone; attachments never go
through an XML parser. Each ``xop:Include`` must be the only content of its parent (XOP
1.0 §3.2: the optimised element's characters are replaced by exactly one Include) and refer
by a ``cid:`` URL to an attachment of the same message, each attachment once. The Include is removed and the
parent left empty; :class:`XopContents` remembers which content belongs to which element, for
the base64Binary decoder to hand on instead of decoding text. Every attachment must be
referred to: a part nobody points at is a client error, never silently dropped.
"""
from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from gateway.errors import FaultCode, RequestError
from gateway.soap.multipart import Attachment, cid_url_keys
from gateway.spool import Content

XOP_NS = "http://www.w3.org/2004/08/xop/include"
XOP_INCLUDE = f"{{{XOP_NS}}}Include"


class XopContents:
    """Element → attachment content, for the elements whose Include was resolved.

    Holds the element proxies themselves (lxml keeps a proxy alive, and so its identity, as
    long as a reference exists); :meth:`take` marks an element's content as used so the
    caller can tell whether an Include stood where no binary value is expected.
    """

    def __init__(self) -> None:
        self._contents: dict[etree._Element, Content] = {}
        self._taken: set[etree._Element] = set()
        #: MIME parts no Include refers to, by Content-ID: kept only where the message names
        #: its files another way (noarkExchange's arkivmelding, by referanseDokumentfil).
        self.attached: dict[str, Content] = {}

    def __len__(self) -> int:
        return len(self._contents)

    def add(self, element: etree._Element, content: Content) -> None:
        self._contents[element] = content

    def take(self, element: etree._Element) -> Content | None:
        content = self._contents.get(element)
        if content is not None:
            self._taken.add(element)
        return content

    def untaken(self) -> list[etree._Element]:
        return [e for e in self._contents if e not in self._taken]


def _fail(message: str) -> RequestError:
    return RequestError(f"XOP: {message}", code=FaultCode.INVALID_REQUEST)


def resolve_includes(root: etree._Element, attachments: Mapping[str, Attachment], *, soap_ns: str,
                     keep_unreferenced: bool = False) -> XopContents:
    """Replace every ``xop:Include`` under ``root`` by a reference to its attachment.

    Each attachment is referred to exactly once: one part named by many Includes would make
    a letter of many documents from the bytes of one (a 350 MB upload delivering 89 GB).
    ``keep_unreferenced``: parts no Include names are kept in :attr:`XopContents.attached`
    for the service (which must then use each once) instead of refused.
    """
    contents = XopContents()
    used: set[str] = set()
    for include in list(root.iter(XOP_INCLUDE)):
        parent = include.getparent()
        if parent is None or etree.QName(parent).namespace == soap_ns:
            raise _fail("an xop:Include must stand inside the message's payload, not for the envelope, its Header or Body")
        href = (include.get("href") or "").strip()
        if href[:4].lower() != "cid:":
            raise _fail(f"an xop:Include href must be a cid: URL, got {href[:80]!r}")
        key = next((k for k in cid_url_keys(href) if k in attachments), None)
        if key is None:
            raise _fail(f"no MIME part has the Content-ID that {href[:80]!r} refers to")
        if key in used:
            raise _fail(f"the MIME part {key[:80]!r} is referred to by more than one xop:Include")
        if len(parent) != 1 or (parent.text or "").strip() or (include.tail or "").strip() or len(include):
            raise _fail(f"<{etree.QName(parent).localname}> must hold its xop:Include and nothing else")
        parent.remove(include)
        parent.text = None
        contents.add(parent, attachments[key].content)
        used.add(key)
    unused = sorted(set(attachments) - used)
    if unused and keep_unreferenced:
        contents.attached = {key: attachments[key].content for key in unused}
    elif unused:
        raise _fail(f"the MIME part {unused[0][:80]!r} is not referred to by any xop:Include")
    return contents


def refuse_includes(root: etree._Element) -> None:
    """An ``xop:Include`` in a message that is not MTOM refers to nothing."""
    if next(root.iter(XOP_INCLUDE), None) is not None:
        raise _fail("an xop:Include in a message that was not sent as MTOM (multipart/related)")

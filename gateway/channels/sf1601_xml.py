"""The XML SF1601 KombiPostAfsend speaks: ``kombi_request`` in, ``kombi_response`` out.

A request is an un-namespaced ``<kombi_request>`` whose first child ``KombiValgKode`` says how
the letter goes ("Digital Post", "Fysisk Post", "Automatisk Valg", "NemSMS"), then the MeMo
``memo:Message`` and, for physical post, ``fjernprint:ForsendelseISamling/fjernprint:ForsendelseI``
(OIO remote print, ``urn:oio:fjernprint:1.0.0``) with the letter as one PDF. Serviceplatformen
reads prefixes, not namespaces: both public senders write the literal ``memo:`` and
``fjernprint:`` prefixes (itk-dev rewrites them with an XSLT for that reason), and so do we.
The ForsendelseI fields and their order follow the OIO schema as python-serviceplatformen's
``models/physical_mail.py`` carries it; os2forms' ``ForsendelseHelper.php`` fills the same ones.
"""
from __future__ import annotations

import base64
from collections.abc import Callable

from lxml import etree

from gateway.channels.base import ChannelRejected
from gateway.model import Document, DocumentRole, PartyKind, Shipment
from gateway.xml.parser import make_parser

KOMBI_VALG_KODER = ("Digital Post", "Fysisk Post", "Automatisk Valg", "NemSMS")
DIGITAL_POST, PHYSICAL_POST, NEMSMS = "Digital Post", "Fysisk Post", "NemSMS"

FJERNPRINT_NS = "urn:oio:fjernprint:1.0.0"
DKAL_NS = "urn:oio:dkal:1.0.0"
ADIR_NS = "urn:oio:adir:dagpenge:2009.07.01"
SAGDOK_NS = "urn:oio:sagdok:3.0.0"
ITST_NS = "http://rep.oio.dk/itst.dk/xml/schemas/2006/01/17/"
DKCC_2005_NS = "http://rep.oio.dk/ebxml/xml/schemas/dkcc/2005/03/15/"
DKCC_2003_NS = "http://rep.oio.dk/ebxml/xml/schemas/dkcc/2003/02/13/"
DKCC_ADDRESS_NS = "http://rep.oio.dk/ebxml/xml/schemas/dkcc/2005/05/19/"
NSMAP = {"fjernprint": FJERNPRINT_NS, "dkal": DKAL_NS, "adir": ADIR_NS, "sagdok": SAGDOK_NS, "itst": ITST_NS,
         "dkcc": DKCC_2005_NS, "dkcc2003": DKCC_2003_NS, "dkccadr": DKCC_ADDRESS_NS}
#: The physical-post documentation (SF1601 Feltbeskrivelse, cited by os2forms) wants a CPR
#: recipient written as ten zeros: the address is what counts, and no CPR number is printed.
ANONYMOUS_CPR = "0000000000"
ADDRESS_LINE_MAX = 34
ADDRESS_LINES = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth")


def kombi_request(kombi_valg_kode: str, memo: bytes | None, forsendelse: etree._Element | None = None) -> bytes:
    """The request body. ``memo`` is the MeMo as :func:`shipment_to_memo` wrote it."""
    if kombi_valg_kode not in KOMBI_VALG_KODER:
        raise ValueError(f"KombiValgKode must be one of {KOMBI_VALG_KODER}, not {kombi_valg_kode!r}")
    root = etree.Element("kombi_request")
    etree.SubElement(root, "KombiValgKode").text = kombi_valg_kode
    if memo is not None:
        message = etree.fromstring(memo, make_parser())
        if message.prefix != "memo" or etree.QName(message).localname != "Message":
            # Serviceplatformen reads the prefix: refuse here rather than send what it refuses
            raise ChannelRejected(f"the MeMo root must be written <memo:Message>, not <{message.tag}> "
                                  f"with prefix {message.prefix!r}", channel="digitalpost")
        root.append(message)
    if forsendelse is not None:
        samling = etree.SubElement(root, f"{{{FJERNPRINT_NS}}}ForsendelseISamling", nsmap={"fjernprint": FJERNPRINT_NS})
        samling.append(forsendelse)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _sub(parent: etree._Element, ns: str, local: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{local}")
    if text is not None:
        element.text = text
    return element


def forsendelse_i(shipment: Shipment, *, content: Callable[[Document], bytes], reference: str, forsendelse_type: int,
                  post_kategori: str) -> etree._Element:
    """``fjernprint:ForsendelseI`` for the letter: its main document and PDF attachments, the
    recipient's postal address, and the print options. ``reference`` becomes
    ``AfsendelseIdentifikator``, which Beskedfordeler's status events for physical post carry.

    Refuses (:class:`ChannelRejected`) what remote print cannot take: a main document that is
    not a PDF, a document other than a PDF, or a recipient without a postal address."""
    recipient = shipment.recipient
    address = recipient.address
    if address is None or not (address.lines or address.postcode):
        raise ChannelRejected("Fysisk Post needs the recipient's postal address, and the letter has none", channel="digitalpost")
    printable = [d for d in shipment.documents if d.role is not DocumentRole.TECHNICAL and not d.exclude_from_print]
    main = next((d for d in printable if d.role is DocumentRole.MAIN), None)
    if main is None:
        raise ChannelRejected("Fysisk Post needs a main document to print", channel="digitalpost")
    for document in printable:
        if document.media_type.split(";")[0].strip().lower() != "application/pdf":
            raise ChannelRejected(f"Fysisk Post prints PDF only; {document.filename!r} is {document.media_type}", channel="digitalpost")

    f = etree.Element(f"{{{FJERNPRINT_NS}}}ForsendelseI", nsmap=NSMAP)
    _sub(f, FJERNPRINT_NS, "AfsendelseIdentifikator", reference)
    _sub(f, FJERNPRINT_NS, "ForsendelseTypeIdentifikator", str(forsendelse_type))
    modtager = _sub(f, FJERNPRINT_NS, "ForsendelseModtager")
    afsendelse_modtager = _sub(modtager, DKAL_NS, "AfsendelseModtager")
    if recipient.kind is PartyKind.DK_CVR and recipient.identifier:
        _sub(afsendelse_modtager, ADIR_NS, "CVRnummerIdentifikator", recipient.identifier)
    else:
        _sub(afsendelse_modtager, ADIR_NS, "CPRnummerIdentifikator", ANONYMOUS_CPR)
    adresse = _sub(modtager, FJERNPRINT_NS, "ModtagerAdresse")
    _sub(adresse, ITST_NS, "PersonName", (address.name or recipient.name or "")[:130] or "-")
    if address.postcode:
        _sub(adresse, DKCC_2005_NS, "PostCodeIdentifier", address.postcode)
    if address.city:
        _sub(adresse, DKCC_2005_NS, "DistrictSubdivisionIdentifier", address.city[:34])
    for number, line in zip(ADDRESS_LINES, address.lines):
        _sub(adresse, DKCC_ADDRESS_NS, f"PostalAddress{number}LineText", line[:ADDRESS_LINE_MAX])
    country = _sub(adresse, DKCC_2003_NS, "CountryIdentificationCode", (address.country or "DK").upper())
    country.set("scheme", "iso3166-alpha2")
    _sub(f, DKAL_NS, "FilformatNavn", "PDF")
    _sub(f, DKAL_NS, "MeddelelseIndholdData", base64.b64encode(content(main)).decode("ascii"))
    _sub(f, FJERNPRINT_NS, "TransaktionsParametreI")
    dokument = _sub(f, FJERNPRINT_NS, "DokumentParametre")
    _sub(dokument, SAGDOK_NS, "TitelTekst", shipment.title)
    options = shipment.print_options
    print_parametre = _sub(f, FJERNPRINT_NS, "PrintParametre")
    _sub(print_parametre, FJERNPRINT_NS, "SimplexDuplexKode", "Duplex" if options.duplex else "Simplex")
    _sub(print_parametre, FJERNPRINT_NS, "FarveSHKode", "Farve" if options.color else "SH")
    _sub(_sub(f, FJERNPRINT_NS, "PostParametre"), FJERNPRINT_NS, "PostKategoriKode", post_kategori)
    attachments = [d for d in printable if d is not main]
    if attachments:
        samling = _sub(f, FJERNPRINT_NS, "BilagSamling")
        for index, document in enumerate(attachments, start=1):
            bilag = _sub(samling, FJERNPRINT_NS, "Bilag")
            _sub(bilag, FJERNPRINT_NS, "BilagNavn", document.filename[:300])
            _sub(bilag, DKAL_NS, "FilformatNavn", "PDF")
            _sub(bilag, FJERNPRINT_NS, "BilagSorteringsIndeksIdentifikator", str(index))
            _sub(bilag, DKAL_NS, "VedhaeftningIndholdData", base64.b64encode(content(document)).decode("ascii"))
    return f


def read_kombi_response(data: bytes) -> dict[str, str]:
    """The texts of a ``kombi_response`` by lower-cased local name (``result``,
    ``transmissionid``, ``advisid``, ``advistekst``, ``fejlkode``, ``fejltekst``); a
    ValueError when the answer is not XML."""
    try:
        root = etree.fromstring(data, make_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None
    values: dict[str, str] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.text and element.text.strip():
            values.setdefault(etree.QName(element).localname.lower(), element.text.strip())
    return values

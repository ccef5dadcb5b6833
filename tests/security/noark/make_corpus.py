"""Regenerate the noarkExchange attack corpus in this folder (run by hand, not by the tests).

    PYTHONPATH=. /work/main/.venv/bin/python tests/security/noark/make_corpus.py

Each file is a whole ``PutMessage`` request as an archive posts it: SOAP 1.1, the envelope
and payload shaped like the Public 360 (escaped string, ``xsi:type="xsd:string"``) and ePhorte
(CDATA) samples of ``../shared/specs/noark/noarkexchange/samples``, cut down to one small
real PDF. ``conformant-<what>.xml`` must be answered ``OK`` and stored;
``nonconformant-<CODE>-<what>.xml`` must be answered with CODE and store nothing.
``tests/security/test_noark_corpus.py`` says which answer that is. Each file's
``conversationId`` is derived from its name, so a rerun gives the same bytes.
"""
from __future__ import annotations

import base64
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).parent
NOARK4 = "http://www.arkivverket.no/Noark4-1-WS-WD/types"
ARKIVMELDING = "http://www.arkivverket.no/standarder/noark5/arkivmelding"
#: The test sender ``kommune-sak`` is 974720760; the receiver is the ePhorte sample's.
SENDER, RECEIVER = "974720760", "974763907"
#: The gateway under test names this as its own: a message to it goes to every recipient.
OWN = "991825827"
_IDS = uuid.UUID("0b6f3c52-2a0e-4a51-9d55-6c1b1b6a6f10")

# A one-page PDF (fpdf2, uncompressed): the letter's document.
PDF = base64.b64encode(b"""%PDF-1.3
1 0 obj
<< /Type /Catalog /Pages 2 0 R >>
endobj
2 0 obj
<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595.28 841.89] >>
endobj
3 0 obj
<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>
endobj
4 0 obj
<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>
endobj
5 0 obj
<< /Length 44 >>
stream
BT /F1 12 Tf 72 770 Td (Vedtak - side 1) Tj ET
endstream
endobj
xref
0 6
0000000000 65535 f 
0000000009 00000 n 
0000000058 00000 n 
0000000146 00000 n 
0000000246 00000 n 
0000000342 00000 n 
trailer
<< /Size 6 /Root 1 0 R >>
startxref
437
%%EOF
""").decode()

AVSMOT = ("<avsmot><amOrgnr>{orgnr}</amOrgnr><amIhtype>1</amIhtype><amNavn>Fylkesmannen i Sogn og Fjordane</amNavn>"
          "<amAdresse>Njøsavegen 2</amAdresse><amPostnr>6863</amPostnr><amPoststed>Leikanger</amPoststed></avsmot>")


def melding(*, prolog: str = '<?xml version="1.0" encoding="utf-8"?>', title: str = "Test1", avsmot: str | None = None,
            inside: str = "", file: str = PDF) -> str:
    """The ePhorte sample's Melding, cut down: one recipient, one PDF (``file``: what stands in
    ``fil/base64``); ``inside`` goes into journpost."""
    avsmot = AVSMOT.format(orgnr=RECEIVER) if avsmot is None else avsmot
    return (f'{prolog}<Melding xmlns="{NOARK4}"><journpost xmlns=""><jpId>219816</jpId><jpJaar>2015</jpJaar>'
            "<jpSeknr>11734</jpSeknr><jpJpostnr>2</jpJpostnr><jpJdato>2015-10-08</jpJdato><jpNdoktype>U</jpNdoktype>"
            f"<jpStatus>F</jpStatus><jpInnhold>{title}</jpInnhold><jpSaar>2014</jpSaar><jpSaseknr>2703</jpSaseknr>{avsmot}"
            "<dokument><dlRnr>1</dlRnr><dlType>H</dlType><dbTittel>Test1</dbTittel><veDokformat>RA-PDF</veDokformat>"
            f"<fil><base64>{file}</base64></fil></dokument>{inside}</journpost><noarksak xmlns=\"\"><saId>68286</saId>"
            "<saSaar>2014</saSaar><saSeknr>2703</saSeknr><saTittel>Test Knutepunkt</saTittel></noarksak></Melding>")


def request(name: str, payload: str, *, as_text: str = "cdata", conversation_id: str | None = None,
            content_namespace: str = NOARK4, sender: str = SENDER, receiver: str = RECEIVER, payload_attributes: str = "") -> bytes:
    """A PutMessage request; ``as_text``: ``cdata`` (ePhorte), ``escaped`` (Public 360) or
    ``element`` (the payload's markup as it stands)."""
    conversation_id = str(uuid.uuid5(_IDS, name)) if conversation_id is None else conversation_id
    if as_text == "cdata":
        body = f"<![CDATA[{payload}]]>"
    elif as_text == "escaped":
        body, payload_attributes = escape(payload), payload_attributes or ' xsi:type="xsd:string"'
    else:
        body = payload
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
            '<soap:Body><PutMessageRequest xmlns="http://www.arkivverket.no/Noark/Exchange/types">'
            f'<envelope conversationId="{conversation_id}" contentNamespace="{content_namespace}" xmlns="">'
            f"<sender><orgnr>{sender}</orgnr></sender><receiver><orgnr>{receiver}</orgnr>"
            "<name>Fylkesmannen i Sogn og Fjordane</name></receiver></envelope>"
            f'<payload xmlns=""{payload_attributes}>{body}</payload>'
            "</PutMessageRequest></soap:Body></soap:Envelope>\n").encode("utf-8")


def hostile_dtds() -> dict[str, tuple[str, str]]:
    """what → (DOCTYPE, what jpInnhold says): each a way to smuggle a DTD into the payload."""
    laughs = '<!ENTITY l0 "ha">' + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    return {
        "doctype": ("<!DOCTYPE Melding>", "Test1"),
        "internal-entity": ('<!DOCTYPE Melding [<!ENTITY t "Injisert tittel">]>', "&t;"),
        "external-entity-file": ('<!DOCTYPE Melding [<!ENTITY t SYSTEM "file:///etc/passwd">]>', "&t;"),
        "parameter-entity": ('<!DOCTYPE Melding [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', "Test1"),
        "external-dtd": ('<!DOCTYPE Melding SYSTEM "http://127.0.0.1:9/evil.dtd">', "Test1"),
        "billion-laughs": (f"<!DOCTYPE Melding [{laughs}]>", "&l9;"),
    }


def xstream(markup: str) -> str:
    """The integrasjonspunkt's XStream dump of a DOM (putmessageExample.xml), its one data node holding ``markup``."""
    dom = "com.sun.org.apache.xerces.internal.dom."
    return (f'<{dom}ParentNode><default><firstChild class="{dom}TextImpl" serialization="custom">'
            f"<{dom}CharacterDataImpl><default><data>{escape(markup)}</data></default></{dom}CharacterDataImpl>"
            f"</firstChild></default></{dom}ParentNode>")


def cases() -> dict[str, bytes]:
    files: dict[str, bytes] = {}

    def add(name: str, payload: str, **kwargs: object) -> None:
        files[name] = request(name, payload, **kwargs)  # type: ignore[arg-type]

    add("conformant-cdata-payload.xml", melding())
    add("conformant-escaped-payload.xml", melding(), as_text="escaped")
    add("conformant-element-payload.xml", melding(prolog=""), as_text="element")
    add("conformant-placeholder-content-namespace.xml", melding(), content_namespace="?")
    add("conformant-empty-sender-orgnr.xml", melding(), sender="")
    for what, (doctype, title) in hostile_dtds().items():
        for as_text in ("escaped", "cdata"):
            add(f"nonconformant-FORBIDDEN_DTD-{as_text}-{what}.xml",
                melding(prolog=f'<?xml version="1.0" encoding="utf-8"?>{doctype}', title=title), as_text=as_text)
    add("nonconformant-FORBIDDEN_DTD-cdata-doctype-without-declaration.xml", melding(prolog="<!DOCTYPE Melding>"))
    add("nonconformant-FORBIDDEN_DTD-escaped-doctype-after-whitespace.xml",
        melding(prolog='\n  <?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE Melding [<!ENTITY t "x">]>', title="&t;"),
        as_text="escaped")
    add("nonconformant-FORBIDDEN_DTD-xstream-dump-with-doctype.xml",
        xstream(melding(prolog='<?xml version="1.0" encoding="utf-8"?><!DOCTYPE Melding [<!ENTITY t SYSTEM "file:///etc/passwd">]>',
                        title="&t;")),
        as_text="element", payload_attributes=' class="com.sun.org.apache.xerces.internal.dom.ElementNSImpl" serialization="custom"')
    # bombs and bounds
    add("nonconformant-TOO_MANY_ITEMS-cdata-element-count-bomb.xml", melding(inside="<a/>" * 10_001))
    add("nonconformant-TOO_MANY_ITEMS-recipient-bomb-to-the-gateway.xml",
        melding(avsmot=f"<avsmot><amOrgnr>{SENDER}</amOrgnr><amIhtype>1</amIhtype></avsmot>" * 501), receiver=OWN)
    add("nonconformant-MALFORMED_XML-cdata-deep-nesting.xml", melding(inside="<a>" * 200 + "</a>" * 200))
    add("nonconformant-MALFORMED_XML-escaped-deep-nesting.xml", melding(inside="<a>" * 200 + "</a>" * 200), as_text="escaped")
    add("nonconformant-REQUEST_TOO_LARGE-escaped-oversize-payload.xml", melding(title="A" * (70 * 1024)), as_text="escaped")
    xinclude = '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'
    add("nonconformant-INVALID_REQUEST-cdata-xinclude-as-the-payload.xml", xinclude)
    add("nonconformant-INVALID_REQUEST-cdata-xinclude-in-journpost.xml", melding(title=xinclude))
    add("nonconformant-INVALID_REQUEST-escaped-xinclude-as-file.xml",
        melding().replace(f"<base64>{PDF}</base64>", f"<base64>{xinclude}</base64>"), as_text="escaped")
    # the envelope
    add("nonconformant-NOARK_CONTENT_NAMESPACE_MISMATCH-arkivmelding-namespace-on-a-melding.xml", melding(),
        content_namespace=ARKIVMELDING)
    add("nonconformant-NOARK_CONTENT_NAMESPACE_UNSUPPORTED-noark3.xml", melding(),
        content_namespace="http://www.arkivverket.no/Noark3/types")
    add("nonconformant-INVALID_ORGANIZATION_NUMBER-sender-check-digit.xml", melding(), sender="974720761")
    add("nonconformant-INVALID_ORGANIZATION_NUMBER-receiver-check-digit.xml", melding(), receiver="974763908")
    add("nonconformant-INVALID_NATIONAL_ID-receiver-fodselsnummer-check-digit.xml", melding(), receiver="01010112345")
    add("nonconformant-NOARK_CONVERSATION_ID_INVALID-tab-in-a-uuid.xml", melding(),
        conversation_id="0b6f3c52-2a0e-4a51-9d55-&#9;6c1b1b6a6f10")
    add("nonconformant-MALFORMED_XML-conversation-id-with-a-control-character.xml", melding(),
        conversation_id="0b6f3c52-2a0e-4a51-9d55-&#x1;6c1b1b6a6f10")
    add("nonconformant-NOARK_CONVERSATION_ID_INVALID-a-soapui-placeholder.xml", melding(), conversation_id="?")
    add("nonconformant-NOARK_CONVERSATION_ID_INVALID-empty.xml", melding(), conversation_id="")
    add("nonconformant-NOARK_CONVERSATION_ID_INVALID-not-a-uuid.xml", melding(), conversation_id="'; DROP TABLE shipments; --")
    add("nonconformant-NOARK_SENDER_MISMATCH-another-organisation.xml", melding(), sender="964338531")
    add("nonconformant-NOARK_SENDER_MISMATCH-another-organisation-in-an-xstream-dump.xml",
        xstream(melding()), as_text="element", sender="964338531")
    add("nonconformant-NOARK_PAYLOAD_MISSING-empty.xml", "", as_text="element")
    add("nonconformant-NOARK_PAYLOAD_MISSING-only-a-declaration.xml", '<?xml version="1.0" encoding="utf-8"?>  ', as_text="escaped")
    add("nonconformant-MALFORMED_XML-cdata-not-xml.xml", "Dette er ikke XML")
    add("nonconformant-NOARK_PAYLOAD_NOT_RECOGNISED-two-meldinger.xml", melding(prolog="") + melding(prolog=""), as_text="element")
    return files


if __name__ == "__main__":
    for old in HERE.glob("*.xml"):
        old.unlink()
    for name, data in cases().items():
        (HERE / name).write_bytes(data)
    print(f"{len(cases())} files in {HERE}")

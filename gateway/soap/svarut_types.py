"""Wire types of KS SvarUt ``ForsendelsesServiceV9``, written for spyne.

Names, order, cardinality and nillability follow the official contract
(``ForsendelsesServiceV9.wsdl``). The contract uses
``elementFormDefault="unqualified"``: only the top-level message elements carry
the namespace, so every member is declared with an empty ``sub_ns`` via
:func:`_fields`. No behaviour lives here.
"""
from __future__ import annotations

from typing import Any

from spyne import (
    Boolean,
    ByteArray,
    ComplexModel,
    DateTime,
    Enum,
    Integer32,
    Unicode,
)

NS = "http://www.ks.no/svarut/servicesV9"


def _u(model, **attrs):
    """Customise ``model`` as an unqualified member, as the contract declares."""
    return model.customize(sub_ns="", **attrs)


def _opt(model, **attrs):
    return _u(model, min_occurs=0, nillable=False, **attrs)


def _req(model, **attrs):
    return _u(model, min_occurs=1, nillable=False, **attrs)


def _many(model, *, min_occurs: int = 0, nillable: bool = False):
    return _u(model, min_occurs=min_occurs, max_occurs="unbounded", nillable=nillable)


class _Base(ComplexModel):
    __namespace__ = NS


ForsendelseStatus = Enum(
    "MOTTATT", "AKSEPTERT", "AVVIST", "VARSLET", "LEST", "SENDT_PRINT", "PRINTET",
    "MANUELT_HANDTERT", "SENDT_DIGITALT", "SENDT_SDP", "LEVERT_SDP", "KLAR_FOR_MOTTAK",
    "IKKE_LEVERT", type_name="forsendelseStatus",
)
ForsendelseStatus.__namespace__ = NS
Brevtype = Enum("APOST", "BPOST", type_name="brevtype")
Brevtype.__namespace__ = NS
SignaturType = Enum("AUTENTISERT_SIGNATUR", "AVANSERT_SIGNATUR", type_name="signaturType")
SignaturType.__namespace__ = NS


class Dokument(_Base):
    __type_name__ = "dokument"
    _type_info = [
        ("data", _req(ByteArray)),
        ("dokumentType", _opt(Unicode)),
        ("ekskluderesFraPrint", _req(Boolean)),
        ("filnavn", _req(Unicode)),
        ("giroarkSider", _many(Integer32, nillable=True)),
        ("mimetype", _req(Unicode)),
        ("skalSigneres", _req(Boolean)),
    ]


class Lenke(_Base):
    __type_name__ = "lenke"
    _type_info = [
        ("ledetekst", _opt(Unicode)),
        ("urlLenke", _opt(Unicode)),
        ("urlTekst", _opt(Unicode)),
    ]


class NoarkMetadataForImport(_Base):
    __type_name__ = "noarkMetadataForImport"
    _type_info = [
        ("dokumentetsDato", _opt(DateTime)),
        ("journalposttype", _opt(Unicode)),
        ("journalstatus", _opt(Unicode)),
        ("saksaar", _req(Integer32)),
        ("sakssekvensnummer", _req(Integer32)),
        ("tittel", _opt(Unicode)),
    ]


class Entry(_Base):
    __type_name__ = "entry"
    _type_info = [
        ("key", _opt(Unicode)),
        ("value", _opt(Unicode)),
    ]


class NoarkMetadataFraAvleverendeSakssystem(_Base):
    __type_name__ = "noarkMetadataFraAvleverendeSakssystem"
    _type_info = [
        ("dokumentetsDato", _opt(DateTime)),
        ("ekstraMetadata", _many(Entry, nillable=True)),
        ("journalaar", _req(Integer32)),
        ("journaldato", _opt(DateTime)),
        ("journalpostnummer", _req(Integer32)),
        ("journalposttype", _opt(Unicode)),
        ("journalsekvensnummer", _req(Integer32)),
        ("journalstatus", _opt(Unicode)),
        ("saksaar", _req(Integer32)),
        ("saksbehandler", _opt(Unicode)),
        ("sakssekvensnummer", _req(Integer32)),
        ("tittel", _opt(Unicode)),
    ]


class DigitalAdresse(_Base):
    """Abstract in the contract; clients send one of the two subtypes via ``xsi:type``."""

    __type_name__ = "digitalAdresse"
    _type_info: list[tuple[str, Any]] = []


class OrganisasjonDigitalAdresse(DigitalAdresse):
    __type_name__ = "organisasjonDigitalAdresse"
    _type_info = [("orgnr", _opt(Unicode))]


class PersonDigitalAdresse(DigitalAdresse):
    __type_name__ = "personDigitalAdresse"
    _type_info = [("fnr", _opt(Unicode))]


class PostAdresse(_Base):
    __type_name__ = "postAdresse"
    _type_info = [
        ("adresse1", _opt(Unicode)),
        ("adresse2", _opt(Unicode)),
        ("adresse3", _opt(Unicode)),
        ("land", _opt(Unicode)),
        ("navn", _opt(Unicode)),
        ("postnr", _opt(Unicode)),
        ("poststed", _opt(Unicode)),
    ]


class Adresse(_Base):
    __type_name__ = "adresse"
    _type_info = [
        ("digitalAdresse", _opt(DigitalAdresse)),
        ("postAdresse", _opt(PostAdresse)),
    ]


class Printkonfigurasjon(_Base):
    __type_name__ = "printkonfigurasjon"
    _type_info = [
        ("brevtype", _opt(Brevtype)),
        ("fargePrint", _req(Boolean)),
        ("tosidig", _req(Boolean)),
    ]


class Forsendelse(_Base):
    __type_name__ = "forsendelse"
    _type_info = [
        ("avgivendeSystem", _opt(Unicode)),
        ("dokumenter", _many(Dokument, nillable=True)),
        ("eksternref", _opt(Unicode)),
        ("forsendelseType", _opt(Unicode)),
        ("konteringskode", _opt(Unicode)),
        ("krevNiva4Innlogging", _req(Boolean)),
        ("kryptert", _req(Boolean)),
        ("kunDigitalLevering", _req(Boolean)),
        ("lenker", _many(Lenke, nillable=True)),
        ("metadataForImport", _opt(NoarkMetadataForImport)),
        ("metadataFraAvleverendeSystem", _opt(NoarkMetadataFraAvleverendeSakssystem)),
        ("mottaker", _opt(Adresse)),
        ("printkonfigurasjon", _opt(Printkonfigurasjon)),
        ("signaturtype", _u(SignaturType, min_occurs=1, nillable=True)),
        ("signeringUtloper", _u(DateTime, min_occurs=1, nillable=True)),
        ("svarPaForsendelse", _opt(Unicode)),
        ("svarPaForsendelseLink", _req(Boolean)),
        ("svarSendesTil", _opt(Adresse)),
        ("tittel", _req(Unicode)),
    ]


class StatusResult(_Base):
    __type_name__ = "statusResult"
    _type_info = [
        ("forsendelseStatus", _opt(ForsendelseStatus)),
        ("forsendelsesid", _opt(Unicode)),
        ("sisteStatusEndring", _opt(DateTime)),
    ]


class MottakerForsendelseTyper(_Base):
    __type_name__ = "mottakerForsendelseTyper"
    _type_info = [
        ("forsendelseType", _opt(Unicode)),
        ("mottakerid", _opt(Unicode)),
        ("mottakersystem", _opt(Unicode)),
        ("niva", _req(Integer32)),
        ("orgnr", _opt(Unicode)),
    ]


class Signeringslogg(_Base):
    __type_name__ = "signeringslogg"
    _type_info = [
        ("tidspunkt", _opt(Unicode)),
        ("type", _opt(Unicode)),
        ("hendelse", _opt(Unicode)),
    ]


class Signeringshistorikk(_Base):
    __type_name__ = "signeringshistorikk"
    _type_info = [
        ("forsendelseid", _opt(Unicode)),
        ("logg", _many(Signeringslogg)),
    ]


class HendelsesLogg(_Base):
    __type_name__ = "hendelsesLogg"
    _type_info = [
        ("hendelse", _opt(Unicode)),
        ("tidspunkt", _opt(Unicode)),
    ]


class ForsendelseHistorikk(_Base):
    __type_name__ = "forsendelseHistorikk"
    _type_info = [("hendelsesLogg", _many(HendelsesLogg, nillable=True))]


# --- request and response wrappers (document/literal, "bare" in spyne terms) ---


def _message(name: str, fields: list) -> type[ComplexModel]:
    return type(name, (_Base,), {"__type_name__": name, "_type_info": fields})


SendForsendelse = _message("sendForsendelse", [("forsendelse", _opt(Forsendelse))])
SendForsendelseResponse = _message("sendForsendelseResponse", [("return", _opt(Unicode))])
SendForsendelseMedId = _message(
    "sendForsendelseMedId",
    [("forsendelse", _opt(Forsendelse)), ("forsendelsesid", _opt(Unicode))],
)
SendForsendelseMedIdResponse = _message("sendForsendelseMedIdResponse", [("return", _opt(Unicode))])
StartNyForsendelse = _message("startNyForsendelse", [])
StartNyForsendelseResponse = _message("startNyForsendelseResponse", [("return", _opt(Unicode))])
RetrieveForsendelseStatus = _message("retrieveForsendelseStatus", [("forsendelsesid", _req(Unicode))])
RetrieveForsendelseStatusResponse = _message(
    "retrieveForsendelseStatusResponse", [("return", _opt(ForsendelseStatus))]
)
RetrieveForsendelseStatuser = _message(
    "retrieveForsendelseStatuser", [("forsendelseider", _many(Unicode))]
)
RetrieveForsendelseStatuserResponse = _message(
    "retrieveForsendelseStatuserResponse", [("return", _many(StatusResult))]
)
RetrieveForsendelseHistorikk = _message(
    "retrieveForsendelseHistorikk", [("forsendelsesid", _req(Unicode))]
)
RetrieveForsendelseHistorikkResponse = _message(
    "retrieveForsendelseHistorikkResponse", [("return", _opt(ForsendelseHistorikk))]
)
RetrieveForsendelseIdByEksternRef = _message(
    "retrieveForsendelseIdByEksternRef", [("eksternRef", _opt(Unicode))]
)
RetrieveForsendelseIdByEksternRefResponse = _message(
    "retrieveForsendelseIdByEksternRefResponse", [("return", _many(Unicode))]
)
SetForsendelseLestAvEksterntSystem = _message(
    "setForsendelseLestAvEksterntSystem",
    [
        ("forsendelsesid", _opt(Unicode)),
        ("lestAvFodselsnummer", _opt(Unicode)),
        ("navnPaEksterntSystem", _opt(Unicode)),
        ("datoLest", _opt(DateTime)),
    ],
)
SetForsendelseLestAvEksterntSystemResponse = _message("setForsendelseLestAvEksterntSystemResponse", [])
RetreiveForsendelseTyper = _message("retreiveForsendelseTyper", [])
RetreiveForsendelseTyperResponse = _message(
    "retreiveForsendelseTyperResponse", [("return", _many(Unicode))]
)
RetrieveMottakerSystemForOrgnr = _message(
    "retrieveMottakerSystemForOrgnr", [("organisasjonsnr", _opt(Unicode))]
)
RetrieveMottakerSystemForOrgnrResponse = _message(
    "retrieveMottakerSystemForOrgnrResponse", [("return", _many(MottakerForsendelseTyper))]
)
RetrieveSigneringshistorikk = _message(
    "retrieveSigneringshistorikk", [("forsendelseid", _req(Unicode))]
)
RetrieveSigneringshistorikkResponse = _message(
    "retrieveSigneringshistorikkResponse", [("return", _opt(Signeringshistorikk))]
)
RetrieveSigneringshistorikkForFlereForsendelser = _message(
    "retrieveSigneringshistorikkForFlereForsendelser",
    [("forsendelseider", _many(Unicode, min_occurs=1))],
)
RetrieveSigneringshistorikkForFlereForsendelserResponse = _message(
    "retrieveSigneringshistorikkForFlereForsendelserResponse",
    [("return", _many(Signeringshistorikk))],
)

#: Subtypes that only appear through ``xsi:type``; spyne and the WSDL must be told about them.
POLYMORPHIC_TYPES = (PersonDigitalAdresse, OrganisasjonDigitalAdresse)
#: Abstract in the contract: a ``digitalAdresse`` must name its subtype with ``xsi:type``.
ABSTRACT_TYPES = (DigitalAdresse,)
#: base64Binary members that may travel as MTOM attachments, and what they may contain.
EXPECTED_CONTENT_TYPES: dict[tuple[type, str], str] = {(Dokument, "data"): "application/octet-stream"}

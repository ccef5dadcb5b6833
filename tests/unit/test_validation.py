"""The content rules on the canonical model, without any wire contract."""
import dataclasses

import pytest

from gateway.config import IntakePolicy
from gateway.domain.validation import validate_shipment
from gateway.errors import ValidationError
from gateway.model import DeliveryMode, DeliveryPolicy, Document, Link, Party, PartyKind, PostalAddress, Shipment

POLICY = IntakePolicy()


def doc(name="a.pdf", size=10, media="application/pdf", **kw):
    return Document(filename=name, media_type=media, size=size, sha256="0" * 64, storage_ref="", **kw)


def shipment(**kw):
    base = dict(
        id="", sender="t", title="Tittel",
        recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON,
                        address=PostalAddress(name="Ola", postcode="0155", city="Oslo")),
        documents=(doc(),),
    )
    base.update(kw)
    return Shipment(**base)


def code_of(s, policy=POLICY):
    with pytest.raises(ValidationError) as err:
        validate_shipment(s, policy=policy)
    return err.value.code, err.value.field


def test_valid_shipment_passes():
    validate_shipment(shipment(), policy=POLICY)


def test_rules_name_canonical_fields():
    assert code_of(shipment(title=" ")) == ("TITLE_REQUIRED", "title")
    assert code_of(shipment(recipient=Party())) == ("RECIPIENT_REQUIRED", "recipient")
    assert code_of(shipment(documents=(doc(), doc("A.PDF")))) == ("FILENAME_DUPLICATE", "documents[1].filename")
    assert code_of(shipment(links=(Link(url="mailto:x@y.no", text="x"),))) == ("LINK_URL_INVALID", "links[0].url")
    assert code_of(shipment(cost_code="a b")) == ("INVALID_COST_CODE", "cost_code")
    bad_reply = Party(identifier="123", kind=PartyKind.NO_ORGANIZATION)
    assert code_of(shipment(reply_to=bad_reply)) == ("INVALID_ORGANIZATION_NUMBER", "reply_to.identifier")


def test_control_characters_in_filenames_are_refused():
    assert code_of(shipment(documents=(doc("a\nb.pdf"),)))[0] == "FILENAME_INVALID_CHARACTERS"
    assert code_of(shipment(documents=(doc("a\x00b.pdf"),)))[0] == "FILENAME_INVALID_CHARACTERS"


def test_print_size_limit_is_policy_and_defaults_to_350_mib():
    assert POLICY.max_print_shipment_bytes == 350 * 1024 * 1024
    big = shipment(documents=(doc(size=POLICY.max_print_shipment_bytes), doc("b.pdf", size=1)))
    assert code_of(big) == ("SHIPMENT_TOO_LARGE", "documents")
    digital = dataclasses.replace(big, delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_ONLY))
    validate_shipment(digital, policy=POLICY)


def test_values_longer_than_the_store_holds_are_refused_alike_on_every_database():
    assert code_of(shipment(external_ref="x" * 501)) == ("FIELD_TOO_LONG", "external_ref")
    assert code_of(shipment(documents=(doc(media="application/" + "x" * 200),)))[0] == "FIELD_TOO_LONG"


# --- file names: what Windows, Altinn and a recipient's eyes need (issue 9, item 14) ---

INVISIBLE = ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069", "\u200b", "\u200c",
             "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u061c", "\u00ad"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_format_characters_in_filenames_are_refused(char):
    code, field = code_of(shipment(documents=(doc(f"vedtak{char}fdp.exe"),)))
    assert (code, field) == ("FILENAME_INVALID_CHARACTERS", "documents[0].filename")


def test_the_message_names_the_disguising_character():
    with pytest.raises(ValidationError) as err:
        validate_shipment(shipment(documents=(doc("vedtak\u202efdp.exe"),)), policy=POLICY)
    assert "U+202E" in err.value.message and "RIGHT-TO-LEFT OVERRIDE" in err.value.message


@pytest.mark.parametrize("char", ["\x85", "\x9f", "\u2028", "\u2029", "\x7f", "\t"])
def test_c1_controls_and_line_separators_in_filenames_are_refused(char):
    assert code_of(shipment(documents=(doc(f"a{char}b.pdf"),)))[0] == "FILENAME_INVALID_CHARACTERS"


RESERVED = ["CON.pdf", "con.pdf", "Con", "nul", "NUL.txt", "PRN.pdf", "aux.tar.gz", "COM1.txt", "com9.pdf", "LPT1",
            "lpt9.pdf", "COM\u00b9.pdf", "CONIN$.pdf", "CON .pdf", "vedtak.pdf.", "vedtak.pdf ", "vedtak.", ".."]


@pytest.mark.parametrize("name", RESERVED)
def test_windows_reserved_names_are_refused(name):
    assert code_of(shipment(documents=(doc(name),))) == ("FILENAME_RESERVED", "documents[0].filename")


@pytest.mark.parametrize("name", ["CONTRACT.pdf", "console.pdf", "com10.pdf", "lpt0.pdf", "nullstilling.pdf", "aux-vedlegg.pdf",
                                  "Vedtak æøå.pdf", "vedtak (1).pdf", ".vedlegg.pdf", "Ærlig talt – svar.pdf"])
def test_names_that_only_resemble_reserved_ones_are_accepted(name):
    validate_shipment(shipment(documents=(doc(name),)), policy=POLICY)


# --- media types: they become headers of the Altinn upload ---

@pytest.mark.parametrize("media", ["application/pdf\r\nX-Injected: 1", "application/pdf\nx", "application/ pdf", "pdf", "",
                                   "application/pdf/x", "/pdf", "application/", "text/plain;\x00", "application/pdf\u2028",
                                   "appli cation/pdf", "application/pdf; charset", "application/pdf;charset=\"a\r\nb\""])
def test_media_types_must_be_type_slash_subtype(media):
    s = shipment(documents=(doc(media=media),), delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_ONLY))
    assert code_of(s) == ("MEDIA_TYPE_INVALID", "documents[0].media_type")


@pytest.mark.parametrize("media", ["application/pdf", "APPLICATION/PDF", "text/plain; charset=utf-8", "text/plain;charset=\"utf-8\"",
                                   "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                   "image/svg+xml", "application/x-www-form-urlencoded"])
def test_registered_media_types_are_accepted(media):
    validate_shipment(shipment(documents=(doc(media=media),), delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_ONLY)), policy=POLICY)


def test_one_definition_of_forbidden_filename_characters():
    from gateway.domain import filenames, memo_rules, validation

    assert memo_rules.FORBIDDEN_FILENAME_CHARS is filenames.FORBIDDEN_FILENAME_CHARS
    assert memo_rules.LOOKALIKE_SPACES is filenames.LOOKALIKE_SPACES
    assert memo_rules.is_control_character is filenames.is_control_character
    assert validation.FORBIDDEN_FILENAME_CHARS is filenames.FORBIDDEN_FILENAME_CHARS
    assert not hasattr(memo_rules, "FILENAME_FORBIDDEN") and not hasattr(memo_rules, "FILENAME_FORBIDDEN_SPACES")


# --- lengths: every text field of the contract is bounded (issue 9, item 15) ---

def _text_paths(cls, prefix=""):
    """Canonical paths of every ``str`` field reachable from ``cls`` ([] for list items)."""
    import types
    import typing

    from gateway import model

    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
        args = [a for a in typing.get_args(hint) if a is not type(None)] if optional else [hint]
        path = f"{prefix}{f.name}"
        for arg in args:
            if typing.get_origin(arg) is tuple:
                item = typing.get_args(arg)[0]
                if typing.get_origin(item) is tuple:  # (key, value) pairs
                    yield f"{path}[].key"
                    yield f"{path}[].value"
                elif dataclasses.is_dataclass(item):
                    yield from _text_paths(item, f"{path}[].")
                elif item is str:
                    yield f"{path}[]"
            elif dataclasses.is_dataclass(arg):
                yield from _text_paths(arg, f"{path}.")
            elif arg is str and not (isinstance(arg, type) and issubclass(arg, model.enum.Enum)):
                yield path


#: Text fields a SvarUt client cannot set: the gateway fills them (ids, digests, the
#: authenticated sender from configuration) or SvarUt V9 has no element for them.
NOT_FROM_SVARUT = {
    "id", "sender", "source_contract", "documents[].sha256", "documents[].storage_ref", "documents[].language",
    "sender_party.identifier", "sender_party.name", "sender_party.address.name", "sender_party.address.lines[]",
    "sender_party.address.postcode", "sender_party.address.city", "sender_party.address.country",
    "sender_party.attention.person", "sender_party.attention.production_unit", "sender_party.attention.email",
    "recipient.attention.person", "recipient.attention.production_unit",
    "recipient.attention.email", "reply_to.attention.person", "reply_to.attention.production_unit",
    "reply_to.attention.email", "links[].action",
    # what a Noark archive says beyond SvarUt (noarkExchange intake, bounded by mappings/noark4.toml)
    "case_metadata.access_basis", "case_metadata.access_code", "case_metadata.administrative_unit",
    "case_metadata.archive_part", "case_metadata.case_officer_id", "case_metadata.case_title",
    "case_metadata.public_title", "case_metadata.records_unit", "documents[].title",
    *(f"exchange.{name}" for name in ("content_namespace", "conversation_id", "journal_entry_id", "receiver_name",
                                      "receiver_orgnr", "receiver_ref", "sender_orgnr", "sender_ref")),
    # every routing field but forsendelseType: MeMo's, set by the MeMo intake and routing rules
    *(path for path in _text_paths(Shipment) if path.startswith("routing.") and path != "routing.shipment_type"),
}


def test_every_text_field_from_svarut_has_a_bound_and_a_svarut_name():
    from gateway.mapping.tables import FieldNamer
    from gateway.resources import load_table

    limits = load_table("svarut_fields")["max_length"]
    paths = set(_text_paths(Shipment))
    assert "case_metadata.extra[].value" in paths and "recipient.address.lines[]" in paths
    missing = sorted(paths - NOT_FROM_SVARUT - set(limits))
    assert not missing, f"no [max_length] in mappings/svarut_fields.toml for {missing}"
    assert not set(limits) - paths, "a bound for a field the model does not have"
    name = FieldNamer("svarut_fields")
    for path in limits:
        wire = name(path.replace("[]", "[0]"))
        assert wire.startswith("forsendelse."), path
        assert not any(part in wire for part in ("_", "lines", "extra")), f"{path} is named {wire}, not in SvarUt terms"


def test_every_text_field_from_memo_has_a_bound():
    from gateway.resources import load_table
    from gateway.memo_vocabulary import REPLY_DATA_FIELDS

    limits = load_table("memo")["max_length"]
    # what gateway/mapping/memo.py fills
    filled = {"title", "external_ref", "recipient.identifier", "recipient.name", "recipient.address.name",
              "recipient.address.lines[]", "recipient.address.postcode", "recipient.address.city", "recipient.address.country",
              "sender_party.identifier", "sender_party.name", "documents[].filename", "documents[].media_type", "documents[].language",
              "documents[].document_type", "links[].url", "links[].text", "links[].action", "routing.kle", "routing.form",
              "routing.case_id", "routing.case_system", "routing.production_unit", "routing.contact_point",
              "routing.post_type", "routing.kle_version", "routing.kle_label", "routing.form_version", "routing.form_label",
              "routing.production_unit_name", "routing.contact_group", "routing.contact_label", "routing.contact_info[].label",
              "routing.contact_info[].value", "routing.attention.person", "routing.attention.production_unit",
              "routing.attention.email", "routing.sender_contact_point", "routing.sender_representative",
              "routing.concerns[].identifier", "routing.concerns[].name", "routing.content_data[].name",
              "routing.content_data[].value", "routing.content_data[].type", "routing.forwarded.message_uuid",
              "routing.forwarded.original_sender", "routing.handling.message_code", "routing.handling.notification",
              "routing.handling.additional_notification", "routing.handling.reply_by", "routing.handling.hold_until",
              *(f"routing.replies_to[].{name}" for name in REPLY_DATA_FIELDS.values())}
    assert filled <= set(limits)
    assert set(limits) <= set(_text_paths(Shipment))


def _limits():
    from gateway.resources import load_table

    return load_table("svarut_fields")["max_length"]


def _with(path, value):
    """A valid shipment with ``value`` at canonical ``path`` (index 0 of lists)."""
    from gateway.model import CaseMetadata, ImportMetadata, RoutingMetadata, SigningRequest

    address = PostalAddress(name="Ola", postcode="0155", city="Oslo", lines=("Storgata 1",))
    recipient = Party(identifier="15076500565", kind=PartyKind.NO_PERSON, name="Ola", address=address)
    case = CaseMetadata(case_year=2026, case_sequence_number=1, journal_year=2026, journal_sequence_number=1,
                        journal_entry_number=1, extra=(("k", "v"),))
    parts = dict(recipient=recipient, reply_to=recipient, links=(Link(url="https://minside.no", text="Se", label="L"),),
                 case_metadata=case, import_metadata=ImportMetadata(case_year=2026, case_sequence_number=1),
                 routing=RoutingMetadata(), documents=(doc(),), signing=None)
    head, _, rest = path.partition(".")
    if path in ("title", "source_system", "cost_code", "external_ref", "reply_to_shipment_id"):
        return shipment(**{**parts, path: value})
    if head == "signing":
        return shipment(**{**parts, "signing": SigningRequest(signature_type=value)})
    if head in ("recipient", "reply_to"):
        party = parts[head]
        if rest.startswith("address."):
            field = rest.split(".")[1].removesuffix("[]")
            party = dataclasses.replace(party, address=dataclasses.replace(
                party.address, **{field: (value,) if field == "lines" else value}))
        else:
            party = dataclasses.replace(party, **{rest: value})
        return shipment(**{**parts, head: party})
    if head in ("links[]", "documents[]"):
        key = head[:-2]
        return shipment(**{**parts, key: (dataclasses.replace(parts[key][0], **{rest: value}),)})
    if head == "case_metadata" and rest.startswith("extra"):
        pair = (value, "v") if rest.endswith("key") else ("k", value)
        return shipment(**{**parts, "case_metadata": dataclasses.replace(case, extra=(pair,))})
    if head in ("case_metadata", "import_metadata"):
        return shipment(**{**parts, head: dataclasses.replace(parts[head], **{rest: value})})
    if head == "routing":
        return shipment(**{**parts, "routing": RoutingMetadata(**{rest: value})})
    raise AssertionError(path)


@pytest.mark.parametrize("path", sorted(_limits()))
def test_each_bound_holds_at_its_limit_and_refuses_one_more(path):
    limit = _limits()[path]
    fill = {"recipient.identifier": "1", "reply_to.identifier": "1", "recipient.address.postcode": "0"}.get(path, "a")
    if path in ("recipient.identifier", "reply_to.identifier", "recipient.address.postcode", "cost_code",
                "signing.signature_type", "documents[].filename", "documents[].media_type"):
        # other rules check these values' form; their bound still holds first for a long one
        long = _with(path, fill * 1_000_000)
        code, field = code_of(long)
        assert code in ("FIELD_TOO_LONG", "FILENAME_TOO_LONG", "INVALID_NATIONAL_ID", "INVALID_COST_CODE",
                        "SIGNING_NOT_SUPPORTED", "INVALID_POSTCODE", "MEDIA_TYPE_INVALID", "FIELD_TOO_LONG")
        return
    start = "https://minside.no/" if path == "links[].url" else ""
    validate_shipment(_with(path, start + "a" * (limit - len(start))), policy=POLICY)
    with pytest.raises(ValidationError) as err:
        validate_shipment(_with(path, start + "a" * (limit + 1 - len(start))), policy=POLICY)
    assert err.value.code == "FIELD_TOO_LONG"
    assert err.value.field == path.replace("[]", "[0]")
    assert f"at most {limit} characters" in err.value.message


def test_a_refused_megabyte_is_not_copied_into_the_message():
    huge = "x" * 1_000_000
    for s in (_with("title", huge), _with("links[].url", "https://" + huge), _with("documents[].filename", huge + ".pdf"),
              shipment(documents=(doc(huge),)), shipment(documents=(doc(media=huge),))):
        with pytest.raises(ValidationError) as err:
            validate_shipment(s, policy=POLICY)
        assert len(err.value.message) < 300, err.value.code


def test_memo_shipments_are_bounded_by_memo_limits_not_svarut_ones():
    """A MeMo label may have 256 characters (SvarUt's navn only 100); past MeMo's own bound it is refused."""
    def memo(name):
        address = PostalAddress(name=name, postcode="2100", city="København", country="DK")
        return shipment(source_contract="memo", recipient=Party(identifier="0101011234", kind=PartyKind.DK_CPR, name=name, address=address))

    validate_shipment(memo("n" * 256), policy=POLICY)
    assert code_of(memo("n" * 257)) == ("FIELD_TOO_LONG", "recipient.name")
    assert code_of(shipment(recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON, name="n" * 101,
                                            address=PostalAddress(name="n", postcode="0155", city="Oslo")))) == ("FIELD_TOO_LONG", "recipient.name")


#: Where each bound of mappings/svarut_fields.toml comes from in the official REST v3 schema
#: (components/schemas/<schema> property <property>); the rest are documented choices.
OFFICIAL = {
    "title": ("tittel", None), "source_system": ("avgivendeSystem", None), "cost_code": ("konteringskode", None),
    "external_ref": ("eksternReferanse", None), "routing.shipment_type": ("OrganisasjonForsendelse", "forsendelsestype"),
    "recipient.identifier": ("Mottaker", "digitalId"), "recipient.name": ("Mottaker", "navn"),
    "recipient.address.name": ("Postadresse", "navn"), "recipient.address.lines[]": ("Adresse", "adresselinje1"),
    "recipient.address.postcode": ("Adresse", "postnummer"), "recipient.address.city": ("Adresse", "poststed"),
    "reply_to.name": ("SvarSendesTil", "navn"), "reply_to.address.name": ("Postadresse", "navn"),
    "reply_to.address.lines[]": ("Adresse", "adresselinje2"), "reply_to.address.postcode": ("Adresse", "postnummer"),
    "reply_to.address.city": ("Adresse", "poststed"), "documents[].filename": ("filnavn", None),
    "documents[].media_type": ("mimeType", None), "links[].url": ("Lenke", "url"), "links[].text": ("Lenke", "tekst"),
    "links[].label": ("Lenke", "ledetekst"), "case_metadata.journal_entry_type": ("NoarkMetadataFraAvleverendeSakssystem", "journalposttype"),
    "case_metadata.journal_status": ("NoarkMetadataFraAvleverendeSakssystem", "journalstatus"),
    "case_metadata.case_officer": ("NoarkMetadataFraAvleverendeSakssystem", "saksbehandler"),
    "case_metadata.title": ("NoarkMetadataFraAvleverendeSakssystem", "tittel"),
    "case_metadata.extra[].key": ("Metadata", "key"), "case_metadata.extra[].value": ("Metadata", "value"),
    "import_metadata.journal_entry_type": ("NoarkMetadataForImport", "journalposttype"),
    "import_metadata.journal_status": ("NoarkMetadataForImport", "journalstatus"),
    "import_metadata.title": ("NoarkMetadataForImport", "tittel"),
}


def test_bounds_are_the_official_svarut_limits():
    import json

    from tests.conftest import SPECS, require_spec

    spec = json.loads(require_spec(SPECS / "svarut" / "rest-v3" / "forsendelse-send-api-v3.json").read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    limits = _limits()
    for path, (schema, prop) in OFFICIAL.items():
        node = schemas[schema] if prop is None else schemas[schema]["properties"][prop]
        assert limits[path] == node["maxLength"], path
    document = schemas["OrganisasjonForsendelse"]["properties"]["dokumenter"]["items"]["properties"]
    assert limits["documents[].document_type"] == document["dokumentType"]["maxLength"]
    chosen = set(limits) - set(OFFICIAL) - {"documents[].document_type"}
    # no maxLength in the schema: a uuid (36), SvarSendesTil.digitalId's pattern ^\d{1,11}$, an
    # enumeration, and V9's free-text land (70, as poststed)
    assert chosen == {"reply_to_shipment_id", "reply_to.identifier", "signing.signature_type",
                      "recipient.address.country", "reply_to.address.country"}

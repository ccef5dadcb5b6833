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
        id="", tenant="t", title="Tittel",
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

"""A text message (a MeMo NemSMS) is the one shipment without documents: digital only."""
import pytest

from gateway.config import IntakePolicy
from gateway.domain.validation import validate_shipment
from gateway.errors import ValidationError
from gateway.model import DeliveryMode, DeliveryPolicy, Document, Party, PartyKind, PostalAddress, Shipment

POLICY = IntakePolicy()
DIGITAL_ONLY = DeliveryPolicy(mode=DeliveryMode.DIGITAL_ONLY)


def text_message(**kw) -> Shipment:
    base = dict(id="", sender="t", title="Tandlæge", recipient=Party(identifier="2211771212", kind=PartyKind.DK_CPR),
                documents=(), delivery=DIGITAL_ONLY)
    base.update(kw)
    return Shipment(**base)


def code_of(shipment: Shipment, **kw) -> tuple[str, str]:
    with pytest.raises(ValidationError) as err:
        validate_shipment(shipment, policy=POLICY, **kw)
    return str(err.value.code), err.value.field


def test_a_digital_only_text_message_needs_no_documents():
    validate_shipment(text_message(), policy=POLICY, documents_required=False)


def test_documents_are_required_by_default():
    assert code_of(text_message()) == ("DOCUMENTS_REQUIRED", "documents")


@pytest.mark.parametrize("mode", [DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK, DeliveryMode.PRINT_ONLY])
def test_a_shipment_that_may_be_printed_needs_documents(mode):
    """Nothing to print: the knob never lets a printable shipment through without documents."""
    address = PostalAddress(name="Mette Hansen", lines=("Bakketoppen 6",), postcode="9000", city="Aalborg", country="DK")
    shipment = text_message(delivery=DeliveryPolicy(mode=mode), recipient=Party(identifier="2211771212", kind=PartyKind.DK_CPR, address=address))
    assert code_of(shipment, documents_required=False) == ("DOCUMENTS_REQUIRED", "documents")


def test_documents_a_text_message_has_are_still_checked():
    empty = Document(filename="a.pdf", media_type="application/pdf", size=0, sha256="0" * 64, storage_ref="")
    assert code_of(text_message(documents=(empty,)), documents_required=False) == ("DOCUMENT_EMPTY", "documents[0].content")

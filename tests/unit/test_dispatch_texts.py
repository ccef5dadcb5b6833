"""The dispatcher's texts for people: every language says everything, in the recipient's language."""
import datetime as dt
import string

import pytest

from gateway.dispatch.routing import Reachability, choose_route
from gateway.dispatch.texts import for_recipient, texts
from gateway.dispatch.dispatcher import route_text
from gateway.resources import load_table
from gateway.model import DeliveryMode, DeliveryPolicy, Party, PartyKind, Shipment

LANGUAGES = sorted(load_table("dispatch_texts"))


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_key_with_the_same_placeholders():
    table = load_table("dispatch_texts")
    assert set(LANGUAGES) == {"nb", "da"}
    for language in LANGUAGES:
        assert table[language].keys() == table["nb"].keys(), language
        for key, text in table[language].items():
            assert fields(text) == fields(table["nb"][key]), (language, key)


def test_danish_recipients_read_danish_and_everyone_else_norwegian():
    assert for_recipient(PartyKind.DK_CPR).language == for_recipient(PartyKind.DK_CVR).language == "da"
    assert {for_recipient(kind).language for kind in PartyKind if kind not in (PartyKind.DK_CPR, PartyKind.DK_CVR)} == {"nb"}
    assert texts("da").channel("print") == "fysisk post" and texts("nb").channel("print") == "utskrift"
    assert texts("nb").kroner("cost", 1240) == ", kostnad 12.40 kr" and texts("nb").kroner("cost", None) == ""


class Register:
    def __init__(self, status):
        self.status = status

    def lookup(self, identifier, kind):
        return self.status


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("mode", list(DeliveryMode))
@pytest.mark.parametrize("status", [None, *Reachability])
@pytest.mark.parametrize("identifier", ["", "01017012345"])
@pytest.mark.parametrize("print_available", [True, False])
@pytest.mark.parametrize("channels", [(), ("altinn3",)])
def test_every_route_has_words(language, mode, status, identifier, print_available, channels):
    shipment = Shipment(id="x", sender="t", title="T", documents=(), delivery=DeliveryPolicy(mode=mode),
                        recipient=Party(identifier=identifier, kind=PartyKind.NO_PERSON))
    route = choose_route(shipment, register=Register(status), digital_channels=channels, print_available=print_available)
    text = route_text(texts(language), route)
    assert text and "{" not in text and "route." not in text

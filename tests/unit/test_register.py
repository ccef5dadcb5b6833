"""The composite register: Danish numbers are asked of Digital Post, every other of the table."""
from gateway.channels.digitalpost import DigitalPostChannel
from gateway.dispatch.register import CompositeRegister, RegistrationLookup
from gateway.dispatch.routing import Reachability
from gateway.model import PartyKind


class Table:
    def __init__(self):
        self.asked = []

    def lookup(self, identifier, kind):
        self.asked.append((identifier, kind))
        return Reachability.RESERVED


class Lookup:
    def __init__(self, registered):
        self.registered = registered
        self.asked = []

    def is_registered(self, id_type, identifier):
        self.asked.append((id_type, identifier))
        return identifier in self.registered


def test_danish_numbers_are_asked_of_the_lookup_by_their_type():
    table, lookup = Table(), Lookup({"2211771212", "12345678"})
    register = CompositeRegister(table, lookup)
    assert register.lookup("2211771212", PartyKind.DK_CPR) is Reachability.DIGITAL
    assert register.lookup("0101704321", PartyKind.DK_CPR) is Reachability.UNREACHABLE
    assert register.lookup("12345678", PartyKind.DK_CVR) is Reachability.DIGITAL
    assert lookup.asked == [("CPR", "2211771212"), ("CPR", "0101704321"), ("CVR", "12345678")]
    assert table.asked == []


def test_everyone_else_and_danes_without_digital_post_are_asked_of_the_table():
    table, lookup = Table(), Lookup(set())
    assert CompositeRegister(table, lookup).lookup("15076500565", PartyKind.NO_PERSON) is Reachability.RESERVED
    assert CompositeRegister(table, None).lookup("2211771212", PartyKind.DK_CPR) is Reachability.RESERVED
    assert lookup.asked == [] and table.asked == [("15076500565", PartyKind.NO_PERSON), ("2211771212", PartyKind.DK_CPR)]


def test_the_digital_post_channel_is_a_registration_lookup():
    assert issubclass(DigitalPostChannel, RegistrationLookup)
    assert isinstance(Lookup(set()), RegistrationLookup) and not isinstance(Table(), RegistrationLookup)

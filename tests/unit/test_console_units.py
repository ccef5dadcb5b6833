"""The console's parts without a server: settings, masking, the search form, sessions and the
login rate limit (with the time given)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.config import ConfigError, ConsoleSettings, OperatorSettings, load_settings
from gateway.console.masking import mask_national_ids
from gateway.console.search import SearchError, read_search
from gateway.console.security import Gatekeeper, LoginRefused
from gateway.passwords import hash_password, verify_password
from gateway.store import migrate
from gateway.store.console_sessions import SessionStore
from gateway.store.engine import create_engine

T0 = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.timezone.utc)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text('[[senders]]\nname = "kommune-sak"\npassword = "x"\n' + text, encoding="utf-8")
    return path


def test_operators_are_read_with_their_roles_and_senders(tmp_path):
    settings = load_settings(_config(tmp_path, '''
[console]
session_idle_minutes = 15

[[operators]]
name = "ada"
password = "hemmelig"
role = "admin"

[[operators]]
name = "vera"
password_hash = "%s"
senders = ["kommune-sak"]
''' % hash_password("pw", log2_n=10)), environ={})
    ada, vera = settings.console.operators
    assert settings.console.session_idle_minutes == 15 and ada.admin and verify_password("hemmelig", ada.password_hash)
    assert vera.role == "viewer" and not vera.admin and vera.senders == ("kommune-sak",)
    assert vera.sees("kommune-sak") and not vera.sees("annen") and ada.sees("annen")
    assert "password_hash" not in repr(ada)


@pytest.mark.parametrize("entry, message", [
    ('name = "ada"\npassword = "x"\nrole = "root"', "role must be one of admin, viewer"),
    ('name = "ada"\npassword = "x"\nsenders = ["ukjent"]', "no such sender(s) ukjent"),
    ('name = "ada"', "'password' or 'password_hash' is required"),
    ('name = "ada"\npassword_hash = "klartekst"', "not a hash"),
    ('password = "x"', "'name' is required"),
    ('name = "ada"\npassword = "x"\nfarge = "blå"', "unknown key(s): farge"),
])
def test_bad_operators_are_refused_naming_the_key(tmp_path, entry, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(_config(tmp_path, f"[[operators]]\n{entry}\n"), environ={})


def test_operator_names_are_unique_and_console_numbers_positive(tmp_path):
    with pytest.raises(ConfigError, match="unique"):
        load_settings(_config(tmp_path, '[[operators]]\nname = "a"\npassword = "x"\n[[operators]]\nname = "a"\npassword = "y"\n'), environ={})
    with pytest.raises(ConfigError, match="console.login_max_failures must be positive"):
        load_settings(_config(tmp_path, "[console]\nlogin_max_failures = 0\n"), environ={})


def test_national_identity_numbers_are_masked_and_nothing_else():
    assert mask_national_ids("til 15076500565 i dag") == "til *********65 i dag"
    assert mask_national_ids("CPR 0101901234 og 010190-1234") == "CPR ********34 og ******-**34"
    assert mask_national_ids("orgnr 974720760, CVR 12345678, ref 123456789012") == "orgnr 974720760, CVR 12345678, ref 123456789012"
    assert mask_national_ids(None) == ""


def test_the_search_form_reads_case_numbers_recipients_and_dates():
    search = read_search({"case": " 2026 / 123-4 ", "recipient": "150765 00565", "title": "Vedtak", "to": "2026-12-03"},
                         senders=("kommune-sak",))
    q = search.query
    assert (q.case_year, q.case_sequence_number, q.document_number) == (2026, 123, 4)
    assert q.recipient_identifier == "15076500565" and q.recipient_name is None and q.title == "Vedtak"
    assert q.created_before == dt.datetime(2026, 12, 3, 23, 0, tzinfo=dt.timezone.utc)  # the end of 3 December in Oslo
    assert q.senders == ("kommune-sak",)
    assert read_search({"recipient": "Ola"}, senders=None).query.recipient_name == "Ola"
    assert read_search({}, senders=None).empty
    for field, value in (("case", "123"), ("doc", "fire"), ("from", "03.12.2026")):
        with pytest.raises(SearchError) as caught:
            read_search({field: value}, senders=None)
        assert caught.value.field == field


@pytest.fixture
def gate(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate.upgrade(engine)
    operator = OperatorSettings(name="ada", password_hash=hash_password("riktig", log2_n=10), role="admin")
    yield Gatekeeper(ConsoleSettings(operators=(operator,), login_max_failures=3, login_window_seconds=60,
                                     session_idle_minutes=30, session_max_hours=12), SessionStore(engine))
    engine.dispose()


def test_sessions_expire_when_idle_and_after_their_longest_life(gate):
    who = gate.login("ada", "riktig", client="127.0.0.1", now=T0)
    assert who is not None and who.admin and len(who.token) >= 43 and who.session.csrf != who.token
    assert gate.session(who.token, now=T0 + dt.timedelta(minutes=29)) is not None
    assert gate.session(who.token, now=T0 + dt.timedelta(minutes=29 + 31)) is None  # idle for 31 minutes
    assert gate.session(who.token, now=T0 + dt.timedelta(minutes=29)) is None  # and gone for good
    busy = gate.login("ada", "riktig", client="127.0.0.1", now=T0)
    for minutes in range(20, 12 * 60, 20):
        assert gate.session(busy.token, now=T0 + dt.timedelta(minutes=minutes)) is not None
    assert gate.session(busy.token, now=T0 + dt.timedelta(hours=12, minutes=1)) is None  # never more than 12 hours
    assert gate.session("gjettet", now=T0) is None and gate.session(None, now=T0) is None


def test_failed_logins_lock_the_account_and_the_address_for_the_window(gate):
    for i in range(3):
        assert gate.login("ada", "feil", client="10.0.0.1", now=T0 + dt.timedelta(seconds=i)) is None
    with pytest.raises(LoginRefused) as caught:
        gate.login("ada", "riktig", client="10.0.0.2", now=T0 + dt.timedelta(seconds=10))  # the account, from anywhere
    assert caught.value.retry_after == 50  # the first failure leaves the 60 s window at T0 + 60
    with pytest.raises(LoginRefused):
        gate.login("nobody", "x", client="10.0.0.1", now=T0 + dt.timedelta(seconds=10))  # the address, for any account
    assert gate.login("ada", "riktig", client="10.0.0.2", now=T0 + dt.timedelta(seconds=61)) is not None


def test_letter_ids_are_not_taken_for_national_identity_numbers():
    """A UUID may hold eleven digits in a row (…-97952701873c) or a CPR-like run across a dash."""
    from gateway.console.masking import mask_national_ids
    from gateway.dispatch.alert_texts import mask

    ids = "3c7baee0-521a-45c0-b9d8-97952701873c 01017012-3456-4000-8000-000000000001"
    for masker in (mask_national_ids, mask):
        shown = masker(f"{ids} 01017012345 010170-1234")
        assert shown.startswith(ids) and "01017012345" not in shown and "010170-1234" not in shown

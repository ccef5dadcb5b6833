import re

import pytest

from gateway import passwords
from gateway.config import ConfigError, load_settings


def write(tmp_path, text):
    p = tmp_path / "g.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_embedded_defaults():
    s = load_settings(None, environ={})
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8080)
    assert s.storage.resolved_database_url == "sqlite:///var/gateway.db"
    assert [x.name for x in s.senders] == ["demo"]
    assert passwords.verify_password("demo", s.senders[0].password_hash)


def test_file_and_environment_overrides(tmp_path):
    hashed = passwords.hash_password("pw2")
    path = write(tmp_path, f"""
[server]
host = "127.0.0.1"
port = 9000
[storage]
data_dir = "data"
[[senders]]
name = "kommune-sak"
password = "pw"
organization_number = "974720760"
[[senders]]
name = "arkiv"
password_hash = "{hashed}"
[svarut]
shipment_types = ["Vedtak"]
[[svarut.receiving_systems]]
organization_number = "974720760"
system = "Elements"
""")
    s = load_settings(path, environ={"GATEWAY_SERVER_PORT": "9100", "GATEWAY_STORAGE_DATABASE_URL": "postgresql://u@h/db"})
    assert s.server.port == 9100
    assert s.storage.resolved_database_url == "postgresql://u@h/db"
    assert s.storage.data_dir == "data"
    assert passwords.verify_password("pw", s.sender("kommune-sak").password_hash)
    assert s.sender("arkiv").password_hash == hashed
    assert s.svarut.shipment_types == ("Vedtak",)
    assert s.svarut.receiving_systems[0].system == "Elements"
    with pytest.raises(AttributeError):
        s.server.port = 1  # frozen


@pytest.mark.parametrize(
    "text, message",
    [
        ("[server]\nport = 'x'", "server.port: expected an integer"),
        ("[server]\nprot = 1", "unknown key(s): prot"),
        ("[nonsense]\na = 1", "unknown section(s) nonsense"),
        ("[[senders]]\nname = 'a'", "'password' or 'password_hash' is required"),
        ("[[senders]]\nname = 'a'\npassword_hash = 'plain'", "not a hash"),
        ("[server]\nhost = '0.0.0.0'", "demo sender"),
        ("[storage]\ndatabase_url = 'mysql://x'", "storage.database_url"),
        ("[storage]\ninline_document_bytes = -1", "storage.inline_document_bytes must be 0 or more"),
        ("not toml =", "not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ={})
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize("toml, where", [
    ('[noark]\nown_organization_numbers = ["974720761"]\n', "noark.own_organization_numbers[0]"),
    ('[[senders]]\nname = "a"\npassword = "p"\nsends_for = ["97472076"]\n', "senders[a].sends_for[0]"),
])
def test_noark_organisation_numbers_are_checked(tmp_path, toml, where):
    from gateway.config import ConfigError, load_settings

    path = tmp_path / "g.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(where)):
        load_settings(path, environ={})


_ARCHIVE_SENDER = '[[senders]]\nname = "arkiv"\npassword = "p"\norganization_number = "974720760"\n'


def test_a_senders_archive_endpoint_dialect_and_credentials(tmp_path):
    s = load_settings(write(tmp_path, _ARCHIVE_SENDER + """archive_endpoint = "https://arkiv.kommune.no/EDUImport.svc"
archive_dialect = "p360"
archive_username = "gateway"
archive_password = "hemmelig"
archive_timeout_seconds = 5
"""), environ={})
    sender = s.sender("arkiv")
    assert (sender.archive_endpoint, sender.archive_dialect) == ("https://arkiv.kommune.no/EDUImport.svc", "p360")
    assert (sender.archive_username, sender.archive_password, sender.archive_timeout_seconds) == ("gateway", "hemmelig", 5.0)
    assert "hemmelig" not in repr(sender) and "hemmelig" not in repr(s)
    plain = load_settings(write(tmp_path, _ARCHIVE_SENDER), environ={}).sender("arkiv")
    assert (plain.archive_endpoint, plain.archive_dialect) == ("", "standard")  # no receipts, Arkivverket's contract


@pytest.mark.parametrize("extra, where", [
    ('archive_endpoint = "https://a.no/x"\narchive_dialect = "elements"\n', "senders[arkiv].archive_dialect"),
    ('archive_endpoint = "ftp://a.no/x"\n', "senders[arkiv].archive_endpoint"),
    ('archive_endpoint = "https:///x"\n', "senders[arkiv].archive_endpoint"),
    ('archive_endpoint = "https://u:p@a.no/x"\n', "senders[arkiv].archive_endpoint"),
    ('archive_endpoint = "https://a.no:port/x"\n', "senders[arkiv].archive_endpoint"),
    ('archive_endpoint = "https://a.no/x"\narchive_username = "u"\n', "senders[arkiv].archive_username"),
    ('archive_username = "u"\narchive_password = "p"\n', "senders[arkiv].archive_username"),
    ('archive_endpoint = "https://a.no/x"\narchive_timeout_seconds = 0\n', "senders[arkiv].archive_timeout_seconds"),
    ('archive_endpoint = "https://a.no/x"\narchive_timeout_seconds = "soon"\n', "senders[0].archive_timeout_seconds"),
])
def test_a_bad_archive_setting_names_its_key(tmp_path, extra, where):
    with pytest.raises(ConfigError, match=re.escape(where)):
        load_settings(write(tmp_path, _ARCHIVE_SENDER + extra), environ={})

"""``server.public_url``: the address every WSDL names; by default the listening address."""
import socket

import pytest

from gateway.config import ConfigError, ServerSettings, load_settings


def test_default_is_the_listening_address():
    assert ServerSettings().base_url() == "http://127.0.0.1:8080"
    assert ServerSettings(port=0).base_url(port=43123) == "http://127.0.0.1:43123"
    assert ServerSettings(host="::1", port=9000).base_url() == "http://[::1]:9000"
    assert ServerSettings(host="0.0.0.0").base_url() == f"http://{socket.gethostname()}:8080"


def test_default_scheme_follows_tls(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x"), key.write_text("x")
    assert ServerSettings(tls_certificate=str(cert), tls_private_key=str(key), port=8443).base_url() == "https://127.0.0.1:8443"


def test_configured_public_url_wins(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[server]\npublic_url = "https://post.kommune.no/gateway/"\n', encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings.server.base_url(port=1234) == "https://post.kommune.no/gateway"
    env = load_settings(None, environ={"GATEWAY_SERVER_PUBLIC_URL": "https://gw.example:8443"})
    assert env.server.base_url() == "https://gw.example:8443"


@pytest.mark.parametrize(
    "url",
    ["post.kommune.no", "ftp://post.kommune.no", "https://", "https://user:pw@post.kommune.no",
     "https://post.kommune.no/?wsdl", "https://post.kommune.no/#x", "https://post.kommune.no:http",
     "https://post.kommune.no/a b", 'https://post.kommune.no/"><x', "https://post.kommune.no/\x00"],
)
def test_a_public_url_that_cannot_be_published_is_refused(url):
    with pytest.raises(ConfigError, match="server.public_url"):
        load_settings(None, environ={"GATEWAY_SERVER_PUBLIC_URL": url})

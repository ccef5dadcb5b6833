"""HTTP Basic over TLS: with a certificate configured the gateway speaks HTTPS only."""
from __future__ import annotations

import pytest
import requests

from gateway.config import ConfigError, load_settings
from tests.conftest import make_certificate
from tests.svarut_builders import forsendelse


def test_https_with_zeep(start_gateway, settings_factory, svarut_client, tmp_path):
    cert, key = make_certificate(tmp_path)
    gw = start_gateway(settings_factory(tls_certificate=str(cert), tls_private_key=str(key)))
    assert gw.base_url.startswith("https://127.0.0.1:")
    client, svc = svarut_client(gw, verify=str(cert))
    sid = svc.sendForsendelse(forsendelse=forsendelse(client))
    assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "AKSEPTERT"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(gw.base_url + "/health", timeout=10)  # unknown certificate is not trusted
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(gw.base_url.replace("https", "http") + "/health", timeout=10)


def test_tls_settings_are_checked(tmp_path):
    cert, _key = make_certificate(tmp_path)
    config = tmp_path / "g.toml"
    config.write_text(f'[server]\ntls_certificate = "{cert}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="go together"):
        load_settings(config, environ={})
    config.write_text(f'[server]\ntls_certificate = "{cert}"\ntls_private_key = "{tmp_path / "nope.key"}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(config, environ={})

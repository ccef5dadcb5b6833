"""[channels.altinn3]: the Maskinporten grant must name its key by kid or x5c, checked when the settings load."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.channels.maskinporten import MaskinportenClient
from gateway.config import ConfigError, load_settings
from gateway.config.maskinporten import maskinporten_credentials
from tests.doubles.maskinporten import business_certificates, chain_pem


@pytest.fixture
def key_file(tmp_path, client_key):
    path = tmp_path / "maskinporten.pem"
    path.write_bytes(client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return path


def config(tmp_path, key_file, extra: str):
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[storage]
data_dir = "{tmp_path / 'var'}"

[channels.altinn3]
enabled = true
resource_id = "kommune-brev"
client_id = "kommune-gateway"
private_key_file = "{key_file}"
subscription_key = "apim-key"
{extra}
""", encoding="utf-8")
    return path


def test_neither_kid_nor_certificate_chain_does_not_load(tmp_path, key_file):
    with pytest.raises(ConfigError, match=r"exactly one of key_id .* or certificate_chain_file .* neither kid nor x5c"):
        load_settings(config(tmp_path, key_file, ""))


def test_both_kid_and_certificate_chain_do_not_load(tmp_path, key_file, client_key):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(chain_pem(*reversed(business_certificates(client_key))))
    with pytest.raises(ConfigError, match="both ways"):
        load_settings(config(tmp_path, key_file, f'key_id = "kid-1"\ncertificate_chain_file = "{chain}"'))


def test_a_disabled_channel_needs_neither(tmp_path, key_file):
    path = config(tmp_path, key_file, "")
    path.write_text(path.read_text(encoding="utf-8").replace("enabled = true", "enabled = false"), encoding="utf-8")
    assert not load_settings(path).channels.altinn3.enabled


def test_kid_loads(tmp_path, key_file):
    a = load_settings(config(tmp_path, key_file, 'key_id = "kid-1"')).channels.altinn3
    creds = maskinporten_credentials(a)
    assert creds.key_id == "kid-1" and creds.certificate_chain == ()


def test_certificate_chain_loads_leaf_first_and_becomes_x5c(tmp_path, key_file, client_key):
    ca, leaf = business_certificates(client_key)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(chain_pem(leaf, ca))
    a = load_settings(config(tmp_path, key_file, f'certificate_chain_file = "{chain}"')).channels.altinn3
    creds = maskinporten_credentials(a)
    der = serialization.Encoding.DER
    assert creds.key_id == "" and creds.certificate_chain == (leaf.public_bytes(der), ca.public_bytes(der))
    client = MaskinportenClient(token_url="t", audience="a", client_id="c", scope="s", certificate_chain=creds.certificate_chain)
    assert client.header() == {"x5c": [base64.b64encode(leaf.public_bytes(der)).decode(), base64.b64encode(ca.public_bytes(der)).decode()]}


def test_a_chain_whose_leaf_is_another_key_does_not_load(tmp_path, key_file, client_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca, leaf = business_certificates(other)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(chain_pem(leaf, ca))
    with pytest.raises(ConfigError, match="does not belong to the key in private_key_file"):
        load_settings(config(tmp_path, key_file, f'certificate_chain_file = "{chain}"'))
    chain.write_bytes(chain_pem(*business_certificates(client_key)))  # CA first: the leaf is not first
    with pytest.raises(ConfigError, match="the first certificate"):
        load_settings(config(tmp_path, key_file, f'certificate_chain_file = "{chain}"'))


@pytest.mark.parametrize("content, message", [
    (None, "certificate_chain_file: no such file"),
    (b"not a certificate", "holds no PEM certificates"),
])
def test_a_missing_or_unreadable_chain_does_not_load(tmp_path, key_file, content, message):
    chain = tmp_path / "chain.pem"
    if content is not None:
        chain.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(config(tmp_path, key_file, f'certificate_chain_file = "{chain}"'))

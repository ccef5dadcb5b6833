"""Digipost request/response signing (the Java client's RequestMessageSignatureUtil and
ResponseMessageSignatureUtil) and the signing key read at start-up."""
from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.channels.digipost_signing import (
    SignatureProblem, canonical_request, canonical_response, check_date, content_hash, signed_headers, verify,
)
from gateway.config import ConfigError, DigipostSettings, PrintSettings
from gateway.config.digipost import check_print_provider, digipost_signing_key

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_canonical_request_is_the_java_clients_string():
    headers = {"X-Digipost-UserId": "123", "Date": "Wed, 02 Dec 2026 10:00:00 GMT", "X-Content-SHA256": "abc=",
               "Content-Type": "multipart/vnd.digipost-v8+xml", "Accept": "application/vnd.digipost-v8+xml"}
    assert canonical_request("post", "/Messages", headers, "A=B") == (
        "POST\n/messages\n"
        "date: Wed, 02 Dec 2026 10:00:00 GMT\nx-content-sha256: abc=\nx-digipost-userid: 123\n"
        "a=b\n")
    assert canonical_request("GET", "/", {"Date": "d", "X-Digipost-UserId": "1"}) == "GET\n/\ndate: d\nx-digipost-userid: 1\n\n"


def test_canonical_response_has_status_path_and_headers_but_no_query_line():
    headers = {"Date": "d", "X-Content-SHA256": "h", "X-Digipost-Signature": "s", "Server": "x"}
    assert canonical_response(200, "/Batches/1", headers) == "200\n/batches/1\ndate: d\nx-content-sha256: h\n"


def test_signed_headers_verify_with_the_public_key(key):
    body = b"<batch/>"
    headers = signed_headers(key, method="POST", path="/batches", query="", user_id="123", body=body, now=NOW)
    assert headers["X-Content-SHA256"] == base64.b64encode(__import__("hashlib").sha256(body).digest()).decode() == content_hash(body)
    assert headers["Date"] == "Wed, 02 Dec 2026 10:00:00 GMT"
    text = canonical_request("POST", "/batches", headers)
    key.public_key().verify(base64.b64decode(headers["X-Digipost-Signature"]), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert "X-Content-SHA256" not in signed_headers(key, method="GET", path="/", query="", user_id="1", body=None, now=NOW)


def test_verify_refuses_missing_and_wrong_signatures(key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SignatureProblem, match="missing"):
        verify(key.public_key(), "x", None)
    bad = base64.b64encode(other.sign(b"x", padding.PKCS1v15(), hashes.SHA256())).decode()
    with pytest.raises(SignatureProblem, match="does not match"):
        verify(key.public_key(), "x", bad)
    with pytest.raises(SignatureProblem):
        verify(key.public_key(), "x", "not base64!")


@pytest.mark.parametrize("value, message", [
    (None, "missing"), ("yesterday", "RFC 1123"), ("Wed, 02 Dec 2026 09:54:00 GMT", "too old"),
    ("Wed, 02 Dec 2026 10:06:00 GMT", "too far ahead"),
])
def test_check_date_refuses(value, message):
    with pytest.raises(SignatureProblem, match=message):
        check_date(value, now=NOW, max_skew=dt.timedelta(minutes=5))


def test_check_date_within_skew():
    check_date("Wed, 02 Dec 2026 10:04:00 GMT", now=NOW, max_skew=dt.timedelta(minutes=5))


# ---------------------------------------------------------------- the key at start-up


def _pem(key, path, password=None):
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return str(path)


def test_pem_and_pkcs12_keys_load(key, tmp_path):
    assert digipost_signing_key(DigipostSettings(key_file=_pem(key, tmp_path / "k.pem"))).key_size == 2048
    p12 = tmp_path / "k.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"digipost", key, None, None,
                                                          serialization.BestAvailableEncryption(b"hemmelig")))
    loaded = digipost_signing_key(DigipostSettings(pkcs12_file=str(p12), key_password="hemmelig"))
    assert loaded.public_key().public_numbers() == key.public_key().public_numbers()
    encrypted = _pem(key, tmp_path / "e.pem", b"pw")
    assert digipost_signing_key(DigipostSettings(key_file=encrypted, key_password="pw")).key_size == 2048


def test_unusable_keys_are_config_errors(key, tmp_path):
    p12 = tmp_path / "k.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"d", key, None, None, serialization.BestAvailableEncryption(b"pw")))
    cases = [
        (DigipostSettings(), "exactly one"),
        (DigipostSettings(key_file="/nonexistent.pem"), "key_file: cannot read"),
        (DigipostSettings(key_file=_pem(key, tmp_path / "e.pem", b"pw")), "key_password"),
        (DigipostSettings(pkcs12_file=str(p12), key_password="wrong"), "pkcs12_file"),
        (DigipostSettings(key_file=_pem(ec.generate_private_key(ec.SECP256R1()), tmp_path / "ec.pem")), "must be RSA"),
        (DigipostSettings(key_file=_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024), tmp_path / "s.pem")),
         "too small"),
    ]
    (tmp_path / "junk.pem").write_text("not a key")
    cases.append((DigipostSettings(key_file=str(tmp_path / "junk.pem")), "not a PEM private key"))
    for settings, message in cases:
        with pytest.raises(ConfigError, match=message):
            digipost_signing_key(settings)


def test_print_provider_checks(key, tmp_path):
    check_print_provider(PrintSettings())  # folder needs nothing
    with pytest.raises(ConfigError, match="provider"):
        check_print_provider(PrintSettings(provider="laser"))
    good = DigipostSettings(broker_id="123", key_file=_pem(key, tmp_path / "k.pem"))
    check_print_provider(PrintSettings(provider="digipost", digipost=good))
    import dataclasses
    for change, message in [({"broker_id": ""}, "broker_id"), ({"nondeliverable_handling": "BURN"}, "nondeliverable"),
                            ({"sender_id": "x"}, "sender_id"), ({"server_certificate_file": str(tmp_path / "k.pem")}, "certificate")]:
        with pytest.raises(ConfigError, match=message):
            check_print_provider(PrintSettings(provider="digipost", digipost=dataclasses.replace(good, **change)))


def test_settings_file_reads_the_digipost_table(key, tmp_path):
    from gateway.config import load_settings
    pem = _pem(key, tmp_path / "k.pem")
    config = tmp_path / "gateway.toml"
    config.write_text(f'[channels.print]\nprovider = "digipost"\n[channels.print.digipost]\nbroker_id = "123"\nkey_file = "{pem}"\n'
                      'nondeliverable_handling = "SHRED"\n')
    settings = load_settings(config, environ={})
    assert settings.channels.print.provider == "digipost" and settings.channels.print.digipost.nondeliverable_handling == "SHRED"
    config.write_text('[channels.print]\nprovider = "digipost"\n[channels.print.digipost]\nbroker_id = "123"\n')
    with pytest.raises(ConfigError, match="key_file"):
        load_settings(config, environ={})

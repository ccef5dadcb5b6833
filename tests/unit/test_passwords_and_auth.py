import base64

import pytest

from gateway import passwords
from gateway.auth import Authenticator
from gateway.config import SenderSettings
from gateway.errors import AuthenticationError


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def test_hash_roundtrip_and_salt():
    a, b = passwords.hash_password("x"), passwords.hash_password("x")
    assert a != b and passwords.verify_password("x", a) and not passwords.verify_password("y", a)
    assert not passwords.verify_password("x", "garbage")


def test_authenticator():
    auth = Authenticator([SenderSettings(name="s", password_hash=passwords.hash_password("pw"))])
    assert auth.authenticate(basic("s", "pw")).name == "s"
    assert auth.authenticate(basic("s", "pw")).name == "s"  # cached path
    for header in (None, "", "Bearer x", "Basic !!!", basic("s", "nope"), basic("t", "pw"), "Basic " + base64.b64encode(b"nocolon").decode()):
        with pytest.raises(AuthenticationError):
            auth.authenticate(header)

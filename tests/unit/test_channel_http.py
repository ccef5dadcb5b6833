"""What the HTTP channels share: the proxy-aware session and the reading of Retry-After."""
import datetime as dt

import pytest
import requests

from gateway.channels.altinn3 import Altinn3Channel
from gateway.channels.base import ChannelUnavailable
from gateway.channels.digitalpost import DigitalPostChannel
from gateway.channels.http import RETRY_AFTER_MAX_SECONDS, environment_session, retry_after_seconds

NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, seconds", [
    ("0", 0.0),
    ("120", 120.0),
    (" 30 ", 30.0),
    (str(int(RETRY_AFTER_MAX_SECONDS)), RETRY_AFTER_MAX_SECONDS),
    (str(int(RETRY_AFTER_MAX_SECONDS) + 1), RETRY_AFTER_MAX_SECONDS),  # bounded
    ("9" * 400, RETRY_AFTER_MAX_SECONDS),  # no int of 400 digits is made
    ("Mon, 03 Mar 2025 09:02:00 GMT", 120.0),  # an HTTP-date
    ("Monday, 03-Mar-25 09:00:45 GMT", 45.0),  # the obsolete RFC 850 form
    ("Mon, 03 Mar 2025 08:00:00 GMT", 0.0),  # in the past: no wait
    ("Sat, 01 Jan 2050 00:00:00 GMT", RETRY_AFTER_MAX_SECONDS),
])
def test_seconds_and_dates(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "-5", "+5", "1.5", "soon", "١٢", "Mon, 03 Mar 2025 09:02:00 -0000",
                                   "Mon, 03 Mar 2025 09:02:00", "Mon, 99 Mar 2025 09:02:00 GMT", "\x00"])
def test_negative_fractional_garbage_and_zoneless_dates_ask_for_no_wait(value):
    assert retry_after_seconds(value, now=NOW) is None


def test_the_session_reads_the_proxy_from_the_environment_once(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "")
    session = environment_session("https://api.example.no")
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:8080")
    assert session.proxies.get("https") == "http://proxy.example:3128"
    assert session.trust_env is False  # requests does not read the environment again per call


def test_no_proxy_applies_to_the_url(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.example.no")
    assert "https" not in environment_session("https://api.example.no").proxies


def _answer(status, retry_after):
    r = requests.Response()
    r.status_code, r._content = status, b"busy"
    if retry_after is not None:
        r.headers["Retry-After"] = retry_after
    return r


@pytest.mark.parametrize("raise_for", [Altinn3Channel._raise_for, DigitalPostChannel._raise_for], ids=["altinn3", "digitalpost"])
@pytest.mark.parametrize("header, seconds", [("120", 120.0), ("Sat, 01 Jan 2050 00:00:00 GMT", RETRY_AFTER_MAX_SECONDS),
                                             ("-1", None), (None, None)])
def test_both_rest_channels_pass_the_wait_on(raise_for, header, seconds):
    with pytest.raises(ChannelUnavailable) as err:
        raise_for(_answer(503, header))
    assert err.value.retry_after == seconds

"""``[metrics]``: who may scrape, checked at start; and what the delivery counter counts."""
import datetime as dt

import pytest

from gateway.config import ConfigError, MetricsSettings, load_settings
from gateway.config.metrics import MetricsAccess
from gateway.model import Event, Status
from gateway.store.outcome import ChannelFailed, Outcome, delivery_outcomes


def write(tmp_path, text):
    p = tmp_path / "g.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_serve_loopback_only_without_a_token():
    settings = load_settings(None, environ={}).metrics
    assert settings == MetricsSettings() and settings.enabled
    access = MetricsAccess.of(settings)
    assert access.address_allowed("127.0.0.1") and access.address_allowed("127.8.9.10") and access.address_allowed("::1")
    assert access.address_allowed("::ffff:127.0.0.1")  # a dual-stack socket's IPv4 loopback
    assert not access.address_allowed("10.0.0.1") and not access.address_allowed("::ffff:10.0.0.1")
    assert not access.address_allowed("") and not access.address_allowed("/run/gateway.sock")
    assert access.token_accepted(None)


def test_networks_and_a_token_from_the_file(tmp_path):
    token = "a-token-of-thirty-two-characters"
    (tmp_path / "token").write_text(f"  {token}\n", encoding="utf-8")
    settings = load_settings(write(tmp_path, f"""
[metrics]
allowed_networks = ["192.0.2.0/24", "2001:db8::/32"]
bearer_token_file = "{tmp_path / 'token'}"
"""), environ={}).metrics
    access = MetricsAccess.of(settings)
    assert access.address_allowed("192.0.2.77") and access.address_allowed("2001:db8::5")
    assert not access.address_allowed("127.0.0.1")  # named networks replace the default
    assert access.token_accepted(f"Bearer {token}".encode()) and access.token_accepted(f"bearer {token}".encode())
    for header in (None, b"", f"Basic {token}".encode(), f"Bearer {token}x".encode(), b"Bearer", token.encode()):
        assert not access.token_accepted(header)


@pytest.mark.parametrize("toml, message", [
    ('[metrics]\nallowed_networks = ["10.0.0.0/33"]', r"metrics.allowed_networks\[0\]: '10.0.0.0/33' is not"),
    ('[metrics]\nallowed_networks = ["intranet"]', r"metrics.allowed_networks\[0\]"),
    ('[metrics]\nbearer_token_file = "/no/such/token"', r"metrics.bearer_token_file: cannot read '/no/such/token'"),
    ("[metrics]\nenable = true", r"\[metrics\] unknown key\(s\): enable"),
    ('[metrics]\nenabled = "maybe"', "metrics.enabled: expected true or false"),
])
def test_mistakes_stop_the_start(tmp_path, toml, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, toml), environ={})


def test_a_short_token_is_refused(tmp_path):
    (tmp_path / "token").write_text("secret\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="at least 24 characters"):
        load_settings(write(tmp_path, f'[metrics]\nbearer_token_file = "{tmp_path / "token"}"'), environ={})


def test_disabled_metrics_need_no_valid_access(tmp_path):
    settings = load_settings(write(tmp_path, '[metrics]\nenabled = false\nbearer_token_file = "/no/such/token"'), environ={})
    assert not settings.metrics.enabled


def test_delivery_outcomes_are_the_delivery_events_and_channel_failures():
    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    outcome = Outcome(at=now, health=ChannelFailed(channel="altinn3", error="503", threshold=5, open_seconds=60), events=(
        ("a", Event(at=now, kind="routed", channel="altinn3")),  # not a delivery
        ("a", Event(at=now, kind="fallback_print", channel="altinn3")),
        ("b", Event(at=now, kind="sent_to_print", status=Status.SENT_TO_PRINT, channel="print")),
        ("c", Event(at=now, kind="not_delivered", status=Status.NOT_DELIVERED)),
        ("d", Event(at=now, kind="manually_handled", status=Status.MANUALLY_HANDLED)),
    ))
    assert delivery_outcomes(outcome) == [("altinn3", "fallback_print"), ("print", "sent_to_print"),
                                          ("none", "not_delivered"), ("altinn3", "unavailable")]

"""What the HTTP channels share: a session that reads proxy settings once, and Retry-After."""
from __future__ import annotations

import datetime as dt
import email.utils
import math

import requests

#: The longest wait a ``Retry-After`` may ask for; a larger one is cut to this. A server that
#: asks for days is mistaken or hostile, and backoff and the channel breaker still apply.
RETRY_AFTER_MAX_SECONDS = 6 * 3600.0
#: Seconds are digits only (RFC 9110, 10.2.3); more digits than this is no real wait.
_MAX_DIGITS = 12


def environment_session(url: str) -> requests.Session:
    """A session that honours proxy settings from the environment, read once: requests
    otherwise re-reads the whole environment on every call (half a millisecond a letter)."""
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(url)
    session.trust_env = False
    return session


def retry_after_seconds(value: str | None, *, now: dt.datetime) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds, or ``None`` when it asks for none.

    The header is a number of seconds or an HTTP-date (RFC 9110, 10.2.3). A date in the past
    is no wait (0); a wait over :data:`RETRY_AFTER_MAX_SECONDS` is cut to it; anything else
    (a negative or fractional number, garbage, a date without a zone) is ignored as ``None``.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(min(int(text), RETRY_AFTER_MAX_SECONDS)) if len(text) <= _MAX_DIGITS else RETRY_AFTER_MAX_SECONDS
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP-dates are GMT, say it or be ignored
        return None
    seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX_SECONDS)

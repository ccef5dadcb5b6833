"""What every console request goes through: the session cookie, the CSRF token, the login
rate limit, and the headers on every answer.

- The session cookie holds only a random token (the database keeps its SHA-256); it is
  ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the gateway serves TLS, and scoped to
  ``/console``. Sessions end after ``console.session_idle_minutes`` without a request and
  ``console.session_max_hours`` after login, and at logout.
- Every form carries the session's CSRF token; a POST without the right one is refused (403)
  before anything is done. The login form, which has no session yet, uses a double-submit
  token: a random cookie that the form must repeat.
- Failed logins are counted per account and per client address over
  ``console.login_window_seconds`` in the database (so every process counts them); past
  ``console.login_max_failures`` the answer is 429 with ``Retry-After``, even for the right
  password.
"""
from __future__ import annotations

import datetime as dt
import hmac
import math
import secrets
from dataclasses import dataclass

from werkzeug.wrappers import Response

from gateway import passwords
from gateway.config import ConsoleSettings, OperatorSettings
from gateway.store.console_sessions import TOKEN_BYTES, ConsoleSession, SessionStore

COOKIE_PATH = "/console"
SESSION_COOKIE = "gateway_console"
LOGIN_COOKIE = "gateway_console_login"
CSRF_FIELD = "csrf"
CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
#: Headers on every answer; pages also get ``Cache-Control: no-store`` (they show personal data).
HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
#: Verified when the account does not exist, so a wrong name costs what a wrong password costs.
_NOBODY = passwords.hash_password(secrets.token_urlsafe(16))


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def new_login_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True)
class Operator:
    """The operator behind a request, with the session that carries them."""

    settings: OperatorSettings
    session: ConsoleSession
    token: str

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def admin(self) -> bool:
        return self.settings.admin

    @property
    def senders(self) -> tuple[str, ...] | None:
        """The senders whose letters this operator sees; None: every sender's."""
        return self.settings.senders or None


class LoginRefused(Exception):
    """Too many failed logins: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after} s")
        self.retry_after = retry_after


class Gatekeeper:
    """Logins, sessions and their lifetimes, over :class:`SessionStore`."""

    def __init__(self, settings: ConsoleSettings, store: SessionStore) -> None:
        self.settings = settings
        self.store = store
        self.idle = dt.timedelta(minutes=settings.session_idle_minutes)
        self.longest = dt.timedelta(hours=settings.session_max_hours)
        self.window = dt.timedelta(seconds=settings.login_window_seconds)

    def session(self, token: str | None, *, now: dt.datetime) -> Operator | None:
        """The operator whose live session ``token`` is (an operator removed from the settings has none)."""
        if not token:
            return None
        session = self.store.touch(token, now=now, idle=self.idle, longest=self.longest)
        if session is None:
            return None
        operator = self.settings.operator(session.operator)
        if operator is None:
            self.store.delete(token)
            return None
        return Operator(settings=operator, session=session, token=token)

    def login(self, name: str, password: str, *, client: str, now: dt.datetime) -> Operator | None:
        """A new session for the right name and password; None for wrong ones (counted);
        :class:`LoginRefused` while the account or the address is locked out."""
        keys = [f"account:{name[:100]}", f"address:{client}"]
        self._refuse_if_locked(keys, now=now)
        operator = self.settings.operator(name)
        good = passwords.verify_password(password, operator.password_hash if operator else _NOBODY)
        if operator is None or not good:
            self.store.record_failure(keys, now=now)
            return None
        self.store.clear_failures(keys[0])
        if secrets.randbelow(100) == 0:  # now and then, forget what has expired
            self.store.purge(before=now - max(self.longest, self.window))
        token, session = self.store.create(operator.name, now=now, client=client)
        return Operator(settings=operator, session=session, token=token)

    def logout(self, operator: Operator) -> None:
        self.store.delete(operator.token)

    def _refuse_if_locked(self, keys: list[str], *, now: dt.datetime) -> None:
        since = now - self.window
        for key in keys:
            failures = self.store.failures(key, since=since)
            if len(failures) >= self.settings.login_max_failures:
                # free again when enough of the failures have left the window
                opens = failures[len(failures) - self.settings.login_max_failures] + self.window
                raise LoginRefused(max(1, math.ceil((opens - now).total_seconds())))


def set_cookie(response: Response, name: str, value: str, *, tls: bool) -> None:
    """A console cookie: scoped to /console, never readable by scripts, never sent cross-site,
    only over TLS when the gateway serves TLS; it lives as long as the browser (the server
    decides when its session ends)."""
    response.set_cookie(name, value, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=tls)


def delete_cookie(response: Response, name: str, *, tls: bool) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=tls)

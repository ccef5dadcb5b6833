"""The console's sessions and failed logins, kept in the database so that every serving
process (``server.processes``) sees the same ones.

The cookie carries a random token; the table keeps its SHA-256, so a copy of the table (a
backup) logs nobody in. Failed logins are rows keyed ``account:<name>`` and ``address:<ip>``:
counting them within a window is the rate limit, across processes and restarts.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.store import tables
from gateway.store.tables import as_utc
from gateway.store.writer import writer_for

_sessions = tables.console_sessions
_failures = tables.console_login_failures
#: Bytes of randomness in a session token and a form token (256 bits).
TOKEN_BYTES = 32


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    operator: str
    csrf: str
    created_at: dt.datetime
    last_seen_at: dt.datetime


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer_for(engine)

    def create(self, operator: str, *, now: dt.datetime, client: str | None) -> tuple[str, ConsoleSession]:
        """A new session: answers the token for the cookie (never stored as such)."""
        token, csrf = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
        row = dict(token_sha256=token_digest(token), operator=operator, csrf=csrf, created_at=now, last_seen_at=now,
                   client=(client or "")[:64] or None)
        self._writer.run(lambda conn: conn.execute(_sessions.insert(), row))
        return token, ConsoleSession(operator=operator, csrf=csrf, created_at=now, last_seen_at=now)

    def touch(self, token: str, *, now: dt.datetime, idle: dt.timedelta, longest: dt.timedelta) -> ConsoleSession | None:
        """The live session of ``token`` (its idle time restarts), or None; an expired one is deleted."""
        digest = token_digest(token)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_sessions).where(_sessions.c.token_sha256 == digest)).first()
        if row is None:
            return None
        created, seen = as_utc(row.created_at), as_utc(row.last_seen_at)
        if now - seen > idle or now - created > longest:
            self.delete(token)
            return None
        if (now - seen).total_seconds() >= 15:  # not a write on every page view
            self._writer.run(lambda conn: conn.execute(
                _sessions.update().where(_sessions.c.token_sha256 == digest).values(last_seen_at=now)))
        return ConsoleSession(operator=row.operator, csrf=row.csrf, created_at=created, last_seen_at=now)

    def delete(self, token: str) -> None:
        digest = token_digest(token)
        self._writer.run(lambda conn: conn.execute(_sessions.delete().where(_sessions.c.token_sha256 == digest)))

    def purge(self, *, before: dt.datetime) -> None:
        """Forget sessions idle since ``before`` and failed logins older than it."""
        def work(conn: sa.Connection) -> None:
            conn.execute(_sessions.delete().where(_sessions.c.last_seen_at < before))
            conn.execute(_failures.delete().where(_failures.c.at < before))
        self._writer.run(work)

    # --- failed logins ---

    def failures(self, key: str, *, since: dt.datetime) -> list[dt.datetime]:
        """When ``key`` failed since ``since``, oldest first."""
        query = sa.select(_failures.c.at).where(_failures.c.key == key, _failures.c.at >= since).order_by(_failures.c.at)
        with self.engine.connect() as conn:
            return [as_utc(at) for at in conn.scalars(query)]

    def record_failure(self, keys: list[str], *, now: dt.datetime) -> None:
        rows = [dict(key=key[:200], at=now) for key in keys]
        self._writer.run(lambda conn: conn.execute(_failures.insert(), rows))

    def clear_failures(self, key: str) -> None:
        self._writer.run(lambda conn: conn.execute(_failures.delete().where(_failures.c.key == key)))

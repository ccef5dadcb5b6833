"""The embedded recipient register an operator fills: identifier → kind and reachability."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.store import tables

_registry = tables.registry


def lookup(conn: Connection, identifier: str) -> str | None:
    return conn.scalar(sa.select(_registry.c.status).where(_registry.c.identifier == identifier))


def upsert(conn: Connection, entries: Sequence[tuple[str, str, str]], *, now: dt.datetime) -> int:
    """Write (identifier, kind, status) rows; answers how many."""
    for identifier, kind, status in entries:
        updated = conn.execute(
            _registry.update().where(_registry.c.identifier == identifier).values(kind=kind, status=status, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(_registry.insert(), dict(identifier=identifier, kind=kind, status=status, updated_at=now))
    return len(entries)


def delete(conn: Connection, identifier: str) -> bool:
    return bool(conn.execute(_registry.delete().where(_registry.c.identifier == identifier)).rowcount)


def entries(conn: Connection) -> list[tuple[str, str, str]]:
    return [(r.identifier, r.kind, r.status) for r in conn.execute(sa.select(_registry).order_by(_registry.c.identifier))]

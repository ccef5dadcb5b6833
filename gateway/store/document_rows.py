"""Document bytes in the database, written in the shipment's transaction and read in chunks.

A document kept in the database has a *head* row in ``document_blobs`` (its digest, its size
and its first :data:`CHUNK_BYTES`) and, when it is larger than that, the rest in
``document_chunks`` rows of up to :data:`CHUNK_BYTES` each (``seq`` 1, 2, …). Every row goes in
the transaction of the shipment that first brings the document, so one commit makes the letter
and all of its bytes durable together, and a refused letter leaves none of them behind. A
document of one chunk (every small one) is a head row only, as before chunks existed.

Why rows and not PostgreSQL large objects: rows are plain SQLAlchemy Core on both dialects
(SQLite too, so one code path is tested everywhere), Alembic creates them, they are removed
with ``DELETE`` (a large object outlives its row unless ``lo_unlink`` is called), and they take
part in the shipment's transaction like any other insert. A large object needs psycopg's
``lo_*`` calls on the raw connection, exists on PostgreSQL only and would need its own cleanup.
PostgreSQL stores each 1 MiB ``bytea`` out of line (TOAST), so rows cost about what a large
object does.

Memory stays bounded both ways: a document is inserted one chunk at a time from its
:class:`~gateway.spool.SpooledContent` (or from the bytes an inline SOAP document already
occupies), and :func:`read_chunks` fetches one chunk per query.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import Connection, Engine

from gateway.errors import FaultCode, StorageError
from gateway.spool import Content, content_bytes, content_chunks
from gateway.store import tables

#: Bytes per row: large enough that a 350 MB document is 350 statements, small enough that
#: a reader or writer holds only a few of them at a time.
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StagedDocument:
    """A document to insert with its shipment (:func:`insert_documents`); its bytes are read
    from ``content`` only then, ``chunk_bytes`` at a time."""

    sha256: str
    content: Content
    chunk_bytes: int = CHUNK_BYTES

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def single_row(self) -> bool:
        return self.size <= self.chunk_bytes


def _insert_ignoring_duplicates(table: sa.Table, key: list[str]) -> dict[str, sa.Insert]:
    return {
        "sqlite": sqlite.insert(table).on_conflict_do_nothing(index_elements=key),
        "postgresql": postgresql.insert(table).on_conflict_do_nothing(index_elements=key),
    }


_INSERT_HEAD = _insert_ignoring_duplicates(tables.document_blobs, ["sha256"])
#: The same, answering the digest when the row was new (psycopg's rowcount says -1 here).
_INSERT_NEW_HEAD = {name: insert.returning(tables.document_blobs.c.sha256) for name, insert in _INSERT_HEAD.items()}
_INSERT_CHUNK = tables.document_chunks.insert()
_SELECT_HEAD = sa.select(tables.document_blobs.c.size, tables.document_blobs.c.data).where(
    tables.document_blobs.c.sha256 == sa.bindparam("sha256"))
_SELECT_CHUNK = sa.select(tables.document_chunks.c.data).where(
    tables.document_chunks.c.sha256 == sa.bindparam("sha256"), tables.document_chunks.c.seq == sa.bindparam("seq"))
_EXISTS = sa.select(tables.document_blobs.c.sha256).where(tables.document_blobs.c.sha256 == sa.bindparam("sha256"))


def insert_documents(conn: Connection, staged: Sequence[StagedDocument]) -> None:
    """Insert staged documents in ``conn``'s transaction; content already stored is kept once.

    Heads go in digest order (single-row documents first, in one statement, as the hot path
    of small letters wants): two letters with the same attachments in another order would
    otherwise each hold one row's lock and wait for the other's (a PostgreSQL deadlock).
    Whether a document is single-row depends on its size only, so every transaction takes
    the locks in the same order. A large document whose head is already there (committed by
    another letter: PostgreSQL makes the insert wait for it) has its chunks already.
    """
    unique = {s.sha256: s for s in staged}
    ordered = [unique[sha] for sha in sorted(unique)]
    small = [_head_row(s, content_bytes(s.content)) for s in ordered if s.single_row]
    if small:
        conn.execute(_INSERT_HEAD[conn.dialect.name], small)
    for s in ordered:
        if s.single_row:
            continue
        with closing(content_chunks(s.content, s.chunk_bytes)) as chunks:
            if conn.execute(_INSERT_NEW_HEAD[conn.dialect.name], _head_row(s, next(chunks))).first() is None:
                continue  # stored (and committed) by another letter, every chunk with it
            for seq, chunk in enumerate(chunks, start=1):
                conn.execute(_INSERT_CHUNK, {"sha256": s.sha256, "seq": seq, "data": chunk})


def _head_row(staged: StagedDocument, first: bytes) -> dict[str, object]:
    return {"sha256": staged.sha256, "size": staged.size, "data": first}


#: The reads as psycopg runs them, compiled once (see :func:`_first_row`).
_PSYCOPG_SQL = {statement: str(statement.compile(dialect=psycopg_dialect())) for statement in (_SELECT_HEAD, _SELECT_CHUNK)}


def _first_row(conn: Connection, statement: sa.Select[Any], params: dict[str, object]) -> tuple[Any, ...] | None:
    """The first row of a read, as a plain tuple.

    psycopg hands ``bytea`` over as hex text unless a cursor asks for binary results, and
    SQLAlchemy cannot ask: decoding the hex took over half the time of reading a document
    back (10.7 against 4.1 ms per MiB). On PostgreSQL the same statement therefore runs on a
    binary cursor of the connection's own psycopg connection (same transaction).
    """
    driver = conn.connection.driver_connection if conn.dialect.driver == "psycopg" else None
    if driver is None:
        row = conn.execute(statement, params).first()
        return None if row is None else tuple(row)
    with driver.cursor(binary=True) as cursor:
        cursor.execute(_PSYCOPG_SQL[statement], params)
        return cursor.fetchone()


def read_chunks(engine: Engine, sha256: str) -> Iterator[bytes]:
    """The document's bytes, one stored chunk at a time, on one connection.

    The sizes must add up to the head's ``size``: a missing chunk is a :class:`StorageError`,
    never a short document handed to a channel.
    """
    where = f"document db:{sha256}"
    try:
        with engine.connect() as conn:
            head = _first_row(conn, _SELECT_HEAD, {"sha256": sha256})
            if head is None:
                raise StorageError(f"{where} is not in the database", code=FaultCode.STORAGE_UNAVAILABLE)
            size, chunk = head
            done, seq = 0, 0
            while True:
                done += len(chunk)
                if chunk:
                    yield bytes(chunk)
                if done >= size:
                    break
                seq += 1
                row = _first_row(conn, _SELECT_CHUNK, {"sha256": sha256, "seq": seq})
                chunk = None if row is None else row[0]
                if chunk is None:
                    raise StorageError(f"{where} lacks chunk {seq} ({done} of {size} bytes found)",
                                       code=FaultCode.STORAGE_UNAVAILABLE)
            if done != size:
                raise StorageError(f"{where} has {done} bytes, its head says {size}", code=FaultCode.STORAGE_UNAVAILABLE)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"{where} is not readable: {exc}", code=FaultCode.STORAGE_UNAVAILABLE) from exc


def stored(engine: Engine, sha256: str) -> bool:
    """Whether the document's head row is committed (its chunks commit with it)."""
    try:
        with engine.connect() as conn:
            return conn.execute(_EXISTS, {"sha256": sha256}).scalar() is not None
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"document db:{sha256} is not readable: {exc}", code=FaultCode.STORAGE_UNAVAILABLE) from exc

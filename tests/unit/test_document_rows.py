"""Documents kept in the database (``storage.documents = "database"``), on SQLite and on
PostgreSQL: written in chunks with their shipment, read back in chunks, stored once."""
import hashlib
import os
import tracemalloc

import pytest
import sqlalchemy as sa

from gateway.config import ConfigError, load_settings
from gateway.errors import StorageError
from gateway.model import Party, Shipment
from gateway.spool import Spool
from gateway.store import tables
from gateway.store.blobs import DocumentStore, FileBlobStore
from gateway.store.document_rows import CHUNK_BYTES
from gateway.store.repository import IdTaken

CHUNK = 1024


@pytest.fixture
def store(repo, tmp_path):
    return DocumentStore(repo.engine, FileBlobStore(tmp_path / "blobs"), inline_max_bytes=0, in_database=True,
                         chunk_bytes=CHUNK)


def shipment(n: int) -> Shipment:
    return Shipment(id=f"00000000-0000-4000-8000-{n:012d}", sender="a", title="T", recipient=Party(), documents=())


def accept(repo, store, n: int, *contents):
    """Stage ``contents`` and insert them with shipment ``n``; their refs."""
    refs, staged = [], []
    for data in contents:
        ref, s = store.stage(data, sha256=hashlib.sha256(bytes(data) if isinstance(data, bytes) else data.read()).hexdigest())
        refs.append(ref)
        staged.append(s)
    repo.insert_shipment(shipment(n), content_sha256="c" * 64, events=[], documents=staged)
    return refs


def count(repo, table) -> int:
    with repo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 10 * CHUNK + 5])
def test_round_trip_in_chunks(repo, store, size, tmp_path):
    data = os.urandom(size)
    (ref,) = accept(repo, store, 1, data)
    assert ref.startswith("db:") and store.exists(ref)
    chunks = list(store.chunks(ref))
    assert b"".join(chunks) == data and store.get(ref) == data
    assert all(len(c) == CHUNK for c in chunks[:-1]) and all(0 < len(c) <= CHUNK for c in chunks)
    assert len(chunks) == -(-size // CHUNK)  # none for an empty document
    assert count(repo, tables.document_chunks) == max(0, len(chunks) - 1)  # the first one is the head row
    assert not list((tmp_path / "blobs").rglob("*"))  # nothing went to the files


def test_spooled_content_is_inserted_from_its_file(repo, store, tmp_path):
    data = os.urandom(5 * CHUNK + 17)
    spool = Spool(tmp_path / "spool")
    f = spool.new_file()
    f.write(data)
    content = f.finish()
    ref, staged = store.stage(content, sha256=content.sha256)
    assert not store.exists(ref)  # only durable once its shipment commits
    repo.insert_shipment(shipment(1), content_sha256="c" * 64, events=[], documents=[staged])
    assert store.get(ref) == data
    spool.close()  # the request ends: its spool file goes, the document stays
    assert store.get(ref) == data and not list((tmp_path / "blobs").rglob("*"))


def test_the_same_document_in_two_letters_is_stored_once(repo, store):
    data = os.urandom(3 * CHUNK + 1)
    sent = []
    sa.event.listen(repo.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, params, context, many: sent.append(statement) if statement.startswith("INSERT INTO document_chunks") else None)
    (first,) = accept(repo, store, 1, data)
    assert len(sent) == 3
    second, again = accept(repo, store, 2, data, data)  # twice in one letter, and again in another
    assert first == second == again and store.get(first) == data
    assert len(sent) == 3  # its head was there: no chunk was sent again
    assert count(repo, tables.document_blobs) == 1 and count(repo, tables.document_chunks) == 3


def test_a_refused_letter_leaves_no_chunks(repo, store):
    accept(repo, store, 1)
    data = os.urandom(4 * CHUNK)
    ref, staged = store.stage(data, sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(IdTaken):
        repo.insert_shipment(shipment(1), content_sha256="c" * 64, events=[], documents=[staged])
    assert not store.exists(ref) and count(repo, tables.document_chunks) == 0
    with pytest.raises(StorageError, match="not in the database"):
        store.get(ref)


def test_a_missing_chunk_is_an_error_not_a_short_document(repo, store):
    data = os.urandom(3 * CHUNK)
    (ref,) = accept(repo, store, 1, data)
    with repo.engine.begin() as conn:
        conn.execute(tables.document_chunks.delete().where(tables.document_chunks.c.seq == 2))
    with pytest.raises(StorageError, match="lacks chunk 2"):
        store.get(ref)


def test_memory_stays_bounded_writing_and_reading(repo, tmp_path):
    """A 16 MiB document in 256 KiB chunks: written from its spool file and read back with
    at most a few chunks in memory at any time."""
    chunk = 256 * 1024
    store = DocumentStore(repo.engine, FileBlobStore(tmp_path / "blobs"), inline_max_bytes=0, in_database=True, chunk_bytes=chunk)
    spool = Spool(tmp_path / "spool")
    f = spool.new_file()
    digest = hashlib.sha256()
    for _ in range(64):
        piece = os.urandom(chunk)
        f.write(piece)
        digest.update(piece)
    content = f.finish()
    ref, staged = store.stage(content, sha256=content.sha256)
    tracemalloc.start()
    try:
        repo.insert_shipment(shipment(1), content_sha256="c" * 64, events=[], documents=[staged])
        _, written_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read = hashlib.sha256()
        for piece in store.chunks(ref):
            read.update(piece)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read.hexdigest() == digest.hexdigest() == content.sha256
    assert written_peak < 8 * chunk and read_peak < 8 * chunk, (written_peak, read_peak)


def test_files_mode_keeps_large_documents_in_files(repo, tmp_path):
    files = DocumentStore(repo.engine, FileBlobStore(tmp_path / "blobs"), inline_max_bytes=CHUNK, chunk_bytes=CHUNK)
    small, large = os.urandom(CHUNK), os.urandom(3 * CHUNK + 1)
    small_ref, staged = files.stage(small, sha256=hashlib.sha256(small).hexdigest())
    large_ref, nothing = files.stage(large, sha256=hashlib.sha256(large).hexdigest())
    assert small_ref.startswith("db:") and staged is not None
    assert nothing is None and files.files.exists(large_ref)
    chunks = list(files.chunks(large_ref))
    assert b"".join(chunks) == large and [len(c) for c in chunks] == [CHUNK] * 3 + [1]
    with pytest.raises(StorageError):
        list(files.chunks("0" * 64))


def test_the_setting(tmp_path):
    assert not load_settings(environ={}).storage.documents_in_database  # files stay the default
    assert load_settings(environ={"GATEWAY_STORAGE_DOCUMENTS": "database"}).storage.documents_in_database
    with pytest.raises(ConfigError, match="storage.documents must be 'files' .* or 'database' .* got 'postgres'"):
        load_settings(environ={"GATEWAY_STORAGE_DOCUMENTS": "postgres"})
    assert CHUNK_BYTES == 1024 * 1024

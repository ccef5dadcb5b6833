"""Repository and migrations, on SQLite and on PostgreSQL."""
import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.model import Event, Party, Shipment, Status
from gateway.store import migrate
from gateway.errors import StorageError
from gateway.store import tables
from gateway.store.blobs import DocumentStore, FileBlobStore
from gateway.store.engine import create_engine
from gateway.store.repository import IdTaken
from gateway.store.tables import metadata


def test_migrations_match_tables(repo):
    assert migrate.current_revision(repo.engine) == migrate.head_revision()
    with repo.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_insert_read_and_events(repo):
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
    s = Shipment(id="00000000-0000-4000-8000-000000000001", sender="a", title="T", recipient=Party(), documents=(), external_ref="R")
    repo.insert_shipment(s, content_sha256="c" * 64, events=[Event(at=now, kind="received", status=Status.RECEIVED)])
    with pytest.raises(IdTaken):
        repo.insert_shipment(s, content_sha256="c" * 64, events=[])
    repo.record_event(s.id, Event(at=now + dt.timedelta(seconds=1), kind="accepted", status=Status.ACCEPTED))
    stored = repo.get(s.id)
    assert stored.shipment == s and stored.status is Status.ACCEPTED
    assert stored.status_changed_at == now + dt.timedelta(seconds=1)
    assert [e.kind for e in repo.events(s.id)] == ["received", "accepted"]
    assert repo.ids_by_external_ref("a", "R") == [s.id] and repo.ids_by_external_ref("b", "R") == []
    assert repo.statuses([s.id, "nope"]) == {s.id: ("a", Status.ACCEPTED, now + dt.timedelta(seconds=1))}


def test_the_sender_is_kept_in_the_tenant_columns(repo):
    """The code says ``sender``; the columns keep the name of the first schema (``tenant``,
    no migration): statements write them by the key, rows are read by it, and a row written
    by SQL (as by an older release) is read as the sender's."""
    sid, old = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
    repo.insert_shipment(Shipment(id=sid, sender="a", title="T", recipient=Party(), documents=(), external_ref="R"),
                         content_sha256="c" * 64, events=[])
    repo.reserve_id(old, "b")
    repo.audit(operation="sendForsendelse", outcome="INVALID_REQUEST", sender="a", detail="d")
    with repo.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT tenant FROM shipments")).scalar_one() == "a"
        assert conn.execute(sa.text("SELECT tenant FROM reserved_ids")).scalar_one() == "b"
        assert conn.execute(sa.text("SELECT tenant FROM audit_events")).scalar_one() == "a"
        conn.execute(sa.text("UPDATE shipments SET tenant = 'c'"))
    assert repo.sender_of(sid) == "c" and repo.identity(sid).sender == "c"
    assert repo.statuses([sid])[sid][0] == "c" and repo.ids_by_external_ref("c", "R") == [sid]
    assert repo.reservation_sender(old) == "b" and repo.sender_of(old) is None
    [record] = repo.audit_records(sender="a")
    assert record["sender"] == "a" and "tenant" not in record and repo.audit_records(sender="b") == []


def test_sqlite_is_wal_and_synchronous_full(sqlite_url):
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


def test_blob_store_is_content_addressed(tmp_path):
    store = FileBlobStore(tmp_path)
    ref = store.put(b"hello")
    assert ref == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert store.put(b"hello") == ref and store.get(ref) == b"hello"
    assert store.path(ref).parent.parent.name == "2c"
    assert not list(tmp_path.rglob("*.tmp"))  # nothing half-written left behind


def test_blob_store_makes_directories_and_renames_durable(tmp_path, monkeypatch):
    """A file renamed into a directory is only durable once the directory's own entry is.
    Whoever created a directory or renamed a file (another thread, another process, an
    earlier call that failed) may not have fsynced it yet, so the store does it before
    answering, and remembers which directory entries it has made durable."""
    synced = []
    monkeypatch.setattr("gateway.store.blobs.fsync_dir", lambda path: synced.append(path))
    monkeypatch.setattr("gateway.fileio.fsync_dir", lambda path: synced.append(path))
    store = FileBlobStore(tmp_path)
    ref = store.put(b"hello")
    leaf = store.path(ref).parent
    assert sorted(synced) == sorted([tmp_path, leaf.parent, leaf])
    synced.clear()
    store.put(b"hello")  # already there: its directory again (a concurrent rename), not the parents
    assert synced == [leaf]

    other = FileBlobStore(tmp_path)  # a directory made by someone else is made durable once more
    synced.clear()
    other.put(b"hello")
    assert sorted(synced) == sorted([tmp_path, leaf.parent, leaf])


@pytest.fixture
def documents(repo, tmp_path):
    return DocumentStore(repo.engine, FileBlobStore(tmp_path / "blobs"), inline_max_bytes=1024)


def test_small_documents_commit_with_their_shipment(repo, documents):
    small, large = b"%PDF-1.4 small", b"x" * 2048
    small_ref, staged = documents.stage(small, sha256=hashlib.sha256(small).hexdigest())
    large_ref, nothing = documents.stage(large, sha256=hashlib.sha256(large).hexdigest())
    assert small_ref == "db:" + hashlib.sha256(small).hexdigest() and staged is not None
    assert large_ref == hashlib.sha256(large).hexdigest() and nothing is None
    assert documents.get(large_ref) == large  # a large document is a file, written at once
    assert not documents.exists(small_ref)  # a small one exists only once its shipment commits
    for n in (1, 2):  # the same bytes in two shipments are stored once
        s = Shipment(id=f"00000000-0000-4000-8000-00000000000{n}", sender="a", title="T", recipient=Party(), documents=())
        repo.insert_shipment(s, content_sha256="c" * 64, events=[], documents=[staged])
    assert documents.exists(small_ref) and documents.get(small_ref) == small
    with repo.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.document_blobs)).scalar() == 1


def test_a_failed_insert_keeps_no_document_bytes(repo, documents):
    data = b"%PDF-1.4 refused"
    ref, staged = documents.stage(data, sha256=hashlib.sha256(data).hexdigest())
    s = Shipment(id="00000000-0000-4000-8000-000000000001", sender="a", title="T", recipient=Party(), documents=())
    repo.insert_shipment(s, content_sha256="c" * 64, events=[])
    with pytest.raises(IdTaken):
        repo.insert_shipment(s, content_sha256="c" * 64, events=[], documents=[staged])
    assert not documents.exists(ref)
    with pytest.raises(StorageError):
        documents.get(ref)


def test_inline_storage_can_be_turned_off(repo, tmp_path):
    files_only = DocumentStore(repo.engine, FileBlobStore(tmp_path / "blobs"), inline_max_bytes=0)
    ref, staged = files_only.stage(b"%PDF", sha256=hashlib.sha256(b"%PDF").hexdigest())
    assert staged is None and files_only.files.exists(ref) and files_only.get(ref) == b"%PDF"


def test_inline_rows_go_in_digest_order_once(repo):
    """Two letters with the same attachments in another order must not each lock one row and
    wait for the other's (PostgreSQL would abort one as a deadlock)."""
    from gateway.store.document_rows import StagedDocument, insert_documents

    a, b = (StagedDocument(hashlib.sha256(x).hexdigest(), x) for x in (b"first", b"second"))
    sent = []
    sa.event.listen(repo.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, params, context, many: sent.append(params) if "document_blobs" in statement else None)
    with repo.engine.begin() as conn:
        insert_documents(conn, [max(a, b, key=lambda x: x.sha256), min(a, b, key=lambda x: x.sha256), a])
    rows = sent[0] if isinstance(sent[0], list) else [sent[0]]
    digests = [row["sha256"] if isinstance(row, dict) else row[0] for row in rows]
    assert digests == sorted({a.sha256, b.sha256})


def test_statuses_of_more_ids_than_the_driver_binds(repo):
    """66,000 ids is past psycopg's 65,535 bind parameters (and SQLite's 32,766)."""
    import uuid

    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
    stored = [str(uuid.uuid4()) for _ in range(3)]
    for sid in stored:
        s = Shipment(id=sid, sender="a", title="T", recipient=Party(), documents=())
        repo.insert_shipment(s, content_sha256="c" * 64, events=[Event(at=now, kind="received", status=Status.RECEIVED)])
    ids = [str(uuid.uuid4()) for _ in range(66_000)]
    ids[0], ids[32_999], ids[-1] = stored  # one in the first chunk, the middle and the last
    found = repo.statuses(ids)
    assert found == {sid: ("a", Status.RECEIVED, now) for sid in stored}

"""Retention: document bytes go after the configured time, once no letter that is not purged
uses them; rows, history and costs stay; reads of purged bytes get a clear error. On SQLite and
PostgreSQL, with documents in the database and as files."""
import dataclasses
import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from gateway.channels.base import ChannelRejected
from gateway.cli import main
from gateway.config import load_settings
from gateway.config.retention import RetentionSettings
from gateway.config.sections import ConfigError
from gateway.dispatch import retention
from gateway.errors import FaultCode
from gateway.model import Document, Event, Party, Shipment, Status
from gateway.store import retention as stored
from gateway.store import tables
from gateway.store.blobs import DocumentStore, FileBlobStore
from gateway.store.dispatch import DispatchStore
from gateway.store.outcome import Outcome
from gateway.store.retention import DocumentPurged

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
NOW = T0 + dt.timedelta(days=100)
RULE = RetentionSettings(documents_after_days=90, batch_size=2)
SHARED = b"%PDF-1.4 the same attachment in two letters"
BIG = b"%PDF-1.4 " + b"x" * 5000  # above inline_document_bytes: a file


@pytest.fixture
def stores(repo, tmp_path):
    files = FileBlobStore(tmp_path / "blobs", fsync=False)
    return repo, DocumentStore(repo.engine, files, inline_max_bytes=1024), DispatchStore(repo.engine, files=files)


def _letter(repo, documents, sid, contents, *, status=Status.READ, at=T0):
    docs, staged = [], []
    for i, data in enumerate(contents):
        sha = hashlib.sha256(data).hexdigest()
        ref, stage = documents.stage(data, sha256=sha)
        docs.append(Document(filename=f"d{i}.pdf", media_type="application/pdf", size=len(data), sha256=sha, storage_ref=ref))
        staged += [stage] if stage else []
    shipment = Shipment(id=sid, sender="s", title="T", recipient=Party(), documents=tuple(docs))
    repo.insert_shipment(shipment, content_sha256="0" * 64, dispatch=False, documents=staged,
                         events=[Event(at=at, kind="accepted", status=Status.ACCEPTED), Event(at=at, kind="x", status=status)])
    return docs


def _purge(store, now=NOW, settings=RULE):
    return retention.purge_now(store, settings, now)


def test_shared_bytes_stay_while_one_letter_still_uses_them(stores):
    repo, documents, store = stores
    old = _letter(repo, documents, "00000000-0000-4000-8000-000000000001", [SHARED, BIG])
    young = _letter(repo, documents, "00000000-0000-4000-8000-000000000002", [SHARED, BIG], at=NOW - dt.timedelta(days=10))
    running = _letter(repo, documents, "00000000-0000-4000-8000-000000000003", [b"%PDF-1.4 mine"], status=Status.SENT_DIGITAL)
    assert old[0].storage_ref.startswith("db:") and not old[1].storage_ref.startswith("db:")

    done = _purge(store)
    assert (done.letters, done.documents, done.freed_bytes) == (1, 2, 0)  # the young letter still uses both
    assert documents.get(young[0].storage_ref) == SHARED and documents.get(young[1].storage_ref) == BIG
    assert documents.get(running[0].storage_ref) == b"%PDF-1.4 mine"  # not over: kept however old
    # the purged letter keeps its rows (marked), its history says so
    with repo.engine.connect() as conn:
        marks = conn.execute(tables.documents.select().order_by(tables.documents.c.shipment_id, tables.documents.c.position)).all()
    assert [m.purged_at is not None for m in marks] == [True, True, False, False, False]
    assert repo.events(old and "00000000-0000-4000-8000-000000000001")[-1].kind == "documents_purged"
    assert "90 dager" in repo.events("00000000-0000-4000-8000-000000000001")[-1].detail

    later = NOW + dt.timedelta(days=90)
    done = _purge(store, later)
    assert (done.letters, done.documents, done.freed_bytes) == (1, 2, len(SHARED) + len(BIG))
    for doc in young:
        with pytest.raises(DocumentPurged) as caught:
            documents.get(doc.storage_ref)
        assert caught.value.code == FaultCode.DOCUMENT_PURGED and "retention" in caught.value.message
    with pytest.raises(DocumentPurged):
        list(documents.chunks(young[0].storage_ref))
    assert not documents.files.exists(young[1].sha256)
    with repo.engine.connect() as conn:
        assert conn.execute(tables.document_blobs.select()).all()[0].data == b"%PDF-1.4 mine"
    assert _purge(store, later).letters == 0  # nothing twice
    purged = stored.recently_purged(repo.engine)
    assert {p.shipment_id for p in purged} == {"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}
    assert purged[0].documents == 2 and purged[0].bytes == len(SHARED) + len(BIG)


def test_a_channel_refuses_a_letter_whose_bytes_are_gone(stores):
    """Dispatch reads through content_of: a purged document is the channel's refusal with the
    reason (the letter falls back or ends NOT_DELIVERED), not a job retried until it dies."""
    repo, documents, store = stores
    [doc] = _letter(repo, documents, "00000000-0000-4000-8000-000000000001", [SHARED])
    content = retention.content_of(documents, "print")
    assert content(doc) == SHARED
    _purge(store)
    with pytest.raises(ChannelRejected, match="deleted on 2026-09-09 by the retention rule") as caught:
        content(doc)
    assert caught.value.channel == "print" and isinstance(caught.value.__cause__, DocumentPurged)


def test_a_new_letter_with_purged_content_stores_it_again(stores):
    repo, documents, store = stores
    _letter(repo, documents, "00000000-0000-4000-8000-000000000001", [SHARED, BIG])
    _purge(store)
    fresh = _letter(repo, documents, "00000000-0000-4000-8000-000000000004", [SHARED, BIG], status=Status.ACCEPTED, at=NOW)
    assert documents.get(fresh[0].storage_ref) == SHARED and documents.get(fresh[1].storage_ref) == BIG


def test_batches_run_until_every_due_letter_is_purged_and_the_job_comes_back(stores):
    repo, documents, store = stores
    for i in range(5):
        _letter(repo, documents, f"00000000-0000-4000-8000-00000000001{i}", [f"%PDF doc {i}".encode()])
    dry = retention.purge_now(store, RULE, NOW, dry_run=True)
    assert (dry.letters, dry.documents) == (5, 5)
    assert stored.due(repo.engine, before=NOW, limit=10) and stored.recently_purged(repo.engine) == []
    first = retention.run(NOW, store=store, settings=RULE)  # a full batch of 2: again at once
    assert len(first.purge[0].shipment_ids) == 2 and first.job.run_after == NOW
    store.apply(first)
    assert _purge(store).letters == 3
    idle = retention.run(NOW, store=store, settings=RULE)
    assert idle.purge == () and idle.job.run_after == NOW + dt.timedelta(hours=1)
    off = retention.run(NOW, store=store, settings=RetentionSettings())
    assert off.purge == () and off.events == ()


def test_the_purge_is_written_with_the_outcome_or_not_at_all(stores):
    repo, documents, store = stores
    doc = _letter(repo, documents, "00000000-0000-4000-8000-000000000001", [BIG])[0]
    broken = Outcome(at=NOW, purge=retention.outcome(retention.Batch(("00000000-0000-4000-8000-000000000001",), False), RULE, NOW,
                                                     {}).purge,
                     events=(("no-such-letter", Event(at=NOW, kind="x")),))
    with pytest.raises(sa.exc.IntegrityError):
        store.apply(broken)  # the event's foreign key fails: nothing is purged, the file stays
    assert documents.get(doc.storage_ref) == BIG
    with repo.engine.connect() as conn:
        assert conn.execute(tables.documents.select()).one().purged_at is None


def test_gateway_purge_from_the_command_line(stores, tmp_path, monkeypatch, capsys):
    repo, documents, _ = stores
    _letter(repo, documents, "00000000-0000-4000-8000-000000000001", [SHARED])
    config = tmp_path / "gateway.toml"
    config.write_text(f'[storage]\ndatabase_url = "{repo.engine.url.render_as_string(hide_password=False)}"\n'
                      f'data_dir = "{tmp_path}"\n[retention]\ndocuments_after_days = 30\n', encoding="utf-8")
    assert main(["purge", "--dry-run", "--config", str(config)]) == 0
    assert "would purge 1 documents of 1 letters" in capsys.readouterr().out
    assert main(["purge", "--config", str(config)]) == 0
    assert f"purged 1 documents of 1 letters over 30 days after their final status; {len(SHARED)} bytes freed" in capsys.readouterr().out
    off = tmp_path / "off.toml"
    off.write_text("[retention]\ndocuments_after_days = 0\n", encoding="utf-8")
    assert main(["purge", "--config", str(off)]) == 2


def test_retention_settings(tmp_path):
    assert load_settings().retention == RetentionSettings() and not RetentionSettings().enabled
    assert load_settings(environ={"GATEWAY_RETENTION_DOCUMENTS_AFTER_DAYS": "90"}).retention.documents_after_days == 90
    for bad in ("documents_after_days = -1", "interval_hours = 0", "batch_size = 0", "keep = 1"):
        path = tmp_path / "bad.toml"
        path.write_text(f"[retention]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="retention"):
            load_settings(path, environ={})
    assert dataclasses.replace(RULE, documents_after_days=1).enabled


def test_dispatch_runs_the_rule_as_a_periodic_job(tmp_path):
    """The runtime's dispatcher queues the job once; a worker runs it, purges through
    DispatchStore.apply (files too) and queues the next turn; with [retention] off it only idles."""
    from gateway.config import Settings, StorageSettings
    from gateway.dispatch.worker import Worker
    from gateway.runtime import Runtime

    clock = lambda: NOW  # noqa: E731
    storage = StorageSettings(data_dir=str(tmp_path / "var"), inline_document_bytes=1024)
    runtime = Runtime.open(Settings(storage=storage, retention=RetentionSettings(documents_after_days=90)), clock=clock)
    try:
        doc = _letter(runtime.repository, runtime.documents, "00000000-0000-4000-8000-000000000001", [BIG])[0]
        runtime.dispatcher.ensure_periodic_jobs()
        runtime.dispatcher.ensure_periodic_jobs()
        [job] = [j for j in runtime.dispatch_store.pending_jobs() if j["kind"] == "retention"]
        worker = Worker(runtime.dispatcher, runtime.dispatch_store, name="w", lease_seconds=60)
        for _ in range(5):  # the print cycle's job is due as well
            if not worker.run_once():
                break
        assert not runtime.documents.files.exists(doc.sha256)
        assert runtime.repository.events("00000000-0000-4000-8000-000000000001")[-1].kind == "documents_purged"
        [again] = [j for j in runtime.dispatch_store.pending_jobs() if j["kind"] == "retention"]
        assert tables.as_utc(again["run_after"]) == NOW + dt.timedelta(hours=1)
    finally:
        runtime.close()
    off = Runtime.open(Settings(storage=StorageSettings(data_dir=str(tmp_path / "off"))), clock=clock)
    try:  # off: the job idles, an hour at a time
        doc = _letter(off.repository, off.documents, "00000000-0000-4000-8000-000000000001", [BIG])[0]
        off.dispatcher.ensure_periodic_jobs()
        worker = Worker(off.dispatcher, off.dispatch_store, name="w", lease_seconds=60)
        while worker.run_once():
            pass
        assert off.documents.get(doc.storage_ref) == BIG
        [idle] = [j for j in off.dispatch_store.pending_jobs() if j["kind"] == "retention"]
        assert tables.as_utc(idle["run_after"]) == NOW + dt.timedelta(hours=1)
    finally:
        off.close()

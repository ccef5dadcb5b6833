"""Group commit: many units, one fsync, and one unit's failure touches nobody else."""
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.store.engine import create_engine
from gateway.store.writer import DirectWriter, GroupCommitWriter, writer_for

items = sa.Table("items", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))


@pytest.fixture
def engine(sqlite_url):
    engine = create_engine(sqlite_url)
    items.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_sqlite_gets_group_commit(engine):
    assert isinstance(writer_for(engine), GroupCommitWriter)


def test_batched_units_commit_together_and_fail_alone(engine):
    writer = GroupCommitWriter(engine)
    commits = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(1))
    started = threading.Event()

    def slow_first(conn):
        started.set()
        time.sleep(0.3)  # the others queue up meanwhile
        conn.execute(items.insert(), {"id": 0})

    results: dict[int, object] = {}

    def submit(i):
        try:
            results[i] = writer.run(lambda conn: conn.execute(items.insert(), {"id": 1 if i == 13 else i}) and i)
        except IntegrityError as exc:
            results[i] = exc

    leader = threading.Thread(target=writer.run, args=(slow_first,))
    leader.start()
    started.wait()
    threads = [threading.Thread(target=submit, args=(i,)) for i in range(1, 21)]
    for t in threads:
        t.start()
    for t in threads + [leader]:
        t.join()

    assert isinstance(results[13], IntegrityError)  # duplicate of id 1
    assert all(results[i] == i for i in range(1, 21) if i != 13)
    with engine.connect() as conn:
        assert sorted(conn.scalars(sa.select(items.c.id))) == [i for i in range(0, 21) if i != 13]
    assert len(commits) < 21  # the fsync was shared


def test_a_failed_commit_fails_every_unit_of_the_batch(engine):
    writer = GroupCommitWriter(engine)

    def fail_on_commit(conn):
        raise RuntimeError("disk full")

    sa.event.listen(engine, "commit", fail_on_commit)
    with pytest.raises(RuntimeError, match="disk full"):
        writer.run(lambda conn: conn.execute(items.insert(), {"id": 1}))
    sa.event.remove(engine, "commit", fail_on_commit)
    with engine.connect() as conn:
        assert list(conn.scalars(sa.select(items.c.id))) == []


def test_direct_writer(engine):
    assert DirectWriter(engine).run(lambda conn: conn.execute(items.insert(), {"id": 5}).rowcount) == 1


def test_a_unit_beyond_the_batch_size_still_returns_only_after_its_commit(engine):
    """More queued units than max_batch: every caller returns after its own commit."""
    writer = GroupCommitWriter(engine, max_batch=2)
    started = threading.Event()

    def slow(conn):
        started.set()
        time.sleep(0.3)
        conn.execute(items.insert(), {"id": 0})

    results = {}

    def submit(i):
        results[i] = writer.run(lambda conn: conn.execute(items.insert(), {"id": i}).rowcount)
        with engine.connect() as conn:  # committed by the time run() returned
            results[f"seen{i}"] = conn.scalar(sa.select(items.c.id).where(items.c.id == i))

    leader = threading.Thread(target=writer.run, args=(slow,))
    leader.start()
    started.wait()
    threads = [threading.Thread(target=submit, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads + [leader]:
        t.join()
    assert all(results[i] == 1 and results[f"seen{i}"] == i for i in range(1, 9))

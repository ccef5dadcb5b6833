"""Job leases, take-overs and sticky final statuses, on SQLite and PostgreSQL."""
import datetime as dt

import pytest

from gateway.model import Event, Party, Shipment, Status
from gateway.store import migrate
from gateway.store.dispatch import DispatchStore, LeaseLost
from gateway.store.outcome import Finish, Outcome
from gateway.store.engine import create_engine
from gateway.store.repository import Repository

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
SID = "00000000-0000-4000-8000-0000000000aa"


@pytest.fixture
def stores(database_url):
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    repo = Repository(engine)
    repo.insert_shipment(Shipment(id=SID, tenant="t", title="T", recipient=Party(), documents=()),
                         content_sha256="0" * 64, events=[Event(at=NOW, kind="accepted", status=Status.ACCEPTED)])
    yield repo, DispatchStore(engine)
    engine.dispose()


def test_a_taken_over_job_counts_an_attempt_and_the_old_owner_loses_it(stores):
    _repo, store = stores
    [job] = store.claim_many("a", now=NOW, lease_seconds=10, limit=5)  # the route job of the intake
    assert job.attempts == 0 and store.claim_many("b", now=NOW, lease_seconds=10, limit=5) == []
    [taken] = store.claim_many("b", now=NOW + dt.timedelta(seconds=11), lease_seconds=10, limit=5)
    assert taken.id == job.id and taken.attempts == 1
    assert not store.renew(job, now=NOW + dt.timedelta(seconds=12), lease_seconds=10)
    with pytest.raises(LeaseLost):
        store.apply(Outcome(at=NOW, job=Finish()), job)
    assert store.renew(taken, now=NOW + dt.timedelta(seconds=12), lease_seconds=10)
    store.apply(Outcome(at=NOW, job=Finish()), taken)


def test_a_final_status_is_not_overwritten_by_a_racing_job(stores):
    repo, store = stores
    store.apply(Outcome(at=NOW, events=((SID, Event(at=NOW, kind="manually_handled", status=Status.MANUALLY_HANDLED)),)))
    store.apply(Outcome(at=NOW, events=((SID, Event(at=NOW, kind="sent_digital", status=Status.SENT_DIGITAL)),)))
    assert repo.get(SID).status is Status.MANUALLY_HANDLED
    assert [e.kind for e in repo.events(SID)][-2:] == ["manually_handled", "sent_digital"]  # history keeps both

"""Job leases, take-overs and sticky final statuses, on SQLite and PostgreSQL."""
import datetime as dt

import pytest

from gateway.model import Event, Party, Shipment, Status
from gateway.store import migrate
from gateway.store.dispatch import DispatchStore, LeaseLost
from gateway.store.outcome import Alert, Finish, NewJob, Outcome, Retry
from gateway.store.engine import create_engine
from gateway.store.repository import Repository

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
SID = "00000000-0000-4000-8000-0000000000aa"


@pytest.fixture
def stores(database_url):
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    repo = Repository(engine)
    repo.insert_shipment(Shipment(id=SID, sender="t", title="T", recipient=Party(), documents=()),
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


def test_an_outcome_under_a_lost_lease_writes_nothing(stores):
    """The lease is checked once, last, in the outcome's own transaction: a worker that was
    too slow leaves no event, delivery change, job or alert behind."""
    repo, store = stores
    [job] = store.claim_many("a", now=NOW, lease_seconds=10, limit=5)
    [taken] = store.claim_many("b", now=NOW + dt.timedelta(seconds=11), lease_seconds=10, limit=5)
    late = Outcome(
        at=NOW,
        job=Finish(),
        events=((SID, Event(at=NOW, kind="sent_digital", status=Status.SENT_DIGITAL)),),
        jobs=(NewJob(kind="poll", run_after=NOW, shipment_id=SID, channel="altinn3"),),
        alerts=(Alert(kind="delivery_failed", detail="x", shipment_id=SID),),
    )
    before = [e.kind for e in repo.events(SID)]
    with pytest.raises(LeaseLost):
        store.apply(late, job)
    assert [e.kind for e in repo.events(SID)] == before and repo.get(SID).status is Status.ACCEPTED
    assert [j["kind"] for j in store.pending_jobs(SID)] == ["route"] and store.alerts() == []
    store.apply(late, taken)  # the owner's outcome is written whole
    assert repo.get(SID).status is Status.SENT_DIGITAL
    assert [j["kind"] for j in store.pending_jobs(SID)] == ["poll"] and len(store.alerts()) == 1


def test_a_retry_can_turn_the_job_into_another_kind_in_the_same_statement(stores):
    _repo, store = stores
    [job] = store.claim_many("a", now=NOW, lease_seconds=10, limit=5)
    later = NOW + dt.timedelta(minutes=5)
    store.apply(Outcome(at=NOW, job=Retry(run_after=later, error="503", kind="submit", channel="altinn3")), job)
    [row] = store.pending_jobs(SID)
    assert (row["kind"], row["channel"], row["state"], row["attempts"], row["last_error"]) == ("submit", "altinn3", "pending", 1, "503")
    assert store.claim_many("a", now=NOW, lease_seconds=10, limit=5) == []  # waits until run_after


def test_ending_a_letter_cancels_its_jobs_but_not_its_archive_receipt(stores):
    from gateway.store.outcome import CancelJobs

    repo, store = stores
    store.apply(Outcome(at=NOW, jobs=(NewJob(kind="archive_receipt", run_after=NOW, shipment_id=SID, channel="READ"),
                                      NewJob(kind="deadline", run_after=NOW, shipment_id=SID, channel="altinn3"))))
    store.apply(Outcome(at=NOW, events=((SID, Event(at=NOW, kind="delivered", status=Status.DELIVERED)),),
                        cancel=(CancelJobs(shipment_id=SID),)))
    assert [(j["kind"], j["channel"]) for j in store.pending_jobs(SID)] == [("archive_receipt", "READ")]
    store.apply(Outcome(at=NOW, cancel=(CancelJobs(shipment_id=SID, kinds=("archive_receipt",)),)))  # by name it can be
    assert store.pending_jobs(SID) == []

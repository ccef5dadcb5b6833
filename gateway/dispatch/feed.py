"""The periodic ``feed`` job of a channel that reports on all its letters in one feed
(Digital Post's receipt list, Beskedfordeler's AMQP queue): place each entry on its letter by
the channel's reference, and say which entries to acknowledge after the commit and which to
put back.

An entry whose reference no delivery has yet is most likely a receipt that overtook the
commit of its own letter's submit: it is put back and read again next round. Only when it is
older than :data:`UNPLACED_GRACE` is it taken as news of a letter this gateway never sent,
acknowledged, and raised as an alert, so an operator sees it and the feed does not clog.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence

from gateway.delivery import FeedEntry, StatusChange
from gateway.dispatch.texts import OPERATOR_LANGUAGE, texts
from gateway.frozen import frozen
from gateway.model import FINAL_STATUSES
from gateway.store.dispatch import DispatchStore
from gateway.store.outcome import Alert, Outcome, Retry
from gateway.store.repository import Repository, StoredShipment

logger = logging.getLogger(__name__)

#: How long an entry may name a reference no delivery has before it is given up as unknown.
UNPLACED_GRACE = dt.timedelta(hours=1)

News = Callable[[StoredShipment, list[StatusChange], Mapping[str, str], str, dt.datetime], Outcome]


@frozen
class FeedRound:
    """What one read of the feed changes, and what becomes of its entries after the commit."""

    outcome: Outcome
    recorded: tuple[FeedEntry, ...] = ()  # acknowledge once the outcome is committed
    later: tuple[FeedEntry, ...] = ()  # put back: answered again by a later fetch


def read(channel: str, entries: Sequence[FeedEntry], *, store: DispatchStore, repository: Repository, news: News,
         now: dt.datetime, next_round: dt.datetime) -> FeedRound:
    groups: dict[str, list[FeedEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.reference, []).append(entry)
    deliveries = {d.reference: d for d in store.deliveries(channel=channel, references=sorted(groups))}  # newest wins
    outcome = Outcome(at=now)
    recorded: list[FeedEntry] = []
    later: list[FeedEntry] = []
    operator = texts(OPERATOR_LANGUAGE)
    for reference, group in groups.items():
        delivery = deliveries.get(reference)
        if delivery is None:
            if all(now - entry.at < UNPLACED_GRACE for entry in group):
                later.extend(group)
                continue
            detail = operator("feed_unplaced", channel=channel, reference=reference, detail=group[-1].detail)
            outcome = outcome.then(Outcome(at=now, alerts=(Alert(kind="feed_unplaced", channel=channel, detail=detail),)))
        elif delivery.open:
            stored = repository.get(delivery.shipment_id)
            if stored is not None and stored.status not in FINAL_STATUSES:
                changes = [StatusChange(shipment_id=delivery.shipment_id, reference=reference, status=e.status, at=e.at,
                                        detail=e.detail, failed=e.failed) for e in group]
                outcome = outcome.then(news(stored, changes, {reference: delivery.idempotency_key}, channel, now))
        else:
            logger.info("%s: news of %s after its delivery was closed: %s", channel, reference, group[-1].detail)
        recorded.extend(group)
    # the feed job never ends: whatever a letter's news decided, the job waits for its next round
    return FeedRound(outcome=outcome.then(Outcome(at=now, job=Retry(run_after=next_round, count_attempt=False))),
                     recorded=tuple(recorded), later=tuple(later))

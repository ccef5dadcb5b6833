"""Fill a gateway database with many dispatched letters quickly, for the operator benchmarks.

Letters are written straight into the tables in batches (PostgreSQL: ``COPY``; SQLite:
executemany), not through SOAP: a million letters through the intake would take hours and
measure the intake. Each letter looks like one the dispatcher finished: a case number, a
recipient (a person or an organisation, with a name), a cost code, one document, its history
(accepted, routed, sent, then read, printed or fallen back to print) and its deliveries with
print costs, spread evenly over ``[start, end)``. The same seed gives the same letters.

    python bench/fill_letters.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench --letters 1000000
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.model import CaseMetadata, Document, Party, PartyKind, PostalAddress, Shipment, Status  # noqa: E402
from gateway.store import migrate, tables  # noqa: E402
from gateway.store.engine import create_engine  # noqa: E402
from gateway.store.repository import Repository, search_columns  # noqa: E402
from gateway.stored_form import to_data  # noqa: E402

SENDERS = ("kommune-sak", "annen-kommune", "fylke-arkiv")
NAMES = ("Ola Nordmann", "Kari Nordmann", "Per Hansen", "Anne Olsen", "Nordland Bygg AS", "Fjellvegen Borettslag",
         "Lars Johansen", "Ingrid Berg", "Trondheim Havn KF", "Sigrid Dahl")
TITLES = ("Vedtak om byggetillatelse", "Svar på søknad om plass i barnehage", "Faktura for kommunale avgifter",
          "Innkalling til møte", "Melding om vedtak", "Klage på vedtak - svar", "Tilsyn med ildsted")
COST_CODES = ("K-100", "K-210", "K-330", "TEKN-1", "OPPV.2", "")
DOCUMENT_SHA = "a" * 64
PRINT_COST = (300, 2200)  # production and postage of a one-sheet B letter, øre


def letters(count: int, *, start: dt.datetime, end: dt.datetime, seed: int = 1) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]]:
    """(shipment row, event rows, delivery rows, document row) per letter, oldest first."""
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    ids = uuid.UUID(int=rng.getrandbits(128))
    for n in range(count):
        at = start + dt.timedelta(seconds=span * n / count)
        sid = str(uuid.uuid5(ids, str(n)))
        person = rng.random() < 0.8
        identifier = f"{rng.randrange(10**10, 10**11):011d}" if person else f"9{rng.randrange(10**7, 10**8):08d}"
        name = rng.choice(NAMES)
        year = rng.randrange(2019, 2027)
        shipment = Shipment(
            id=sid, sender=rng.choice(SENDERS), title=rng.choice(TITLES),
            recipient=Party(identifier=identifier, kind=PartyKind.NO_PERSON if person else PartyKind.NO_ORGANIZATION, name=name,
                            address=PostalAddress(name=name, lines=(f"Storgata {rng.randrange(1, 200)}",), postcode="0150", city="OSLO")),
            documents=(Document(filename="vedtak.pdf", media_type="application/pdf", size=40_000, sha256=DOCUMENT_SHA,
                                storage_ref=DOCUMENT_SHA, page_count=rng.randrange(1, 5)),),
            case_metadata=CaseMetadata(case_year=year, case_sequence_number=rng.randrange(1, 30_000), journal_year=year,
                                       journal_sequence_number=rng.randrange(1, 90_000), journal_entry_number=rng.randrange(1, 60)),
            cost_code=rng.choice(COST_CODES) or None, external_ref=f"ref-{n}", source_contract="svarut-v9",
        )
        events: list[dict[str, Any]] = [dict(at=at, kind="accepted", status=Status.ACCEPTED.value, channel=None, detail="")]
        deliveries: list[dict[str, Any]] = []
        roll = rng.random()
        sent = at + dt.timedelta(seconds=rng.randrange(5, 120))
        deadline = sent + dt.timedelta(days=7)
        if roll < 0.7:  # digital, mostly read in time
            events += [dict(at=sent, kind="routed", status=None, channel="altinn3", detail="Altinn (digital postkasse)"),
                       dict(at=sent, kind="sent_digital", status=Status.SENT_DIGITAL.value, channel="altinn3", detail="Altinn")]
            deliveries.append(_delivery(sid, "altinn3", sent, deadline=deadline))
            if rng.random() < 0.85:
                read = sent + dt.timedelta(hours=rng.randrange(1, 150))
                events.append(dict(at=read, kind="read", status=Status.READ.value, channel="altinn3", detail="lest"))
                status = Status.READ
            else:
                status = Status.DELIVERED
                events.append(dict(at=deadline, kind="delivered", status=status.value, channel="altinn3", detail="lesefristen er ute"))
        else:
            if roll < 0.9:  # print from the start
                events.append(dict(at=sent, kind="routed", status=None, channel="print", detail="utskrift (reservert mot digital post)"))
                printed_at = sent
            else:  # digital first, then print after the deadline
                events += [dict(at=sent, kind="sent_digital", status=Status.SENT_DIGITAL.value, channel="altinn3", detail="Altinn")]
                deliveries.append(_delivery(sid, "altinn3", sent, deadline=deadline))
                events.append(dict(at=deadline, kind="fallback_print", status=None, channel="altinn3", detail="ikke lest innen lesefristen"))
                printed_at = deadline
            events.append(dict(at=printed_at, kind="sent_to_print", status=Status.SENT_TO_PRINT.value, channel="print", detail="lagt i utskriftskø"))
            deliveries.append(_delivery(sid, "print", printed_at, cost=sum(PRINT_COST), estimate=2600, split=(*PRINT_COST, 1),
                                        receipt={"detail": "1 sider, 1 ark", "extra": {"pages": "1", "sheets": "1"}, "language": "nb"}))
            status = Status.PRINTED
            events.append(dict(at=printed_at + dt.timedelta(days=1), kind="printed", status=status.value, channel="print", detail="skrevet ut"))
        last = max(e["at"] for e in events)
        row = dict(id=sid, sender=shipment.sender, status=status.value, title=shipment.title, external_ref=shipment.external_ref,
                   content_sha256=DOCUMENT_SHA, data=to_data(shipment), created_at=at, status_changed_at=last,
                   **search_columns(shipment))
        for event in events:
            event["shipment_id"] = sid
        document = dict(shipment_id=sid, position=0, filename="vedtak.pdf", media_type="application/pdf", size=40_000,
                        sha256=DOCUMENT_SHA, page_count=shipment.documents[0].page_count, exclude_from_print=False)
        yield row, events, deliveries, document


def _delivery(sid: str, channel: str, at: dt.datetime, *, deadline: dt.datetime | None = None, cost: int | None = None,
              estimate: int | None = None, receipt: dict[str, Any] | None = None,
              split: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """A delivery row; ``split``: the print house's production cost, postage and sheets (migration 0008)."""
    production, postage, sheets = split or (None, None, None)
    return dict(shipment_id=sid, channel=channel, idempotency_key=f"{sid}:{channel}", reference=f"{channel}-{sid}",
                status=Status.PRINTED.value if channel == "print" else Status.SENT_DIGITAL.value, submitted_at=at,
                read_deadline=deadline, cost_estimate_ore=estimate, cost_ore=cost, open=False, receipt=receipt or {},
                production_cost_ore=production, postage_ore=postage, sheets=sheets)


def fill(engine: sa.Engine, count: int, *, start: dt.datetime, end: dt.datetime, seed: int = 1, batch: int = 20_000,
         progress: Callable[[int], None] | None = None) -> None:
    """Write ``count`` letters (the schema must be migrated)."""
    write = _copy if engine.dialect.name == "postgresql" else _insert
    rows: tuple[list[dict[str, Any]], ...] = ([], [], [], [])
    done = 0
    for shipment, events, deliveries, document in letters(count, start=start, end=end, seed=seed):
        rows[0].append(shipment)
        rows[1].extend(events)
        rows[2].extend(deliveries)
        rows[3].append(document)
        if len(rows[0]) >= batch:
            done += _flush(engine, write, rows)
            if progress:
                progress(done)
    done += _flush(engine, write, rows)
    if progress:
        progress(done)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def _flush(engine: sa.Engine, write: Callable[..., None], rows: tuple[list[dict[str, Any]], ...]) -> int:
    n = len(rows[0])
    if n:
        with engine.begin() as conn:
            for table, batch in zip((tables.shipments, tables.events, tables.deliveries, tables.documents), rows):
                write(conn, table, batch)
        for batch in rows:
            batch.clear()
    return n


def _insert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    conn.execute(table.insert(), list(rows))


def _copy(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL ``COPY … FROM STDIN`` (psycopg 3), ten times faster than INSERTs."""
    if not rows:
        return
    keys = list(rows[0])
    columns = [table.c[k].name for k in keys]
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[k]) if isinstance(row[k], dict) else row[k] for k in keys])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--letters", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="spread over this many days up to now")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    engine = create_engine(args.database_url)
    migrate.upgrade(engine)
    end = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    fill(engine, args.letters, start=end - dt.timedelta(days=args.days), end=end, seed=args.seed,
         progress=lambda done: print(f"{done} letters", file=sys.stderr))
    print(f"{Repository(engine).count_shipments()} letters in {args.database_url.rpartition('@')[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


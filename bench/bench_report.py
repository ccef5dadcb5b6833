"""Report benchmark: the per-letter XLSX report of 100,000 letters, its peak memory and time.

Fills a fresh database (SQLite in a temporary folder, or a new database on the PostgreSQL server
of ``--postgres``) with letters as dispatch leaves them, by bulk inserts (not through SOAP):
each with case metadata, a cost code and two documents; a history of five events; and a
delivery, Altinn 3 (read) for two letters in three, print (with the print house's production
cost, postage and sheets) for the rest. Then writes the report in a child process
(``write_letters_report``, what ``gateway report letters`` runs) and reports the child's peak
RSS (``VmHWM`` from ``/proc/self/status``) and its time. The bound is 300 MB.

    python bench/bench_report.py [--letters 100000] [--format xlsx] [--postgres ADMIN_URL] [--verify]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from gateway.model import CaseMetadata, Document, Party, PartyKind, Shipment, Status  # noqa: E402
from gateway.store import migrate, tables  # noqa: E402
from gateway.store.engine import create_engine  # noqa: E402
from gateway.stored_form import to_data  # noqa: E402

BOUND_MB = 300
BATCH = 5000
DAY = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.timezone.utc)


def _template() -> dict[str, object]:
    docs = tuple(Document(filename=f"vedlegg{i}.pdf", media_type="application/pdf", size=120_000, sha256=f"{i:064x}",
                          storage_ref=f"db:{i:064x}", page_count=3) for i in range(2))
    case = CaseMetadata(case_year=2026, case_sequence_number=1, journal_year=2026, journal_sequence_number=1,
                        journal_entry_number=1, title="Vedtak om byggesak", case_officer="Saksbehandler Hansen")
    shipment = Shipment(id="", sender="bench", title="Vedtak i byggesak", documents=docs, case_metadata=case, cost_code="4100-123",
                        recipient=Party(identifier="01010112345", kind=PartyKind.NO_PERSON, name="Ola Nordmann"))
    return to_data(shipment)


def fill(engine: sa.Engine, letters: int) -> None:
    template = _template()
    for start in range(0, letters, BATCH):
        shipments, documents, events, deliveries = [], [], [], []
        for n in range(start, min(start + BATCH, letters)):
            sid = str(uuid.UUID(int=n + 1))
            at = DAY + dt.timedelta(seconds=n * 20)  # 100,000 letters over three weeks
            printed = n % 3 == 2
            data = json.loads(json.dumps(template))
            data["id"] = sid
            data["case_metadata"]["case_sequence_number"] = n + 1
            data["case_metadata"]["journal_entry_number"] = n % 7 + 1
            data["cost_code"] = f"4100-{n % 40:03d}"
            final = Status.PRINTED if printed else Status.READ
            shipments.append(dict(id=sid, sender="bench" if n % 4 else "bench2", status=str(final), title=f"Vedtak i byggesak {n}",
                                  external_ref=f"ext-{n}", content_sha256="c" * 64, data=data, created_at=at,
                                  status_changed_at=at + dt.timedelta(hours=30)))
            documents += [dict(shipment_id=sid, position=i, filename=f"vedlegg{i}.pdf", media_type="application/pdf", size=120_000,
                               sha256=f"{i:064x}", page_count=3, exclude_from_print=False) for i in range(2)]
            channel = "print" if printed else "altinn3"
            steps = [("received", Status.RECEIVED, None, ""), ("accepted", Status.ACCEPTED, None, ""),
                     ("routed", None, channel, "Altinn (digital postkasse)")]
            steps += ([("sent_to_print", Status.SENT_TO_PRINT, "print", "3 sider, 2 ark"), ("printed", Status.PRINTED, "print", "3 sider, 2 ark, kostnad 21.40 kr")]
                      if printed else
                      [("sent_digital", Status.SENT_DIGITAL, "altinn3", f"Altinn (ref-{n}), lesefrist 2026-11-20"), ("read", Status.READ, "altinn3", "Altinn: Read")])
            events += [dict(shipment_id=sid, at=at + dt.timedelta(hours=i * 6), kind=kind, status=str(status) if status else None,
                            channel=ch, detail=detail) for i, (kind, status, ch, detail) in enumerate(steps)]
            costs = dict(cost_ore=2140, production_cost_ore=540, postage_ore=1600, sheets=2) if printed else \
                dict(cost_ore=None, production_cost_ore=None, postage_ore=None, sheets=None)
            deliveries.append(dict(shipment_id=sid, channel=channel, idempotency_key=f"{sid}:{channel}", reference=f"ref-{n}",
                                   status=str(final), submitted_at=at + dt.timedelta(hours=12), read_deadline=None,
                                   cost_estimate_ore=2140 if printed else None, open=False,
                                   receipt={"detail": "", "extra": {}, "language": "nb"}, **costs))
        with engine.begin() as conn:
            conn.execute(tables.shipments.insert(), shipments)
            conn.execute(tables.documents.insert(), documents)
            conn.execute(tables.events.insert(), events)
            conn.execute(tables.deliveries.insert(), deliveries)


def child(url: str, out: str, fmt: str) -> int:
    """Write the report; print seconds and peak RSS (MiB) as JSON."""
    from gateway.reports import write_letters_report

    engine = create_engine(url)
    start = time.perf_counter()
    written = write_letters_report(engine, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30), format=fmt, out=out)
    seconds = time.perf_counter() - start
    hwm = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"rows": written.rows, "seconds": round(seconds, 1), "peak_rss_mib": round(hwm / 1024, 1)}))
    return 0


def _postgres(admin: str) -> tuple[str, sa.Engine, str]:
    from gateway.store.engine import normalize_url

    admin_url = sa.make_url(normalize_url(admin))
    name = f"gwbench_{uuid.uuid4().hex[:10]}"
    root = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with root.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin_url.set(database=name).render_as_string(hide_password=False), root, name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=100_000)
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="a PostgreSQL server (a fresh database is made and dropped)")
    parser.add_argument("--verify", action="store_true", help="read the XLSX back and count its rows")
    parser.add_argument("--child", nargs=3, metavar=("URL", "OUT", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory() as tmp:
        root = name = None
        if args.postgres:
            url, root, name = _postgres(args.postgres)
        else:
            url = f"sqlite:///{tmp}/bench.db"
        try:
            engine = create_engine(url)
            migrate.upgrade(engine)
            start = time.perf_counter()
            fill(engine, args.letters)
            with engine.begin() as conn:  # what autovacuum does after a load: the planner's statistics
                conn.execute(sa.text("ANALYZE"))
            filled = time.perf_counter() - start
            engine.dispose()
            out = f"{tmp}/report.{args.format}"
            result = subprocess.run([sys.executable, __file__, "--child", url, out, args.format], check=True,
                                    capture_output=True, text=True)
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            database = "postgresql" if args.postgres else "sqlite"
            print(f"{database}: {args.letters} letters filled in {filled:.1f} s; {args.format} report of {figures['rows']} rows "
                  f"in {figures['seconds']} s, peak RSS {figures['peak_rss_mib']} MiB (bound {BOUND_MB} MB), "
                  f"file {os.path.getsize(out) / 2**20:.1f} MiB")
            if args.verify and args.format == "xlsx":
                from openpyxl import load_workbook

                book = load_workbook(out, read_only=True)
                rows = sum(1 for _ in book.active.iter_rows(values_only=True)) - 1
                book.close()
                print(f"read back: {rows} rows")
            return 0 if figures["peak_rss_mib"] * 2**20 < BOUND_MB * 10**6 and figures["rows"] == args.letters else 1
        finally:
            if root is not None:
                with root.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                root.dispose()


if __name__ == "__main__":
    sys.exit(main())

"""Report benchmark: the per-letter XLSX report of 100,000 letters, its peak memory and time.

Fills a fresh database (SQLite in a temporary folder, or a new database on the PostgreSQL server
of ``--postgres``) with letters as dispatch leaves them, written straight into the tables by
``bench/fill_letters.py`` (not through SOAP): case numbers, cost codes, histories, Altinn and
print deliveries with the print house's production cost, postage and sheets. Then writes the report in a child process
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

from bench.fill_letters import fill  # noqa: E402
from gateway.store import migrate  # noqa: E402
from gateway.store.engine import create_engine  # noqa: E402

BOUND_MB = 300
#: The letters are spread over November 2026; the report covers the month.
NOVEMBER = (dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc), dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc))


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
            fill(engine, args.letters, start=NOVEMBER[0], end=NOVEMBER[1])  # ANALYZE on PostgreSQL, as autovacuum would
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

"""``gateway report letters|costs`` and ``gateway purge``: the reports to a file, with a
progress bar, and the retention rule run by hand."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from gateway.cli.common import config_arg, settings_of


def add_parsers(sub: Any) -> None:
    report = sub.add_parser("report", help="reports: every letter (XLSX/CSV), costs per cost code (CSV)")
    kinds = report.add_subparsers(dest="report_command", required=True)
    letters = kinds.add_parser("letters", help="one row per letter: case, title, channel, statuses, Altinn and print logs, costs")
    letters.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    costs = kinds.add_parser("costs", help="production cost, postage and sheets per sender, month and cost code (CSV for finance)")
    for p in (letters, costs):
        p.add_argument("--from", dest="start", required=True, type=_date, metavar="YYYY-MM-DD",
                       help="first day (Europe/Oslo), included")
        p.add_argument("--to", dest="end", required=True, type=_date, metavar="YYYY-MM-DD", help="last day, included")
        p.add_argument("--sender", action="append", dest="senders", metavar="NAME", help="only this sender (repeatable)")
        p.add_argument("--out", required=True, metavar="FILE")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        config_arg(p)
    purge = sub.add_parser("purge", help="delete the document bytes of letters past [retention] (metadata, history, costs stay)")
    purge.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    config_arg(purge)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_report(args: argparse.Namespace) -> int:
    from gateway import reports
    from gateway.reports.run import count_letters
    from gateway.store import migrate
    from gateway.store.engine import create_engine

    settings = settings_of(args)
    if args.end < args.start:
        print("gateway: --to is before --from", file=sys.stderr)
        return 2
    engine = create_engine(settings.storage.resolved_database_url)
    try:
        migrate.upgrade(engine)
        span = dict(start=args.start, end=args.end, senders=args.senders)
        if args.report_command == "costs":
            costs = reports.write_costs_report(engine, out=args.out, **span)
            print(f"wrote {args.out}: {costs.rows} lines, {costs.total_kroner} kr in all")
            return 0
        total = count_letters(engine, **span)
        with _progress(total, hidden=args.no_progress or not sys.stderr.isatty()) as advance:
            written = reports.write_letters_report(engine, format=args.format, out=args.out, progress=advance, **span)
        print(f"wrote {args.out}: {written.rows} letters")
        return 0
    finally:
        engine.dispose()


class _progress:
    """A rich progress bar on standard error, or nothing when it is not a terminal."""

    def __init__(self, total: int, *, hidden: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("letters"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            disable=hidden, transient=False)
        self.task = self.bar.add_task("letters", total=total)

    def __enter__(self) -> Any:
        self.bar.start()
        return lambda n: self.bar.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def cmd_purge(args: argparse.Namespace) -> int:
    from gateway.dispatch.retention import purge_now
    from gateway.model import utcnow
    from gateway.store import migrate
    from gateway.store.blobs import FileBlobStore
    from gateway.store.dispatch import DispatchStore
    from gateway.store.engine import create_engine

    settings = settings_of(args)
    if not settings.retention.enabled:
        print("gateway: [retention] documents_after_days is 0: nothing is ever purged", file=sys.stderr)
        return 2
    engine = create_engine(settings.storage.resolved_database_url)
    try:
        migrate.upgrade(engine)
        store = DispatchStore(engine, files=FileBlobStore(settings.storage.blob_dir, fsync=False))
        done = purge_now(store, settings.retention, utcnow(), dry_run=args.dry_run)
    finally:
        engine.dispose()
    verb = "would purge" if args.dry_run else "purged"
    print(f"{verb} {done.documents} documents of {done.letters} letters over {settings.retention.documents_after_days} days "
          f"after their final status; {done.freed_bytes} bytes freed{' at least' if args.dry_run else ''}")
    return 0

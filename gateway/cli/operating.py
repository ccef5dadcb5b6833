"""The operator's commands: the recipient register, single letters, validation, schema bundles."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import settings_of


def cmd_registry(args: argparse.Namespace) -> int:
    from gateway.dispatch.routing import read_register_csv
    from gateway.model import utcnow
    from gateway.store import migrate
    from gateway.store.dispatch import DispatchStore
    from gateway.store.engine import create_engine

    settings = settings_of(args)
    engine = create_engine(settings.storage.resolved_database_url)
    try:
        migrate.upgrade(engine)
        store = DispatchStore(engine)
        command = args.registry_command
        if command == "import":
            try:
                entries = read_register_csv(args.file)
            except (OSError, ValueError) as exc:
                print(f"gateway: {exc}", file=sys.stderr)
                return 2
            print(f"imported {store.register_set(entries, now=utcnow())} entries from {args.file}")
        elif command == "set":
            try:
                entries = [_register_entry(args.identifier, args.status)]
            except ValueError as exc:
                print(f"gateway: {exc}", file=sys.stderr)
                return 2
            store.register_set(entries, now=utcnow())
            print(f"{args.identifier}: {args.status}")
        elif command == "show":
            status = store.register_lookup(args.identifier)
            print(f"{args.identifier}: {status or 'not in the register'}")
            return 0 if status else 1
        elif command == "delete":
            return 0 if store.register_delete(args.identifier) else 1
        else:
            print("identifier,kind,status")
            for row in store.register_entries():
                print(",".join(row))
    finally:
        engine.dispose()
    return 0


def _register_entry(identifier: str, status: str) -> tuple[str, str, str]:
    from gateway.domain.identifiers import is_valid_norwegian_organization_number, is_valid_norwegian_person_id

    if is_valid_norwegian_person_id(identifier):
        return identifier, "person", status
    if is_valid_norwegian_organization_number(identifier):
        return identifier, "organization", status
    raise ValueError(f"{identifier!r} is neither a fødselsnummer/D-nummer nor an organisasjonsnummer")


def cmd_shipment(args: argparse.Namespace) -> int:
    from gateway.dispatch.manual import stop_shipment
    from gateway.errors import GatewayError
    from gateway.runtime import Runtime

    settings = settings_of(args)
    runtime = Runtime.open(settings, channels={})
    try:
        if args.shipment_command == "stop":
            try:
                status = stop_shipment(runtime.repository, runtime.dispatcher, args.id, reason=args.reason)
            except GatewayError as exc:
                print(f"gateway: {exc.message}", file=sys.stderr)
                return 1
            print(f"{args.id}: {status}")
            return 0
        stored = runtime.repository.get(args.id)
        if stored is None:
            print(f"gateway: no shipment {args.id}", file=sys.stderr)
            return 1
        print(f"{stored.shipment.id}  {stored.status}  {stored.shipment.title!r}  ({stored.shipment.sender})")
        exchange = stored.shipment.exchange
        if exchange is not None:
            print(f"  noarkExchange conversation {exchange.conversation_id}  from {exchange.sender_orgnr or '-'}"
                  f" to {exchange.receiver_orgnr}  jpId={exchange.journal_entry_id or '-'}")
        for d in runtime.dispatch_store.deliveries(shipment_id=args.id):
            cost = d.cost_ore if d.cost_ore is not None else d.cost_estimate_ore
            print(f"  delivery {d.channel:8} {d.status:14} ref={d.reference} cost_ore={cost} open={d.open}")
        for e in runtime.repository.events(args.id):
            print(f"  {e.at.isoformat(timespec='seconds')}  {e.kind:16} {e.status or '':14} {e.detail}")
        return 0
    finally:
        runtime.close()


def cmd_validate(args: argparse.Namespace) -> int:
    import json

    from gateway.domain.validation_service import validate_payload
    from gateway.errors import GatewayError
    from gateway.xml.schemas import SchemaRegistry, UnknownSchema

    settings = settings_of(args)
    registry = SchemaRegistry.load(settings.storage.schema_dir)
    try:
        registry.bundle(args.schema)
    except UnknownSchema as exc:
        print(f"gateway: {exc.message}", file=sys.stderr)
        return 2
    files: list[Path] = []
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.xml") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            print(f"gateway: no such file or folder: {raw}", file=sys.stderr)
            return 2
    results: list[dict[str, Any]] = []
    with _progress(len(files), enabled=not args.json and len(files) > 1) as advance:
        for path in files:
            try:
                report = validate_payload(registry, args.schema, path.read_bytes())
                errors = [dict(line=e.line, column=e.column, path=e.path, message=e.message) for e in report.errors]
                valid = report.valid
            except GatewayError as exc:
                valid, errors = False, [dict(line=None, column=None, path=None, message=f"{exc.code}: {exc.message}")]
            results.append({"file": str(path), "valid": valid, "errors": errors})
            advance()
    invalid = [r for r in results if not r["valid"]]
    if args.json:
        summary = {"files": len(results), "valid": len(results) - len(invalid), "invalid": len(invalid)}
        json.dump({"schema": args.schema, "summary": summary, "results": results}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for r in invalid:
            for e in r["errors"]:
                where = ":".join(str(x) for x in (e["line"], e["column"]) if x is not None)
                print(f"{r['file']}:{where}: {e['path'] or '-'}: {e['message']}")
        print(f"{len(results)} file(s) checked against {args.schema}: {len(results) - len(invalid)} valid, {len(invalid)} invalid")
    return 1 if invalid else 0


class _progress:
    """A rich progress bar on stderr for many files; silent otherwise."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled = total, enabled and sys.stderr.isatty()

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self._progress = Progress(transient=True)
        self._progress.start()
        task = self._progress.add_task("validating", total=self.total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.stop()


def cmd_schemas(args: argparse.Namespace) -> int:
    from gateway.xml.bundles import BundleError
    from gateway.xml.schemas import SchemaRegistry

    settings = settings_of(args)
    registry = SchemaRegistry.load(settings.storage.schema_dir)
    if args.schemas_command == "add":
        try:
            bundle = registry.add_bundle(args.name, args.path, entry=args.entry)
        except (BundleError, OSError, ValueError) as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return 2
        print(f"added schema {bundle.name} (entry {bundle.entry})")
        return 0
    for name in registry.names():
        b = registry.bundle(name)
        print(f"{name}\t{'built-in' if b.builtin else 'added'}\t{b.folder / b.entry}")
    return 0

"""The ``gateway`` command."""
from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.config import ConfigError, Settings, load_settings
from gateway.limits import all_limits, limits_markdown, shown_value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="Nordic digital mail gateway")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (the default of run_gateway.py)")
    _config_arg(serve)
    # internal: a serving process started by the supervisor adopts its listening socket
    serve.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)

    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "apply all migrations"), ("current", "show the applied revision")):
        _config_arg(db_sub.add_parser(name, help=text))

    export = sub.add_parser("export-wsdl", help="write the WSDLs the gateway serves to a folder")
    export.add_argument("--out", default="wsdl", help="folder (default: wsdl)")
    export.add_argument("--base-url", default="http://127.0.0.1:8080", help="address written into the WSDLs")

    hp = sub.add_parser("hash-password", help="print a password_hash for a [[senders]] entry")
    hp.add_argument("password", nargs="?", help="read from standard input when left out")

    worker = sub.add_parser("worker", help="run dispatch workers in this process (no SOAP endpoints)")
    _config_arg(worker)
    worker.add_argument("--workers", type=int, default=None, help="threads (default: dispatch.workers)")

    registry = sub.add_parser("registry", help="the recipient register (digital / reserved / unreachable)")
    reg_sub = registry.add_subparsers(dest="registry_command", required=True)
    imp = reg_sub.add_parser("import", help="upsert rows from a CSV file: identifier,status")
    imp.add_argument("file")
    setp = reg_sub.add_parser("set", help="set one identifier's status")
    setp.add_argument("identifier")
    setp.add_argument("status", choices=["digital", "reserved", "unreachable"])
    showp = reg_sub.add_parser("show", help="show one identifier")
    showp.add_argument("identifier")
    delp = reg_sub.add_parser("delete", help="forget one identifier")
    delp.add_argument("identifier")
    reg_sub.add_parser("list", help="list every entry (CSV)")
    for p in (imp, setp, showp, delp, reg_sub.choices["list"]):
        _config_arg(p)

    shipment = sub.add_parser("shipment", help="operator actions on one letter")
    sh_sub = shipment.add_subparsers(dest="shipment_command", required=True)
    stop = sh_sub.add_parser("stop", help="stop a letter that has not gone to print (MANUELT_HANDTERT)")
    stop.add_argument("id")
    stop.add_argument("--reason", default="stoppet av operatør")
    _config_arg(stop)
    show = sh_sub.add_parser("show", help="status, deliveries and history of a letter")
    show.add_argument("id")
    _config_arg(show)

    validate = sub.add_parser("validate", help="validate XML files against a registered schema")
    validate.add_argument("--schema", required=True, help="a name from `gateway schemas list`")
    validate.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="files, or folders searched for *.xml")
    validate.add_argument("--json", action="store_true", help="one JSON document on stdout")
    _config_arg(validate)

    schemas = sub.add_parser("schemas", help="the schema registry")
    sc_sub = schemas.add_subparsers(dest="schemas_command", required=True)
    add = sc_sub.add_parser("add", help="register a schema bundle (a folder or a .zip)")
    add.add_argument("name")
    add.add_argument("path")
    add.add_argument("--entry", help="the entry .xsd inside the bundle (default: bundle.toml or the only top-level .xsd)")
    _config_arg(add)
    _config_arg(sc_sub.add_parser("list", help="list registered schemas"))

    faults = sub.add_parser("faults", help="list the fault codes")
    faults.add_argument("--markdown", action="store_true", help="as the table in docs/faults.md")

    limits = sub.add_parser("limits", help="list the gateway's hard bounds (sizes, counts, depths, times)")
    limits.add_argument("--markdown", action="store_true", help="as the page docs/limits.md")

    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML settings (embedded defaults when left out)")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.logging.level.upper(), logging.INFO),
        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    # the migration tool's start-up chatter is not news in every process
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _logging(settings)
    if args.listen_fd is None and settings.server.processes > 1:
        return _supervise(args, settings)
    from twisted.internet import reactor as installed_reactor

    reactor: Any = installed_reactor  # twisted types the module, not the reactor it installs

    from gateway.runtime import Runtime
    from gateway.server import listen
    from gateway.supervisor import stop_when_orphaned

    supervised = args.listen_fd is not None
    # the supervisor applied the migrations before it started anyone
    runtime = Runtime.open(settings, upgrade=not supervised)
    running = listen(runtime, reactor, adopt_fd=args.listen_fd)
    host, port = running.address
    base = f"{'https' if settings.server.tls else 'http'}://{host}:{port}"
    if supervised:
        print(f"gateway {__version__} serving process {os.getpid()} ready on {base}", flush=True)
        stop_when_orphaned(lambda: reactor.callFromThread(reactor.stop))
    else:
        _print_banner(settings, base)
    if settings.dispatch.enabled and not supervised:
        runtime.start_workers()
        print(f"  dispatch:  {settings.dispatch.workers} worker(s); channels: {', '.join(runtime.dispatcher.channels) or 'none'}", flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", running.stop)
    reactor.addSystemEventTrigger("after", "shutdown", runtime.close)
    # Everything loaded so far lives as long as the process. Freezing it keeps the full
    # collections spyne runs every second (to release request files) short.
    gc.collect()
    gc.freeze()
    reactor.run()
    return 0


def _print_banner(settings: Settings, base: str) -> None:
    from gateway.soap import svarut

    print(f"gateway {__version__} listening on {base} ({settings.source})", flush=True)
    print(f"  SvarUt V9: {base}{svarut.PATH}  (WSDL: {base}{svarut.PATH}?wsdl)", flush=True)
    print(f"  database:  {_safe_url(settings.storage.resolved_database_url)}", flush=True)


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """``server.processes`` > 1: bind once, migrate once, run and watch the processes."""
    from gateway.store import migrate
    from gateway.store.engine import create_engine
    from gateway.supervisor import Supervisor, child_specs, listening_socket

    engine = create_engine(settings.storage.resolved_database_url, pool_size=1)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    try:
        sock = listening_socket(settings.server.host, settings.server.port)
    except OSError as exc:
        print(f"gateway: cannot listen on {settings.server.host}:{settings.server.port}: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    base = f"{'https' if settings.server.tls else 'http'}://{host}:{port}"
    children = child_specs(settings, args.config, sock.fileno())
    # the socket listens already: connections wait in its backlog until a process is up
    _print_banner(settings, base)
    dispatch = "; dispatch in a process of its own" if settings.dispatch.enabled else ""
    print(f"  processes: {settings.server.processes} serving, {settings.server.threads} thread(s) each{dispatch}", flush=True)
    try:
        return Supervisor(children, before_stop=sock.close).run()
    finally:
        sock.close()


def cmd_worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from gateway.runtime import Runtime

    settings = _settings(args)
    _logging(settings)
    supervised = bool(os.environ.get("GATEWAY_SUPERVISED"))
    runtime = Runtime.open(settings, upgrade=not supervised)  # a supervisor has migrated already
    pool = runtime.start_workers(args.workers)
    print(f"gateway worker: {len(pool.workers)} worker(s); channels: {', '.join(runtime.dispatcher.channels) or 'none'}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    if supervised:
        from gateway.supervisor import stop_when_orphaned

        stop_when_orphaned(done.set)
    done.wait()
    runtime.close()
    return 0


def cmd_registry(args: argparse.Namespace) -> int:
    from gateway.dispatch.routing import read_register_csv
    from gateway.model import utcnow
    from gateway.store import migrate
    from gateway.store.dispatch import DispatchStore
    from gateway.store.engine import create_engine

    settings = _settings(args)
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

    settings = _settings(args)
    runtime = Runtime.open(settings, channels={})
    try:
        if args.shipment_command == "stop":
            try:
                status = stop_shipment(runtime.repository, runtime.dispatch_store, args.id, reason=args.reason)
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
    from gateway.xml.schemas import SchemaRegistry

    settings = _settings(args)
    registry = SchemaRegistry.load(settings.storage.schema_dir)
    if args.schema not in registry:
        print(f"gateway: no schema named {args.schema!r}; known: {', '.join(registry.names())}", file=sys.stderr)
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
    from gateway.xml.schemas import BundleError, SchemaRegistry

    settings = _settings(args)
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


def cmd_db(args: argparse.Namespace) -> int:
    from gateway.store import migrate
    from gateway.store.engine import create_engine

    settings = _settings(args)
    engine = create_engine(settings.storage.resolved_database_url)
    try:
        if args.db_command == "upgrade":
            migrate.upgrade(engine)
        print(f"database at revision {migrate.current_revision(engine)} (head {migrate.head_revision()})")
    finally:
        engine.dispose()
    return 0


def cmd_export_wsdl(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for filename, (path, document) in _wsdl_exports().items():
        target = out / filename
        target.write_bytes(document(args.base_url.rstrip("/") + path))
        print(f"wrote {target}")
    return 0


def _wsdl_exports():  # type: ignore[no-untyped-def]
    from gateway.soap import memo, svarut, validation

    return {
        "MemoService.wsdl": (memo.PATH, memo.wsdl_document),
        "ForsendelsesServiceV9.wsdl": (svarut.PATH, svarut.wsdl_document),
        "ValidationService.wsdl": (validation.PATH, validation.wsdl_document),
    }


def cmd_hash_password(args: argparse.Namespace) -> int:
    from gateway.passwords import hash_password

    password = args.password if args.password is not None else sys.stdin.readline().rstrip("\n")
    if not password:
        print("gateway: an empty password is not allowed", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    from gateway.errors import all_faults, faults_markdown

    if args.markdown:
        sys.stdout.write(faults_markdown())
    else:
        for code, info in all_faults():
            print(f"{code:30} {info.side:8} {info.http_status}  {info.meaning}")
    return 0


def cmd_limits(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(limits_markdown())
    else:
        for info in all_limits():
            print(f"{info.name:30} {shown_value(info.value, info.unit):>12} {info.unit:12} {info.setting or 'fixed'}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


_COMMANDS = {
    "serve": cmd_serve,
    "worker": cmd_worker,
    "registry": cmd_registry,
    "shipment": cmd_shipment,
    "validate": cmd_validate,
    "schemas": cmd_schemas,
    "db": cmd_db,
    "export-wsdl": cmd_export_wsdl,
    "hash-password": cmd_hash_password,
    "faults": cmd_faults,
    "limits": cmd_limits,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``gateway`` command."""
from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from gateway import __version__
from gateway.config import ConfigError, Settings, load_settings

WSDL_EXPORTS = {"ForsendelsesServiceV9.wsdl": "svarut"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="Nordic digital mail gateway")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (the default of run_gateway.py)")
    _config_arg(serve)

    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "apply all migrations"), ("current", "show the applied revision")):
        _config_arg(db_sub.add_parser(name, help=text))

    export = sub.add_parser("export-wsdl", help="write the WSDLs the gateway serves to a folder")
    export.add_argument("--out", default="wsdl", help="folder (default: wsdl)")
    export.add_argument("--base-url", default="http://127.0.0.1:8080", help="address written into the WSDLs")

    hp = sub.add_parser("hash-password", help="print a password_hash for a [[senders]] entry")
    hp.add_argument("password", nargs="?", help="read from standard input when left out")

    faults = sub.add_parser("faults", help="list the fault codes")
    faults.add_argument("--markdown", action="store_true", help="as the table in docs/faults.md")

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
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from twisted.internet import reactor

    from gateway.runtime import Runtime
    from gateway.server import listen
    from gateway.soap import svarut

    settings = _settings(args)
    _logging(settings)
    runtime = Runtime.open(settings)
    running = listen(runtime, reactor)
    host, port = running.address
    base = f"{'https' if settings.server.tls else 'http'}://{host}:{port}"
    print(f"gateway {__version__} listening on {base} ({settings.source})", flush=True)
    print(f"  SvarUt V9: {base}{svarut.PATH}  (WSDL: {base}{svarut.PATH}?wsdl)", flush=True)
    print(f"  database:  {_safe_url(settings.storage.resolved_database_url)}", flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", running.stop)
    reactor.addSystemEventTrigger("after", "shutdown", runtime.close)
    # Everything loaded so far lives as long as the process. Freezing it keeps the full
    # collections spyne runs every second (to release request files) short.
    gc.collect()
    gc.freeze()
    reactor.run()
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
    from gateway.soap import svarut

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "ForsendelsesServiceV9.wsdl"
    target.write_bytes(svarut.wsdl_document(args.base_url.rstrip("/") + svarut.PATH))
    print(f"wrote {target}")
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    from gateway.passwords import hash_password

    password = args.password if args.password is not None else sys.stdin.readline().rstrip("\n")
    if not password:
        print("gateway: an empty password is not allowed", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    from gateway.errors import FAULTS, faults_markdown

    if args.markdown:
        sys.stdout.write(faults_markdown())
    else:
        for code, info in FAULTS.items():
            print(f"{code:30} {info.side:8} {info.http_status}  {info.meaning}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


_COMMANDS = {
    "serve": cmd_serve,
    "db": cmd_db,
    "export-wsdl": cmd_export_wsdl,
    "hash-password": cmd_hash_password,
    "faults": cmd_faults,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

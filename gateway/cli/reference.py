"""Commands that set up or describe the gateway: migrations, WSDLs, password hashes, the fault and limit tables."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.limits import all_limits, limits_markdown, shown_value
from gateway.cli.common import settings_of


def cmd_db(args: argparse.Namespace) -> int:
    from gateway.store import migrate
    from gateway.store.engine import create_engine

    settings = settings_of(args)
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
    from gateway.soap import memo, noark, svarut, validation

    return {
        "noarkExchange.wsdl": (noark.PATH, noark.wsdl_document),
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
    from gateway.catalogue import all_faults, faults_markdown

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

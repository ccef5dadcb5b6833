"""Commands that set up or describe the gateway: migrations, WSDLs, password hashes, the fault and limit tables."""
from __future__ import annotations

import argparse
import json
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
    hashed = _hashed(args.password)
    if hashed is None:
        return 2
    print(hashed)
    return 0


def _hashed(password: str | None) -> str | None:
    """The password (from standard input when None) hashed, or None (said why) when empty."""
    from gateway.passwords import hash_password

    password = password if password is not None else sys.stdin.readline().rstrip("\n")
    if not password:
        print("gateway: an empty password is not allowed", file=sys.stderr)
        return None
    return hash_password(password)


def cmd_operator(args: argparse.Namespace) -> int:
    """``operator hash``: a password_hash; ``operator add``: a whole ``[[operators]]`` entry in TOML."""
    if args.operator_command == "hash":
        return cmd_hash_password(args)
    hashed = _hashed(args.password)
    if hashed is None:
        return 2
    print("[[operators]]")
    print(f"name = {json.dumps(args.name)}")
    print(f"role = {json.dumps(args.role)}")
    print(f"password_hash = {json.dumps(hashed)}")
    if args.senders:
        print(f"senders = {json.dumps(args.senders)}")
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

"""The ``gateway`` command: the parser here, the commands by concern in this package."""
from __future__ import annotations

import argparse
import sys

from gateway import __version__
from gateway.config import ConfigError
from gateway.cli import alerts
from gateway.cli.common import config_arg
from gateway.cli.operating import cmd_registry, cmd_schemas, cmd_shipment, cmd_validate
from gateway.cli.reference import cmd_db, cmd_export_wsdl, cmd_faults, cmd_hash_password, cmd_limits, cmd_operator
from gateway.cli.reporting import add_parsers as add_report_parsers, cmd_purge, cmd_report
from gateway.cli.running import cmd_serve, cmd_worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="Nordic digital mail gateway")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (the default of run_gateway.py)")
    config_arg(serve)
    # internal: a serving process started by the supervisor adopts its listening socket
    serve.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)

    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "apply all migrations"), ("current", "show the applied revision")):
        config_arg(db_sub.add_parser(name, help=text))

    export = sub.add_parser("export-wsdl", help="write the WSDLs the gateway serves to a folder")
    export.add_argument("--out", default="wsdl", help="folder (default: wsdl)")
    export.add_argument("--base-url", default="http://127.0.0.1:8080", help="address written into the WSDLs")

    hp = sub.add_parser("hash-password", help="print a password_hash for a [[senders]] entry")
    hp.add_argument("password", nargs="?", help="read from standard input when left out")

    operator = sub.add_parser("operator", help="console operators ([[operators]])")
    op_sub = operator.add_subparsers(dest="operator_command", required=True)
    op_hash = op_sub.add_parser("hash", help="print a password_hash for an [[operators]] entry")
    op_hash.add_argument("password", nargs="?", help="read from standard input when left out")
    op_add = op_sub.add_parser("add", help="print an [[operators]] entry to paste into the configuration")
    op_add.add_argument("name")
    op_add.add_argument("--role", choices=["admin", "viewer"], default="viewer")
    op_add.add_argument("--sender", action="append", default=[], dest="senders", help="limit to this sender's letters (repeatable)")
    op_add.add_argument("--password", help="read from standard input when left out")

    worker = sub.add_parser("worker", help="run dispatch workers in this process (no SOAP endpoints)")
    config_arg(worker)
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
        config_arg(p)

    shipment = sub.add_parser("shipment", help="operator actions on one letter")
    sh_sub = shipment.add_subparsers(dest="shipment_command", required=True)
    stop = sh_sub.add_parser("stop", help="stop a letter that has not gone to print (MANUELT_HANDTERT)")
    stop.add_argument("id")
    stop.add_argument("--reason", default="stoppet av operatør")
    config_arg(stop)
    show = sh_sub.add_parser("show", help="status, deliveries and history of a letter")
    show.add_argument("id")
    config_arg(show)

    validate = sub.add_parser("validate", help="validate XML files against a registered schema")
    validate.add_argument("--schema", required=True, help="a name from `gateway schemas list`")
    validate.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="files, or folders searched for *.xml")
    validate.add_argument("--json", action="store_true", help="one JSON document on stdout")
    config_arg(validate)

    schemas = sub.add_parser("schemas", help="the schema registry")
    sc_sub = schemas.add_subparsers(dest="schemas_command", required=True)
    add = sc_sub.add_parser("add", help="register a schema bundle (a folder or a .zip)")
    add.add_argument("name")
    add.add_argument("path")
    add.add_argument("--entry", help="the entry .xsd inside the bundle (default: bundle.toml or the only top-level .xsd)")
    config_arg(add)
    config_arg(sc_sub.add_parser("list", help="list registered schemas"))

    alerts.add_parser(sub)

    faults = sub.add_parser("faults", help="list the fault codes")
    faults.add_argument("--markdown", action="store_true", help="as the table in docs/faults.md")

    limits = sub.add_parser("limits", help="list the gateway's hard bounds (sizes, counts, depths, times)")
    limits.add_argument("--markdown", action="store_true", help="as the page docs/limits.md")

    add_report_parsers(sub)

    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2


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
    "operator": cmd_operator,
    "faults": cmd_faults,
    "limits": cmd_limits,
    "alerts": alerts.cmd_alerts,
    "report": cmd_report,
    "purge": cmd_purge,
}


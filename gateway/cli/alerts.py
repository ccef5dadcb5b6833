"""``gateway alerts test``: send one test mail through ``[alerts]`` now, to check the SMTP
server, STARTTLS, the login and the recipients before an alert depends on them."""
from __future__ import annotations

import argparse
import sys

from gateway.cli.common import config_arg, settings_of


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    alerts = sub.add_parser("alerts", help="e-mail alerts ([alerts])")
    al_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    test = al_sub.add_parser("test", help="send a test mail to the recipients of every alert kind (or of --kind)")
    test.add_argument("--kind", help="only the recipients of this alert kind")
    config_arg(test)


def cmd_alerts(args: argparse.Namespace) -> int:
    from gateway.channels.smtp import SmtpMailer
    from gateway.dispatch.alert_texts import LetterFacts, compose, words
    from gateway.model import utcnow
    from gateway.store.alert_mail import AlertRow

    a = settings_of(args).alerts
    if not a.enabled:
        print("gateway: [alerts] has no host: alerts are not mailed", file=sys.stderr)
        return 2
    lists = [a.recipients_for(args.kind)] if args.kind else [addresses for _kind, addresses in a.recipients]
    recipients = list(dict.fromkeys(address for addresses in lists for address in addresses))
    if not recipients:
        print(f"gateway: nobody receives {args.kind or 'any'} alerts", file=sys.stderr)
        return 2
    now = utcnow()
    test = AlertRow(id=0, at=now, kind="test", channel=None, shipment_id=None, detail=words("detail", "test", host=a.host))
    message = compose(kind="test", alerts=[test], recipients=recipients, settings=a, letters={}, now=now)
    [failure] = SmtpMailer(a).send_all([message])
    if failure is not None:
        print(f"gateway: the test mail did not go: {failure}", file=sys.stderr)
        return 1
    print(f"test mail sent to {', '.join(recipients)} through {a.host}:{a.port}")
    return 0

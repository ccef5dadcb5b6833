"""Sending the alert mails over SMTP (``[alerts]``): one connection per round, STARTTLS (or TLS
from the first byte) with the server's certificate checked, AUTH when a user is configured,
and a timeout on every socket operation.

A round answers per message whether it went: a connection, TLS or AUTH failure fails every
message of the round; a refusal of one message (a recipient the server will not take) fails
that one. The caller keeps what failed and tries again later; nothing here retries.
"""
from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from gateway.config.alerts import AlertSettings

logger = logging.getLogger(__name__)


class MailFailed(Exception):
    """A message did not go; ``str()`` says why (for the alert's ``mail_error``)."""


class SmtpMailer:
    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.settings.ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self._context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            smtp.ehlo()
            if s.starttls:
                if not smtp.has_extn("starttls"):
                    raise MailFailed(f"{s.host}:{s.port} does not offer STARTTLS (alerts.starttls is on)")
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.user:
                _login(smtp, s.user, s.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send_all(self, messages: Sequence[EmailMessage]) -> list[MailFailed | None]:
        """Send ``messages`` over one connection; answers, per message, None (sent) or why not."""
        if not messages:
            return []
        try:
            smtp = self._connect()
        except (OSError, ValueError, smtplib.SMTPException, MailFailed) as exc:
            failure = exc if isinstance(exc, MailFailed) else MailFailed(f"{self.settings.host}:{self.settings.port}: {_why(exc)}")
            return [failure] * len(messages)
        results: list[MailFailed | None] = []
        try:
            for message in messages:
                try:
                    refused = smtp.send_message(message)
                except (OSError, smtplib.SMTPException) as exc:
                    results.append(MailFailed(_why(exc)))
                    if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                        break  # the connection is gone: the rest fail too
                    continue
                if refused:  # the others took it: it went; the refused addresses are a configuration error
                    logger.warning("alert mail %s: recipients refused: %s", message["Message-ID"], refused)
                results.append(None)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        results += [MailFailed("the connection was lost before this message")] * (len(messages) - len(results))
        return results


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN with the credentials in UTF-8 (RFC 4616); smtplib's own ``login`` encodes them
    as ASCII and fails on a password with æøå. A server without PLAIN gets smtplib's choice."""
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        smtp.login(user, password)
        return
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, answer = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{type(exc).__name__} {exc.smtp_code}: {text}"
    return f"{type(exc).__name__}: {exc}"

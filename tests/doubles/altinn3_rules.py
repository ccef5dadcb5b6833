"""The refusals of Altinn 3 Correspondence, written from its source (github.com/Altinn/altinn-correspondence,
see ``SERVICE-RULES.md`` beside the OpenAPI file) for the test double, independent of the gateway's client.

Each check answers what the service answers: a problem details object (RFC 9457) with the
service's numbered ``errorCode`` (``Errors.cs``, ``ProblemDetailsHelper.ToProblemResult``), or for a
model-validation failure (``[PropertyList]``, ``[StringLength]``) ASP.NET's validation problem with
an ``errors`` dictionary.
"""
from __future__ import annotations

import re
import uuid
from typing import Any

from markdown_it import MarkdownIt

_STATUS = {400: ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "Bad Request"),
           401: ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
           403: ("https://tools.ietf.org/html/rfc9110#section-15.5.4", "Forbidden"),
           404: ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
           409: ("https://tools.ietf.org/html/rfc9110#section-15.5.10", "Conflict"),
           422: ("https://tools.ietf.org/html/rfc9110#section-15.5.21", "Unprocessable Entity")}

# (errorCode, message, HTTP status) as Errors.cs declares them
CORRESPONDENCE_NOT_FOUND = (1001, "The requested correspondence was not found", 404)
TITLE_NOT_PLAIN = (1002, "Message title must be plain text", 400)
BODY_NOT_MARKDOWN = (1003, "Message body must be markdown", 400)
FILES_DO_NOT_MATCH = (1005, "Mismatch between uploaded files and attachment metadata", 400)
TITLE_EMPTY = (1020, "Message title cannot be empty", 400)
BODY_EMPTY = (1021, "Message body cannot be empty", 400)
BODY_TOO_LONG = (1022, "Message body cannot exceed 30000 characters", 400)
INVALID_LANGUAGE = (1023, "Invalid language chosen. Supported languages is Norsk bokmål (nb), Nynorsk (nn) and English (en)", 400)
INVALID_IDEMPOTENCY_KEY = (1033, "The idempotency key must be a valid non-empty GUID", 400)
DUPLICATE = (1034, "A correspondence with the same idempotent key already exists", 409)
TITLE_TOO_LONG = (1037, "Message title cannot exceed 255 characters", 400)
SUMMARY_WRONG_LENGTH = (1042, "Message summary, if not null, must be between 0 and 255 characters long", 400)
HASH_MISMATCH = (2008, "Checksum mismatch", 400)
FILENAME_MISSING = (2010, "Filename is missing", 400)
FILENAME_TOO_LONG = (2011, "Filename is too long", 400)
FILENAME_INVALID = (2012, "Filename contains invalid characters", 400)
FILETYPE_NOT_ALLOWED = (2013, "Filetype not allowed", 400)
MISSING_PREFERRED = (3006, "Email body, subject and SMS body must be provided when sending preferred notifications", 400)
MISSING_PREFERRED_REMINDER = (3007, "Reminder email body, subject and SMS body must be provided when sending reminder preferred notifications", 400)
NO_ACCESS = (4001, "You must use an Altinn token, DialogToken or log in to IDPorten as someone with access to the resource and organization in Altinn Authorization", 401)

#: ApplicationConstants.AllowedFileTypes
ALLOWED_FILE_TYPES = frozenset(f".{e}" for e in "doc xls docx xlsx ppt pps zip pdf html txt xml jpg jpeg gif bmp png json csv dcm dicom".split())
#: Path.GetInvalidFileNameChars() on Windows: the printable ones and every control character
INVALID_FILENAME_CHARS = frozenset('<>:"/\\|?*') | frozenset(chr(c) for c in range(32))
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))})
#: The placeholders Altinn fills in notification texts (docs; CreateNotificationOrderHandler.cs)
PLACEHOLDERS = frozenset({"$sendersName$", "$correspondenceRecipientName$", "$recipientName$", "$recipientNumber$",
                          "$messageTitle$", "$resourceName$"})
#: CorrespondenceStatus, numeric order
STATUS_ORDER = ("Initialized", "ReadyForPublish", "Published", "Fetched", "Read", "Replied", "Confirmed", "PurgedByRecipient",
                "PurgedByAltinn", "Archived", "Reserved", "Failed", "AttachmentsDownloaded", "Forwarded")

_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])  # Markdig's advanced extensions, roughly


def problem(error: tuple[int, str, int]) -> tuple[int, dict[str, Any]]:
    code, message, status = error
    kind, title = _STATUS[status]
    return status, {"type": kind, "title": title, "status": status, "detail": message, "errorCode": code}


def validation_problem(errors: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
    kind, title = _STATUS[400]
    return 400, {"type": kind, "title": title, "status": 400, "errors": errors}


def is_plain_text(text: str) -> bool:
    """TextValidation.ValidatePlainText: the text rendered as markdown, then as plain text, is itself.
    Backticks are ignored, as the service ignores them."""
    text = text.replace("`", "")
    tokens = _MARKDOWN.parse(text)
    if [t.type for t in tokens] != ["paragraph_open", "inline", "paragraph_close"]:
        return not text.strip()
    children = tokens[1].children or []
    if any(child.type not in ("text", "softbreak") for child in children):
        return False
    rendered = "".join(child.content if child.type == "text" else "\n" for child in children)
    return rendered.strip() == text.strip()


def is_markdown_without_html(text: str) -> bool:
    """TextValidation.ValidateMarkdown refuses HTML in a markdown body."""
    def walk(tokens: list[Any]) -> bool:
        return any(t.type in ("html_block", "html_inline") or walk(t.children or []) for t in tokens)
    return not walk(_MARKDOWN.parse(text))


def model_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    """[PropertyList] and [StringLength] on the request model."""
    errors: dict[str, list[str]] = {}
    props = body.get("Correspondence.PropertyList") or {}
    if len(props) > 10:
        errors["Correspondence.PropertyList"] = ["propertyList can contain at most 10 properties"]
    for key, value in props.items():
        if len(key) > 50:
            errors["Correspondence.PropertyList"] = [f"propertyList Key can not be longer than 50. Length:{len(key)}, KeyValue:{key}"]
        elif len(value) > 300:
            errors["Correspondence.PropertyList"] = [f"propertyList Value can not be longer than 300. Length:{len(value)}, Value:{value}"]
    sender = body.get("Correspondence.MessageSender")
    if sender is not None and len(sender) > 255:
        errors["Correspondence.MessageSender"] = ["The field MessageSender must be a string with a maximum length of 255."]
    return errors


def content_error(body: dict[str, Any]) -> tuple[int, str, int] | None:
    """InitializeCorrespondenceHelper.ValidateCorrespondenceContent."""
    title = body.get("Correspondence.Content.MessageTitle") or ""
    text = body.get("Correspondence.Content.MessageBody") or ""
    summary = body.get("Correspondence.Content.MessageSummary")
    if not title.strip():
        return TITLE_EMPTY
    if not is_plain_text(title):
        return TITLE_NOT_PLAIN
    if len(title) > 255:
        return TITLE_TOO_LONG
    if not text.strip():
        return BODY_EMPTY
    if not is_markdown_without_html(text):
        return BODY_NOT_MARKDOWN
    if len(text) > 30_000:
        return BODY_TOO_LONG
    if summary is not None and len(summary) > 255:
        return SUMMARY_WRONG_LENGTH
    if str(body.get("Correspondence.Content.Language", "")).lower() not in ("nb", "nn", "en"):
        return INVALID_LANGUAGE
    return None


def notification_error(body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """ValidateNotificationContent; and, stricter than the service, an unknown ``$placeholder$``
    (Altinn would send it to the recipient unreplaced: the double makes that visible as a 400)."""
    n = lambda name: body.get(f"Correspondence.Notification.{name}")  # noqa: E731
    if n("NotificationTemplate") != "CustomMessage":
        return None
    if n("NotificationChannel") in ("EmailPreferred", "SmsPreferred") and not (n("EmailBody") and n("EmailSubject") and n("SmsBody")):
        return problem(MISSING_PREFERRED)
    reminder_channel = n("ReminderNotificationChannel") or n("NotificationChannel")
    if (n("SendReminder") is True and reminder_channel in ("EmailPreferred", "SmsPreferred")
            and not (n("ReminderEmailBody") and n("ReminderEmailSubject") and n("ReminderSmsBody"))):
        return problem(MISSING_PREFERRED_REMINDER)
    for name in ("EmailSubject", "EmailBody", "SmsBody", "ReminderEmailSubject", "ReminderEmailBody", "ReminderSmsBody"):
        unknown = [p for p in re.findall(r"\$[A-Za-z]\w*\$", n(name) or "") if p not in PLACEHOLDERS]
        if unknown:
            return validation_problem({f"Correspondence.Notification.{name}": [
                f"unknown placeholder {', '.join(unknown)}: Altinn would send it unreplaced (test double strictness)"]})
    return None


def attachment_name_error(name: str | None) -> tuple[int, str, int] | None:
    """AttachmentHelper.ValidateAttachmentName."""
    if not name or not name.strip():
        return FILENAME_MISSING
    if len(name) > 255:
        return FILENAME_TOO_LONG
    stem, dot, ext = name.rpartition(".")
    if not dot or f".{ext.lower()}" not in ALLOWED_FILE_TYPES:
        return FILETYPE_NOT_ALLOWED
    if any(ch in INVALID_FILENAME_CHARS for ch in name):
        return FILENAME_INVALID
    if name.split(".", 1)[0].upper() in WINDOWS_RESERVED:
        return FILENAME_INVALID
    return None


def is_guid(value: str) -> bool:
    try:
        return uuid.UUID(value) != uuid.UUID(int=0)
    except ValueError:
        return False

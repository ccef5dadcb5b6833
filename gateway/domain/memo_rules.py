"""MeMo (Danish Digital Post "Meddelelsesformat") rules that the XSD does not express.

Digital Post refuses messages that are schema-valid but break these rules, and after the
gateway has accepted a letter that refusal would come too late: so they are checked at intake,
on the *signed* tree (:attr:`gateway.xml.signatures.VerifiedMessage.root`). Versions 1.1 and
1.2 share one namespace (``memo_vocabulary.MEMO_NS``) and these rules (1.2 drops
``memoSchVersion`` and adds elements, no limits changed); there is no official 1.2 XSD.

Limits come from the official MeMo 1.1 XSD (``MeMo_dataTypes.xsd``, ``MeMo_core.xsd``);
``tests/unit/test_memo_rules.py`` reads those files and checks the constants here against them.

Fields are element paths by local name from the root, with a 1-based index on elements that
may repeat (``/Message/MessageBody/MainDocument/File[1]/filename``).
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from lxml import etree

from gateway.domain.filenames import FORBIDDEN_FILENAME_CHARS, LOOKALIKE_SPACES, is_control_character
from gateway.errors import FamilyError, FaultFamily
from gateway.memo_vocabulary import ADDITIONAL_CONTENT_DATA_MAX, MEMO_NS, NEMSMS, SUPPORTED_VERSIONS
from gateway.uuids import is_v4_uuid

#: ``dt:memoTextType`` maxLength (labels, additionalNotification, filename, ...).
TEXT_MAX = 256
#: ``dt:memoNotificationType`` maxLength (``MessageHeader/notification``).
NOTIFICATION_MAX = 150


#: Elements that may repeat, so their paths always carry an index.
_REPEATABLE = frozenset({
    "File", "Action", "AdditionalDocument", "TechnicalDocument", "ReplyData", "AdditionalReplyData",
    "AdditionalContentData", "ContactInfo",
})
_XML_SPACE = " \t\r\n"  # what XSD whitespace collapsing removes; not Unicode spaces
_UTC_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z")


class MemoRule(FaultFamily, side="Client", http_status=400):
    """The rules by stable code, each with what it means for a sender's operator."""

    NOT_A_MESSAGE = "MEMO_NOT_A_MESSAGE", f"The root element is not `Message` in namespace `{MEMO_NS}`."
    VERSION_UNSUPPORTED = "MEMO_VERSION_UNSUPPORTED", "`memoVersion` is missing or not exactly `1.1` or `1.2` (no spaces, no leading or trailing zeros)."
    FILENAME_INVALID_CHARACTERS = "MEMO_FILENAME_INVALID_CHARACTERS", "`File/filename` contains one of `< > : \" / \\ | ? *`, a line break or control character, or a Unicode space Digital Post refuses (U+00A0, U+2000–U+200B, U+202F, U+205F, U+3000, U+FEFF)."
    ACTION_URL_NOT_HTTPS = "MEMO_ACTION_URL_NOT_HTTPS", "`Action/EntryPoint/url` is not an absolute https URL."
    UUID_NOT_V4 = "MEMO_UUID_NOT_V4", "A `...UUID` element (messageUUID, replyUUID, reservationUUID) is not a version 4 UUID."
    DATETIME_NOT_UTC = "MEMO_DATETIME_NOT_UTC", "A `...DateTime` element is not a UTC date and time with a trailing `Z` (e.g. `2024-05-03T12:00:00Z`)."
    LABEL_TOO_LONG = "MEMO_LABEL_TOO_LONG", "A `label` is longer than 256 characters."
    NOTIFICATION_TOO_LONG = "MEMO_NOTIFICATION_TOO_LONG", "`notification` is longer than 150 characters or `additionalNotification` longer than 256."
    TOO_MANY_ADDITIONAL_CONTENT_DATA = "MEMO_TOO_MANY_ADDITIONAL_CONTENT_DATA", "More than 10 `AdditionalContentData` elements."
    NEMSMS_WITH_BODY = "MEMO_NEMSMS_WITH_BODY", "A message of `messageType` NEMSMS must not have a `MessageBody` (a NemSMS is its header's `notification`, sent as a text message)."
    NEMSMS_WITHOUT_NOTIFICATION = "MEMO_NEMSMS_WITHOUT_NOTIFICATION", "A message of `messageType` NEMSMS needs a non-empty `MessageHeader/notification`: it is the text of the SMS."


class MemoRuleError(FamilyError):
    """A MeMo rule refusal; ``details["code"]`` is the :class:`MemoRule`, ``field`` the element path."""

    def __init__(self, rule: MemoRule, message: str, *, field: str | None = None) -> None:
        super().__init__(rule, message, field=field)
        self.rule = rule


def check_memo(root: etree._Element) -> None:
    """Raise :class:`MemoRuleError` for the first rule ``root`` breaks (see :func:`memo_violations`)."""
    for error in memo_violations(root):
        raise error


def memo_violations(root: etree._Element) -> Iterator[MemoRuleError]:
    """Every violation: message-level rules (root, version, NEMSMS) first, then element rules in
    document order. All of them, so a report can list everything at once."""
    if root.tag != f"{{{MEMO_NS}}}Message":
        yield MemoRuleError(MemoRule.NOT_A_MESSAGE, f"the root is {root.tag}, not a MeMo Message", field="/")
        return
    version = root.get("memoVersion")
    if version not in SUPPORTED_VERSIONS:
        yield MemoRuleError(MemoRule.VERSION_UNSUPPORTED, _version_problem(version), field="/Message/@memoVersion")
    message_type = _all_text(root.find(f"{{{MEMO_NS}}}MessageHeader/{{{MEMO_NS}}}messageType")).strip(_XML_SPACE)
    body = root.find(f"{{{MEMO_NS}}}MessageBody")
    if message_type == NEMSMS:
        if body is not None:
            yield MemoRuleError(MemoRule.NEMSMS_WITH_BODY, "a NEMSMS message has no MessageBody", field=path_of(body))
        notification = root.find(f"{{{MEMO_NS}}}MessageHeader/{{{MEMO_NS}}}notification")
        if not _all_text(notification).strip(_XML_SPACE):
            yield MemoRuleError(MemoRule.NEMSMS_WITHOUT_NOTIFICATION, "a NEMSMS message needs a notification: the text of the SMS",
                                field="/Message/MessageHeader/notification")
    additional_content = 0
    for element in root.iter(etree.Element):
        tag = element.tag
        if tag == _ADDITIONAL_CONTENT_DATA:
            additional_content += 1
            if additional_content == ADDITIONAL_CONTENT_DATA_MAX + 1:
                yield MemoRuleError(MemoRule.TOO_MANY_ADDITIONAL_CONTENT_DATA,
                                    f"at most {ADDITIONAL_CONTENT_DATA_MAX} AdditionalContentData elements", field=path_of(element))
        check = _check_for(tag)
        if check is not None:
            error = check(element)
            if error is not None:
                yield error


Check = Callable[[etree._Element], "MemoRuleError | None"]
_ADDITIONAL_CONTENT_DATA = f"{{{MEMO_NS}}}AdditionalContentData"


@functools.lru_cache(maxsize=1024)
def _check_for(tag: str) -> Check | None:
    """The rule for elements named ``tag`` (Clark notation), decided once per name: most
    elements have none, and a message has a few hundred of them."""
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if local == "label":  # memo:, grd:, kle: and form:label are all dt:memoTextType
        return functools.partial(_length, limit=TEXT_MAX, rule=MemoRule.LABEL_TOO_LONG)
    if namespace != MEMO_NS:
        return None
    if local == "notification":
        return functools.partial(_length, limit=NOTIFICATION_MAX, rule=MemoRule.NOTIFICATION_TOO_LONG)
    if local == "additionalNotification":
        return functools.partial(_length, limit=TEXT_MAX, rule=MemoRule.NOTIFICATION_TOO_LONG)
    if local == "filename":
        return _filename
    if local == "url":
        return _https
    if local.endswith("UUID"):
        return _uuid
    if local.endswith("DateTime"):
        return _utc
    return None


def _uuid(element: etree._Element) -> MemoRuleError | None:
    value = _all_text(element).strip(_XML_SPACE)
    if is_v4_uuid(value):  # dt:memoUuidType
        return None
    return MemoRuleError(MemoRule.UUID_NOT_V4, f"{value!r} is not a version 4 UUID", field=path_of(element))


def _utc(element: etree._Element) -> MemoRuleError | None:
    value = _all_text(element).strip(_XML_SPACE)
    if _is_utc_datetime(value):
        return None
    return MemoRuleError(MemoRule.DATETIME_NOT_UTC, f"{value!r} is not a UTC dateTime ending in Z (YYYY-MM-DDThh:mm:ssZ)",
                         field=path_of(element))


def _length(element: etree._Element, *, limit: int, rule: MemoRule) -> MemoRuleError | None:
    length = len(_all_text(element))
    if length <= limit:
        return None
    return MemoRuleError(rule, f"{length} characters; at most {limit}", field=path_of(element))


def _filename(element: etree._Element) -> MemoRuleError | None:
    if not _parent_is(element, "File"):
        return None
    for char in _all_text(element):
        # the characters every intake refuses (gateway.domain.filenames), and the look-alike spaces
        if char in FORBIDDEN_FILENAME_CHARS or char in LOOKALIKE_SPACES or is_control_character(char):
            return MemoRuleError(MemoRule.FILENAME_INVALID_CHARACTERS,
                                 f"the file name contains U+{ord(char):04X} ({char!r}), which Digital Post refuses",
                                 field=path_of(element))
    return None


def _https(element: etree._Element) -> MemoRuleError | None:
    if not _parent_is(element, "EntryPoint"):
        return None
    value = _all_text(element).strip(_XML_SPACE)  # xs:anyURI collapses surrounding XML whitespace
    parts = urlsplit(value) if value.isprintable() and " " not in value else None
    if parts is not None and parts.scheme.lower() == "https" and parts.hostname:
        return None
    return MemoRuleError(MemoRule.ACTION_URL_NOT_HTTPS, f"{value!r} is not an absolute https URL", field=path_of(element))


def _is_utc_datetime(value: str) -> bool:
    match = _UTC_DATETIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except ValueError:
        return False
    return True


def _parent_is(element: etree._Element, local: str) -> bool:
    parent = element.getparent()
    return parent is not None and parent.tag == f"{{{MEMO_NS}}}{local}"


def _all_text(element: etree._Element | None) -> str:
    """All the text in ``element``, as the schema sees it (unstripped); "" for none."""
    if element is None:
        return ""
    if not len(element):  # no children (comments and PIs count): the text is all of it
        return element.text or ""
    return "".join(element.itertext())


def _version_problem(version: str | None) -> str:
    supported = " or ".join(repr(v) for v in SUPPORTED_VERSIONS)
    if version is None:
        return f"memoVersion is missing; it must be {supported}"
    shown = repr(version[:20] + "…" if len(version) > 20 else version)
    try:  # only to say what was meant; a long value is not worth reading as a number
        number = Decimal(version.strip(_XML_SPACE)) if len(version) <= 40 else None
    except InvalidOperation:
        number = None
    same_number = [v for v in SUPPORTED_VERSIONS if number is not None and number == Decimal(v)]
    if same_number:
        return f"memoVersion {shown} must be written exactly {same_number[0]!r} (no spaces, no leading or trailing zeros)"
    return f"memoVersion {shown} is not supported; it must be {supported}"


def path_of(element: etree._Element) -> str:
    """``/Message/MessageBody/MainDocument/File[1]/filename``: local names, indexed where repeatable."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        local = etree.QName(node).localname
        parent = node.getparent()
        same = [sibling for sibling in parent.iterchildren(node.tag)] if parent is not None else [node]
        if local in _REPEATABLE or len(same) > 1:
            local = f"{local}[{same.index(node) + 1}]"
        steps.append(local)
        node = parent
    return "/" + "/".join(reversed(steps))


__all__ = [
    "MemoRule", "MemoRuleError", "NOTIFICATION_MAX", "TEXT_MAX", "check_memo", "memo_violations",
    "path_of",
]

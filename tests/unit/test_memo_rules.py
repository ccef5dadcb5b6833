"""MeMo rules beyond the XSD: each rule, its stable code and the element path it names."""
from __future__ import annotations

import pytest
from lxml import etree

from gateway.domain.memo_rules import (
    NOTIFICATION_MAX,
    TEXT_MAX,
    MemoRule,
    MemoRuleError,
    check_memo,
    memo_violations,
    path_of,
)
from gateway.domain.filenames import FORBIDDEN_FILENAME_CHARS, LOOKALIKE_SPACES
from gateway.errors import FAULTS, FaultCode, FaultInfo, GatewayError
from gateway.memo_vocabulary import ADDITIONAL_CONTENT_DATA_MAX, MEMO_NS
from gateway.uuids import V4_PATTERN
from gateway.xml.parser import parse_untrusted
from tests.conftest import SPECS, require_spec

M = f"{{{MEMO_NS}}}"
XS = "{http://www.w3.org/2001/XMLSchema}"
XSD = SPECS / "memo" / "xsd-1.1"
EXAMPLES = SPECS / "memo" / "examples"

# A small message of our own (not an official example) with two files and an action.
MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<memo:Message xmlns:memo="https://DigitalPost.dk/MeMo-1" xmlns:kle="http://kle-online.dk/" memoVersion="1.2">
  <memo:MessageHeader>
    <memo:messageType>DIGITALPOST</memo:messageType>
    <memo:messageUUID>3f2b6c1e-8d4a-4e5f-9a7b-1c2d3e4f5a6b</memo:messageUUID>
    <memo:label>Afgørelse om byggetilladelse</memo:label>
    <memo:notification>Du har fået post om din byggesag.</memo:notification>
    <memo:additionalNotification>Se afgørelsen i Digital Post.</memo:additionalNotification>
    <memo:Sender><memo:senderID>29189846</memo:senderID><memo:idType>CVR</memo:idType><memo:label>Byggesager</memo:label></memo:Sender>
    <memo:Recipient><memo:recipientID>0101701234</memo:recipientID><memo:idType>CPR</memo:idType></memo:Recipient>
    <memo:ContentData>
      <kle:KLEdata><kle:subjectKey>02.34.02</kle:subjectKey><kle:version>2024</kle:version><kle:label>Byggetilladelse</kle:label></kle:KLEdata>
      <memo:AdditionalContentData><memo:contentDataName>Sag</memo:contentDataName><memo:contentDataValue>B-17</memo:contentDataValue></memo:AdditionalContentData>
    </memo:ContentData>
    <memo:ReplyData><memo:messageUUID>a6d4e1f0-2b3c-4d5e-8f70-0a1b2c3d4e5f</memo:messageUUID></memo:ReplyData>
  </memo:MessageHeader>
  <memo:MessageBody>
    <memo:createdDateTime>2024-11-02T08:30:00Z</memo:createdDateTime>
    <memo:MainDocument>
      <memo:File><memo:encodingFormat>application/pdf</memo:encodingFormat><memo:filename>Afgørelse.pdf</memo:filename><memo:language>da</memo:language><memo:content>JVBERi0=</memo:content></memo:File>
      <memo:File><memo:encodingFormat>application/pdf</memo:encodingFormat><memo:filename>Bilag 1 – tegninger (rev. 2).pdf</memo:filename><memo:language>da</memo:language><memo:content>JVBERi0=</memo:content></memo:File>
      <memo:Action>
        <memo:label>Se sagen</memo:label><memo:actionCode>INFORMATION</memo:actionCode>
        <memo:startDateTime>2024-11-02T08:30:00.250Z</memo:startDateTime>
        <memo:EntryPoint><memo:url>https://byggesag.example.dk/sag/B-17?vis=alt</memo:url></memo:EntryPoint>
      </memo:Action>
      <memo:Action>
        <memo:label>Møde</memo:label><memo:actionCode>AFTALE</memo:actionCode>
        <memo:Reservation>
          <memo:description>Besigtigelse</memo:description><memo:reservationUUID>c0ffee00-1234-4abc-bdef-0123456789ab</memo:reservationUUID>
          <memo:abstract>Besigtigelse</memo:abstract><memo:location>Rådhuset</memo:location>
          <memo:startDateTime>2024-11-20T09:00:00Z</memo:startDateTime><memo:endDateTime>2024-11-20T10:00:00Z</memo:endDateTime>
        </memo:Reservation>
      </memo:Action>
    </memo:MainDocument>
  </memo:MessageBody>
</memo:Message>
"""

FIRST_FILENAME = "/Message/MessageBody/MainDocument/File[1]/filename"


def message() -> etree._Element:
    return parse_untrusted(MESSAGE.encode())


def find(root: etree._Element, path: str) -> etree._Element:
    element = root.find(path.replace("memo:", M).replace("kle:", "{http://kle-online.dk/}"))
    assert element is not None, path
    return element


def refusal(root: etree._Element) -> MemoRuleError:
    with pytest.raises(MemoRuleError) as caught:
        check_memo(root)
    return caught.value


def with_text(path: str, text: str) -> etree._Element:
    root = message()
    find(root, path).text = text
    return root


def test_own_message_passes():
    check_memo(message())
    assert list(memo_violations(message())) == []


def test_error_shape():
    error = refusal(with_text("memo:MessageBody/memo:MainDocument/memo:File/memo:filename", "a:b.pdf"))
    assert isinstance(error, GatewayError)
    assert error.code == error.rule and error.info.http_status == 400
    assert error.details == {"code": "MEMO_FILENAME_INVALID_CHARACTERS"}
    assert error.rule is MemoRule.FILENAME_INVALID_CHARACTERS
    assert error.field == FIRST_FILENAME
    assert "U+003A" in error.message


def test_every_rule_has_a_meaning_and_a_prefixed_code():
    assert all(FAULTS[rule] == FaultInfo("Client", 400, rule.meaning) and rule.meaning for rule in MemoRule)
    assert all(rule.value.startswith("MEMO_") for rule in MemoRule)
    assert not {rule.value for rule in MemoRule} & {code.value for code in FaultCode}


# ---------------------------------------------------------------- file names

BAD_FILENAME_CHARS = sorted(FORBIDDEN_FILENAME_CHARS | LOOKALIKE_SPACES) + ["\n", "\r", "\t", "\x7f", "\x9f", "\u0085", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", BAD_FILENAME_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_filename_characters(char):
    error = refusal(with_text("memo:MessageBody/memo:MainDocument/memo:File/memo:filename", f"Afgørelse{char}1.pdf"))
    assert error.rule is MemoRule.FILENAME_INVALID_CHARACTERS
    assert error.field == FIRST_FILENAME


def test_forbidden_spaces_are_the_documented_list():
    expected = {0x00A0, *range(0x2000, 0x200C), 0x202F, 0x205F, 0x3000, 0xFEFF}
    assert {ord(c) for c in LOOKALIKE_SPACES} == expected
    assert FORBIDDEN_FILENAME_CHARS == set('<>:"/\\|?*')


@pytest.mark.parametrize("name", ["Afgørelse.pdf", "Bilag 1 – tegninger (rev. 2).pdf", "ÆØÅ æøå.docx", "a.b.c", "x" * 200])
def test_good_filenames(name):
    check_memo(with_text("memo:MessageBody/memo:MainDocument/memo:File/memo:filename", name))


def test_second_file_is_indexed():
    root = message()
    root.findall(f"{M}MessageBody/{M}MainDocument/{M}File")[1].find(f"{M}filename").text = "tegning?.pdf"
    assert refusal(root).field == "/Message/MessageBody/MainDocument/File[2]/filename"


def test_filename_outside_file_is_not_a_file_name():
    root = message()
    find(root, "memo:MessageHeader/memo:ContentData/memo:AdditionalContentData/memo:contentDataName").text = "a:b"
    check_memo(root)


# ---------------------------------------------------------------- action URLs

URL = "memo:MessageBody/memo:MainDocument/memo:Action/memo:EntryPoint/memo:url"


@pytest.mark.parametrize("url", [
    "http://byggesag.example.dk/sag", "ftp://example.dk/a", "javascript:alert(1)", "https:///sti", "//example.dk/a",
    "byggesag.example.dk", "", "https://by gge.example.dk/", "https://example.dk/a\u2028b", "\u00a0https://example.dk/",
])
def test_entry_point_urls_must_be_https(url):
    error = refusal(with_text(URL, url))
    assert error.rule is MemoRule.ACTION_URL_NOT_HTTPS
    assert error.field == "/Message/MessageBody/MainDocument/Action[1]/EntryPoint/url"


@pytest.mark.parametrize("url", ["https://example.dk", "HTTPS://EXAMPLE.DK/A", "  https://example.dk/sti  ", "https://example.dk/spørgeskema.html"])
def test_https_urls_pass(url):
    check_memo(with_text(URL, url))


# ---------------------------------------------------------------- UUIDs and dateTimes


@pytest.mark.parametrize("value", [
    "c232ab00-9414-11ec-b3c8-9f6bdeced846",  # version 1
    "00000000-0000-0000-0000-000000000000",
    "3f2b6c1e-8d4a-4e5f-7a7b-1c2d3e4f5a6b",  # wrong variant
    "3f2b6c1e8d4a4e5f9a7b1c2d3e4f5a6b",
    "{3f2b6c1e-8d4a-4e5f-9a7b-1c2d3e4f5a6b}",
    "urn:uuid:3f2b6c1e-8d4a-4e5f-9a7b-1c2d3e4f5a6b",
    "",
])
def test_message_uuid_must_be_v4(value):
    error = refusal(with_text("memo:MessageHeader/memo:messageUUID", value))
    assert error.rule is MemoRule.UUID_NOT_V4
    assert error.field == "/Message/MessageHeader/messageUUID"


@pytest.mark.parametrize("path, field", [
    ("memo:MessageHeader/memo:ReplyData/memo:messageUUID", "/Message/MessageHeader/ReplyData[1]/messageUUID"),
    ("memo:MessageBody/memo:MainDocument/memo:Action[2]/memo:Reservation/memo:reservationUUID",
     "/Message/MessageBody/MainDocument/Action[2]/Reservation/reservationUUID"),
])
def test_other_uuids_must_be_v4(path, field):
    error = refusal(with_text(path, "c232ab00-9414-11ec-b3c8-9f6bdeced846"))
    assert (error.rule, error.field) == (MemoRule.UUID_NOT_V4, field)


@pytest.mark.parametrize("value", ["3F2B6C1E-8D4A-4E5F-AA7B-1C2D3E4F5A6B", " 3f2b6c1e-8d4a-4e5f-bA7b-1c2d3e4f5a6b "])
def test_v4_uuids_in_any_case_pass(value):
    check_memo(with_text("memo:MessageHeader/memo:messageUUID", value))


@pytest.mark.parametrize("value", [
    "2024-11-02T08:30:00+00:00", "2024-11-02T09:30:00+01:00", "2024-11-02T08:30:00", "2024-11-02T08:30:00z",
    "2024-11-02 08:30:00Z", "2024-02-30T08:30:00Z", "2024-11-02T24:00:00Z", "2024-11-02", "", "2024-11-02T08:30Z",
])
def test_datetimes_must_be_utc_with_z(value):
    error = refusal(with_text("memo:MessageBody/memo:createdDateTime", value))
    assert (error.rule, error.field) == (MemoRule.DATETIME_NOT_UTC, "/Message/MessageBody/createdDateTime")


def test_every_datetime_is_checked():
    path = "memo:MessageBody/memo:MainDocument/memo:Action[2]/memo:Reservation/memo:endDateTime"
    error = refusal(with_text(path, "2024-11-20T10:00:00+01:00"))
    assert error.field == "/Message/MessageBody/MainDocument/Action[2]/Reservation/endDateTime"


@pytest.mark.parametrize("value", ["2024-11-02T08:30:00Z", "2024-11-02T08:30:00.123456789Z", "2024-02-29T23:59:59Z"])
def test_utc_datetimes_pass(value):
    check_memo(with_text("memo:MessageBody/memo:createdDateTime", value))


# ---------------------------------------------------------------- lengths and counts


@pytest.mark.parametrize("path, field", [
    ("memo:MessageHeader/memo:label", "/Message/MessageHeader/label"),
    ("memo:MessageHeader/memo:Sender/memo:label", "/Message/MessageHeader/Sender/label"),
    ("memo:MessageHeader/memo:ContentData/kle:KLEdata/kle:label", "/Message/MessageHeader/ContentData/KLEdata/label"),
    ("memo:MessageBody/memo:MainDocument/memo:Action[1]/memo:label", "/Message/MessageBody/MainDocument/Action[1]/label"),
])
def test_labels_at_most_256_characters(path, field):
    check_memo(with_text(path, "ø" * TEXT_MAX))  # characters, not bytes
    error = refusal(with_text(path, "ø" * (TEXT_MAX + 1)))
    assert (error.rule, error.field) == (MemoRule.LABEL_TOO_LONG, field)


def test_notification_at_most_150_and_additional_notification_256():
    check_memo(with_text("memo:MessageHeader/memo:notification", "n" * NOTIFICATION_MAX))
    error = refusal(with_text("memo:MessageHeader/memo:notification", "n" * (NOTIFICATION_MAX + 1)))
    assert (error.rule, error.field) == (MemoRule.NOTIFICATION_TOO_LONG, "/Message/MessageHeader/notification")
    check_memo(with_text("memo:MessageHeader/memo:additionalNotification", "n" * TEXT_MAX))
    error = refusal(with_text("memo:MessageHeader/memo:additionalNotification", "n" * (TEXT_MAX + 1)))
    assert (error.rule, error.field) == (MemoRule.NOTIFICATION_TOO_LONG, "/Message/MessageHeader/additionalNotification")


def _with_additional_content(total: int) -> etree._Element:
    root = message()
    content = find(root, "memo:MessageHeader/memo:ContentData")
    template = content.find(f"{M}AdditionalContentData")
    for _ in range(total - 1):
        content.append(etree.fromstring(etree.tostring(template)))
    return root


def test_at_most_ten_additional_content_data():
    check_memo(_with_additional_content(ADDITIONAL_CONTENT_DATA_MAX))
    error = refusal(_with_additional_content(ADDITIONAL_CONTENT_DATA_MAX + 1))
    assert error.rule is MemoRule.TOO_MANY_ADDITIONAL_CONTENT_DATA
    assert error.field == "/Message/MessageHeader/ContentData/AdditionalContentData[11]"


# ---------------------------------------------------------------- message level


def test_nemsms_has_no_body():
    error = refusal(with_text("memo:MessageHeader/memo:messageType", "NEMSMS"))
    assert (error.rule, error.field) == (MemoRule.NEMSMS_WITH_BODY, "/Message/MessageBody")
    root = with_text("memo:MessageHeader/memo:messageType", "NEMSMS")
    root.remove(root.find(f"{M}MessageBody"))
    check_memo(root)


@pytest.mark.parametrize("text", [None, "", "  ", "\n\t"])
def test_nemsms_needs_its_text(text):
    """The notification is the SMS; a NemSMS without it would be accepted and send nothing."""
    root = with_text("memo:MessageHeader/memo:messageType", "NEMSMS")
    root.remove(root.find(f"{M}MessageBody"))
    notification = root.find(f"{M}MessageHeader/{M}notification")
    if text is None:
        notification.getparent().remove(notification)
    else:
        notification.text = text
    error = refusal(root)
    assert (error.rule, error.field) == (MemoRule.NEMSMS_WITHOUT_NOTIFICATION, "/Message/MessageHeader/notification")


def test_a_letter_needs_no_notification():
    root = message()
    notification = root.find(f"{M}MessageHeader/{M}notification")
    notification.getparent().remove(notification)
    check_memo(root)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_supported_versions(version):
    root = message()
    root.set("memoVersion", version)
    check_memo(root)


@pytest.mark.parametrize("version", ["1.0", "2.0", "1.3", "", "en", None, "NaN", "1.1.0", "1.2.0", "1,1", "v1.1", "1.1" * 100])
def test_unsupported_versions(version):
    root = message()
    if version is None:
        del root.attrib["memoVersion"]
    else:
        root.set("memoVersion", version)
    error = refusal(root)
    assert (error.rule, error.field) == (MemoRule.VERSION_UNSUPPORTED, "/Message/@memoVersion")
    assert len(error.message) < 120


@pytest.mark.parametrize("version, meant", [("1.10", "1.1"), ("01.1", "1.1"), (" 1.1", "1.1"), ("1.1 ", "1.1"), ("\t1.2\n", "1.2"),
                                            ("1.20", "1.2"), ("+1.2", "1.2"), ("1.100", "1.1"), ("001.2000", "1.2")])
def test_other_spellings_of_a_supported_version_are_refused(version, meant):
    """``xs:decimal`` reads these as 1.1 or 1.2; they used to pass this rule and then found no
    schema (HTTP 500, no audit). Only the exact text picks a schema."""
    root = message()
    root.set("memoVersion", version)
    error = refusal(root)
    assert (error.rule, error.field) == (MemoRule.VERSION_UNSUPPORTED, "/Message/@memoVersion")
    assert f"exactly {meant!r}" in error.message


@pytest.mark.parametrize("doc", [b"<Message/>", b'<m:Message xmlns:m="https://DigitalPost.dk/MeMo-2" memoVersion="1.2"/>',
                                 b'<m:Besked xmlns:m="https://DigitalPost.dk/MeMo-1" memoVersion="1.2"/>'])
def test_root_must_be_a_memo_message(doc):
    assert refusal(parse_untrusted(doc)).rule is MemoRule.NOT_A_MESSAGE


def test_all_violations_are_listed_in_document_order():
    root = with_text("memo:MessageHeader/memo:messageUUID", "nope")
    find(root, "memo:MessageBody/memo:createdDateTime").text = "2024-11-02T08:30:00"
    find(root, URL).text = "http://example.dk"
    assert [e.rule for e in memo_violations(root)] == [MemoRule.UUID_NOT_V4, MemoRule.DATETIME_NOT_UTC, MemoRule.ACTION_URL_NOT_HTTPS]
    assert refusal(root).rule is MemoRule.UUID_NOT_V4


def test_path_of():
    root = message()
    assert path_of(root) == "/Message"
    assert path_of(find(root, "memo:MessageBody/memo:MainDocument/memo:Action[2]/memo:label")) == "/Message/MessageBody/MainDocument/Action[2]/label"


# ---------------------------------------------------------------- the official files


@pytest.mark.parametrize("name", ["MeMo_v1.1_Minimum_Example.xml", "MeMo_v1.2_Minimum_Example.xml", "MeMo_v1.2_Full_Example.xml"])
def test_official_examples_pass(name):
    check_memo(parse_untrusted(require_spec(EXAMPLES / name).read_bytes()))


def test_official_v11_full_example_has_http_links():
    """The 1.1 full example predates the https rule (the 1.2 example uses https)."""
    root = parse_untrusted(require_spec(EXAMPLES / "MeMo_v1.1_Full_Example.xml").read_bytes())
    errors = list(memo_violations(root))
    assert [e.rule for e in errors] == [MemoRule.ACTION_URL_NOT_HTTPS] * 3
    assert errors[0].field == "/Message/MessageBody/MainDocument/Action[1]/EntryPoint/url"
    assert errors[2].field == "/Message/MessageBody/AdditionalDocument[2]/Action[1]/EntryPoint/url"


def _xsd(name: str) -> etree._Element:
    return etree.parse(str(require_spec(XSD / name))).getroot()


def _restriction(schema: etree._Element, type_name: str, facet: str) -> str:
    simple = schema.find(f"{XS}simpleType[@name='{type_name}']")
    assert simple is not None, type_name
    return simple.find(f"{XS}restriction/{XS}{facet}").get("value")


def test_limits_match_the_official_xsd():
    types = _xsd("MeMo_dataTypes.xsd")
    assert int(_restriction(types, "memoTextType", "maxLength")) == TEXT_MAX
    assert int(_restriction(types, "memoNotificationType", "maxLength")) == NOTIFICATION_MAX
    assert _restriction(types, "memoUuidType", "pattern") == V4_PATTERN
    assert _restriction(types, "memoDateTimeType", "pattern") == ".+Z"
    core = _xsd("MeMo_core.xsd")
    content = core.find(f"{XS}element[@name='ContentData']")
    additional = content.find(f".//{XS}element[@ref='AdditionalContentData']")
    assert int(additional.get("maxOccurs")) == ADDITIONAL_CONTENT_DATA_MAX
    header = core.find(f"{XS}element[@name='MessageHeader']")
    assert header.find(f".//{XS}element[@name='notification']").get("type") == "dt:memoNotificationType"
    assert header.find(f".//{XS}element[@name='additionalNotification']").get("type") == "dt:memoTextType"


def test_name_based_rules_cover_exactly_the_xsd_types():
    """The rules find UUIDs, dateTimes and labels by element name; the XSD must agree."""
    typed: dict[str, set[str]] = {}
    for name in ("MeMo_core.xsd", "MeMo_grd.xsd", "MeMo_kle.xsd", "MeMo_form.xsd"):
        for element in _xsd(name).iter(f"{XS}element"):
            if element.get("name") and element.get("type"):
                typed.setdefault(element.get("type").split(":")[-1], set()).add(element.get("name"))
    names = {n for ns in typed.values() for n in ns}
    assert typed["memoUuidType"] == {n for n in names if n.endswith("UUID")}
    assert typed["memoDateTimeType"] == {n for n in names if n.endswith("DateTime")}
    assert "label" in typed["memoTextType"]
    assert all("label" not in members for type_name, members in typed.items() if type_name != "memoTextType")

"""The Altinn 3 double refuses what Altinn refuses (SERVICE-RULES.md), with the service's error codes.

Requests here are written by hand, not by the gateway's channel: each test starts from one
valid correspondence and breaks one rule, so the double cannot silently accept anything.
"""
from __future__ import annotations

import hashlib
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from gateway.channels.maskinporten import MaskinportenClient, TokenProvider
from tests.conftest import make_pdf
from tests.doubles.altinn3 import LIST, UPLOAD, Altinn3Double
from tests.integration.test_altinn3 import CLIENT_ID, altinn, provider, rsa_pem  # noqa: F401  (altinn: the fixture)

PDF = make_pdf("Vedtak")


@pytest.fixture
def token(altinn, client_key) -> str:
    return provider(altinn, client_key).token()


def headers(altinn, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": altinn.subscription_key}


def valid(**changes: str | None) -> tuple[dict[str, str], list]:
    """One correspondence Altinn accepts; ``changes`` replace (None: remove) form fields."""
    fields = {
        "Correspondence.ResourceId": "kommune-brev",
        "Correspondence.SendersReference": "ref-1",
        "Correspondence.Content.Language": "nb",
        "Correspondence.Content.MessageTitle": "Vedtak om byggetillatelse",
        "Correspondence.Content.MessageSummary": "Vedtak om byggetillatelse",
        "Correspondence.Content.MessageBody": "Du har fått et vedtak. [Se saken](https://kommune.no/sak/1)",
        "Correspondence.Notification.NotificationTemplate": "GenericAltinnMessage",
        "Recipients": "urn:altinn:person:identifier-no:15076500565",
        "IdempotentKey": str(uuid.uuid4()),
        "Correspondence.Content.Attachments[0].FileName": "Vedtak.pdf",
        "Correspondence.Content.Attachments[0].DisplayName": "Vedtak",
        "Correspondence.Content.Attachments[0].SendersReference": "doc-1",
        "Correspondence.Content.Attachments[0].Checksum": hashlib.md5(PDF).hexdigest(),
        "Correspondence.Content.Attachments[0].DataLocationType": "NewCorrespondenceAttachment",
        "Correspondence.Content.Attachments[0].IsEncrypted": "false",
    }
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    file_name = fields.get("Correspondence.Content.Attachments[0].FileName", "Vedtak.pdf")
    return fields, [("attachments", (file_name, PDF, "application/pdf"))]


def upload(altinn, token, fields, files, *, extra: list[tuple[str, str]] = ()) -> requests.Response:
    return requests.post(altinn.url + UPLOAD, data=list(fields.items()) + list(extra), files=files,
                         headers=headers(altinn, token), timeout=5)


def test_the_valid_request_is_accepted(altinn, token):
    r = upload(altinn, token, *valid())
    assert r.status_code == 200, r.text
    assert r.json()["correspondences"][0]["status"] == "Published"


# --- access ---

def test_without_the_subscription_key_apim_denies(altinn, token):
    fields, files = valid()
    r = requests.post(altinn.url + UPLOAD, data=fields, files=files, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 401 and "subscription key" in r.json()["message"]
    r = requests.get(f"{altinn.url}{LIST}/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}",
                     "Ocp-Apim-Subscription-Key": "wrong"}, timeout=5)
    assert r.status_code == 401 and "subscription key" in r.json()["message"]


def test_without_a_token_4001(altinn):
    fields, files = valid()
    r = requests.post(altinn.url + UPLOAD, data=fields, files=files,
                      headers={"Ocp-Apim-Subscription-Key": altinn.subscription_key}, timeout=5)
    assert r.status_code == 401 and r.json()["errorCode"] == 4001


def test_scopes(client_key):
    public = client_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with Altinn3Double(public_key_pem=public, client_id=CLIENT_ID, scope="altinn:serviceowner") as double:
        client = MaskinportenClient(token_url=double.url + "/token", audience=double.audience, client_id=CLIENT_ID,
                                    scope="altinn:serviceowner", key_id="kid-1",
                                    exchange_url=double.url + "/authentication/api/v1/exchange/maskinporten")
        token = TokenProvider(client, private_key_pem=rsa_pem(client_key)).token()
        assert upload(double, token, *valid()).status_code == 403  # exchanged, but without correspondence.write
    with Altinn3Double(public_key_pem=public, client_id=CLIENT_ID) as double:
        raw = provider(double, client_key, exchange=False).token()  # a raw Maskinporten token: needs serviceowner too
        assert upload(double, raw, *valid()).status_code == 403
    with Altinn3Double(public_key_pem=public, client_id=CLIENT_ID, scope="altinn:serviceowner altinn:correspondence.write") as double:
        client = MaskinportenClient(token_url=double.url + "/token", audience=double.audience, client_id=CLIENT_ID,
                                    scope="altinn:serviceowner altinn:correspondence.write", key_id="kid-1", exchange_url="")
        raw = TokenProvider(client, private_key_pem=rsa_pem(client_key)).token()
        assert upload(double, raw, *valid()).status_code == 200


# --- the model: property list, sender ---

@pytest.mark.parametrize("extra, message", [
    ([(f"Correspondence.PropertyList[k{i}]", "v") for i in range(11)], "at most 10 properties"),
    ([("Correspondence.PropertyList[" + "k" * 51 + "]", "v")], "Key can not be longer than 50"),
    ([("Correspondence.PropertyList[k]", "v" * 301)], "Value can not be longer than 300"),
    ([("Correspondence.MessageSender", "S" * 256)], "maximum length of 255"),
], ids=["11-properties", "key-51", "value-301", "sender-256"])
def test_model_validation(altinn, token, extra, message):
    r = upload(altinn, token, *valid(), extra=extra)
    assert r.status_code == 400
    assert message in str(r.json()["errors"])


def test_ten_properties_at_their_limits_are_accepted(altinn, token):
    extra = [(f"Correspondence.PropertyList[{str(i) * 50}]", "v" * 300) for i in range(10)]
    assert upload(altinn, token, *valid(), extra=extra + [("Correspondence.MessageSender", "S" * 255)]).status_code == 200


# --- content ---

@pytest.mark.parametrize("field, value, code", [
    ("Correspondence.Content.MessageTitle", "Vedtak om **byggetillatelse**", 1002),
    ("Correspondence.Content.MessageTitle", "# Vedtak", 1002),
    ("Correspondence.Content.MessageTitle", "[Vedtak](https://x.no)", 1002),
    ("Correspondence.Content.MessageTitle", "Vedtak <b>nå</b>", 1002),
    ("Correspondence.Content.MessageTitle", "1. Vedtak", 1002),
    ("Correspondence.Content.MessageTitle", "x" * 256, 1037),
    ("Correspondence.Content.MessageTitle", "  ", 1020),
    ("Correspondence.Content.MessageSummary", "x" * 256, 1042),
    ("Correspondence.Content.MessageBody", "x" * 30_001, 1022),
    ("Correspondence.Content.MessageBody", "Hei <script>alert(1)</script>", 1003),
    ("Correspondence.Content.MessageBody", " ", 1021),
    ("Correspondence.Content.Language", "sv", 1023),
], ids=["title-bold", "title-heading", "title-link", "title-html", "title-list", "title-256", "title-empty",
        "summary-256", "body-30001", "body-html", "body-empty", "language"])
def test_content_rules(altinn, token, field, value, code):
    r = upload(altinn, token, *valid(**{field: value}))
    assert r.status_code == 400 and r.json()["errorCode"] == code, r.text
    assert r.headers["Content-Type"] == "application/problem+json" and r.json()["status"] == 400


def test_content_at_its_limits_is_accepted(altinn, token):
    r = upload(altinn, token, *valid(**{
        "Correspondence.Content.MessageTitle": ("Vedtak 5 * 3 - snake_case " + "x" * 255)[:255],
        "Correspondence.Content.MessageSummary": "s" * 255, "Correspondence.Content.MessageBody": "**b** " + "x" * 29_994}))
    assert r.status_code == 200, r.text


# --- attachments ---

@pytest.mark.parametrize("name, code", [
    ("x" * 252 + ".pdf", None),  # the contract's maxLength 255 refuses it in model validation, before 2011
    ("notat.msg", 2013),
    ("Vedtak", 2013),
    ("Vedtak?.pdf", 2012),
    ("Ved:tak.pdf", 2012),
    ("Ved\ttak.pdf", 2012),
    ("CON.pdf", 2012),
    ("lpt1.txt", 2012),
], ids=["name-256", "msg", "no-extension", "question-mark", "colon", "control", "con", "lpt1"])
def test_attachment_names(altinn, token, name, code):
    fields, files = valid(**{"Correspondence.Content.Attachments[0].FileName": name})
    r = upload(altinn, token, fields, files)
    assert r.status_code == 400, r.text
    assert r.json().get("errorCode") == code if code else "is too long" in str(r.json()["errors"])


def test_files_are_matched_to_metadata_by_name(altinn, token):
    fields, _ = valid()
    r = upload(altinn, token, fields, [("attachments", ("Annet.pdf", PDF, "application/pdf"))])
    assert r.status_code == 400 and r.json()["errorCode"] == 1005


def test_checksum_is_lower_case_md5_hex(altinn, token):
    r = upload(altinn, token, *valid(**{"Correspondence.Content.Attachments[0].Checksum": hashlib.md5(PDF).hexdigest().upper()}))
    assert r.status_code == 400 and r.json()["errorCode"] == 2008


# --- notifications ---

def test_notification_texts(altinn, token):
    custom = {"Correspondence.Notification.NotificationTemplate": "CustomMessage",
              "Correspondence.Notification.NotificationChannel": "EmailPreferred"}
    r = upload(altinn, token, *valid(**custom))
    assert r.status_code == 400 and r.json()["errorCode"] == 3006
    texts = {"Correspondence.Notification.EmailSubject": "Brev fra $sendersName$",
             "Correspondence.Notification.EmailBody": "Hei $recipientName$, se $messageTitle$",
             "Correspondence.Notification.SmsBody": "Brev fra $sendersName$"}
    assert upload(altinn, token, *valid(**custom, **texts)).status_code == 200
    r = upload(altinn, token, *valid(**custom, **texts, **{"Correspondence.Notification.SendReminder": "true"}))
    assert r.status_code == 400 and r.json()["errorCode"] == 3007
    r = upload(altinn, token, *valid(**custom, **{**texts, "Correspondence.Notification.EmailBody": "Se $correspondenceTitle$"}))
    assert r.status_code == 400 and "$correspondenceTitle$" in str(r.json()["errors"])


# --- idempotency, lookup, status ---

def test_idempotent_key_is_a_guid_and_a_repeat_is_409_without_the_id(altinn, token):
    r = upload(altinn, token, *valid(IdempotentKey="retry-1"))
    assert r.status_code == 400 and r.json()["errorCode"] == 1033
    key = str(uuid.uuid4())
    first = upload(altinn, token, *valid(IdempotentKey=key))
    cid = first.json()["correspondences"][0]["correspondenceId"]
    again = upload(altinn, token, *valid(IdempotentKey=key))
    assert again.status_code == 409 and again.json()["errorCode"] == 1034 and cid not in again.text
    h = headers(altinn, token)
    r = requests.get(altinn.url + LIST, params={"resourceId": "kommune-brev", "idempotentKey": key}, headers=h, timeout=5)
    assert r.status_code == 400 and "role" in r.json()["errors"]  # role is required
    r = requests.get(altinn.url + LIST, params={"resourceId": "kommune-brev", "role": "Sender", "idempotentKey": key}, headers=h, timeout=5)
    assert r.json() == {"ids": [cid]}


def test_status_is_the_highest_reached_and_read_is_kept(altinn, token):
    cid = upload(altinn, token, *valid()).json()["correspondences"][0]["correspondenceId"]
    get = lambda: requests.get(f"{altinn.url}{LIST}/{cid}", headers=headers(altinn, token), timeout=5)  # noqa: E731
    altinn.add_status(cid, "Fetched")
    assert get().json()["status"] == "Published" and get().json()["read"] is None  # Fetched is left out
    altinn.add_status(cid, "Read")
    altinn.archive(cid)
    body = get().json()
    assert body["status"] == "Archived" and body["read"]
    altinn.purge(cid)
    r = get()
    assert r.status_code == 404 and r.json()["errorCode"] == 1001

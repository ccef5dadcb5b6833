"""Altinn 3's limits on our side: the fixes the channel makes, the intake rule, the start-up checks.

The plain-text fix is checked against the double's own reading of plain text (markdown-it, as
Altinn reads it with Markdig), so the two are not the same code.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.channels.altinn3_content import Unfit, prepare, split_properties
from gateway.config import Altinn3Settings, ConfigError, IntakePolicy, load_settings
from gateway.config.altinn3 import check_altinn3
from gateway.domain.validation import validate_shipment
from gateway.errors import ValidationError
from gateway.mapping import altinn3 as rules
from gateway.model import DeliveryMode, DeliveryPolicy, Document, Link, Party, PartyKind, PostalAddress, RoutingMetadata, Shipment
from tests.doubles.altinn3_rules import attachment_name_error, is_markdown_without_html, is_plain_text


def doc(name: str, media: str = "application/pdf", **kw) -> Document:
    return Document(filename=name, media_type=media, size=10, sha256="0" * 64, storage_ref="", **kw)


def shipment(*, mode=DeliveryMode.DIGITAL_WITH_PRINT_FALLBACK, kind=PartyKind.NO_PERSON, documents=None, **kw) -> Shipment:
    base = dict(id="s-1", sender="t", title="Vedtak",
                recipient=Party(identifier="15076500565" if kind is PartyKind.NO_PERSON else None, kind=kind,
                                address=PostalAddress(name="Ola", postcode="0155", city="Oslo")),
                documents=documents or (doc("Vedtak.pdf"),), delivery=DeliveryPolicy(mode=mode))
    base.update(kw)
    return Shipment(**base)


@pytest.mark.parametrize("title", [
    "# Vedtak om **byggetillatelse**", "Svar på _søknad_ om [tillatelse](https://x.no)", "Vedtak <b>nå</b> &amp; senere",
    "1. Vedtak", "- punkt", "> sitat", "Vedtak \\*viktig\\*", "`kode` i tittel", "~~strøket~~ tittel", "Tittel *uten slutt",
    "5 * 3 = 15", "snake_case_navn", "Sak 2026/123 - A&B",
])
def test_plain_text_is_plain_as_altinn_reads_it(title):
    assert is_plain_text(rules.plain_text(title)), rules.plain_text(title)


def test_shorten_cuts_on_a_word_with_an_ellipsis():
    title = " ".join(["byggetillatelse"] * 40)  # 639 characters
    short = rules.shorten(title, 255)
    assert len(short) <= 255 and short.endswith("…") and short[:-1].split()[-1] == "byggetillatelse"
    assert rules.shorten("kort", 255) == "kort"


@pytest.mark.parametrize("name, media, fixed", [
    ("Vedtak.pdf", "application/pdf", "Vedtak.pdf"),
    ("Ved:tak?.pdf", "application/pdf", "Ved_tak_.pdf"),
    ("CON.pdf", "application/pdf", "_CON.pdf"),
    ("Vedtak", "application/pdf", "Vedtak.pdf"),
    ("x" * 300 + ".docx", "application/octet-stream", "x" * 250 + ".docx"),
    ("notat.msg", "application/vnd.ms-outlook", None),
    ("notat.msg", "application/pdf", "notat.msg.pdf"),
])
def test_attachment_names_are_fixed_where_safe(name, media, fixed):
    assert rules.attachment_name(name, media) == fixed
    if fixed:
        assert attachment_name_error(fixed) is None  # and the double takes it


def test_names_stay_unique_after_fixing():
    assert rules.unique_names(["a.pdf", "A.pdf", "a.pdf"]) == ["a.pdf", "A (2).pdf", "a (3).pdf"]


def test_fifteen_properties_keep_ten_by_priority_and_move_five():
    entries = [(f"extra{i}", str(i)) for i in range(10)] + [("eksternref", "P360-1"), ("contactPoint", "kp"),
                                                            ("saksaar", "2026"), ("k" * 51, "lang nøkkel"), ("kle", "v" * 301)]
    kept, moved = split_properties(entries)
    assert len(kept) == 10 and [k for k, _ in kept[:3]] == ["contactPoint", "eksternref", "saksaar"]
    assert ("k" * 51, "lang nøkkel") in moved and ("kle", "v" * 301) in moved and len(moved) == 5


def test_an_unfit_attachment_and_a_too_long_body():
    with pytest.raises(Unfit, match="notat.msg"):
        prepare(shipment(documents=(doc("notat.msg", "application/vnd.ms-outlook"),)))
    links = tuple(Link(url=f"https://kommune.no/{'x' * 200}/{i}", text="lenke " * 10) for i in range(120))
    with pytest.raises(Unfit, match="30000"):
        prepare(shipment(links=links))


def test_confidential_for_level_four():
    assert not prepare(shipment()).confidential
    assert prepare(shipment(delivery=DeliveryPolicy(require_high_assurance_login=True))).confidential
    assert prepare(shipment(security_level=4)).confidential


def test_intake_refuses_a_digital_only_letter_altinn_cannot_take():
    bad = shipment(mode=DeliveryMode.DIGITAL_ONLY, documents=(doc("Vedtak.pdf"), doc("notat.msg", "application/vnd.ms-outlook")))
    with pytest.raises(ValidationError) as err:
        validate_shipment(bad, policy=IntakePolicy())
    assert (err.value.code, err.value.field) == ("DOCUMENT_TYPE_NOT_FOR_ALTINN", "documents[1].filename")
    # printable (the .msg excluded from print): accepted, the channel sends it to print instead
    validate_shipment(shipment(documents=(doc("Vedtak.pdf"), doc("notat.msg", "application/vnd.ms-outlook", exclude_from_print=True))),
                      policy=IntakePolicy())
    # digital-only, but a name Altinn takes once fixed by its media type
    validate_shipment(shipment(mode=DeliveryMode.DIGITAL_ONLY, documents=(doc("Vedtak", "application/pdf"),)), policy=IntakePolicy())


def test_start_up_checks():
    ok = Altinn3Settings(enabled=True, subscription_key="k")
    check_altinn3(ok)
    assert "subscription_key" not in repr(ok)  # a secret: never in a log line
    with pytest.raises(ConfigError, match="subscription_key"):
        check_altinn3(Altinn3Settings(enabled=True))
    with pytest.raises(ConfigError, match=r"email_body uses \$correspondenceTitle\$"):
        check_altinn3(Altinn3Settings(enabled=True, subscription_key="k", email_body="Se $correspondenceTitle$"))
    with pytest.raises(ConfigError, match="notification_template"):
        check_altinn3(Altinn3Settings(enabled=True, subscription_key="k", notification_template="Custom"))


def test_the_subscription_key_may_come_from_the_environment(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path}"\n\n[channels.altinn3]\nresource_id = "kommune-brev"\n', encoding="utf-8")
    settings = load_settings(path, environ={"GATEWAY_ALTINN3_SUBSCRIPTION_KEY": "from-env"})
    assert settings.channels.altinn3.subscription_key == "from-env"


_MARKDOWNISH = st.text(alphabet=st.sampled_from(list("ab *_#>-+1.)[]()!<>/&;`~\\|=:\n\t\x00 ")), max_size=60)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_MARKDOWNISH, st.text(max_size=60)), st.integers(min_value=8, max_value=60))
def test_any_title_becomes_one_altinn_takes(title, limit):
    """Whatever a sender writes, the title sent is plain text by Altinn's reading, not empty, within the limit."""
    sent = rules.shorten(rules.plain_text(title), limit)
    assert sent.strip() and len(sent) <= limit and is_plain_text(sent), (title, sent)


_TEXT = st.one_of(_MARKDOWNISH, st.text(min_size=1, max_size=40))


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.lists(st.tuples(_TEXT, _TEXT), max_size=14), _TEXT)
def test_any_body_is_markdown_without_html(title, extra, link_text):
    """Titles, moved metadata and link texts are written into the body as text, never as HTML (1003)."""
    s = shipment(title=title or "x", routing=RoutingMetadata(extra=tuple(extra)),
                 links=(Link(url="https://kommune.no/sak?a=1&b=(2)", text=link_text or "x"),))
    content = prepare(s)
    assert is_markdown_without_html(content.body), content.body
    assert len(content.properties) <= 10 and all(len(k) <= 50 and len(v) <= 300 for k, v in content.properties)

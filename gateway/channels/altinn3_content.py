"""A letter made to fit Altinn 3 Correspondence: what goes into each field, and what moves.

Altinn refuses a correspondence whose title is over 255 characters or not plain text, whose
summary is over 255, whose body is over 30,000, whose property list has more than 10 entries
(key ≤ 50, value ≤ 300) or whose attachment names it does not take (SERVICE-RULES.md). The
channel never sends such a request; this module decides, per letter:

* title: plain text (markdown and HTML taken out), shortened on a word boundary with an
  ellipsis; the whole title opens the body. The summary is the title, shortened likewise.
* property list: the first ten entries that fit, by :func:`gateway.mapping.altinn3.property_priority`;
  the rest are listed in the body.
* attachment names: fixed where safe (:func:`gateway.mapping.altinn3.attachment_name`); a
  document of a type Altinn takes in no form makes the letter :class:`Unfit`, as does a body
  over 30,000 characters. The dispatcher then prints the letter (or ends it undelivered when it
  is digital-only; the intake refuses the digital-only case up front where it can).
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.mapping import altinn3 as rules
from gateway.model import Document, Shipment


class Unfit(Exception):
    """The letter cannot be sent to Altinn in any form; the message says why, for people."""


@dataclass(frozen=True, slots=True)
class Content:
    title: str
    summary: str
    body: str
    sender: str | None
    properties: tuple[tuple[str, str], ...]
    attachment_names: tuple[str, ...]
    confidential: bool


def prepare(shipment: Shipment, *, language: str = "nb") -> Content:
    """The fields of one correspondence, each within Altinn's limits; :class:`Unfit` if impossible."""
    texts = rules.texts(language)
    names = rules.unique_names(_attachment_name(doc, texts) for doc in shipment.documents)
    full_title = rules.plain_text(shipment.title)
    kept, moved = split_properties(properties(shipment))
    sender = shipment.sender_party.name if shipment.sender_party and shipment.sender_party.name else None
    body = message_body(shipment, full_title=full_title, moved=moved, texts=texts)
    if len(body) > rules.MAX_BODY:
        raise Unfit(texts["body_too_long"].format(length=len(body), limit=rules.MAX_BODY))
    return Content(
        title=rules.shorten(full_title, rules.MAX_TITLE),
        summary=rules.shorten(full_title, rules.MAX_SUMMARY),
        body=body,
        sender=rules.shorten(rules.plain_text(sender), rules.MAX_SENDER) if sender else None,
        properties=tuple(kept),
        attachment_names=tuple(names),
        confidential=shipment.delivery.require_high_assurance_login or (shipment.security_level or 0) >= 4,
    )


def _attachment_name(doc: Document, texts: dict[str, str]) -> str:
    name = rules.attachment_name(doc.filename, doc.media_type)
    if name is None:
        allowed = ", ".join(sorted(rules.allowed_extensions()))
        raise Unfit(texts["attachment_type_refused"].format(name=doc.filename, allowed=allowed))
    return name


def message_body(shipment: Shipment, *, full_title: str, moved: list[tuple[str, str]], texts: dict[str, str]) -> str:
    """Markdown: the whole title in a sentence, the deep links, then what the property list could not hold."""
    sender = shipment.sender_party.name if shipment.sender_party and shipment.sender_party.name else texts["unnamed_sender"]
    lines = [texts["intro"].format(sender=rules.escape_markdown(sender), title=rules.escape_markdown(full_title))]
    if shipment.links:
        lines.append("")
        for link in shipment.links:
            label = f"{rules.escape_markdown(link.label)}: " if link.label else ""
            lines.append(f"- {label}[{rules.escape_markdown(link.text)}]({_destination(link.url)})")
    if moved:
        lines += ["", texts["moved_properties"], ""]
        lines += [f"- {rules.escape_markdown(key)}: {rules.escape_markdown(value)}" for key, value in moved]
    return "\n".join(lines)


def _destination(url: str) -> str:
    return url.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def properties(s: Shipment) -> list[tuple[str, str]]:
    """Case and routing metadata for the recipient's mailbox (folder routing, replies), unordered."""
    props: dict[str, str] = {}
    cm = s.case_metadata
    if cm is not None:
        props["saksaar"] = str(cm.case_year)
        props["sakssekvensnummer"] = str(cm.case_sequence_number)
        props["journalpostnummer"] = str(cm.journal_entry_number)
        if cm.case_officer:
            props["saksbehandler"] = cm.case_officer
    r = s.routing
    attention = r.attention
    for key, value in (("kle", r.kle), ("form", r.form), ("caseId", r.case_id), ("caseSystem", r.case_system),
                       ("contactPoint", r.contact_point), ("forsendelseType", r.shipment_type),
                       ("contactPointLabel", r.contact_label), ("contactGroup", r.contact_group),
                       ("attentionPerson", attention.person if attention else None),
                       ("attentionEmail", attention.email if attention else None)):
        if value:
            props[key] = value  # folder-routing rules set the contact point: the mailbox files the letter by it
    for key, value in (*r.extra, *(cm.extra if cm is not None else ())):
        props.setdefault(key, value)  # the sending system's own metadata (SvarUt ekstraMetadata)
    if s.external_ref:
        props["eksternref"] = s.external_ref
    return list(props.items())


def split_properties(entries: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(kept in the property list, moved into the body): the first ten that fit, by priority."""
    priority = {key: i for i, key in enumerate(rules.property_priority())}
    ordered = sorted(entries, key=lambda kv: priority.get(kv[0], len(priority)))  # stable: unnamed keys keep their order
    kept: list[tuple[str, str]] = []
    moved: list[tuple[str, str]] = []
    for key, value in ordered:
        fits = len(key) <= rules.MAX_PROPERTY_KEY and len(value) <= rules.MAX_PROPERTY_VALUE
        (kept if fits and len(kept) < rules.MAX_PROPERTIES else moved).append((key, value))
    return kept, moved


__all__ = ["Content", "Unfit", "message_body", "prepare", "properties", "split_properties"]

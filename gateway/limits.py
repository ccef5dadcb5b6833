"""Every hard bound of the gateway in one place: its value, its unit, and why it is there.

A caller controls sizes, counts, nesting and the time its input takes to handle; each of
those is bounded, and each bound is declared here once (the idea of xmlschema's ``limits``
module). The modules that enforce a bound read it from :data:`LIMITS`; a bound an operator
may change is a setting (``setting``) whose default comes from here. ``docs/limits.md`` is
generated from this table (``gateway limits --markdown``) and a test keeps it current.

Limits a contract sets (SvarUt field lengths in ``mappings/svarut_fields.toml``, MeMo's
lengths in :mod:`gateway.domain.memo_rules`, checked against the official XSD) belong to
their contract and are not repeated here. Bottom layer: imports nothing of the gateway.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

KiB = 1024
MiB = 1024 * KiB


def _bound(value: int | float, unit: str, why: str, *, enforced_in: str, setting: str | None = None) -> Any:
    """A field of :class:`Limits`: the value, and what the docs page says about it."""
    return dataclasses.field(default=value, metadata={"unit": unit, "why": why, "enforced_in": enforced_in, "setting": setting})


@dataclass(frozen=True, slots=True)
class Limits:
    """The gateway's bounds; read them from :data:`LIMITS`."""

    # --- the HTTP request ---
    max_request_bytes: int = _bound(
        512 * MiB, "bytes", "A body above this is refused by twisted.web (413) before any XML is parsed or anyone is "
        "authenticated; spyne's own cap is raised to it.",
        enforced_in="gateway.server, gateway.soap.application", setting="server.max_request_bytes")
    in_memory_body_bytes: int = _bound(
        8 * MiB, "bytes", "A body with a Content-Length up to this is kept in memory; twisted.web would spool every body "
        "over 100 kB to a temporary file, and a SOAP call with a 100 kB PDF is routine.",
        enforced_in="gateway.server")
    connection_idle_seconds: int = _bound(
        300, "seconds", "twisted.web's idle timeout: a connection on which nothing happens for this long is closed.",
        enforced_in="gateway.server")
    # --- MTOM (multipart/related) bodies ---
    mtom_max_parts: int = _bound(
        256, "parts", "Parts of one multipart body.",
        enforced_in="gateway.soap.multipart")
    mtom_max_header_bytes: int = _bound(
        16 * KiB, "bytes", "All header lines of one part together: headers are held in memory while they are read.",
        enforced_in="gateway.soap.multipart")
    mtom_max_header_lines: int = _bound(
        64, "lines", "Header lines of one part.", enforced_in="gateway.soap.multipart")
    mtom_max_root_bytes: int = _bound(
        64 * MiB, "bytes", "The root part (the SOAP envelope) is parsed in memory; documents belong in attachments.",
        enforced_in="gateway.soap.multipart")
    mtom_memory_part_bytes: int = _bound(
        1 * MiB, "bytes", "An attachment up to this stays in memory; a larger one is streamed into the request's spool file.",
        enforced_in="gateway.soap.multipart")
    mtom_memory_total_bytes: int = _bound(
        4 * MiB, "bytes", "All attachments of one body kept in memory together; past it, every part spools.",
        enforced_in="gateway.soap.multipart")
    # --- XML ---
    xml_max_depth: int = _bound(
        128, "levels", "Nesting of elements in any XML the gateway parses: allowing large text nodes (inline "
        "documents need them) raises libxml2's own limit from 256 to 2048, so the gateway checks its own.",
        enforced_in="gateway.xml.parser")
    max_payload_elements: int = _bound(
        100_000, "elements", "Elements in a SOAP Body payload: 200 documents with 100 giro pages each are 25,000, and "
        "a million giroarkSider cost spyne 10 s and 570 MiB to decode before any rule could count them.",
        enforced_in="gateway.soap.contract")
    noark_max_payload_elements: int = _bound(
        10_000, "elements", "Elements in a noarkExchange payload (a Melding or arkivmelding, also one sent as text): "
        "a Melding with 200 documents and 100 parties has about 7,000.",
        enforced_in="gateway.domain.noark_payload")
    # --- memory of the serving process ---
    memory_budget_bytes: int = _bound(
        2048 * MiB, "bytes", "Memory that calls with large bodies may claim together, per serving process: an inline "
        "document costs about 4x its request body while it is handled.",
        enforced_in="gateway.runtime, gateway.admission", setting="server.memory_budget_bytes")
    memory_wait_seconds: float = _bound(
        60.0, "seconds", "How long a call waits for room in the memory budget before it is answered 503 SERVER_BUSY.",
        enforced_in="gateway.runtime, gateway.admission", setting="server.memory_wait_seconds")
    # --- intake ---
    noark_max_letters_per_message: int = _bound(
        500, "letters", "Letters one noarkExchange PutMessage addressed to the gateway itself may make (one per recipient "
        "its avsmot lists, each dispatched and perhaps printed on its own).",
        enforced_in="gateway.domain.noark_intake")
    max_print_shipment_bytes: int = _bound(
        350 * MiB, "bytes", "Printable documents of one shipment together.",
        enforced_in="gateway.domain.validation", setting="intake.max_print_shipment_bytes")
    max_filename_length: int = _bound(
        226, "characters", "A document's file name (SvarUt's filnavn has the same bound in mappings/svarut_fields.toml).",
        enforced_in="gateway.domain.validation", setting="intake.max_filename_length")
    max_external_ref_characters: int = _bound(
        500, "characters", "A shipment's external reference (the column in the store); a contract may set less.",
        enforced_in="gateway.domain.validation")
    max_media_type_characters: int = _bound(
        200, "characters", "A document's media type (the column in the store).", enforced_in="gateway.domain.validation")
    max_ids_per_signing_history: int = _bound(
        10, "ids", "Ids in one retrieveSigneringshistorikkForFlereForsendelser call.",
        enforced_in="gateway.soap.svarut", setting="intake.max_ids_per_signing_history")
    max_ids_per_call: int = _bound(
        1000, "ids", "Ids in one status lookup (retrieveForsendelseStatuser). SvarUt documents no limit; a case "
        "system polls the letters of one batch, and 1,000 answers stay well under a second.",
        enforced_in="gateway.domain.shipments", setting="intake.max_ids_per_call")
    # --- PDF inspection (per document) ---
    pdf_max_stream_bytes: int = _bound(
        32 * MiB, "bytes", "Decoded bytes of any one stream: a print house or mailbox decompresses the same.",
        enforced_in="gateway.documents.pdf", setting="intake.pdf_max_stream_bytes")
    pdf_max_decoded_bytes: int = _bound(
        128 * MiB, "bytes", "Decoded bytes of all streams of one PDF together.",
        enforced_in="gateway.documents.pdf", setting="intake.pdf_max_decoded_bytes")
    pdf_max_slow_stream_bytes: int = _bound(
        4 * MiB, "bytes", "A stream with a PNG/TIFF predictor, LZW, RunLength, ASCIIHex or ASCII85 is decoded in Python "
        "(about 10 MB/s): its own, lower bound keeps one stream to a fraction of a second.",
        enforced_in="gateway.documents.pdf", setting="intake.pdf_max_slow_stream_bytes")
    pdf_max_pages: int = _bound(
        10_000, "pages", "Pages of one PDF.", enforced_in="gateway.documents.pdf", setting="intake.pdf_max_pages")
    pdf_max_objects: int = _bound(
        500_000, "objects", "Objects of one PDF (cross-reference entries and objects in object streams), counted before "
        "pypdf parses them.",
        enforced_in="gateway.documents.pdf", setting="intake.pdf_max_objects")
    pdf_max_seconds: float = _bound(
        5.0, "seconds", "CPU time of the inspecting thread for one PDF (not wall time: a busy server is not the PDF's "
        "fault).",
        enforced_in="gateway.documents.pdf", setting="intake.pdf_max_seconds")
    pdf_reads_per_object: int = _bound(
        4_000_000, "reads", "Reads pypdf may make to parse one object (an object of legitimate size takes far fewer).",
        enforced_in="gateway.documents.pdf")
    pdf_reads_per_entry: int = _bound(
        16, "reads", "Reads allowed in addition for each entry of the cross-reference tables, which are read before any "
        "object.",
        enforced_in="gateway.documents.pdf")
    print_max_pages: int = _bound(
        14, "pages", "Pages of one PDF that Digipost's print takes (its printability-validator's "
        "STANDARD_MAX_PAGES_FOR_AUTOMATED_PRINT); checked when the print provider is Digipost.",
        enforced_in="gateway.documents.printability")
    pdf_print_check_content_bytes: int = _bound(
        4 * MiB, "bytes", "Decoded content of one page whose text positions are read for the left-margin check (parsed "
        "operator by operator in Python); a larger page is reported as one whose margin cannot be checked.",
        enforced_in="gateway.documents.printability")
    # --- signatures ---
    max_embedded_certificates: int = _bound(
        8, "certificates", "X.509 certificates in one signature's KeyInfo (a chain is 1 to 3).",
        enforced_in="gateway.xml.signatures")
    max_certificate_bytes: int = _bound(
        16 * KiB, "bytes", "One embedded certificate: signing certificates are 1-3 KB; a larger one is refused before it "
        "is decoded, which also bounds what the per-certificate caches can be made to hold.",
        enforced_in="gateway.xml.signatures")
    # --- schema validation and schema bundles ---
    schema_max_issues: int = _bound(
        100, "issues", "Issues reported for one document: a broken document can yield thousands; the first ones are "
        "what helps.",
        enforced_in="gateway.xml.schema_report")
    schema_max_named_elements: int = _bound(
        50_000, "elements", "Above this many elements, issues carry libxml2's line and message only: naming elements "
        "and finding columns indexes every element (3,000,000 elements cost 1.7 GB).",
        enforced_in="gateway.xml.schema_report")
    schema_max_node_path_work: int = _bound(
        20_000_000, "steps", "Steps of libxml2 path building for a document's issues; above it, the document is "
        "validated streaming (issues without paths) instead of taking seconds.",
        enforced_in="gateway.xml.schema_report")
    schema_bundle_max_files: int = _bound(
        1000, "files", "Files in a schema bundle an operator adds.", enforced_in="gateway.xml.bundles")
    schema_bundle_max_bytes: int = _bound(
        64 * MiB, "bytes", "Unpacked size of a schema bundle an operator adds.", enforced_in="gateway.xml.bundles")
    # --- what is echoed back or kept ---
    fault_text_characters: int = _bound(
        1000, "characters", "A fault never echoes more than this of what a caller sent (a 300,000-character schema or "
        "header name came back whole): the text is cut, whatever built it.",
        enforced_in="gateway.soap.faults")
    fault_field_characters: int = _bound(
        200, "characters", "The field a fault names, cut the same way.", enforced_in="gateway.soap.faults")
    audit_detail_characters: int = _bound(
        1000, "characters", "A refusal's message kept in the audit log: messages quote values, and a message from "
        "elsewhere must not fill a row either.",
        enforced_in="gateway.domain.shipments")
    audit_field_characters: int = _bound(
        200, "characters", "A refusal's field kept in the audit log.", enforced_in="gateway.domain.shipments")


#: The gateway's bounds.
LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class LimitInfo:
    """One row of the docs page."""

    name: str
    value: int | float
    unit: str
    why: str
    enforced_in: str
    setting: str | None


def all_limits(limits: Limits = LIMITS) -> list[LimitInfo]:
    """Every bound, in the order declared."""
    return [
        LimitInfo(f.name, getattr(limits, f.name), f.metadata["unit"], f.metadata["why"], f.metadata["enforced_in"],
                  f.metadata["setting"])
        for f in dataclasses.fields(limits)
    ]


def shown_value(value: int | float, unit: str) -> str:
    """``512 MiB`` for bytes in whole KiB or MiB, else the number with thousands separators."""
    if unit == "bytes" and isinstance(value, int) and value >= KiB:
        for size, name in ((MiB, "MiB"), (KiB, "KiB")):
            if value % size == 0:
                return f"{value // size:,} {name}"
    return f"{value:,g}" if isinstance(value, float) else f"{value:,}"


def limits_markdown() -> str:
    """Render :data:`LIMITS` as ``docs/limits.md``."""
    lines = [
        "# Limits",
        "",
        "Every hard bound of the gateway: what a caller's input may be at most, and what the gateway",
        "does at most on its behalf. Generated from `gateway/limits.py` (`gateway limits --markdown`);",
        "a test keeps this page current. A bound with a setting can be changed in the configuration",
        "file (`[section] key`, or `GATEWAY_<SECTION>_<KEY>`); its default is the value shown.",
        "Limits a contract sets (SvarUt field lengths, MeMo's lengths) live with the contract",
        "(`mappings/svarut_fields.toml`, `gateway/domain/memo_rules.py`).",
        "",
        "| Limit | Value | Unit | Setting | Enforced in | Why |",
        "|---|---|---|---|---|---|",
    ]
    for info in all_limits():
        setting = f"`{info.setting}`" if info.setting else "fixed"
        where = ", ".join(f"`{module}`" for module in info.enforced_in.split(", "))
        lines.append(f"| `{info.name}` | {shown_value(info.value, info.unit)} | {info.unit} | {setting} | {where} | "
                     f"{info.why.replace('|', '/')} |")
    return "\n".join(lines) + "\n"

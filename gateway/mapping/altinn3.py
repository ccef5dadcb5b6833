"""What Altinn 3 Correspondence accepts, and how a letter is made to fit it.

The limits are the service's own (``SERVICE-RULES.md`` beside the OpenAPI file names each
source file): the intake refuses what can never fit (a digital-only letter whose document
Altinn would not take), and the channel fixes or moves the rest before it sends anything, so
Altinn never refuses a letter for its shape. The file types and the texts for people live in
``mappings/altinn3.toml``.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable

from gateway.resources import load_table

MAX_TITLE = 255  # MessageTitle, plain text (errors 1002, 1037)
MAX_SUMMARY = 255  # MessageSummary (1042)
MAX_BODY = 30_000  # MessageBody, markdown (1022)
MAX_SENDER = 255  # MessageSender
MAX_PROPERTIES = 10  # PropertyList entries
MAX_PROPERTY_KEY = 50
MAX_PROPERTY_VALUE = 300
MAX_FILENAME = 255  # attachment FileName (2011)
#: Characters .NET's Path.GetInvalidFileNameChars names besides the control characters (2012).
FORBIDDEN_FILENAME_CHARACTERS = frozenset('<>:"/\\|?*')
_RESERVED = re.compile(r"(?i)^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])$")
ELLIPSIS = "…"


def _table() -> dict:
    return load_table("altinn3")


def allowed_extensions() -> frozenset[str]:
    return frozenset(_table()["attachments"]["allowed_extensions"])


def texts(language: str = "nb") -> dict[str, str]:
    return _table()["texts"][language]


def property_priority() -> tuple[str, ...]:
    return tuple(_table()["properties"]["priority"])


def extension(name: str) -> str:
    """The extension as .NET's Path.GetExtension finds it, lower case, without the dot."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem is not None and ext and not ext.endswith(" ") else ""


def attachment_name(filename: str, media_type: str) -> str | None:
    """A name Altinn takes for this document, or None when it takes no file of this kind.

    Safe fixes only: forbidden and control characters become ``_``; a Windows device name gets a
    ``_`` in front; a name without an allowed extension gets the one its media type names; a name
    over 255 characters is cut in its stem, keeping the extension.
    """
    name = "".join("_" if ch in FORBIDDEN_FILENAME_CHARACTERS or ord(ch) < 32 or ch == "\x7f" else ch
                   for ch in filename).strip().rstrip(".")
    allowed = allowed_extensions()
    if extension(name) not in allowed:
        media = media_type.split(";", 1)[0].strip().lower()
        ext = _table()["attachments"]["extension_for_media_type"].get(media)
        if ext is None or ext not in allowed:
            return None
        name = f"{name or 'dokument'}.{ext}"
    stem, _, ext = name.rpartition(".")
    if _RESERVED.match(stem.split(".", 1)[0]) or not stem:
        stem = "_" + stem
    if len(stem) + 1 + len(ext) > MAX_FILENAME:
        stem = stem[: MAX_FILENAME - 1 - len(ext)].rstrip()
    return f"{stem}.{ext}"


def unique_names(names: Iterable[str]) -> list[str]:
    """Altinn matches each file to its metadata by name (1005): two documents never share one."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 2
        while candidate.casefold() in seen:
            stem, _, ext = name.rpartition(".")
            suffix = f" ({n})"
            candidate = f"{stem[: MAX_FILENAME - len(suffix) - 1 - len(ext)]}{suffix}.{ext}"
            n += 1
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|~~|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_BLOCK = re.compile(r"^(#{1,6}|>|[-*+])(\s+|$)")  # heading, quote, list item at the start
_DEFINITION = re.compile(r"^\[([^\]]*)\]:")  # "[a]: b" would be a link definition, not text
_RULE = re.compile(r"^([-*_])(\s*\1){2,}$")  # "---": a thematic break
_NUMBERED = re.compile(r"^(\d{1,9}[.)])( |$)")  # "1. Vedtak" is a list in markdown; a no-break space keeps the number
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]<>#|~!])")


def plain_text(text: str) -> str:
    """``text`` without markdown or HTML, on one line: what Altinn calls plain text (1002)."""
    out = " ".join(re.sub(r"[\x00-\x08\x0e-\x1f\x7f]", "", text).split())  # control characters: not text
    out = _LINK.sub(r"\1", out)
    out = _TAG.sub("", out)
    for _ in range(3):  # nested emphasis: **_x_**
        out = _EMPHASIS.sub(r"\2", out)
    out = _ESCAPE.sub(r"\1", out)
    out = html.unescape(out)
    out = re.sub(r"\\(?=[!-/:-@\[-`{-~])", "", out)  # a backslash left before punctuation escapes it
    out = out.replace("`", "").replace("<", "‹").replace(">", "›")
    out = re.sub(r"(?<!\S)[*_~]+(?=\S)|(?<=\S)[*_~]+(?!\S)", "", out)  # unpaired emphasis markers
    out = re.sub(r"&(#?\w+;)", r"& \1", out)  # an entity left after unescaping stays text
    out = " ".join(out.split())
    while True:  # what is left at the start may open a block
        start = _DEFINITION.sub(r"\1:", _BLOCK.sub("", out, count=1), count=1).strip()
        if start == out:
            break
        out = start
    if _RULE.match(out):
        out = out.replace("-", "–").replace("*", "–").replace("_", "–")
    return _NUMBERED.sub("\\1\u00a0", out) or texts()["untitled"]


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, an ellipsis added."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-–") + ELLIPSIS


def escape_markdown(text: str) -> str:
    """A value written into the markdown body as text, never as markup or HTML (1003)."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", " ".join(text.split()))


__all__ = [
    "ELLIPSIS", "MAX_BODY", "MAX_FILENAME", "MAX_PROPERTIES", "MAX_PROPERTY_KEY", "MAX_PROPERTY_VALUE", "MAX_SENDER",
    "MAX_SUMMARY", "MAX_TITLE", "allowed_extensions", "attachment_name", "escape_markdown", "extension", "plain_text",
    "property_priority", "shorten", "texts", "unique_names",
]

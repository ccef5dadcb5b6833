"""What a document's file name and media type may be: the one definition for every intake.

A file name travels to mailboxes (Altinn, Digital Post) and is saved by recipients on
Windows, so it must be a name Windows can save and must show what it is. Refused:

- characters Windows, Altinn and Digital Post refuse (``" < > ? * | : / \\``);
- control characters (C0, DEL, C1) and line or paragraph separators;
- invisible format characters (Unicode category Cf): bidirectional controls such as U+202E
  (``vedtak\\u202efdp.exe`` is shown as ``vedtakexe.pdf``), zero-width characters, U+FEFF;
  and the other default-ignorable ones (Hangul fillers, U+034F, variation selectors);
- Windows device names (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM1``-``COM9``, ``LPT1``-``LPT9``,
  also with an extension: ``CON.pdf``) and a trailing dot or space, which Windows drops.

A media type becomes a header of the upload to Altinn: only RFC 6838 ``type/subtype``
syntax, optionally with RFC 2045 parameters, is accepted (no CR LF, no spaces inside).
"""
from __future__ import annotations

import re
import unicodedata

#: Characters Windows, Altinn and Digital Post refuse in a file name.
FORBIDDEN_FILENAME_CHARS = frozenset('"<>?*|:/\\')
#: Windows device names, refused as a name or the part before the first dot, in any case.
WINDOWS_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{device}{n}" for device in ("COM", "LPT") for n in (*"123456789", "\u00b9", "\u00b2", "\u00b3")}
)
#: Line and paragraph separators beyond CR LF (which are control characters, refused too).
LINE_SEPARATORS = frozenset("\u2028\u2029\u0085")
#: Spaces that look like a space but are not, which Digital Post refuses in file names:
#: U+00A0 no-break space; U+2000..U+200A en quad .. hair space; U+200B zero width space;
#: U+202F narrow no-break space; U+205F medium mathematical space; U+3000 ideographic space;
#: U+FEFF zero width no-break space (BOM). Some of them are format characters (Cf), which
#: :func:`filename_characters_problem` refuses anyway; the Zs ones are refused for MeMo only.
LOOKALIKE_SPACES = frozenset(
    ["\u00a0", *(chr(c) for c in range(0x2000, 0x200C)), "\u202f", "\u205f", "\u3000", "\ufeff"]
)
#: Default-ignorable code points outside category Cf: shown as nothing, so they can make two
#: names look alike (Hangul fillers, the combining grapheme joiner, variation selectors).
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0" + "".join(map(chr, range(0x180B, 0x1810)))
                       + "".join(map(chr, range(0xFE00, 0xFE10))))


def _invisible(char: str) -> bool:
    return char in _INVISIBLE or 0xE0100 <= ord(char) <= 0xE01EF  # variation selectors supplement

#: RFC 6838 section 4.2 restricted-name, for the type and the subtype.
_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]{0,126}"
#: RFC 2045 token and quoted-string (printable ASCII only).
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
MEDIA_TYPE = re.compile(
    rf"{_NAME}/{_NAME}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*[ \t]*;?[ \t]*"
)


def is_control_character(char: str) -> bool:
    """C0, DEL and C1 controls (CR, LF and TAB among them) and the other line separators."""
    return unicodedata.category(char) == "Cc" or char in LINE_SEPARATORS


def filename_characters_problem(name: str) -> str | None:
    """A message naming the first character ``name`` may not contain, or ``None``."""
    for char in name:
        if char in FORBIDDEN_FILENAME_CHARS:
            return f"contains {char!r}, which Windows and the mailboxes refuse in a file name"
        if is_control_character(char):
            return f"contains the control character U+{ord(char):04X}"
        category = unicodedata.category(char)
        if category == "Cf" or _invisible(char):
            what = unicodedata.name(char, "a format character")
            return f"contains the invisible character U+{ord(char):04X} ({what}), which can disguise a file's type"
    return None


def filename_reserved_problem(name: str) -> str | None:
    """A message if Windows cannot save ``name`` as given (device name, trailing dot or space)."""
    if name.endswith((".", " ")):
        return "ends with a dot or a space, which Windows drops"
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in WINDOWS_RESERVED_NAMES:
        return f"{stem} is a Windows device name and cannot be a file name, not even with an extension"
    return None


def is_media_type(value: str) -> bool:
    """``type/subtype`` with optional parameters, surrounding blanks allowed."""
    return MEDIA_TYPE.fullmatch(value.strip(" \t")) is not None

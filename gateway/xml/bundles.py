"""Operator schema bundles: a folder or a .zip of XSD files, unpacked and checked before the
registry (:mod:`gateway.xml.schemas`) compiles it.

Schema files come from operators, not from callers, but are still handled defensively: zip
entries with absolute paths, ``..`` or symlinks are refused, sizes are capped, every schema
document is read with the hardened parser (no DOCTYPE), and every ``schemaLocation`` must be
a relative path to a file inside the bundle (:func:`check_references`), so no schema engine
ever touches the network or the rest of the disk.

Each bundle lives in its own sub-folder of the registry's ``bundles_dir``: the files under
``files/`` and a ``bundle.json`` manifest, written last, so a restart finds it again.
The entry schema of a bundle is chosen in this order: the ``entry`` argument, then
``entry = "..."`` in a ``bundle.toml`` at the top of the bundle, then the only ``.xsd`` file
at the top. A bundle whose top holds nothing but a single folder is read from that folder
(zips of a folder are common).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import stat
import tomllib
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from gateway.errors import GatewayError
from gateway.limits import LIMITS
from gateway.xml.parser import parse_untrusted

XSD_NS = "http://www.w3.org/2001/XMLSchema"
MANIFEST = "bundle.json"
BUNDLE_TOML = "bundle.toml"
FILES = "files"
MANIFEST_FORMAT = 1
MAX_BUNDLE_FILES = LIMITS.schema_bundle_max_files
MAX_BUNDLE_BYTES = LIMITS.schema_bundle_max_bytes

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REFERENCES = tuple(f"{{{XSD_NS}}}{tag}" for tag in ("import", "include", "redefine", "override"))


class BundleError(ValueError):
    """A schema bundle cannot be registered: unsafe, incomplete, or not a valid schema."""


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise BundleError(f"bundle name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")


def unpack(source: Path, files: Path, *, entry: str | None) -> str:
    """Copy the folder or .zip ``source`` into ``files``; the entry schema, relative to ``files``."""
    if source.is_dir():
        _copy_folder(source, files)
    elif source.is_file() and zipfile.is_zipfile(source):
        _unzip(source, files)
    else:
        raise BundleError(f"{source} is neither a folder nor a zip file")
    top = _top(files)
    return (PurePosixPath(top.relative_to(files).as_posix()) / (entry or _entry_of(top))).as_posix()


def write_manifest(folder: Path, *, name: str, entry: str, source: str) -> None:
    manifest = {"format": MANIFEST_FORMAT, "name": name, "entry": entry, "source": source,
                "added": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> tuple[str, str] | None:
    """The name and entry of the bundle stored in ``folder``; ``None`` for a half-written or
    foreign folder (the manifest is written last)."""
    manifest = folder / MANIFEST
    if folder.name.startswith(".") or not manifest.is_file():
        return None
    try:
        data: Any = json.loads(manifest.read_text(encoding="utf-8"))
        name, entry = data["name"], data["entry"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{manifest}: unreadable manifest: {exc}") from None
    if name != folder.name or not isinstance(entry, str):
        raise BundleError(f"{manifest}: names {name!r}, but lives in {folder.name!r}")
    return name, entry


def check_references(folder: Path, entry: str) -> Path:
    """Follow includes/imports from ``entry``; each must be a relative path to a file in ``folder``."""
    root = folder.resolve()
    start = _inside(root, entry, what="entry schema")
    pending, seen = [start], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            doc = parse_untrusted(path.read_bytes())
        except OSError as exc:
            raise BundleError(f"{path.relative_to(root)}: {exc}") from None
        except GatewayError as exc:  # a DOCTYPE, or not well-formed
            raise BundleError(f"{path.relative_to(root)}: {exc.message}") from None
        for ref in doc.iter(*_REFERENCES):
            location = ref.get("schemaLocation")
            if location is None:
                continue
            # no scheme, no absolute path, and no escapes: libxml2 would unescape "%2e%2e/"
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", location) or location.startswith("/") or any(c in location for c in "\\%"):
                raise BundleError(f"{path.relative_to(root)}: schemaLocation {location!r} must be a relative path inside the bundle")
            target = _inside(root, str(PurePosixPath(path.relative_to(root).parent.as_posix()) / location), what="schemaLocation")
            pending.append(target)
    return start


def _inside(root: Path, relative: str, *, what: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        raise BundleError(f"{what} {relative!r} points outside the bundle")
    if not target.is_file():
        raise BundleError(f"{what} {relative!r} is not a file in the bundle")
    return target



def _copy_folder(source: Path, target: Path) -> None:
    """Copy regular files only; a symlink anywhere in the folder refuses the bundle."""
    target.mkdir(parents=True, exist_ok=True)
    count = size = 0
    for directory, dirnames, filenames in os.walk(source, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(directory) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise BundleError(f"{path.relative_to(source)} is a symlink; bundles may not contain links")
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise BundleError(f"{path.relative_to(source)} is not a regular file")
        for name in filenames:
            path = Path(directory) / name
            count, size = count + 1, size + path.lstat().st_size
            _check_limits(count, size)
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


def _unzip(source: Path, target: Path) -> None:
    """Extract with every entry checked first: no absolute paths, ``..``, links, or excess size."""
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        if len(members) > MAX_BUNDLE_FILES:
            raise BundleError(f"{source.name} has {len(members)} entries (at most {MAX_BUNDLE_FILES})")
        plan = [(member, _safe_member_path(member)) for member in members]
        seen: set[str] = set()
        for _member, relative in plan:
            if relative.as_posix().lower() in seen:
                raise BundleError(f"{source.name}: entry {relative.as_posix()!r} appears twice")
            seen.add(relative.as_posix().lower())
        target.mkdir(parents=True, exist_ok=True)
        size = 0
        for member, relative in plan:
            destination = target.joinpath(*relative.parts)
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as reader, destination.open("wb") as writer:
                for chunk in iter(lambda: reader.read(1 << 16), b""):
                    size += len(chunk)  # counted as read: header sizes can lie
                    _check_limits(len(plan), size)
                    writer.write(chunk)


def _safe_member_path(member: zipfile.ZipInfo) -> PurePosixPath:
    name = member.filename
    if stat.S_ISLNK(member.external_attr >> 16):
        raise BundleError(f"zip entry {name!r} is a symlink; bundles may not contain links")
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise BundleError(f"zip entry {name!r} has an absolute or non-portable path")
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        raise BundleError(f"zip entry {name!r} climbs out of the bundle ('..')")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise BundleError(f"zip entry {name!r} has no name")
    return PurePosixPath(*parts)


def _check_limits(count: int, size: int) -> None:
    if count > MAX_BUNDLE_FILES:
        raise BundleError(f"the bundle has more than {MAX_BUNDLE_FILES} files")
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(f"the bundle is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB unpacked")


def _top(files: Path) -> Path:
    """The folder that holds the bundle: descend while the top is one lone folder."""
    top = files
    while True:
        children = list(top.iterdir())
        if len(children) == 1 and children[0].is_dir():
            top = children[0]
            continue
        return top


def _entry_of(top: Path) -> str:
    """The entry schema: ``bundle.toml``'s ``entry``, else the only .xsd at the top."""
    toml_file = top / BUNDLE_TOML
    if toml_file.is_file():
        try:
            entry = tomllib.loads(toml_file.read_text(encoding="utf-8")).get("entry")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{BUNDLE_TOML}: {exc}") from None
        if not isinstance(entry, str) or not entry:
            raise BundleError(f"{BUNDLE_TOML} must name the entry schema: entry = \"main.xsd\"")
        return entry
    candidates = sorted(p.name for p in top.iterdir() if p.is_file() and p.suffix.lower() == ".xsd")
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise BundleError(f"cannot tell the entry schema (top-level .xsd files: {found}); pass entry= or add {BUNDLE_TOML}")
    return candidates[0]


__all__ = [
    "BUNDLE_TOML", "FILES", "MANIFEST", "MAX_BUNDLE_BYTES", "MAX_BUNDLE_FILES", "BundleError", "check_name",
    "check_references", "read_manifest", "unpack", "write_manifest",
]

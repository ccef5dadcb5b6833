"""Named XML schemas, compiled once, for validating messages such as MeMo.

Two engines, each for what it does best. lxml (libxml2) compiles every schema when it is
registered and gives the verdict and the error report: it is fast, and its error log has
line numbers and messages. Each reported element is named with a readable, prefixed path in
xmlschema's style (``/memo:Message/memo:MessageHeader/memo:label``), which libxml2 cannot do
for default-namespace documents (``/*/*/*[4]``); the report holds the first
:data:`MAX_ISSUES` errors and costs time linear in the document however many there are.
xmlschema is loaded lazily, for :meth:`SchemaRegistry.decode` only.

Built-in schemas are the team's own bundles in ``xsd/`` (``memo-1.1``, ``memo-1.2``).
Operators may add bundles (a folder or a .zip) at run time; each is unpacked into its own
sub-folder of ``bundles_dir`` with a ``bundle.json`` manifest so :meth:`SchemaRegistry.load`
brings it back after a restart. Schema files come from operators, not from callers, but are
still handled defensively: zip entries with absolute paths, ``..`` or symlinks are refused,
sizes are capped, every schema document is read with the hardened parser (no DOCTYPE), and
every ``schemaLocation`` must be a relative path to a file inside the bundle, so neither
engine ever touches the network or the rest of the disk (xmlschema also runs in its
``sandbox`` mode).

The entry schema of a bundle is chosen in this order: the ``entry`` argument, then
``entry = "..."`` in a ``bundle.toml`` at the top of the bundle, then the only ``.xsd`` file
at the top. A bundle whose top holds nothing but a single folder is read from that folder
(zips of a folder are common).
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import stat
import threading
import tomllib
import uuid
import xml.parsers.expat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from gateway.errors import FaultCode, GatewayError, ValidationError
from gateway.limits import LIMITS
from gateway.xml.parser import INLINE_DOCUMENTS, STRICT, XmlParsePolicy, make_parser, parse_untrusted

XSD_NS = "http://www.w3.org/2001/XMLSchema"
MANIFEST = "bundle.json"
BUNDLE_TOML = "bundle.toml"
FILES = "files"
MANIFEST_FORMAT = 1
BUILTIN = {"memo-1.1": "memo-1.1", "memo-1.2": "memo-1.2"}  # name -> folder under xsd/
BUILTIN_ENTRY = "memo.xsd"

MAX_ISSUES = LIMITS.schema_max_issues  # a broken document can yield thousands; the first ones are what helps
#: Above this many steps of libxml2 path building (see ``_node_path_work``), validate streaming.
MAX_NODE_PATH_WORK = LIMITS.schema_max_node_path_work
#: Above this many elements, issues carry libxml2's line and message only: naming elements and
#: finding columns indexes every element (3,000,000 elements cost 1.7 GB).
MAX_NAMED_ELEMENTS = LIMITS.schema_max_named_elements
MAX_BUNDLE_FILES = LIMITS.schema_bundle_max_files
MAX_BUNDLE_BYTES = LIMITS.schema_bundle_max_bytes

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REFERENCES = tuple(f"{{{XSD_NS}}}{tag}" for tag in ("import", "include", "redefine", "override"))

_XSD_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "xsd",
    Path(__file__).resolve().parents[1] / "data" / "xsd",
)


def xsd_dir() -> Path:
    """The project's ``xsd/`` folder (source tree, or package data in a wheel)."""
    for candidate in _XSD_CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the xsd/ folder is missing from this installation")


class BundleError(ValueError):
    """A schema bundle cannot be registered: unsafe, incomplete, or not a valid schema."""


# ---------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaIssue:
    """One schema violation. ``line``/``column`` are 1-based; ``None`` when unknown."""

    line: int | None
    column: int | None
    path: str | None
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    valid: bool
    errors: tuple[SchemaIssue, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaBundle:
    """Where a registered schema lives: ``folder`` holds the files, ``entry`` is relative to it."""

    name: str
    folder: Path
    entry: str
    builtin: bool


# ---------------------------------------------------------------- compiled schemas


@dataclass(slots=True, kw_only=True)
class _Compiled:
    bundle: SchemaBundle
    lxml_schema: etree.XMLSchema
    lock: threading.Lock = field(default_factory=threading.Lock)  # the error log lives on the schema
    load_lock: threading.Lock = field(default_factory=threading.Lock)
    _xmlschema: Any = None
    _failure: Exception | None = None

    def xmlschema(self) -> Any:
        """The xmlschema twin, built on first use from files inside the bundle only.

        ``allow="sandbox"`` refuses every remote URL and every file outside the bundle folder
        (instances are handed over as parsed elements, so they need no access at all). A
        failed build is remembered rather than retried on every invalid document.
        """
        with self.load_lock:
            if self._failure is not None:
                raise self._failure
            if self._xmlschema is None:
                import xmlschema

                folder = self.bundle.folder.resolve()
                try:
                    self._xmlschema = xmlschema.XMLSchema(
                        str(folder / self.bundle.entry), base_url=str(folder), allow="sandbox", defuse="always",
                    )
                except Exception as exc:  # noqa: BLE001 - any build error, kept for the next caller
                    self._failure = exc
                    raise
            return self._xmlschema


def _compile(bundle: SchemaBundle) -> _Compiled:
    entry = _check_references(bundle.folder, bundle.entry)
    try:
        schema = etree.XMLSchema(etree.parse(str(entry), parser=make_parser(allow_local_files=True)))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise BundleError(f"schema {bundle.name!r} does not compile: {exc}") from None
    return _Compiled(bundle=bundle, lxml_schema=schema)


def _check_references(folder: Path, entry: str) -> Path:
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


# ---------------------------------------------------------------- the registry


class SchemaRegistry:
    """Schemas by name. Thread-safe; registration replaces the name table copy-on-write."""

    def __init__(self, *, bundles_dir: Path | str | None = None) -> None:
        self.bundles_dir = Path(bundles_dir) if bundles_dir is not None else None
        self._schemas: Mapping[str, _Compiled] = {}
        self._write_lock = threading.Lock()
        self._bundle_lock = threading.Lock()  # one add_bundle at a time: they share bundles_dir

    # ------------------------------------------------------------ construction

    @classmethod
    def builtin(cls, *, bundles_dir: Path | str | None = None) -> SchemaRegistry:
        """The team's schemas from ``xsd/``; pass ``bundles_dir`` to allow :meth:`add_bundle`."""
        registry = cls(bundles_dir=bundles_dir)
        base = xsd_dir()
        for name, folder in BUILTIN.items():
            registry._register(SchemaBundle(name=name, folder=base / folder, entry=BUILTIN_ENTRY, builtin=True))
        return registry

    @classmethod
    def load(cls, bundles_dir: Path | str, *, builtin: bool = True) -> SchemaRegistry:
        """The built-in schemas plus every bundle earlier added under ``bundles_dir``."""
        registry = cls.builtin(bundles_dir=bundles_dir) if builtin else cls(bundles_dir=bundles_dir)
        directory = Path(bundles_dir)
        if not directory.is_dir():
            return registry
        for folder in sorted(directory.iterdir()):
            manifest = folder / MANIFEST
            if folder.name.startswith(".") or not manifest.is_file():
                continue  # half-written or foreign; add_bundle writes the manifest last
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
                name, entry = data["name"], data["entry"]
            except (ValueError, KeyError, TypeError) as exc:
                raise BundleError(f"{manifest}: unreadable manifest: {exc}") from None
            if name != folder.name or not isinstance(entry, str):
                raise BundleError(f"{manifest}: names {name!r}, but lives in {folder.name!r}")
            registry._register(SchemaBundle(name=name, folder=folder / FILES, entry=entry, builtin=False))
        return registry

    def _register(self, bundle: SchemaBundle, compiled: _Compiled | None = None) -> None:
        compiled = compiled or _compile(bundle)
        with self._write_lock:
            if bundle.name in self._schemas:
                raise BundleError(f"a schema named {bundle.name!r} is already registered")
            self._schemas = {**self._schemas, bundle.name: compiled}

    # ------------------------------------------------------------ bundles

    def add_bundle(self, name: str, path: Path | str, *, entry: str | None = None) -> SchemaBundle:
        """Copy a schema folder or .zip under ``bundles_dir/<name>/``, compile it and register it.

        ``entry`` is relative to the bundle's top (see the module text). Nothing is kept when
        any check fails; a stored bundle comes back after a restart via :meth:`load`.
        """
        if self.bundles_dir is None:
            raise BundleError("this registry has no bundles_dir; operator bundles cannot be stored")
        if not _NAME.match(name):
            raise BundleError(f"bundle name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        source = Path(path)
        with self._bundle_lock:
            target = self.bundles_dir / name
            if name in self._schemas or name in BUILTIN or target.exists():
                raise BundleError(f"a schema named {name!r} is already registered or stored")
            self.bundles_dir.mkdir(parents=True, exist_ok=True)
            staging = self.bundles_dir / f".staging-{uuid.uuid4().hex}"
            try:
                files = staging / FILES
                if source.is_dir():
                    _copy_folder(source, files)
                elif source.is_file() and zipfile.is_zipfile(source):
                    _unzip(source, files)
                else:
                    raise BundleError(f"{source} is neither a folder nor a zip file")
                top = _top(files)
                relative = (PurePosixPath(top.relative_to(files).as_posix()) / (entry or _entry_of(top))).as_posix()
                compiled = _compile(SchemaBundle(name=name, folder=files, entry=relative, builtin=False))
                manifest = {"format": MANIFEST_FORMAT, "name": name, "entry": relative, "source": source.name,
                            "added": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
                (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
                os.replace(staging, target)  # the manifest arrives with the files, never before
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            bundle = SchemaBundle(name=name, folder=target / FILES, entry=relative, builtin=False)
            self._register(bundle, _Compiled(bundle=bundle, lxml_schema=compiled.lxml_schema))
            return bundle

    # ------------------------------------------------------------ queries

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._schemas))

    def __contains__(self, name: object) -> bool:
        return name in self._schemas

    def bundle(self, name: str) -> SchemaBundle:
        return self._get(name).bundle

    def _get(self, name: str) -> _Compiled:
        try:
            return self._schemas[name]
        except KeyError:
            raise KeyError(f"no schema named {name!r}; known: {', '.join(self.names())}") from None

    # ------------------------------------------------------------ validation

    def validate(self, name: str, data: bytes | etree._Element, *, policy: XmlParsePolicy = STRICT) -> ValidationReport:
        """Check ``data`` against schema ``name``.

        Bytes are parsed with :func:`parse_untrusted` (its :class:`GatewayError` propagates
        for hostile or malformed XML); pass ``policy=INLINE_DOCUMENTS`` for MeMo messages
        whose inline files exceed 10 MB. Issues are capped at :data:`MAX_ISSUES`; columns
        are known for bytes only (libxml2 records none for validation errors).
        """
        compiled = self._get(name)
        root = parse_untrusted(data, policy=policy) if isinstance(data, bytes) else data
        return _validate(compiled, root, data if isinstance(data, bytes) else None)

    def decode(self, name: str, data: bytes | etree._Element, *, policy: XmlParsePolicy = STRICT) -> Any:
        """The document as Python data (xmlschema's default converter), or a :class:`ValidationError`."""
        compiled = self._get(name)
        root = parse_untrusted(data, policy=policy) if isinstance(data, bytes) else data
        report = _validate(compiled, root, data if isinstance(data, bytes) else None)
        if not report.valid:
            first = report.errors[0]
            raise ValidationError(f"not a valid {name} document: {first.message}", code=FaultCode.INVALID_REQUEST, field=first.path)
        import xmlschema

        try:
            return compiled.xmlschema().to_dict(root, use_location_hints=False)
        except xmlschema.XMLSchemaValidationError as exc:  # lxml accepted it; xmlschema is stricter here
            raise ValidationError(f"not a valid {name} document: {exc.reason}", code=FaultCode.INVALID_REQUEST, field=exc.path) from None


def _validate(compiled: _Compiled, root: etree._Element, data: bytes | None) -> ValidationReport:
    """lxml's verdict and report on the tree, unless naming every error could cost more than
    :data:`MAX_NODE_PATH_WORK`: then the streaming verdict first, and the tree only when its
    few errors are cheap to name. Elements are named, and columns found, only in documents of
    at most :data:`MAX_NAMED_ELEMENTS` elements: that indexes every element."""
    elements = int(root.xpath("count(descendant-or-self::*)"))  # in C; an element costs at most this many
    work, dearest = _node_path_work(root) if elements * elements > MAX_NODE_PATH_WORK else (0, 0)
    if work > MAX_NODE_PATH_WORK:
        streamed = _validate_streaming(compiled, root, data)
        errors = len(streamed.errors)
        if streamed.valid or errors >= MAX_ISSUES or errors * dearest > MAX_NODE_PATH_WORK:
            return streamed
    with compiled.lock:
        valid = compiled.lxml_schema.validate(root)
        entries = list(compiled.lxml_schema.error_log[:MAX_ISSUES]) if not valid else []
    if valid:
        return ValidationReport(valid=True)
    if elements > MAX_NAMED_ELEMENTS:
        return ValidationReport(valid=False, errors=tuple(
            SchemaIssue(line=entry.line or None, column=None, path=None, message=entry.message) for entry in entries))
    return ValidationReport(valid=False, errors=_issues(root, entries, data))


def _node_path_work(root: etree._Element) -> tuple[int, int]:
    """What naming every element would cost libxml2 in all, and for the dearest element.

    lxml records the path of each error's element, and libxml2 builds a path by counting the
    element's preceding siblings at every level: an element's cost is its position among its
    siblings plus its parent's cost. 40,000 invalid siblings would cost 800 million steps
    (seconds to minutes); a letter-sized document costs a few hundred. One linear pass.
    """
    total = dearest = 0
    pending = [(root, 0)]
    while pending:
        element, above = pending.pop()
        for position, child in enumerate(element.iterchildren(etree.Element)):
            cost = above + position
            total += cost
            dearest = max(dearest, cost)
            if len(child):
                pending.append((child, cost))
    return total, dearest


def _validate_streaming(compiled: _Compiled, root: etree._Element, data: bytes | None) -> ValidationReport:
    """The verdict and the first messages from libxml2's streaming validator, linear in the
    document; it knows no elements, so these issues carry neither line nor path.

    Memory stays flat: each element is dropped once read (a second tree of the document
    cost as much as the first), and reading stops at :data:`MAX_ISSUES` errors (libxml2's
    log kept every one: 1,000,000 invalid elements held 430 MB of messages).
    """
    source = data if data is not None else etree.tostring(root)
    with compiled.lock:
        # ``source`` already passed the hardened parser (or is our own serialisation)
        events = etree.iterparse(io.BytesIO(source), events=("end",), schema=compiled.lxml_schema, resolve_entities=False,
                                 no_network=True, load_dtd=False, huge_tree=INLINE_DOCUMENTS.allow_large_text)
        try:
            for seen, (_event, element) in enumerate(events, 1):
                element.clear(keep_tail=True)
                while element.getprevious() is not None:
                    del element.getparent()[0]
                if not seen % 1024 and len(events.error_log) >= MAX_ISSUES and \
                        len(events.error_log.filter_from_errors()) >= MAX_ISSUES:
                    break
            else:
                return ValidationReport(valid=True)
        except etree.XMLSyntaxError:
            pass
        # the parser's own log: an exception's also holds the thread's earlier errors
        entries = list(events.error_log.filter_from_errors()[:MAX_ISSUES])
    issues = tuple(SchemaIssue(line=None, column=None, path=None, message=entry.message) for entry in entries)
    return ValidationReport(valid=False, errors=issues or (SchemaIssue(line=None, column=None, path=None, message="invalid"),))


# ---------------------------------------------------------------- issue details


def _issues(root: etree._Element, entries: list[Any], data: bytes | None) -> tuple[SchemaIssue, ...]:
    """lxml's first entries, each with a readable path for the element it blames and a column.

    Linear in the document, whatever the number of errors: lxml's path of each entry is
    followed down the tree with one index of same-named children per parent visited
    (``getpath`` for every element, or xmlschema's second validation of the whole document,
    would cost time quadratic in the number of siblings).
    """
    finder = _ElementFinder(root)
    positions = _start_tags(data) if data is not None and any(not entry.column for entry in entries) else []
    elements: list[etree._Element] = []
    if positions:
        elements = list(root.iter(etree.Element))
        if len(positions) != len(elements):
            positions = []  # not the same document after all; better no column than a wrong one
    index = {element: i for i, element in enumerate(elements)} if positions else {}
    issues = []
    for entry in entries:
        element = finder.find(entry.path) if entry.path else None
        path = finder.readable_path(element) if element is not None else entry.path or None
        line, column = entry.line or None, entry.column or None
        if column is None and element in index:
            line, column = positions[index[element]]  # the start tag lxml's line points at
        issues.append(SchemaIssue(line=line, column=column, path=path, message=entry.message))
    return tuple(issues)


_LXML_STEP = re.compile(r"^(?P<name>[^\[\]/]+)(?:\[(?P<index>[1-9][0-9]*)\])?$")


class _ElementFinder:
    """Finds the element named by a libxml2 path and names it in xmlschema's readable style.

    libxml2 writes ``p:name[i]`` (position among siblings with that name and prefix, given only
    when there are several), or ``*[i]`` for an element in a default namespace (position
    among all element siblings). Readable steps are ``p:name[i]`` with the document's own
    prefix (none for a default namespace) and the position among same-named siblings.
    """

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self._children: dict[tuple[etree._Element, str], list[etree._Element]] = {}
        self._positions: dict[tuple[etree._Element, str], dict[etree._Element, int]] = {}

    def find(self, path: str) -> etree._Element | None:
        steps = path.split("/")
        if len(steps) < 2 or steps[0] != "":
            return None
        node: etree._Element | None = None
        for step in steps[1:]:
            match = _LXML_STEP.match(step)
            if match is None:
                return None
            name, position = match["name"], int(match["index"] or 1)
            candidates = [self.root] if node is None else self._matching(node, name)
            if node is None and not _lxml_name_matches(self.root, name):
                return None
            if position > len(candidates):
                return None
            node = candidates[position - 1]
        return node

    def _matching(self, parent: etree._Element, name: str) -> list[etree._Element]:
        key = (parent, "lxml:" + name)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = [c for c in parent.iterchildren(etree.Element) if _lxml_name_matches(c, name)]
        return found

    def readable_path(self, element: etree._Element) -> str:
        steps = []
        node: etree._Element | None = element
        while node is not None:
            steps.append(self._readable_step(node))
            node = node.getparent()
        return "/" + "/".join(reversed(steps))

    def _readable_step(self, element: etree._Element) -> str:
        qname = etree.QName(element)
        prefix = next((p for p, uri in element.nsmap.items() if uri == qname.namespace and p), None) if qname.namespace else None
        step = f"{prefix}:{qname.localname}" if prefix else qname.localname
        parent = element.getparent()
        if parent is not None:
            key = (parent, element.tag)
            positions = self._positions.get(key)
            if positions is None:
                positions = self._positions[key] = {c: i for i, c in enumerate(parent.iterchildren(element.tag), 1)}
            if len(positions) > 1:
                step += f"[{positions[element]}]"
        return step


def _lxml_name_matches(element: etree._Element, name: str) -> bool:
    if name == "*":
        return True
    prefix, _, local = name.rpartition(":")
    qname = etree.QName(element)
    return qname.localname == local and (element.prefix or "") == prefix and (bool(prefix) or qname.namespace is None)


def _start_tags(data: bytes) -> list[tuple[int, int]]:
    """(line, 1-based column) of every start tag in document order.

    libxml2 keeps no column for validation errors; expat has them. ``data`` already passed
    :func:`parse_untrusted` (no DOCTYPE, so no entities), so reading it again is safe. None
    for a document expat cannot read, such as one in a multi-byte encoding other than UTF-8
    and UTF-16 (Shift_JIS, EUC-JP, GB18030, Big5, UTF-7), which libxml2 reads.
    """
    positions: list[tuple[int, int]] = []
    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = lambda _name, _attrs: positions.append(
        (parser.CurrentLineNumber, parser.CurrentColumnNumber + 1))
    try:
        parser.Parse(data, True)
    except (xml.parsers.expat.ExpatError, ValueError):  # ValueError: "multi-byte encodings are not supported"
        return []
    return positions


# ---------------------------------------------------------------- unpacking


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

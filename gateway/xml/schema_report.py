"""Validation reports: a compiled schema's verdict on a document, and where each error is.

lxml (libxml2) gives the verdict and the error log: it is fast, and its log has line numbers
and messages. Each reported element is named with a readable, prefixed path in xmlschema's
style (``/memo:Message/memo:MessageHeader/memo:label``), which libxml2 cannot do for
default-namespace documents (``/*/*/*[4]``), and its column is found with expat (libxml2
records none for validation errors). The report holds the first :data:`MAX_ISSUES` errors
and costs time linear in the document however many there are.

:class:`SandboxedSchema` is the xmlschema twin of a schema, loaded lazily (xmlschema is slow
to import and build) and only for decoding documents to Python data; it runs in xmlschema's
``sandbox`` mode, so it never reads a file outside its bundle nor touches the network.
"""
from __future__ import annotations

import io
import re
import threading
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.errors import FaultCode, ValidationError
from gateway.limits import LIMITS
from gateway.xml.parser import INLINE_DOCUMENTS

MAX_ISSUES = LIMITS.schema_max_issues  # a broken document can yield thousands; the first ones are what helps
#: Above this many steps of libxml2 path building (see ``_node_path_work``), validate streaming.
MAX_NODE_PATH_WORK = LIMITS.schema_max_node_path_work
#: Above this many elements, issues carry libxml2's line and message only: naming elements and
#: finding columns indexes every element (3,000,000 elements cost 1.7 GB).
MAX_NAMED_ELEMENTS = LIMITS.schema_max_named_elements


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


@dataclass(frozen=True, slots=True)
class LockedSchema:
    """A compiled lxml schema and the lock around it: lxml keeps the error log on the schema."""

    schema: etree.XMLSchema
    lock: threading.Lock = field(default_factory=threading.Lock)


def invalid_document(name: str, message: str, *, path: str | None) -> ValidationError:
    """The refusal of a document that does not fit schema ``name``, at ``path``."""
    return ValidationError(f"not a valid {name} document: {message}", code=FaultCode.INVALID_REQUEST, field=path)


class SandboxedSchema:
    """The xmlschema twin of a schema, built on first use from files inside ``folder`` only.

    ``allow="sandbox"`` refuses every remote URL and every file outside the folder (instances
    are handed over as parsed elements, so they need no access at all). A failed build is
    remembered rather than retried on every document.
    """

    def __init__(self, folder: Path, entry: str) -> None:
        self.folder = folder
        self.entry = entry
        self._lock = threading.Lock()
        self._schema: Any = None
        self._failure: Exception | None = None

    def _built(self) -> Any:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._schema is None:
                import xmlschema  # slow to import; only decoding needs it

                folder = self.folder.resolve()
                try:
                    self._schema = xmlschema.XMLSchema(str(folder / self.entry), base_url=str(folder), allow="sandbox", defuse="always")
                except Exception as exc:  # noqa: BLE001 - any build error, kept for the next caller
                    self._failure = exc
                    raise
            return self._schema

    def to_dict(self, root: etree._Element, *, name: str) -> Any:
        """``root`` as Python data (xmlschema's default converter), or a :class:`ValidationError`."""
        schema = self._built()
        import xmlschema

        try:
            return schema.to_dict(root, use_location_hints=False)
        except xmlschema.XMLSchemaValidationError as exc:  # lxml accepted it; xmlschema is stricter here
            raise invalid_document(name, str(exc.reason), path=exc.path) from None


def report(compiled: LockedSchema, root: etree._Element, data: bytes | None) -> ValidationReport:
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
        valid = compiled.schema.validate(root)
        entries = list(compiled.schema.error_log[:MAX_ISSUES]) if not valid else []
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


def _validate_streaming(compiled: LockedSchema, root: etree._Element, data: bytes | None) -> ValidationReport:
    """The verdict and the first messages from libxml2's streaming validator, linear in the
    document; it knows no elements, so these issues carry neither line nor path.

    Memory stays flat: each element is dropped once read (a second tree of the document
    cost as much as the first), and reading stops at :data:`MAX_ISSUES` errors (libxml2's
    log kept every one: 1,000,000 invalid elements held 430 MB of messages).
    """
    source = data if data is not None else etree.tostring(root)
    with compiled.lock:
        # ``source`` already passed the hardened parser (or is our own serialisation)
        events = etree.iterparse(io.BytesIO(source), events=("end",), schema=compiled.schema, resolve_entities=False,
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


__all__ = [
    "MAX_ISSUES", "MAX_NAMED_ELEMENTS", "MAX_NODE_PATH_WORK", "LockedSchema", "SandboxedSchema", "SchemaIssue",
    "ValidationReport", "invalid_document", "report",
]

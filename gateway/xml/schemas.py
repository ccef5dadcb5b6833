"""Named XML schemas, compiled once, for validating messages such as MeMo: the one registry
through which every XSD in the gateway is compiled.

lxml (libxml2) compiles every schema when it is registered (:func:`compile_schema`, also
for schemas held in memory such as a WSDL's types) and gives the verdict and the report
(:mod:`gateway.xml.schema_report`: line, column and a readable path for each error). The
xmlschema twin of a schema is built lazily, for :meth:`SchemaRegistry.decode` only.

Built-in schemas are the team's own bundles in ``xsd/`` (``memo-1.1``, ``memo-1.2``).
Operators may add bundles (a folder or a .zip) at run time (:mod:`gateway.xml.bundles`:
unpacked, checked, with a manifest), and :meth:`SchemaRegistry.load` brings them back after
a restart. Every ``schemaLocation`` must be a relative path to a file inside the bundle, so
no engine ever touches the network or the rest of the disk.
"""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.errors import FaultCode, GatewayError
from gateway.resources import data_dir
from gateway.xml import bundles
from gateway.xml.bundles import BundleError
from gateway.xml.parser import STRICT, XmlParsePolicy, make_parser, parse_untrusted
from gateway.xml.schema_report import LockedSchema, SandboxedSchema, ValidationReport, invalid_document, report

BUILTIN = {"memo-1.1": "memo-1.1", "memo-1.2": "memo-1.2"}  # name -> folder under xsd/
BUILTIN_ENTRY = "memo.xsd"


class UnknownSchema(GatewayError):
    """No schema is registered under the name a caller gave (its ``schema`` argument)."""

    default_code = FaultCode.SCHEMA_UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaBundle:
    """Where a registered schema lives: ``folder`` holds the files, ``entry`` is relative to it."""

    name: str
    folder: Path
    entry: str
    builtin: bool


def compile_schema(source: Path | bytes) -> etree.XMLSchema:
    """The one way the gateway turns an XSD into a validator.

    A ``Path`` is an entry schema whose references :func:`~gateway.xml.bundles.check_references`
    has checked: it is read with local files allowed, so its includes and imports resolve
    inside its folder. Bytes are a schema document held in memory (a WSDL's types), read
    with the hardened parser, which loads nothing. lxml's parse and compile errors propagate.
    """
    if isinstance(source, Path):
        return etree.XMLSchema(etree.parse(str(source), parser=make_parser(allow_local_files=True)))
    return etree.XMLSchema(etree.fromstring(source, parser=make_parser()))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Compiled:
    bundle: SchemaBundle
    lxml: LockedSchema
    twin: SandboxedSchema


def _compile(bundle: SchemaBundle) -> _Compiled:
    entry = bundles.check_references(bundle.folder, bundle.entry)
    try:
        schema = compile_schema(entry)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise BundleError(f"schema {bundle.name!r} does not compile: {exc}") from None
    return _Compiled(bundle=bundle, lxml=LockedSchema(schema), twin=SandboxedSchema(bundle.folder, bundle.entry))


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
        base = data_dir("xsd")
        for name, folder in BUILTIN.items():
            registry.register(SchemaBundle(name=name, folder=base / folder, entry=BUILTIN_ENTRY, builtin=True))
        return registry

    @classmethod
    def load(cls, bundles_dir: Path | str, *, builtin: bool = True) -> SchemaRegistry:
        """The built-in schemas plus every bundle earlier added under ``bundles_dir``."""
        registry = cls.builtin(bundles_dir=bundles_dir) if builtin else cls(bundles_dir=bundles_dir)
        directory = Path(bundles_dir)
        if not directory.is_dir():
            return registry
        for folder in sorted(directory.iterdir()):
            stored = bundles.read_manifest(folder)
            if stored is not None:
                name, entry = stored
                registry.register(SchemaBundle(name=name, folder=folder / bundles.FILES, entry=entry, builtin=False))
        return registry

    def register(self, bundle: SchemaBundle) -> None:
        """Compile the schema in ``bundle`` (files the project or an operator placed) under its name."""
        self._register(bundle)

    def _register(self, bundle: SchemaBundle, compiled: _Compiled | None = None) -> None:
        compiled = compiled or _compile(bundle)
        with self._write_lock:
            if bundle.name in self._schemas:
                raise BundleError(f"a schema named {bundle.name!r} is already registered")
            self._schemas = {**self._schemas, bundle.name: compiled}

    # ------------------------------------------------------------ bundles

    def add_bundle(self, name: str, path: Path | str, *, entry: str | None = None) -> SchemaBundle:
        """Copy a schema folder or .zip under ``bundles_dir/<name>/``, compile it and register it.

        ``entry`` is relative to the bundle's top (see :mod:`gateway.xml.bundles`). Nothing is
        kept when any check fails; a stored bundle comes back after a restart via :meth:`load`.
        """
        if self.bundles_dir is None:
            raise BundleError("this registry has no bundles_dir; operator bundles cannot be stored")
        bundles.check_name(name)
        source = Path(path)
        with self._bundle_lock:
            target = self.bundles_dir / name
            if name in self._schemas or name in BUILTIN or target.exists():
                raise BundleError(f"a schema named {name!r} is already registered or stored")
            self.bundles_dir.mkdir(parents=True, exist_ok=True)
            staging = self.bundles_dir / f".staging-{uuid.uuid4().hex}"
            try:
                relative = bundles.unpack(source, staging / bundles.FILES, entry=entry)
                compiled = _compile(SchemaBundle(name=name, folder=staging / bundles.FILES, entry=relative, builtin=False))
                bundles.write_manifest(staging, name=name, entry=relative, source=source.name)
                os.replace(staging, target)  # the manifest arrives with the files, never before
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            bundle = SchemaBundle(name=name, folder=target / bundles.FILES, entry=relative, builtin=False)
            self._register(bundle, _Compiled(bundle=bundle, lxml=compiled.lxml, twin=SandboxedSchema(bundle.folder, relative)))
            return bundle

    # ------------------------------------------------------------ queries

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._schemas))

    def __contains__(self, name: object) -> bool:
        return name in self._schemas

    def bundle(self, name: str) -> SchemaBundle:
        return self._get(name).bundle

    def _get(self, name: str) -> _Compiled:
        """The one unknown-schema check: every query by name comes through here."""
        try:
            return self._schemas[name]
        except KeyError:
            raise UnknownSchema(f"no schema named {name!r}; known: {', '.join(self.names())}", field="schema") from None

    # ------------------------------------------------------------ validation

    def validate(self, name: str, data: bytes | etree._Element, *, policy: XmlParsePolicy = STRICT) -> ValidationReport:
        """Check ``data`` against schema ``name``.

        Bytes are parsed with :func:`parse_untrusted` (its :class:`GatewayError` propagates
        for hostile or malformed XML); pass ``policy=INLINE_DOCUMENTS`` for MeMo messages
        whose inline files exceed 10 MB. Issues are capped at
        :data:`~gateway.xml.schema_report.MAX_ISSUES`; columns are known for bytes only
        (libxml2 records none for validation errors).
        """
        compiled = self._get(name)
        return report(compiled.lxml, _tree(data, policy), data if isinstance(data, bytes) else None)

    def decode(self, name: str, data: bytes | etree._Element, *, policy: XmlParsePolicy = STRICT) -> Any:
        """The document as Python data (xmlschema's default converter), or a :class:`ValidationError`."""
        compiled = self._get(name)
        root = _tree(data, policy)
        verdict = report(compiled.lxml, root, data if isinstance(data, bytes) else None)
        if not verdict.valid:
            first = verdict.errors[0]
            raise invalid_document(name, first.message, path=first.path)
        return compiled.twin.to_dict(root, name=name)


def _tree(data: bytes | etree._Element, policy: XmlParsePolicy) -> etree._Element:
    return parse_untrusted(data, policy=policy) if isinstance(data, bytes) else data


__all__ = ["BUILTIN", "SchemaBundle", "SchemaRegistry", "UnknownSchema", "compile_schema"]

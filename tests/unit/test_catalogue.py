"""The fault catalogue lists every family of codes, and errors.py stays below every layer."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import gateway
from gateway.catalogue import FAMILIES, all_faults
from gateway.errors import FAULTS, FaultCode, FaultFamily, FaultInfo

ROOT = Path(__file__).resolve().parents[2]


def _every_family() -> set[type[FaultFamily]]:
    for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found, pending = set(), list(FaultFamily.__subclasses__())
    while pending:
        family = pending.pop()
        found.add(family)
        pending.extend(family.__subclasses__())
    return {family for family in found if family.__module__.startswith("gateway.")}  # not the probes below


def test_every_family_in_the_code_is_in_the_catalogue():
    assert set(FAMILIES) == _every_family()


def test_the_catalogue_is_the_core_table_then_the_families_by_name():
    codes = [code for code, _info in all_faults()]
    core = [code for code in FAULTS if isinstance(code, FaultCode)]
    assert codes[: len(core)] == core
    assert codes[len(core):] == sorted(code for family in FAMILIES for code in family)
    assert len(set(codes)) == len(codes)


def test_a_family_registers_its_codes_with_side_status_and_meaning():
    class Probe(FaultFamily, side="Server", http_status=503):
        PROBE_DOWN = "TEST_PROBE_DOWN", "A probe that is down."

    try:
        assert Probe.PROBE_DOWN == "TEST_PROBE_DOWN" and Probe.PROBE_DOWN.meaning == "A probe that is down."
        assert FAULTS["TEST_PROBE_DOWN"] == FaultInfo("Server", 503, "A probe that is down.")
        with pytest.raises(ValueError, match="TEST_PROBE_DOWN"):
            class Clash(FaultFamily):
                PROBE_DOWN = "TEST_PROBE_DOWN", "Something else."
        with pytest.raises(TypeError, match="no codes"):
            class Empty(FaultFamily):
                pass
    finally:
        FAULTS.pop("TEST_PROBE_DOWN", None)


def test_errors_imports_nothing_of_the_gateway():
    tree = ast.parse((ROOT / "gateway" / "errors.py").read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name == "gateway" or name.startswith("gateway.")]

"""Every hard bound is declared once (gateway/limits.py), used from there, and documented."""
from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.limits import LIMITS, all_limits, limits_markdown, shown_value
from tests.conftest import ROOT

GATEWAY = ROOT / "gateway"


def test_docs_limits_md_is_generated_from_the_code():
    assert (ROOT / "docs" / "limits.md").read_text(encoding="utf-8") == limits_markdown(), "run gateway limits --markdown > docs/limits.md"


@pytest.mark.parametrize("info", all_limits(), ids=lambda info: info.name)
def test_each_limit_is_described_and_used_where_it_says(info):
    assert info.value > 0 and info.unit and info.why.endswith(".")
    if info.setting is not None:
        section, key = info.setting.split(".")
        assert getattr(Settings(), section).__class__.__dataclass_fields__[key].default == info.value  # the default comes from here
        used = rf"\.{key}\b"
    else:
        used = rf"\bLIMITS\.{info.name}\b"
    sources = [inspect.getsource(importlib.import_module(module)) for module in info.enforced_in.split(", ")]
    assert any(re.search(used, source) for source in sources), f"{info.name}: not read in {info.enforced_in}"


def test_every_limit_the_code_reads_is_declared():
    read = {name for path in GATEWAY.rglob("*.py") for name in re.findall(r"\bLIMITS\.([a-z_]+)", path.read_text(encoding="utf-8"))}
    declared = {info.name for info in all_limits()}
    assert read <= declared
    fixed = {info.name for info in all_limits() if info.setting is None}
    assert fixed <= read, "a fixed limit nobody enforces"


def test_enforcing_modules_hold_the_declared_values():
    from gateway import server
    from gateway.soap import contract, faults
    from gateway.soap.multipart import MultipartPolicy
    from gateway.xml.parser import STRICT

    assert server.IN_MEMORY_BODY_BYTES == LIMITS.in_memory_body_bytes
    assert MultipartPolicy().max_parts == LIMITS.mtom_max_parts
    assert STRICT.max_depth == LIMITS.xml_max_depth
    assert contract.MAX_PAYLOAD_ELEMENTS == LIMITS.max_payload_elements
    assert faults.MAX_FAULT_TEXT == LIMITS.fault_text_characters


def test_values_are_shown_in_units_people_read():
    assert shown_value(512 * 1024 * 1024, "bytes") == "512 MiB"
    assert shown_value(16 * 1024, "bytes") == "16 KiB"
    assert shown_value(100_000, "elements") == "100,000"
    assert shown_value(5.0, "seconds") == "5"
    assert shown_value(1000, "bytes") == "1,000"


def test_no_module_repeats_a_limit_as_a_literal():
    """The bounds that moved here are not written again elsewhere (as their old literals)."""
    moved = {"server.py": ["8 * 1024 * 1024", "timeout=300"], "soap/multipart.py": ["= 256\n", "16 * KiB", "64 * MiB"],
             "xml/parser.py": ["max_depth: int = 128"], "config/sections.py": ["512 * MiB", "350 * MiB", "= 226", "= 500_000"]}
    for relative, literals in moved.items():
        text = (GATEWAY / relative).read_text(encoding="utf-8")
        for literal in literals:
            assert literal not in text, f"{relative}: {literal!r}"

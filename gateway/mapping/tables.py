"""The contract tables of ``mappings/`` as objects: status maps and field namers.

The tables ship inside the source tree (``mappings/`` at the project root, installed as
package data next to this package when built as a wheel); :func:`gateway.resources.load_table`
reads each once.
"""
from __future__ import annotations

import re

from gateway.model import Status
from gateway.resources import load_table


class StatusMap:
    """Internal :class:`Status` ↔ a contract's status values (``mappings/status.toml``)."""

    def __init__(self, contract: str) -> None:
        table = load_table("status")[contract]
        self.to_contract: dict[Status, str] = {Status(k): v for k, v in table.items()}
        missing = set(Status) - set(self.to_contract)
        if missing:
            raise ValueError(f"mappings/status.toml [{contract}] lacks {sorted(missing)}")

    def __call__(self, status: Status) -> str:
        return self.to_contract[status]


class FieldNamer:
    """Canonical field path → the contract's element path (``mappings/<contract>_fields.toml``)."""

    _INDEX = re.compile(r"\[(\d+)\]")

    def __init__(self, table: str) -> None:
        self.fields: dict[str, str] = load_table(table)["fields"]

    def __call__(self, path: str) -> str:
        if path in self.fields:  # listed with its index: recipient.address.lines[0] → adresse1
            return self.fields[path]
        indexes = self._INDEX.findall(path)
        generic = self._INDEX.sub("[]", path)
        probe = generic
        while probe and probe not in self.fields:
            probe = probe.rpartition(".")[0]
        if not probe:
            return path
        wire = self.fields[probe] + generic[len(probe):]
        for index in indexes:
            wire = wire.replace("[]", f"[{index}]", 1)
        return wire

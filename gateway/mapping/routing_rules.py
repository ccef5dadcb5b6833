"""Folder-routing rules (``mappings/folder_routing.toml``): set contact point and attention
data on a letter from what it is about and who it is for."""
from __future__ import annotations

import dataclasses
import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.resources import load_table
from gateway.model import Attention, Shipment

MATCH_KEYS = frozenset({"recipient", "sender", "kle", "form", "case_system", "p_number"})
#: Set key → the canonical routing field it sets, and within ``routing.attention`` which one.
SET_KEYS: dict[str, tuple[str, str | None]] = {
    "contact_point": ("contact_point", None),
    "contact_group": ("contact_group", None),
    "contact_label": ("contact_label", None),
    "attention_person": ("attention", "person"),
    "attention_email": ("attention", "email"),
}


@dataclass(frozen=True, slots=True)
class RoutingRule:
    name: str
    match: Mapping[str, str]
    set: Mapping[str, str]

    def matches(self, shipment: Shipment) -> bool:
        r = shipment.routing
        facts = {
            "recipient": shipment.recipient.identifier,
            "sender": shipment.sender,
            "kle": r.kle,
            "form": r.form,
            "case_system": r.case_system,
            "p_number": r.production_unit,
        }
        return all((fact := facts[k]) is not None and fnmatch.fnmatchcase(fact, pattern) for k, pattern in self.match.items())


def parse_rules(raw: Sequence[Mapping[str, Any]], *, source: str) -> tuple[RoutingRule, ...]:
    rules = []
    for i, item in enumerate(raw):
        match, sets = dict(item.get("match", {})), dict(item.get("set", {}))
        bad = sorted(set(match) - MATCH_KEYS) + sorted(set(sets) - set(SET_KEYS))
        if bad or not sets:
            raise ValueError(f"{source}: rule {i}: unknown or missing keys {bad or ['set']}")
        rules.append(RoutingRule(name=str(item.get("name", f"rule {i + 1}")), match=match, set=sets))
    return tuple(rules)


def load_rules(path: str | Path | None = None) -> tuple[RoutingRule, ...]:
    """The rules from ``path`` (an operator's file) or from ``mappings/folder_routing.toml``."""
    if path:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("rules", [])
        return parse_rules(raw, source=str(path))
    return parse_rules(load_table("folder_routing").get("rules", []), source="mappings/folder_routing.toml")


def apply_rules(shipment: Shipment, rules: Sequence[RoutingRule]) -> tuple[Shipment, RoutingRule | None]:
    for rule in rules:
        if rule.matches(shipment):
            routing = shipment.routing
            fields: dict[str, Any] = {}
            attention: dict[str, str] = {}
            for key, value in rule.set.items():
                name, part = SET_KEYS[key]
                if part is None:
                    fields[name] = value
                else:
                    attention[part] = value
            if attention:
                fields["attention"] = dataclasses.replace(routing.attention or Attention(), **attention)
            return dataclasses.replace(shipment, routing=dataclasses.replace(routing, **fields)), rule
    return shipment, None

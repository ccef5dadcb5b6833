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

from gateway.mapping.tables import load
from gateway.model import Shipment

MATCH_KEYS = frozenset({"recipient", "sender", "kle", "form", "case_system", "p_number"})
SET_KEYS = {
    "contact_point": None,  # routing.contact_point
    "contact_group": "memo.contactPoint.group",
    "contact_label": "memo.contactPoint.label",
    "attention_person": "memo.attention.person",
    "attention_email": "memo.attention.email",
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
            "sender": shipment.tenant,
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
    return parse_rules(load("folder_routing").get("rules", []), source="mappings/folder_routing.toml")


def apply_rules(shipment: Shipment, rules: Sequence[RoutingRule]) -> tuple[Shipment, RoutingRule | None]:
    for rule in rules:
        if rule.matches(shipment):
            routing = shipment.routing
            extra = dict(routing.extra)
            contact_point = routing.contact_point
            for key, value in rule.set.items():
                extra_key = SET_KEYS[key]
                if extra_key is None:
                    contact_point = value
                else:
                    extra[extra_key] = value
            routing = dataclasses.replace(routing, contact_point=contact_point, extra=tuple(extra.items()))
            return dataclasses.replace(shipment, routing=routing), rule
    return shipment, None

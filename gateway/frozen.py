"""The one decorator for settings and model values: frozen, slotted, keyword-only."""
from __future__ import annotations

import typing
from dataclasses import dataclass

_T = typing.TypeVar("_T")


@typing.dataclass_transform(frozen_default=True, kw_only_default=True)
def frozen(cls: type[_T]) -> type[_T]:
    """A frozen, slotted dataclass with keyword-only fields (so type checkers know it is one)."""
    return dataclass(frozen=True, slots=True, kw_only=True)(cls)

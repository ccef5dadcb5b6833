"""Where the project's data folders are: ``mappings/`` and ``xsd/`` at the project root in a
checkout, or ``gateway/data/<name>`` when installed from a wheel."""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def data_dir(name: str) -> Path:
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from this installation")


@functools.cache
def load_table(name: str) -> dict[str, Any]:
    """``mappings/<name>.toml``, the tables and texts for people kept as data; read once."""
    return tomllib.loads((data_dir("mappings") / f"{name}.toml").read_text(encoding="utf-8"))

"""The localities events may name (``localities.yaml`` or ``SENDWATCH_LOCALITIES_FILE``).

``locality`` becomes a public breakdown, so only the council's own list (plus its
``unknown`` value) is accepted: a name or postcode sent as a locality is rejected with
reason ``unknown_locality`` instead of becoming a row on the dashboard.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic_core import PydanticCustomError

_DEFAULT = Path(__file__).with_name("localities.yaml")

UNKNOWN_LOCALITY = "unknown_locality"


@lru_cache(maxsize=4)
def _document(path: str | None) -> dict[str, Any]:
    file = Path(path or os.environ.get("SENDWATCH_LOCALITIES_FILE") or _DEFAULT)
    doc: dict[str, Any] = yaml.safe_load(file.read_text(encoding="utf-8"))
    return doc


def locality_order(path: str | None = None) -> tuple[str, ...]:
    """The file's localities in the file's order (not its ``unknown`` value)."""
    return tuple(str(n) for n in (_document(path).get("localities") or {}))


@lru_cache(maxsize=4)
def locality_names(path: str | None = None) -> frozenset[str]:
    """Every accepted locality: the file's localities and its ``unknown`` value."""
    return frozenset({*locality_order(path), str(_document(path).get("unknown") or "unknown")})


def known_locality(value: Any) -> Any:
    """Pydantic (before) validator: the value must be one of :func:`locality_names`."""
    if isinstance(value, str) and value not in locality_names():
        raise PydanticCustomError(
            UNKNOWN_LOCALITY, "not one of the localities in contracts/localities.yaml", {}
        )
    return value

"""Values compared with their types: ``1``, ``1.0`` and ``True`` stay apart, dict keys
keep their order, and NaN equals NaN (by its repr)."""

from __future__ import annotations

from typing import Any


def typed(value: Any) -> Any:
    """``value`` with the type of every scalar and the order of every dict's keys."""
    if isinstance(value, list):
        return ["list", [typed(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", [(typed(key), typed(item)) for key, item in value.items()]]
    return [type(value).__name__, repr(value)]

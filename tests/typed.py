"""Plain values looked at closely: with their types (``1``, ``1.0`` and ``True`` stay apart,
dict keys keep their order, NaN equals NaN by its repr), and every string they hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def typed(value: Any) -> Any:
    """``value`` with the type of every scalar and the order of every dict's keys."""
    if isinstance(value, list):
        return ["list", [typed(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", [(typed(key), typed(item)) for key, item in value.items()]]
    return [type(value).__name__, repr(value)]


def texts(value: Any) -> Iterator[str]:
    """Every string in ``value``: dict keys and items, list and tuple items."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from texts(key)
            yield from texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from texts(item)

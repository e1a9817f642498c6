"""Sandboxed Lua 5.4 in a confined worker process, driven from the kernel.

:class:`LuaSandbox` (kernel side) starts ``python -m jido_kernel.lua.worker``, which
holds one persistent Lua state built from an allow-list (:mod:`.runtime`,
``prelude.lua``), stops it with a count hook armed only when a limit trips
(:mod:`.limits`), and answers ``jido.*`` calls through the security library
(:mod:`.bridge`). Values cross as plain data (:mod:`.values`) over a JSON pipe
(:mod:`.protocol`).
"""

from .client import LuaResult, LuaSandbox
from .display import LuaTable, LuaValues, display_value
from .errors import (
    LuaError,
    LuaMemoryError,
    LuaSyntaxError,
    LuaTimeoutError,
    LuaValueError,
    LuaWorkerCrashed,
)
from .values import LuaOpaque

__all__ = [
    "LuaError",
    "LuaMemoryError",
    "LuaOpaque",
    "LuaResult",
    "LuaSandbox",
    "LuaSyntaxError",
    "LuaTable",
    "LuaValues",
    "LuaTimeoutError",
    "LuaValueError",
    "LuaWorkerCrashed",
    "display_value",
]

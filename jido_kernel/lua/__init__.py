"""Sandboxed Lua 5.4 in a confined worker process: the kernel side and what both sides share.

:class:`LuaSandbox` (:mod:`.sandbox`, over the pipes of :mod:`.transport`) starts
the worker (:mod:`jido_kernel.lua.worker`, run by ``python -I -S``) — the untrusted process, whose code is all in
:mod:`jido_kernel.lua.worker` and which the kernel side never imports. Messages are JSON
lines (:mod:`.protocol`), values cross as plain data (:mod:`.wire`), errors are typed
(:mod:`.errors`). Names are imported lazily so that the worker, a subpackage, starts
without the kernel side's imports.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from jido_kernel.lua.errors import (
        LuaError,
        LuaMemoryError,
        LuaSyntaxError,
        LuaTimeoutError,
        LuaValueError,
        LuaWorkerCrashed,
    )
    from jido_kernel.lua.sandbox import LuaResult, LuaSandbox
    from jido_kernel.lua.wire import LuaOpaque

_EXPORTS = {
    "LuaError": "jido_kernel.lua.errors",
    "LuaMemoryError": "jido_kernel.lua.errors",
    "LuaSyntaxError": "jido_kernel.lua.errors",
    "LuaTimeoutError": "jido_kernel.lua.errors",
    "LuaValueError": "jido_kernel.lua.errors",
    "LuaWorkerCrashed": "jido_kernel.lua.errors",
    "LuaOpaque": "jido_kernel.lua.wire",
    "LuaResult": "jido_kernel.lua.sandbox",
    "LuaSandbox": "jido_kernel.lua.sandbox",
}

__all__ = [
    "LuaError",
    "LuaMemoryError",
    "LuaOpaque",
    "LuaResult",
    "LuaSandbox",
    "LuaSyntaxError",
    "LuaTimeoutError",
    "LuaValueError",
    "LuaWorkerCrashed",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module == "jido_kernel.lua.sandbox":  # the kernel side, which logs
        importlib.import_module("jido_kernel._logging")
    return getattr(importlib.import_module(module), name)

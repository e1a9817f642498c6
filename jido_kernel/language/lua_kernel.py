"""``JidoLuaKernel``: the ``jido-lua`` kernel, where every cell is Lua in the session's sandbox.

A cell that starts with ``%`` is IPython's (the jido magics; ``%%python`` makes the rest
of the cell Python); any other cell runs as Lua, its first line being line 1. The kernel
announces Lua as its language, so every front end highlights cells as Lua; completion,
help and is_complete answer for Lua (see :class:`~jido_kernel.kernel.JidoKernel`).
"""

from __future__ import annotations

from typing import Any

from jido_kernel.kernel import JidoKernel

PYTHON_CELL = "%%python"


def lua_first_cell(lines: list[str]) -> list[str]:
    """IPython's first input transformer in ``jido-lua``: a Lua cell becomes one call that
    runs it; a ``%%python`` cell loses its first line; other ``%`` cells stay as they are."""
    cell = "".join(lines)
    stripped = cell.lstrip()
    if stripped.startswith(PYTHON_CELL) and stripped[len(PYTHON_CELL) : len(PYTHON_CELL) + 1] in ("", "\n", " "):
        return lines[1:] if lines and lines[0].lstrip().startswith(PYTHON_CELL) else []
    if not stripped or stripped.startswith("%"):
        return lines
    return [f"get_ipython().magics_manager.registry['LuaMagics'].run_lua_cell({cell!r})\n"]


class JidoLuaKernel(JidoKernel):
    """The ``jido-lua`` kernel: Lua 5.4 (sandboxed)."""

    implementation = "jido_kernel.lua"
    lua_first = True
    language_info = {  # noqa: RUF012 (ipykernel reads it as a class attribute)
        "name": "lua",
        "version": "5.4",
        "mimetype": "text/x-lua",
        "file_extension": ".lua",
        "pygments_lexer": "lua",
        "codemirror_mode": "lua",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.shell is not None
        self.shell.input_transformers_cleanup.insert(0, lua_first_cell)

    @property
    def banner(self) -> str:  # type: ignore[override]
        return (
            super().banner.replace("%%lua runs sandboxed Lua", "cells are sandboxed Lua, %%python runs Python", 1)
            if self._extension_error is None
            else super().banner
        )

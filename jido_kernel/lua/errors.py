"""Typed errors of Lua runs.

Each shows in IPython as one line, ``LuaError: <cell 3>:2: attempt to call a nil value``,
with no Python frames (``_render_traceback_`` from :class:`~jido_kernel.errors.JidoError`).
An interrupted run raises the built-in :class:`KeyboardInterrupt`, not a class from here.
"""

from __future__ import annotations

from jido_kernel.errors import JidoError
from jido_kernel.lua.protocol import MAX_FRAMES
from jido_kernel.text import terminal_safe

STATE_RESET = "the Lua state was reset (globals are lost)"


class LuaError(JidoError):
    """Lua raised an error. ``str()`` is Lua's own message (``<cell 3>:2: …``).

    ``chunk`` and ``line`` locate the error when Lua's message names a position;
    ``state_reset`` is True when the worker had to be restarted, losing every global;
    ``lua_traceback`` holds the cells' Lua frames where it was raised, innermost first
    (``<cell 3>:2: in function 'parse'``), without sandbox or Python frames.
    """

    reason = "lua_error"

    def __init__(
        self,
        message: str,
        *,
        chunk: str | None = None,
        line: int | None = None,
        state_reset: bool = False,
        reason: str | None = None,
        lua_traceback: list[str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.chunk = chunk
        self.line = line
        self.state_reset = state_reset
        self.lua_traceback: list[str] = list(lua_traceback or [])

    show_traceback: bool | None = None
    """Whether IPython shows the Lua frames under the message; None: when there are several."""

    def _render_traceback_(self) -> list[str]:
        """The one-line error, then the cells' own Lua frames (no Python or sandbox frames)."""
        lines = super()._render_traceback_()
        frames = user_frames(getattr(self, "lua_traceback", None) or ())
        show = self.show_traceback if self.show_traceback is not None else len(frames) > 1
        if show and frames:
            lines.append("Lua traceback (most recent call first):")
            lines += [f"  {terminal_safe(frame)}" for frame in frames[:MAX_FRAMES]]
            if len(frames) > MAX_FRAMES:
                lines.append(f"  … {len(frames) - MAX_FRAMES} more frames")
        return lines


"""Lua frames shown under an error."""


def user_frames(frames: object) -> list[str]:
    """The frames of the cells' own code: C functions and the sandbox's frames left out."""
    if not isinstance(frames, list | tuple):
        return []
    return [
        frame.strip()
        for frame in frames
        if isinstance(frame, str) and not frame.lstrip().startswith(("[C]", "[jido sandbox]", "(...tail calls...)"))
    ]


class LuaSyntaxError(LuaError):
    """The chunk did not compile; ``line`` is the line Lua complained about."""

    reason = "lua_syntax_error"


class LuaTimeoutError(LuaError):
    """The run exceeded its time limit and was stopped."""

    reason = "lua_timeout"


class LuaMemoryError(LuaError):
    """The run exceeded the Lua memory limit; the allocation was refused."""

    reason = "lua_memory"


class LuaWorkerCrashed(LuaError):
    """The worker process stopped unexpectedly or broke the protocol; it was restarted."""

    reason = "lua_worker_crashed"


class LuaValueError(JidoError, ValueError):
    """A value cannot cross between Python and Lua (a Python object, a Lua function, a
    cycle, an integer beyond 64 bits…). The message names the variable and the type."""

    reason = "unsupported_value"

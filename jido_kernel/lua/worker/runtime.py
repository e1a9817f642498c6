"""The sandboxed Lua state of one worker: build it, run chunks, move values in and out.

A :class:`SandboxRuntime` wraps one ``lupa.lua54.LuaRuntime`` set up by ``prelude.lua``
(the allow-listed environment, the C library functions of ``native.c``, the ``jido``
bridge). Strings cross as bytes (``encoding=None``): Lua strings need not be
UTF-8, and nothing ever fails to decode. The Lua memory limit is in force only while a
chunk runs (lupa aborts on an allocation failure outside a protected call), and
:class:`~jido_kernel.lua.worker.stopper.Limiter` stops a chunk when a limit trips.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence

import lupa.lua54
from lupa.lua54 import LuaRuntime

from jido_kernel.lua.errors import LuaMemoryError
from jido_kernel.lua.wire import check_name
from jido_kernel.lua.worker.lupa_data import from_lua, text, to_lua
from jido_kernel.lua.worker.native import library
from jido_kernel.lua.worker.stopper import Limiter
from jido_kernel.values import FrozenValue, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Handler = Callable[[str, tuple[Any, ...]], tuple[Any, str | None]]

MIB = 1024 * 1024
PRELUDE_NAME = b"=[jido sandbox]"
PRELUDE_CHUNK = PRELUDE_NAME[1:].decode()


def _read_prelude() -> bytes:
    """:file:`prelude.lua`, next to this module (as native.py finds its library)."""
    with open(os.path.join(os.path.dirname(__file__), "prelude.lua"), "rb") as prelude:
        return prelude.read()


_PRELUDE = _read_prelude()
MAX_NAMES = 2000
"""Table entries looked at to list a table's names for completion."""
MAX_PATH = 16
_POSITION = re.compile(r"(?P<chunk>[^\n]+?):(?P<line>\d+): ")


class RunError(FrozenValue):
    """How a run failed: ``type`` is an error class name of :mod:`jido_kernel.lua.errors`
    or ``"KeyboardInterrupt"``; ``traceback``: the cells' Lua frames where the error was
    raised, innermost first."""

    _fields = ("type", "message", "chunk", "line", "traceback")
    __slots__ = _fields
    type: str
    message: str
    chunk: str | None
    line: int | None
    traceback: tuple[str, ...]

    def __init__(
        self,
        type: str,
        message: str,
        chunk: str | None = None,
        line: int | None = None,
        traceback: tuple[str, ...] = (),
    ) -> None:
        self._set(type, message, chunk, line, traceback)


class RunOutcome(Value):
    """What a run produced: its return values (plain data), or ``error``."""

    _fields = ("values", "error", "duration")
    __slots__ = _fields

    def __init__(self, values: list[Any] | None = None, error: RunError | None = None, duration: float = 0.0) -> None:
        self.values: list[Any] = [] if values is None else values
        self.error = error
        self.duration = duration


class Callbacks(FrozenValue):
    """The worker's side of the bridge, called from Lua on the thread running it.

    ``emit(bytes)``: printed text. ``bridge(name, args)`` and ``state(op, args)``
    implement ``jido.*`` and ``jido.state.*``: they receive lupa's values and return
    ``(value, None)`` (plain data for Lua) or ``(None, message)``.

    ``option_names``: the bridge functions whose second parameter is an options table.
    When one is called with two arguments, the second a table of one entry whose value
    is a boolean or an integer (``{raw = true}``), the prelude passes that entry instead
    of the table, and ``bridge`` gets the table as :func:`from_lua` reads it, a ``dict``
    (lupa gives no dict otherwise).
    """

    _fields = ("emit", "bridge", "state", "bridge_names", "state_names", "option_names")
    __slots__ = _fields
    emit: Callable[[bytes], None]
    bridge: Handler
    state: Handler
    bridge_names: Sequence[str]
    state_names: Sequence[str]
    option_names: Sequence[str]

    def __init__(
        self,
        emit: Callable[[bytes], None],
        bridge: Handler,
        state: Handler,
        bridge_names: Sequence[str],
        state_names: Sequence[str],
        option_names: Sequence[str] = (),
    ) -> None:
        self._set(emit, bridge, state, bridge_names, state_names, option_names)


def position(message: str) -> tuple[str | None, int | None]:
    """The ``chunk:line:`` a Lua error message starts with, if any."""
    match = _POSITION.match(message)
    if match is None:
        return None, None
    return match["chunk"], int(match["line"])


def _deny_get(obj: object, name: object) -> None:
    raise AttributeError("Python objects are not accessible from the sandbox")


def _deny_set(obj: object, name: object, value: object) -> None:
    raise AttributeError("Python objects are not accessible from the sandbox")


def _lua_text(message: str) -> str:
    # lupa decodes error messages as latin-1 when encoding is None: recover the bytes.
    return message.encode("latin-1", "replace").decode("utf-8", "replace")


class SandboxRuntime:
    """One sandboxed Lua state, used from one thread (its limiter trips from any).

    ``max_memory`` (bytes) may be changed between runs.
    """

    def __init__(self, callbacks: Callbacks, limiter: Limiter, *, max_memory: int) -> None:
        self.lua = LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_handlers=(_deny_get, _deny_set),
            max_memory=0,
        )
        main = int(self.lua.eval(b'string.format("%p", coroutine.running())'), 16)
        self._native = library()
        self._record = limiter.install(main)
        self.max_memory = max_memory
        globals_ = self.lua.globals()
        native = globals_[b"jido_native"]
        globals_[b"jido_native"] = None
        self.limiter = limiter
        self._callbacks = callbacks
        entry = self.lua.execute(
            _PRELUDE,
            callbacks.emit,
            self.limiter.sleep,
            self._bridge,
            self._state,
            self.lua.table_from([name.encode() for name in callbacks.bridge_names]),
            self.lua.table_from([name.encode() for name in callbacks.state_names]),
            native,
            self._bridge_option,
            self.lua.table_from([name.encode() for name in callbacks.option_names]),
            name=PRELUDE_NAME,
            mode="t",
        )
        self._entry = {key.decode(): value for key, value in entry.items()}
        self.lua.gccollect()

    # -- callbacks from Lua -----------------------------------------------------------

    def _bridge(self, name: bytes, *args: Any) -> Any:
        return self._reply(self._callbacks.bridge, name, args)

    def _bridge_option(self, name: bytes, first: Any, key: bytes, value: bool | int) -> Any:
        """``jido.<name>(first, {key = value})`` (see :class:`Callbacks` ``option_names``),
        the table as :func:`from_lua` reads it."""
        return self._reply(self._callbacks.bridge, name, (first, {text(key): value}))

    def _state(self, op: bytes, *args: Any) -> Any:
        return self._reply(self._callbacks.state, op, args)

    def _reply(self, handler: Handler, name: bytes, args: tuple[Any, ...]) -> Any:
        # Lua gets plain data or (nil, message); nothing here may raise into Lua.
        try:
            value, error = handler(name.decode(), args)
            if error is None:
                return to_lua(self.lua, value)
            return None, error.encode("utf-8", "replace")
        except BaseException as exc:
            return None, f"{name.decode()}: internal error in the jido bridge ({type(exc).__name__})".encode()

    @property
    def max_memory(self) -> int:
        """Bytes the cells may use (beyond what the state held when it was made)."""
        return self._max_memory

    @max_memory.setter
    def max_memory(self, value: int) -> None:
        self._max_memory = value
        self._native.jido_memory_max(self._record, value)

    def memory_used(self) -> int:
        """Bytes the state holds beyond what it held when it was made (what the limit counts)."""
        return int(self._native.jido_memory_used(self._record))

    def _lift(self) -> None:
        self._native.jido_memory_limit(self._record, 0)

    # -- operations ----------------------------------------------------------------------

    def run(
        self, code: str, name: str, *, timeout: float, want_return: bool, run_id: int = 0, kernel_time: float = 0.0
    ) -> RunOutcome:
        """Compile ``code`` as chunk ``name`` and run it in the cells' environment.

        ``run_id`` identifies the run for :meth:`Limiter.interrupt`; up to ``kernel_time``
        seconds spent waiting on the kernel do not count against ``timeout``.
        """
        chunkname = b"=" + name.encode("utf-8", "replace")
        answer: Any = None
        failure = ""
        memory_error = False
        self.limiter.begin(timeout, run_id, kernel_time)
        start = time.perf_counter()
        try:
            answer = self._entry["run"](code.encode("utf-8", "surrogateescape"), chunkname, want_return)
        except lupa.lua54.LuaError as error:
            # An allocation that failed for good ends the run as the memory limit, whatever
            # error reached the top; lupa raises LuaMemoryError with no message for a memory
            # error, real or raised as stock Lua raises the string "not enough memory".
            memory_error = self.limiter.allocation_failed()
            failure = _lua_text(str(error)) if error.args else "not enough memory"
        finally:
            duration = time.perf_counter() - start
            self._lift()
            self.limiter.end()
            self._entry["release"]()  # disarms the run's coroutines and lets them go
        outcome = RunOutcome(duration=duration)
        if answer is True:
            outcome.values = self._results() if want_return else []
        elif isinstance(answer, tuple):  # did not compile
            message = answer[1].decode("utf-8", "replace")
            if message == "not enough memory":
                outcome.error = self._memory_error()
            else:
                outcome.error = RunError("LuaSyntaxError", message, *position(message))
        else:
            outcome.error = self._failure(failure, memory_error, timeout)
        return outcome

    def _failure(self, text: str, memory_error: bool, timeout: float) -> RunError:
        reason = self.limiter.reason
        if reason in ("timeout", "interrupt"):
            chunk, line = self._stop_position()
            at = f" at {chunk}:{line}" if chunk else ""
            if reason == "timeout":
                message = (
                    f"Lua time limit exceeded: the cell ran longer than {timeout:g} s and was stopped{at}. "
                    "The Lua state is intact; allow more time with --timeout or the lua_timeout setting."
                )
                return RunError("LuaTimeoutError", message, chunk, line)
            message = f"Lua execution interrupted{at}; the Lua state is intact."
            return RunError("KeyboardInterrupt", message, chunk, line)
        if memory_error or reason == "memory":
            return self._memory_error()
        chunk, line = position(text)
        if chunk == PRELUDE_CHUNK:  # raised on behalf of a cell (a tail call hid its line)
            text = text.split(": ", 1)[1]
            chunk = line = None
        return RunError("LuaError", text, chunk, line, self._frames())

    def _frames(self) -> tuple[str, ...]:
        """The cells' frames the message handler noted for the run's error."""
        frames = self._entry["traceback"]()
        if frames is None:
            return ()
        entries = dict(frames.items())
        return tuple(entries[index].decode("utf-8", "replace") for index in range(1, len(entries) + 1))

    def _stop_position(self) -> tuple[str | None, int | None]:
        """Where the limit hook stopped the cell (not when inside the sandbox's own code)."""
        where = self.limiter.where()
        if where is None or where[0] == PRELUDE_CHUNK:
            return None, None
        return where

    def _memory_error(self) -> RunError:
        self.lua.gccollect()  # without it the state stays at its limit
        chunk, line = self._stop_position()
        at = f" (at {chunk}:{line})" if chunk else ""
        message = (
            f"Lua memory limit exceeded: the cell needed more than {self.max_memory / MIB:g} MiB{at}. "
            "The Lua state is intact; free memory (set large tables to nil) or raise the "
            "lua_max_memory_mb setting."
        )
        return RunError("LuaMemoryError", message, chunk, line)

    def _results(self) -> list[Any]:
        taken = self._entry["take"]()
        if not isinstance(taken, tuple):
            return []
        count, table = taken
        entries = dict(table.items())
        return [
            from_lua(entries.get(index), strict=False, name="the result", wire=True) for index in range(1, count + 1)
        ]

    def push(self, name: str, value: Any) -> None:
        """Set global ``name`` to checked plain data ``value`` (raw: no metamethod runs)."""
        key = check_name(name).encode()
        self._entry["set"](key, to_lua(self.lua, value))
        used = self.memory_used()
        if used > self.max_memory:
            self._entry["set"](key, None)
            self.lua.gccollect()
            raise LuaMemoryError(
                f"Cannot pass {name!r} to Lua: with it the Lua state would use {used / MIB:.1f} MiB, "
                f"over its {self.max_memory / MIB:g} MiB limit."
            )

    def pull(self, name: str) -> Any:
        """Global ``name`` as plain data (raw read); :class:`LuaValueError` if it has none."""
        return from_lua(self._entry["get"](check_name(name).encode()), strict=True, name=name, wire=True)

    def names(self, path: Sequence[str]) -> dict[str, str] | None:
        """``{name: Lua type}`` of the table at ``path`` from the globals (raw reads only,
        at most :data:`MAX_NAMES` entries looked at), or None when it is not a table."""
        steps = self.lua.table_from([check_name(step).encode() for step in path[:MAX_PATH]])
        found = self._entry["names"](steps, MAX_NAMES)
        if found is None:
            return None
        names = {}
        for key, kind in found.items():
            name = key.decode("utf-8", "replace")
            if name.isidentifier() and name.isascii():
                names[name] = kind.decode()
        return names

    def close(self) -> None:
        """Release the Lua state."""
        self._entry.clear()
        self.lua = None

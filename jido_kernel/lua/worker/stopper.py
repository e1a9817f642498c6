"""Stopping running Lua: a count hook armed only when a limit trips.

Any installed count hook slows VM-bound Lua 2-2.6x, however rarely it fires, so no hook
is installed while a chunk runs within its limits. When a limit trips (the deadline, an
interrupt message, a memory error swallowed by ``pcall``) :meth:`Limiter.trip` arms
``debug``'s C hook with count 1 on every Lua thread that is running — the main thread
and the chain of coroutines resumed from it — through ``lua_sethook``, which Lua
documents as safe to call asynchronously (``lua.c`` calls it from a signal handler;
lupa releases the GIL while Lua runs). The Lua hook function registered for each thread
(see ``prelude.lua``) then raises on every instruction until the chunk has unwound.

While the worker waits on the kernel (a ``jido.state`` call it serves, output the kernel is
slow to take) the run's clock stands still (:meth:`Limiter.paused`): kernel-side time is
not charged to Lua, up to an allowance per run (``kernel_time``), so a slow kernel never
turns into a Lua timeout and a cell still ends in bounded time.

The sandbox's coroutine functions keep, for each depth of nested resumes, the thread
last resumed at that depth and report it through :meth:`Limiter.enter` when it changes
(``prelude.lua``); a generator resumed again and again from the same place costs no call
into Python. The thread a limit must reach at each depth is always the one reported
there, and Lua keeps every reported thread referenced until another is reported in its
place, so arming one (under the lock that guards the list) never touches a collected
coroutine; arming a suspended or finished one is harmless. A thread entered after the
trip is armed on entry, and threads created by an armed thread inherit its hook.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import lupa.lua54

LUA_MASKCOUNT = 1 << 3


class LuaHooks:
    """``lua_sethook`` / ``lua_gethook`` of lupa's bundled Lua 5.4, called with the GIL held."""

    def __init__(self) -> None:
        library = ctypes.PyDLL(lupa.lua54.__file__)
        self._sethook = library.lua_sethook
        self._sethook.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self._sethook.restype = None
        self._gethook = library.lua_gethook
        self._gethook.argtypes = [ctypes.c_void_p]
        self._gethook.restype = ctypes.c_void_p
        self.hookf: int | None = None

    def capture(self, state: int) -> None:
        """Remember the C hook installed on ``state`` (``debug.sethook``'s ``hookf``)."""
        self.hookf = self._gethook(state)
        if not self.hookf:
            raise RuntimeError("no Lua hook is installed on the main thread")

    def arm(self, state: int) -> None:
        """Fire the Lua hook function of thread ``state`` before its next instruction."""
        self._sethook(state, self.hookf, LUA_MASKCOUNT, 1)

    def disarm(self, state: int) -> None:
        self._sethook(state, None, 0, 0)

    def is_armed(self, state: int) -> bool:
        """True while any C hook is installed on thread ``state``."""
        return bool(self._gethook(state))


class Limiter:
    """The limits of the run in progress: deadline, interrupt, memory.

    One per worker; each Lua state attaches its main thread (:meth:`attach`). ``reason``
    (``"timeout"``, ``"interrupt"``, ``"memory"``) is the first limit that tripped during
    the current run, and ``tripped`` is set with it, so Python code a chunk waits on (a
    shell command, a state call) can give up at once. :meth:`watch` is the body of the
    watchdog thread.
    """

    def __init__(self, hooks: LuaHooks) -> None:
        self.hooks = hooks
        self.tripped = threading.Event()
        self.reason: str | None = None
        self._main = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._chain: dict[int, int] = {}  # nesting depth -> lua_State* (0: the main thread)
        self._running = False
        self._armed = False
        self._deadline = 0.0
        self._pauses = 0
        self._paused_at = 0.0
        self._allowance = 0.0  # seconds the clock may still stand still in this run
        self._run_id = -1
        self._interrupted = -1

    @property
    def main(self) -> int:
        """The attached Lua state's main thread (``lua_State*``)."""
        return self._main

    def attach(self, main: int) -> None:
        """Use the Lua state whose main thread is ``main`` (a ``lua_State*``)."""
        with self._lock:
            self._main = main

    def begin(self, timeout: float, run_id: int, kernel_time: float = 0.0) -> None:
        """Run ``run_id`` starts on the main thread; it trips ``"timeout"`` after ``timeout`` s
        of its own, not counting up to ``kernel_time`` s spent :meth:`paused`."""
        with self._wake:
            self._chain = {0: self._main}
            self._running = True
            self._armed = False
            self.reason = None
            self.tripped.clear()
            self._deadline = time.monotonic() + timeout
            self._pauses = 0
            self._allowance = kernel_time
            self._run_id = run_id
            if self._interrupted == run_id:  # the interrupt overtook the run
                self._trip("interrupt")
            self._wake.notify()

    def end(self) -> bool:
        """The run is over: disarm the main thread; True if hooks were armed."""
        with self._wake:
            self._running = False
            self.hooks.disarm(self._main)
            return self._armed

    def remaining(self) -> float:
        """Seconds left before the current run's deadline (0 when past it)."""
        with self._lock:
            return max(0.0, self._limit() - time.monotonic())

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The run's clock stands still inside (the Lua thread waits on the kernel), for at
        most the run's remaining allowance; interrupts and memory trips still stop it."""
        with self._wake:
            self._pauses += 1
            if self._pauses == 1:
                self._paused_at = time.monotonic()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._pauses -= 1
                if self._pauses == 0:
                    stood = min(max(0.0, time.monotonic() - self._paused_at), self._allowance)
                    self._allowance -= stood
                    self._deadline += stood
                self._wake.notify()

    def _limit(self) -> float:
        """When the run trips ``"timeout"`` if nothing changes (lock held)."""
        return self._deadline + (self._allowance if self._pauses else 0.0)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` without using CPU, or until a limit trips (``jido.sleep``)."""
        self.tripped.wait(min(seconds, self.remaining() + 1.0))

    def enter(self, state: int, depth: int) -> None:
        """Coroutine ``state`` is resumed (or closed) at nesting ``depth`` (1: by the main
        thread); it replaces the thread known at that depth."""
        with self._lock:
            self._chain[depth] = state
            if self._armed:
                self.hooks.arm(state)

    def trip(self, reason: str) -> None:
        """Stop the run in progress (any thread); a no-op between runs."""
        with self._lock:
            self._trip(reason)

    def interrupt(self, run_id: int) -> None:
        """Stop run ``run_id``, now if it is running, or as soon as it starts."""
        with self._lock:
            self._interrupted = run_id
            if self._run_id == run_id:
                self._trip("interrupt")

    def _trip(self, reason: str) -> None:
        if not self._running:
            return
        if self.reason is None:
            self.reason = reason
            self.tripped.set()
        if not self._armed:
            self._armed = True
            for state in self._chain.values():
                self.hooks.arm(state)

    def watch(self) -> None:
        """Watchdog loop: trip ``"timeout"`` when a run passes its deadline. Never returns."""
        with self._wake:
            while True:
                remaining = self._limit() - time.monotonic()
                if not self._running or self.reason is not None:
                    self._wake.wait()
                elif remaining > 0:
                    self._wake.wait(remaining)
                else:
                    self._trip("timeout")

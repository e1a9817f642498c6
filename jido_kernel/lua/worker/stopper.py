"""Stopping running Lua: a count hook armed only when a limit trips.

Any installed count hook slows VM-bound Lua 2-2.6x, however rarely it fires, so no hook
is installed while a chunk runs within its limits. The stop itself lives in the sandbox's
C library (``native.c``): its coroutine functions keep, for each depth of nested resumes,
the thread last resumed there, without calling into Python; when a limit trips (the
deadline, an interrupt message, an allocation failure caught by ``pcall``), the
library arms a count hook of 1 on every thread of that chain through ``lua_sethook``,
which Lua documents as safe to call asynchronously (``lua.c`` calls it from a signal
handler; lupa releases the GIL while Lua runs). The hook raises the same error before
every instruction until the chunk has unwound. A thread entered after the trip is armed on
entry, and Lua keeps every thread of the chain referenced until another takes its place,
so arming never touches a collected coroutine.

While the worker waits on the kernel (a ``jido.state`` call it serves, output the kernel is
slow to take) the run's clock stands still (:meth:`Limiter.paused`): kernel-side time is
not charged to Lua, up to an allowance per run (``kernel_time``), so a slow kernel never
turns into a Lua timeout and a cell still ends in bounded time.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from jido_kernel.lua.worker.native import library

REASONS = {1: "timeout", 2: "interrupt", 3: "memory"}
CODES = {reason: code for code, reason in REASONS.items()}


class Limiter:
    """The limits of the run in progress: deadline, interrupt, memory.

    One per worker; each Lua state is attached with :meth:`install`. :attr:`reason` is the
    first limit that tripped during the current run, and ``tripped`` is set when Python
    trips one, so Python code a chunk waits on (a shell command, a state call) can give up
    at once. :meth:`watch` is the body of the watchdog thread.
    """

    def __init__(self) -> None:
        self._native = library()
        self._stopper = self._native.jido_stopper_new()
        if not self._stopper:
            raise MemoryError("cannot allocate the Lua stopper")
        self.tripped = threading.Event()
        self._main = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._running = False
        self._deadline = 0.0
        self._pauses = 0
        self._paused_at = 0.0
        self._allowance = 0.0  # seconds the clock may still stand still in this run
        self._run_id = -1
        self._interrupted = -1
        self._watch_until = math.inf  # when the watchdog wakes next if no one notifies it

    @property
    def reason(self) -> str | None:
        """``"timeout"``, ``"interrupt"`` or ``"memory"``: the first limit that tripped in the
        current (or last) run."""
        return REASONS.get(self._native.jido_stopper_reason(self._stopper))

    def install(self, main: int) -> int:
        """Use the Lua state whose main thread is ``main`` (a ``lua_State*``, no Lua running):
        its global ``jido_native`` becomes the table of the library's Lua functions, and its
        allocator the library's. Returns the state's record in the library (its memory
        account), valid as long as the state."""
        with self._lock:
            record = self._native.jido_install(main, self._stopper)
            if not record:
                raise RuntimeError("cannot install the sandbox's C functions in the Lua state")
            self._main = main
            return int(record)

    def allocation_failed(self) -> bool:
        """After a run: True if an allocation failed for good during it (a cell may also
        raise the message "not enough memory", which stock Lua raises alike)."""
        return bool(self._native.jido_stopper_allocation_failed(self._stopper))

    def hooked(self) -> bool:
        """True while the attached state's main thread has a hook installed."""
        return bool(self._native.jido_hooked(self._main))

    def where(self) -> tuple[str, int] | None:
        """``(chunk, line)`` where the hook first stopped the last run, if it did."""
        text = self._native.jido_stopper_where(self._stopper).decode("utf-8", "replace")
        chunk, _, line = text.rpartition(":")
        return (chunk, int(line)) if chunk and line.isdigit() else None

    def begin(self, timeout: float, run_id: int, kernel_time: float = 0.0) -> None:
        """Run ``run_id`` starts on the main thread; it trips ``"timeout"`` after ``timeout`` s
        of its own, not counting up to ``kernel_time`` s spent :meth:`paused`."""
        with self._wake:
            self._native.jido_stopper_begin(self._stopper, self._main)
            self._running = True
            self.tripped.clear()
            self._deadline = time.monotonic() + timeout
            self._pauses = 0
            self._allowance = kernel_time
            self._run_id = run_id
            if self._interrupted == run_id:  # the interrupt overtook the run
                self._trip("interrupt")
            if self._watch_until > self._deadline:  # else it wakes in time and sees this run
                self._wake.notify()

    def end(self) -> None:
        """The run is over: no limit trips any more; the main thread is disarmed (the
        state's ``release`` disarms its coroutines)."""
        with self._wake:
            self._running = False
            self._native.jido_stopper_end(self._stopper)

    def remaining(self) -> float:
        """Seconds left before the current run's deadline (0 when past it)."""
        with self._lock:
            return max(0.0, self._limit() - time.monotonic())

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The run's clock stands still inside (the Lua thread waits on the kernel), for at
        most the run's remaining allowance; interrupts and memory trips still stop it.

        A pause only ever moves the limit later, so the watchdog is not woken for it:
        asleep, it wakes by the old limit and looks again. Only the end of a pause can
        bring the limit before the watchdog's next wake-up (one it set while the run was
        paused); then it is woken."""
        with self._wake:
            self._pauses += 1
            if self._pauses == 1:
                self._paused_at = time.monotonic()
        try:
            yield
        finally:
            with self._wake:
                self._pauses -= 1
                if self._pauses == 0:
                    stood = min(max(0.0, time.monotonic() - self._paused_at), self._allowance)
                    self._allowance -= stood
                    self._deadline += stood
                if self._watch_until > self._limit():
                    self._wake.notify()

    def _limit(self) -> float:
        """When the run trips ``"timeout"`` if nothing changes (lock held)."""
        return self._deadline + (self._allowance if self._pauses else 0.0)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` without using CPU, or until a limit trips (``jido.sleep``)."""
        self.tripped.wait(min(seconds, self.remaining() + 1.0))

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
        if self._running:
            self._native.jido_stopper_trip(self._stopper, CODES[reason])
            self.tripped.set()

    def watch(self) -> None:
        """Watchdog loop: trip ``"timeout"`` when a run passes its deadline. Never returns."""
        with self._wake:
            while True:
                now = time.monotonic()
                remaining = self._limit() - now
                if not self._running or self.reason is not None:
                    self._watch_until = math.inf
                    self._wake.wait()
                elif remaining > 0:
                    self._watch_until = now + remaining
                    self._wake.wait(remaining)
                else:
                    self._trip("timeout")

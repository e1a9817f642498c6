"""Kernel side of the Lua sandbox: :class:`LuaSandbox` drives one worker process.

Usage::

    sandbox = LuaSandbox(project_root, on_tool_call=..., on_state_call=..., timeout=5)
    sandbox.start()                                  # worker starts in the background
    result = sandbox.run("print(x) return x * 2", name="<cell 3>", inputs={"x": 21})
    result.values                                    # [42]
    sandbox.pull("x")                                # 21

``run`` raises :class:`~jido_kernel.lua.errors.LuaError` (and its subclasses) for Lua
errors and limits, and :class:`KeyboardInterrupt` when interrupted — by
:meth:`LuaSandbox.interrupt` from any thread, or by SIGINT arriving while ``run`` waits
(the kernel's interrupt). Soft stops keep the Lua state; when Lua cannot be stopped
within ``grace_period`` (a long C call), or the worker dies, the worker is killed and
restarted and the error says the Lua state was reset (``error.state_reset``).

The worker process and its pipes are :mod:`~jido_kernel.lua.transport`'s, its
supervision :mod:`~jido_kernel.lua.supervision`'s. Nothing from the worker is ever
unpickled or evaluated: its messages are plain JSON, checked (:mod:`~jido_kernel.lua.protocol`,
:mod:`~jido_kernel.lua.events`) and bounded. Whatever the kernel cannot answer
(a ``jido.state`` failure, a reply too large to send) reaches Lua as ``nil, message``,
so the worker and the kernel never fall out of step. Time the kernel spends serving a
run (its ``on_*`` handlers) moves the grace deadline: a slow kernel is not Lua's fault.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Float, Int, List, Unicode, default
from traitlets.config import Configurable

from jido_kernel.lua.errors import STATE_RESET, LuaError, LuaTimeoutError, LuaValueError, LuaWorkerCrashed
from jido_kernel.lua.events import (
    Output,
    chunk_name,
    print_text,
    state_error,
)
from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.protocol import MAX_BACKLOG
from jido_kernel.lua.supervision import StateCallHandler, ToolCallHandler, WorkerSupervision
from jido_kernel.lua.transport import End, Worker
from jido_kernel.lua.wire import RowBudget, check_name, check_value, encode

log = logging.getLogger(__name__)

_WAIT_SLICE = 0.1
_DEFAULTS = SandboxLimits()


@dataclass(frozen=True)
class LuaResult:
    """A finished run: ``values`` returned by the chunk and ``outputs`` pulled after it,
    as plain Python data; ``duration`` is the Lua execution time in the worker (s)."""

    values: list[Any] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0


class LuaSandbox(WorkerSupervision, Configurable):
    """A persistent sandboxed Lua 5.4 state in a confined worker process.

    ``LuaSandbox(project_root, *, on_tool_call=None, on_state_call=None, **traits)``.
    ``on_tool_call(record)`` receives each ``jido.*`` bridge call twice (``status``
    ``"running"``, then ``"completed"`` or ``"error"``), as a dict with ``id``, ``name``,
    ``arguments``, ``status``, ``duration_ms`` and ``result_summary``.
    ``on_state_call(op, args)`` applies a ``jido.state.*`` call (``op`` one of
    ``append_message``, ``add_reasoning_step``, ``update_todos``, ``start_streaming``,
    ``update_streaming``, ``end_streaming``) and returns plain data for Lua; a
    :class:`~jido_kernel.errors.JidoError` it raises becomes ``nil, message`` in Lua.
    Both run in the thread that called :meth:`run`.

    The traits are the configured limits (source ``"config"``); :attr:`limits`, when
    set (the session sets the limits its settings give), replaces them as a whole.
    Either may be changed between runs; the next run uses them. Raising
    ``max_memory`` by more than 512 MiB or adding commands to ``shell_allowlist`` needs
    a new worker (its OS confinement is fixed at start): the next run then starts one
    and the Lua state is reset (logged as a warning).
    """

    timeout = Float(_DEFAULTS.timeout, help="Time limit of a Lua run, in seconds.").tag(config=True)
    max_memory = Int(_DEFAULTS.max_memory, help="Memory limit of the Lua state, in bytes.").tag(config=True)
    grace_period = Float(
        _DEFAULTS.grace_period,
        help="Seconds a tripped limit may take to stop Lua before the worker is killed (state reset).",
    ).tag(config=True)
    kernel_time = Float(
        _DEFAULTS.kernel_time,
        help="Seconds per run the kernel may spend serving Lua (jido.state calls, output) without it counting "
        "against the Lua time limit; past them the clock runs again.",
    ).tag(config=True)
    shell_timeout = Float(_DEFAULTS.shell_timeout, help="Time limit of a jido.shell command, in seconds.").tag(
        config=True
    )
    shell_allowlist = List(Unicode(), help="Commands jido.shell may run.").tag(config=True)
    max_file_size = Int(_DEFAULTS.max_file_size, help="Largest file jido.read_file/write_file accept, in bytes.").tag(
        config=True
    )
    shell_max_output = Int(
        _DEFAULTS.shell_max_output, help="Bytes of stdout and of stderr kept per jido.shell command."
    ).tag(config=True)
    startup_timeout = Float(30.0, help="Seconds to wait for a new worker to be ready.").tag(config=True)

    @default("shell_allowlist")
    def _default_allowlist(self) -> list[str]:
        return list(_DEFAULTS.shell_allowlist)

    def __init__(
        self,
        project_root: str | os.PathLike[str],
        *,
        on_tool_call: ToolCallHandler | None = None,
        on_state_call: StateCallHandler | None = None,
        **traits: Any,
    ) -> None:
        super().__init__(**traits)
        self.project_root = Path(project_root).resolve()
        self.on_tool_call = on_tool_call
        self.on_state_call = on_state_call
        self._lock = threading.RLock()
        self._worker: Worker | None = None
        self._closed = False
        self._next_id = 0
        self._active: tuple[Worker, int] | None = None
        self._interrupts: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._limits: SandboxLimits | None = None

    @property
    def limits(self) -> SandboxLimits:
        """The limits of the next run: those set, else the traits' (all ``"config"``)."""
        return self._limits if self._limits is not None else SandboxLimits.configured(self)

    @limits.setter
    def limits(self, limits: SandboxLimits | None) -> None:
        self._limits = limits

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while a worker process is running."""
        worker = self._worker
        return worker is not None and worker.alive

    @property
    def pid(self) -> int | None:
        """Process id of the running worker, if any."""
        worker = self._worker
        return worker.process.pid if worker is not None and worker.alive else None

    @property
    def confinement(self) -> dict[str, Any]:
        """The worker's confinement report (``landlock_abi``, ``landlock_enforced``,
        ``network_restricted``, ``git_read_only``, ``notes``); waits for the worker."""
        with self._lock:
            worker = self._ready_worker()
            assert worker.ready is not None
            return dict(worker.ready["confinement"])

    def start(self) -> None:
        """Start the worker if none is running; returns at once (runs wait for it)."""
        with self._lock:
            if self._closed:
                raise LuaError("This Lua sandbox is closed; create a new one.", reason="closed")
            if self._worker is None or not self._worker.alive:
                self._spawn()

    def close(self) -> None:
        """Stop the worker (a run in progress fails); the sandbox cannot be used afterwards."""
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop(wait=1.0)

    def reset(self) -> None:
        """Replace the Lua state with a fresh one (all globals are lost)."""
        with self._lock:
            worker = self._worker
            if worker is None or not worker.alive:
                self._restart(worker)
                return
            if worker.ready is None:  # still starting: its state is fresh
                return
            try:
                self._request(worker, {"type": "reset"}, self.startup_timeout)
            except LuaWorkerCrashed:
                self._restart(self._worker)

    def interrupt(self) -> None:
        """Interrupt the run in progress, if any (thread-safe); ``run`` raises KeyboardInterrupt."""
        active = self._active
        if active is not None:
            worker, run_id = active
            self._interrupts.put(run_id)
            worker.send({"type": "interrupt", "id": run_id})

    # -- values -------------------------------------------------------------------------------

    def push(self, name: str, value: Any) -> None:
        """Set Lua global ``name`` to ``value`` (plain data, see :mod:`~jido_kernel.lua.wire`)."""
        with self._lock:  # checked when it is sent (check_value returns plain data as it is)
            message = {"type": "push", "name": check_name(name), "value": encode(check_value(value, name), RowBudget())}
            self._request(self._ready_worker(), message, self._answer_time())

    def pull(self, name: str) -> Any:
        """Lua global ``name`` as plain Python data (``None`` if unset)."""
        with self._lock:
            reply = self._request(self._ready_worker(), {"type": "pull", "name": check_name(name)}, self._answer_time())
        return self._decoded(reply["value"], rows=RowBudget())

    def names(self, path: Sequence[str] = (), *, wait: float = 0.2) -> dict[str, str] | None:
        """``{name: Lua type}`` of the table at ``path`` from the globals (``()``: the
        globals), read raw (no metamethod runs); None when it is no table, when a run is in
        progress, or when the worker is not ready or does not answer within ``wait`` s."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            worker = self._worker
            if self._active is not None or worker is None or not worker.alive or worker.ready is None:
                return None
            self._next_id += 1
            request = self._next_id
            worker.send({"type": "names", "path": [check_name(step) for step in path], "id": request})
            deadline = time.monotonic() + wait
            while (item := worker.receive(deadline)) is not None:
                if isinstance(item, End):
                    self._crashed(worker, item)
                if item.get("id") == request and item["type"] == "value":
                    names = self._decoded(item["value"], worker)
                    return _checked_names(names)
            return None  # a late answer is skipped by the next request
        finally:
            self._lock.release()

    # -- runs ---------------------------------------------------------------------------------

    def run(
        self,
        code: str,
        *,
        name: str = "<lua>",
        timeout: float | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Sequence[str] = (),
        want_return: bool = True,
        on_stdout: Callable[[str], None] | None = None,
        limits: SandboxLimits | None = None,
    ) -> LuaResult:
        """Run ``code`` as chunk ``name`` in the persistent Lua state.

        ``inputs`` are set as Lua globals first; after a successful run the globals named
        in ``outputs`` are pulled into ``LuaResult.outputs``. ``on_stdout(text)`` gets
        printed text as the chunk runs (default: ``sys.stdout``). ``limits`` default to
        :attr:`limits`; ``timeout`` (seconds), when given, overrides theirs (source
        ``"flag"``). ``want_return=False`` converts and sends no return values.
        """
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf
        ):
            raise LuaValueError(f"The Lua timeout must be a positive number of seconds, not {timeout!r}.")
        limits = (self.limits if limits is None else limits).override(timeout=timeout)
        if not isinstance(code, str):
            raise LuaValueError(f"Lua code must be a str, not {type(code).__name__}.")
        wanted = [check_name(output) for output in outputs]
        write = on_stdout if on_stdout is not None else print_text
        with self._lock:  # inputs are checked when they are sent (check_value returns plain data as it is)
            rows = RowBudget()  # one message: its inputs share the budget of the packed form
            wire_inputs = {
                check_name(key): encode(check_value(value, key), rows) for key, value in (inputs or {}).items()
            }
            worker = self._ready_worker(limits)
            self._next_id += 1
            run_id = self._next_id
            worker.send(
                {
                    "type": "run",
                    "id": run_id,
                    "code": code,
                    "name": chunk_name(name),
                    "inputs": wire_inputs,
                    "outputs": wanted,
                    "want_return": bool(want_return),
                    "limits": limits.to_wire(),
                }
            )
            self._active = (worker, run_id)
            try:
                return self._wait(worker, run_id, limits, write)
            finally:
                self._active = None

    def _wait(self, worker: Worker, run_id: int, limits: SandboxLimits, write: Callable[[str], None]) -> LuaResult:
        limit, grace = limits.timeout, limits.grace_period
        deadline = time.monotonic() + limit + grace
        interrupted = False
        output = Output(write)
        while True:
            try:
                if self._interrupt_requested(run_id):
                    raise KeyboardInterrupt
                item = worker.receive(min(deadline, time.monotonic() + _WAIT_SLICE))
                if item is None:
                    if time.monotonic() < deadline:
                        continue
                    break
                started = time.monotonic()
                answer = self._event(worker, run_id, item, output)
                deadline += time.monotonic() - started  # the kernel's own time is not Lua's
            except KeyboardInterrupt:
                if interrupted:  # a second interrupt: stop waiting for Lua
                    break
                interrupted = True
                worker.send({"type": "interrupt", "id": run_id})
                deadline = min(deadline, time.monotonic() + grace)
                continue
            if answer is None:
                continue
            if interrupted:
                if isinstance(answer, KeyboardInterrupt):
                    raise answer
                raise KeyboardInterrupt("Lua execution interrupted; the Lua state is intact.")
            if isinstance(answer, BaseException):
                raise answer
            return answer
        self._restart(worker)
        if interrupted:
            raise KeyboardInterrupt(
                f"Lua execution interrupted; it could not be stopped within the {grace:g} s grace "
                f"period, so the Lua worker was restarted: {STATE_RESET}."
            )
        raise LuaTimeoutError(
            f"Lua time limit exceeded: the cell ran longer than {limit:g} s and could not be stopped within the "
            f"{grace:g} s grace period (a long-running library call, such as a backtracking string "
            f"pattern), so the Lua worker was restarted: {STATE_RESET}.",
            state_reset=True,
        )

    def _interrupt_requested(self, run_id: int) -> bool:
        """True once for each :meth:`interrupt` of run ``run_id`` (those of earlier runs are dropped)."""
        while True:
            try:
                requested = self._interrupts.get_nowait()
            except queue.Empty:
                return False
            if requested == run_id:
                return True

    def _event(self, worker: Worker, run_id: int, item: Any, output: Output) -> LuaResult | BaseException | None:
        """Handle one event of a run; its answer (result or error) when it is the last."""
        if isinstance(item, End):
            self._crashed(worker, item)
        kind = item["type"]
        if kind == "state_call" and worker.backlog > MAX_BACKLOG:
            self._violation(worker, f"it left more than {MAX_BACKLOG} bytes of replies unread")
        if item.get("id") != run_id and kind in (
            "stdout",
            "tool_calls",
            "state_call",
            "result",
            "value",
            "done",
            "error",
        ):
            if kind == "state_call":  # never leave a waiting call without its answer
                worker.send_line(state_error(item["call_id"], f"jido.state.{item['op']}: the run is over"))
            return None  # an answer to an abandoned request
        if kind == "stdout":
            output.write(item["text"])
        elif kind == "tool_calls":
            self._tool_calls(worker, item["calls"])
        elif kind == "state_call":
            worker.send_line(self._state_call(worker, item))
        elif kind == "result":
            rows = RowBudget()  # the columnar forms of one message share one budget
            values = [self._decoded(value, worker, rows) for value in item["values"]]
            outputs = {str(key): self._decoded(value, worker, rows) for key, value in item["outputs"].items()}
            return LuaResult(values, outputs, float(item["duration"]))
        elif kind == "error":
            return self._error(worker, item["error"])
        else:
            self._violation(worker, f"unexpected {kind!r} message during a run")
        return None

    # -- workers --------------------------------------------------------------------------------

    def _answer_time(self) -> float:
        limits = self.limits
        return limits.timeout + limits.grace_period


LUA_TYPES = frozenset({"nil", "boolean", "number", "string", "table", "function", "userdata", "thread"})
MAX_NAMES = 2000


def _checked_names(names: Any) -> dict[str, str] | None:
    """The worker's ``{name: type}`` answer, keeping only identifier names and Lua types."""
    if not isinstance(names, dict):
        return None
    return {
        name: kind
        for name, kind in list(names.items())[:MAX_NAMES]
        if isinstance(name, str) and name.isidentifier() and kind in LUA_TYPES
    }

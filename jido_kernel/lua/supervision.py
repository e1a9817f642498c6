"""Worker supervision for :class:`~jido_kernel.lua.sandbox.LuaSandbox`: start, readiness,
requests, the worker's tool and state calls, and restart when a worker dies, hangs or
breaks the protocol (kernel side)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from jido_kernel.errors import JidoError
from jido_kernel.lua import protocol
from jido_kernel.lua.errors import STATE_RESET, LuaError, LuaWorkerCrashed
from jido_kernel.lua.events import check_ready, checked_tool_calls, error_from, state_error
from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.protocol import MAX_REPLY, STATE_OPS, ProtocolError
from jido_kernel.lua.transport import SPAWNER, End, Worker
from jido_kernel.lua.wire import RowBudget, WireError, check_value, decode, encode

log = logging.getLogger("jido_kernel.lua.sandbox")

MIB = 1024 * 1024

ToolCallHandler = Callable[[Mapping[str, Any]], None]
StateCallHandler = Callable[[str, Sequence[Any]], Any]


class WorkerSupervision:
    """The worker of a sandbox: one at a time, restarted (Lua state reset) when it fails."""

    project_root: Path
    startup_timeout: float
    _lock: threading.RLock
    _worker: Worker | None
    _closed: bool
    _next_id: int
    on_tool_call: ToolCallHandler | None
    on_state_call: StateCallHandler | None

    @property
    def limits(self) -> SandboxLimits:
        raise NotImplementedError

    def _tool_calls(self, worker: Worker, rows: list[Any]) -> None:
        """The records of a ``tool_calls`` message, checked, each to ``on_tool_call`` (a
        fresh dict per record, which the kernel keeps no reference to)."""
        try:
            records = checked_tool_calls(rows)
        except ProtocolError as error:
            self._violation(worker, str(error))
        if self.on_tool_call is None:
            return
        for record in records:
            try:
                self.on_tool_call(record)
            except Exception:
                log.exception("on_tool_call failed for %s", record["name"])

    def _state_call(self, worker: Worker, item: dict[str, Any]) -> bytes:
        """The ``state_reply`` line for a ``jido.state`` call: its value, or one line for Lua
        when the call fails or its value is too large to send."""
        op, call_id = item["op"], item["call_id"]
        if op not in STATE_OPS:
            self._violation(worker, f"unknown state operation {op[:80]!r}")
        args = [self._decoded(arg, worker) for arg in item["args"]]
        try:
            if self.on_state_call is None:
                raise JidoError(f"jido.state.{op}: no session state is attached to this Lua sandbox")
            value = encode(check_value(self.on_state_call(op, args), f"the result of {op}"))
            line = protocol.dump({"type": "state_reply", "id": call_id, "ok": True, "value": value, "error": None})
        except ProtocolError:
            return state_error(call_id, f"jido.state.{op}: its result is larger than {MAX_REPLY} bytes")
        except JidoError as error:
            return state_error(call_id, str(error))
        except Exception as error:
            return state_error(call_id, f"jido.state.{op} failed: {type(error).__name__}: {error}")
        if len(line) > MAX_REPLY:
            return state_error(call_id, f"jido.state.{op}: its result is larger than {MAX_REPLY} bytes ({len(line)})")
        return line

    def _error(self, worker: Worker, record: dict[str, Any]) -> BaseException:
        """The exception of an ``error`` record; a malformed one is a protocol violation."""
        try:
            return error_from(record)
        except ProtocolError as error:
            self._violation(worker, str(error))

    def _spawn(self, limits: SandboxLimits | None = None) -> Worker:
        """Start a worker confined for ``limits`` (default: :attr:`limits`)."""
        config = {"root": str(self.project_root), "limits": (limits or self.limits).to_wire()}
        try:
            worker = SPAWNER.submit(Worker, config).result()
        except OSError as error:
            raise LuaWorkerCrashed(f"The Lua worker could not start: {error}.", state_reset=True) from None
        if self._closed:  # close() ran while this worker started: it must not outlive the sandbox
            worker.stop(wait=1.0)
            raise LuaError("This Lua sandbox is closed; create a new one.", reason="closed")
        self._worker = worker
        return worker

    def _restart(self, worker: Worker | None) -> None:
        if worker is not None:
            worker.kill()
        if self._worker is worker:
            self._worker = None
        if not self._closed:
            self._spawn()

    def _ready_worker(self, limits: SandboxLimits | None = None) -> Worker:
        """The running worker once it is ready, starting one if needed; one confined for
        ``limits`` (default: :attr:`limits`)."""
        if self._closed:
            raise LuaError("This Lua sandbox is closed; create a new one.", reason="closed")
        limits = limits or self.limits
        worker = self._worker
        if worker is not None and worker.ready is not None and _outgrown(worker, limits):
            log.warning("Lua sandbox limits changed beyond the worker's confinement: restarting it (%s)", STATE_RESET)
            self._restart(worker)
            worker = self._worker
        if worker is None:
            worker = self._spawn(limits)
        if worker.ready is None:
            self._await_ready(worker)
        elif not worker.alive:
            self._crashed(worker, End())
        return worker

    def _await_ready(self, worker: Worker) -> None:
        item = worker.receive(time.monotonic() + self.startup_timeout)
        if isinstance(item, dict) and item["type"] == "ready":
            try:
                check_ready(item)
            except ProtocolError as error:
                self._violation(worker, str(error))
            worker.ready = item
            return
        if item is None:
            detail = f"it was not ready within {self.startup_timeout:g} s"
        elif isinstance(item, dict) and item["type"] == "fatal":
            detail = item["message"]
        elif isinstance(item, End):
            detail = item.problem or worker.exit_description()
        else:
            detail = f"it sent {item['type']!r} before 'ready'"
        worker.kill()
        if self._worker is worker:
            self._worker = None
        raise LuaWorkerCrashed(f"The Lua worker could not start: {detail}.", state_reset=True)

    def _request(self, worker: Worker, message: dict[str, Any], wait: float) -> dict[str, Any]:
        self._next_id += 1
        request = self._next_id
        worker.send({**message, "id": request})
        deadline = time.monotonic() + wait
        while True:
            item = worker.receive(deadline)
            if item is None:
                self._restart(worker)
                raise LuaWorkerCrashed(
                    f"The Lua worker did not answer a {message['type']} request within {wait:g} s and was "
                    f"restarted: {STATE_RESET}.",
                    state_reset=True,
                )
            if isinstance(item, End):
                self._crashed(worker, item)
            if item.get("id") != request:
                continue
            if item["type"] == "error":
                raise self._error(worker, item["error"])
            if item["type"] not in ("value", "done"):
                self._violation(worker, f"unexpected {item['type']!r} answer to {message['type']!r}")
            return item

    def _decoded(self, data: Any, worker: Worker | None = None, rows: RowBudget | None = None) -> Any:
        try:
            return decode(data, rows)
        except WireError as error:
            self._violation(worker or self._worker, f"malformed value ({error})")

    def _violation(self, worker: Worker | None, problem: str) -> NoReturn:
        if worker is not None:
            worker.kill()
        self._crashed(worker, End(f"it broke the protocol: {problem}"))

    def _crashed(self, worker: Worker | None, end: End) -> NoReturn:
        detail = end.problem or (worker.exit_description() if worker is not None else "no worker")
        self._restart(worker)
        raise LuaWorkerCrashed(f"The Lua worker stopped unexpectedly ({detail}); {STATE_RESET}.", state_reset=True)


def _outgrown(worker: Worker, limits: SandboxLimits) -> bool:
    """True when ``limits`` need more than the worker was confined for at start."""
    started = worker.config["limits"]
    added = set(limits.shell_allowlist) - set(started["shell_allowlist"])
    return bool(added) or limits.max_memory > started["max_memory"] + 512 * MIB

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

The worker process and its pipes are :mod:`~jido_kernel.lua.transport`'s. Nothing from
the worker is ever unpickled or evaluated: its messages are plain JSON, checked against
:mod:`~jido_kernel.lua.protocol`, and bounded: printed text per run,
tool-call names (known ``jido`` functions only), arguments and summaries, error
messages, and the replies a worker may leave unread. Whatever the kernel cannot answer
(a ``jido.state`` failure, a reply too large to send) reaches Lua as ``nil, message``,
so the worker and the kernel never fall out of step. Time the kernel spends serving a
run (its ``on_*`` handlers) moves the grace deadline: a slow kernel is not Lua's fault.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from traitlets import Float, Int, List, Unicode, default
from traitlets.config import Configurable

from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.errors import JidoError
from jido_kernel.lua import protocol
from jido_kernel.lua.errors import (
    STATE_RESET,
    LuaError,
    LuaMemoryError,
    LuaSyntaxError,
    LuaTimeoutError,
    LuaValueError,
    LuaWorkerCrashed,
)
from jido_kernel.lua.protocol import (
    CONFINEMENT_FIELDS,
    ERROR_FIELDS,
    FUNCTIONS,
    MAX_ARGUMENTS,
    MAX_BACKLOG,
    MAX_ERROR,
    MAX_REPLY,
    MAX_TEXT,
    STATE_OPS,
    TOOL_CALL_FIELDS,
    TOOL_STATUSES,
    ProtocolError,
    one_line,
)
from jido_kernel.lua.transport import SPAWNER, End, Worker
from jido_kernel.lua.wire import WireError, check_name, check_value, decode, encode
from jido_kernel.text import terminal_safe

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_STDERR_TAIL = 4096
_WAIT_SLICE = 0.1
_READ_SIZE = 65536
_MAX_NOTES = 20
MAX_OUTPUT = 32 * MIB
"""Characters of printed text passed on per run; the worker stops sooner (its own bound)."""
_ERRORS: dict[str, type[LuaError]] = {
    "LuaError": LuaError,
    "LuaSyntaxError": LuaSyntaxError,
    "LuaTimeoutError": LuaTimeoutError,
    "LuaMemoryError": LuaMemoryError,
}

ToolCallHandler = Callable[[Mapping[str, Any]], None]
StateCallHandler = Callable[[str, Sequence[Any]], Any]


@dataclass(frozen=True)
class LuaResult:
    """A finished run: ``values`` returned by the chunk and ``outputs`` pulled after it,
    as plain Python data; ``duration`` is the Lua execution time in the worker (s)."""

    values: list[Any] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0


class LuaSandbox(Configurable):
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

    The traits may be changed between runs; the next run uses them. Raising
    ``max_memory`` by more than 512 MiB or adding commands to ``shell_allowlist`` needs
    a new worker (its OS confinement is fixed at start): the next run then starts one
    and the Lua state is reset (logged as a warning).
    """

    timeout = Float(30.0, help="Time limit of a Lua run, in seconds.").tag(config=True)
    max_memory = Int(256 * MIB, help="Memory limit of the Lua state, in bytes.").tag(config=True)
    grace_period = Float(
        2.0, help="Seconds a tripped limit may take to stop Lua before the worker is killed (state reset)."
    ).tag(config=True)
    kernel_time = Float(
        30.0,
        help="Seconds per run the kernel may spend serving Lua (jido.state calls, output) without it counting "
        "against the Lua time limit; past them the clock runs again.",
    ).tag(config=True)
    shell_timeout = Float(25.0, help="Time limit of a jido.shell command, in seconds.").tag(config=True)
    shell_allowlist = List(Unicode(), help="Commands jido.shell may run.").tag(config=True)
    max_file_size = Int(10_000_000, help="Largest file jido.read_file/write_file accept, in bytes.").tag(config=True)
    shell_max_output = Int(MIB, help="Bytes of stdout and of stderr kept per jido.shell command.").tag(config=True)
    startup_timeout = Float(30.0, help="Seconds to wait for a new worker to be ready.").tag(config=True)

    @default("shell_allowlist")
    def _default_allowlist(self) -> list[str]:
        return list(DEFAULT_ALLOWLIST)

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
        message = {"type": "push", "name": check_name(name), "value": encode(check_value(value, name))}
        with self._lock:
            self._request(self._ready_worker(), message, self.timeout + self.grace_period)

    def pull(self, name: str) -> Any:
        """Lua global ``name`` as plain Python data (``None`` if unset)."""
        with self._lock:
            reply = self._request(
                self._ready_worker(), {"type": "pull", "name": check_name(name)}, self.timeout + self.grace_period
            )
        return self._decoded(reply["value"])

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
    ) -> LuaResult:
        """Run ``code`` as chunk ``name`` in the persistent Lua state.

        ``inputs`` are set as Lua globals first; after a successful run the globals named
        in ``outputs`` are pulled into ``LuaResult.outputs``. ``on_stdout(text)`` gets
        printed text as the chunk runs (default: ``sys.stdout``). ``timeout`` (seconds)
        defaults to :attr:`timeout`.
        """
        limit = self.timeout if timeout is None else timeout
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit < math.inf:
            raise LuaValueError(f"The Lua timeout must be a positive number of seconds, not {limit!r}.")
        if not isinstance(code, str):
            raise LuaValueError(f"Lua code must be a str, not {type(code).__name__}.")
        wire_inputs = {check_name(key): encode(check_value(value, key)) for key, value in (inputs or {}).items()}
        wanted = [check_name(output) for output in outputs]
        write = on_stdout if on_stdout is not None else _print
        with self._lock:
            worker = self._ready_worker()
            self._next_id += 1
            run_id = self._next_id
            worker.send(
                {
                    "type": "run",
                    "id": run_id,
                    "code": code,
                    "name": _chunk_name(name),
                    "timeout": float(limit),
                    "grace": float(self.grace_period),
                    "kernel_time": float(self.kernel_time),
                    "inputs": wire_inputs,
                    "outputs": wanted,
                    "want_return": bool(want_return),
                    "limits": self._limits(),
                }
            )
            self._active = (worker, run_id)
            try:
                return self._wait(worker, run_id, float(limit), write)
            finally:
                self._active = None

    def _wait(self, worker: Worker, run_id: int, limit: float, write: Callable[[str], None]) -> LuaResult:
        deadline = time.monotonic() + limit + self.grace_period
        interrupted = False
        output = _Output(write)
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
                deadline = min(deadline, time.monotonic() + self.grace_period)
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
                f"Lua execution interrupted; it could not be stopped within the {self.grace_period:g} s grace "
                f"period, so the Lua worker was restarted: {STATE_RESET}."
            )
        raise LuaTimeoutError(
            f"Lua time limit exceeded: the cell ran longer than {limit:g} s and could not be stopped within the "
            f"{self.grace_period:g} s grace period (a long-running library call, such as a backtracking string "
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

    def _event(self, worker: Worker, run_id: int, item: Any, output: _Output) -> LuaResult | BaseException | None:
        """Handle one event of a run; its answer (result or error) when it is the last."""
        if isinstance(item, End):
            self._crashed(worker, item)
        kind = item["type"]
        if kind == "state_call" and worker.backlog > MAX_BACKLOG:
            self._violation(worker, f"it left more than {MAX_BACKLOG} bytes of replies unread")
        if item.get("id") != run_id and kind in ("stdout", "tool_call", "state_call", "result", "error"):
            if kind == "state_call":  # never leave a waiting call without its answer
                worker.send_line(_state_error(item["call_id"], f"jido.state.{item['op']}: the run is over"))
            return None  # an answer to an abandoned request
        if kind == "stdout":
            output.write(item["text"])
        elif kind == "tool_call":
            self._tool_call(worker, item["call"])
        elif kind == "state_call":
            worker.send_line(self._state_call(worker, item))
        elif kind == "result":
            values = [self._decoded(value, worker) for value in item["values"]]
            outputs = {str(key): self._decoded(value, worker) for key, value in item["outputs"].items()}
            return LuaResult(values, outputs, float(item["duration"]))
        elif kind == "error":
            return self._error(worker, item["error"])
        else:
            self._violation(worker, f"unexpected {kind!r} message during a run")
        return None

    def _tool_call(self, worker: Worker, record: dict[str, Any]) -> None:
        try:
            protocol.check_fields(record, TOOL_CALL_FIELDS, "tool_call")
            if record["status"] not in TOOL_STATUSES:
                raise ProtocolError(f"unknown tool call status {record['status']!r}")
            if record["name"] not in FUNCTIONS:
                raise ProtocolError(f"tool call of unknown function {record['name'][:80]!r}")
            if len(json.dumps(record["arguments"])) > MAX_ARGUMENTS:
                raise ProtocolError(f"tool call arguments larger than {MAX_ARGUMENTS} bytes")
        except ProtocolError as error:
            self._violation(worker, str(error))
        record["id"] = record["id"][:64]
        if record["result_summary"] is not None:
            record["result_summary"] = one_line(record["result_summary"])
        if self.on_tool_call is not None:
            try:
                self.on_tool_call(dict(record))
            except Exception:
                log.exception("on_tool_call failed for %s", record.get("name"))

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
            return _state_error(call_id, f"jido.state.{op}: its result is larger than {MAX_REPLY} bytes")
        except JidoError as error:
            return _state_error(call_id, str(error))
        except Exception as error:
            return _state_error(call_id, f"jido.state.{op} failed: {type(error).__name__}: {error}")
        if len(line) > MAX_REPLY:
            return _state_error(call_id, f"jido.state.{op}: its result is larger than {MAX_REPLY} bytes ({len(line)})")
        return line

    def _error(self, worker: Worker, record: dict[str, Any]) -> BaseException:
        try:
            protocol.check_fields(record, ERROR_FIELDS, "error")
        except ProtocolError as error:
            self._violation(worker, str(error))
        kind, message = record["type"], record["message"][: MAX_ERROR + 100]
        if kind == "KeyboardInterrupt":
            return KeyboardInterrupt(message)
        if kind == "LuaValueError":
            return LuaValueError(message)
        return _ERRORS.get(kind, LuaError)(message, chunk=record["chunk"], line=record["line"])

    # -- workers --------------------------------------------------------------------------------

    def _limits(self) -> dict[str, Any]:
        return {
            "max_memory": int(self.max_memory),
            "max_file_size": int(self.max_file_size),
            "shell_timeout": float(self.shell_timeout),
            "shell_max_output": int(self.shell_max_output),
            "allowlist": list(self.shell_allowlist),
        }

    def _spawn(self) -> Worker:
        config = {
            "root": str(self.project_root),
            "max_memory": int(self.max_memory),
            "allowlist": list(self.shell_allowlist),
        }
        try:
            self._worker = SPAWNER.submit(Worker, config).result()
        except OSError as error:
            raise LuaWorkerCrashed(f"The Lua worker could not start: {error}.", state_reset=True) from None
        return self._worker

    def _restart(self, worker: Worker | None) -> None:
        if worker is not None:
            worker.kill()
        if self._worker is worker:
            self._worker = None
        if not self._closed:
            self._spawn()

    def _ready_worker(self) -> Worker:
        """The running worker once it is ready, starting one if needed."""
        if self._closed:
            raise LuaError("This Lua sandbox is closed; create a new one.", reason="closed")
        worker = self._worker
        if worker is not None and worker.ready is not None and self._outgrown(worker):
            log.warning("Lua sandbox limits changed beyond the worker's confinement: restarting it (%s)", STATE_RESET)
            self._restart(worker)
            worker = self._worker
        if worker is None:
            worker = self._spawn()
        if worker.ready is None:
            self._await_ready(worker)
        elif not worker.alive:
            self._crashed(worker, End())
        return worker

    def _outgrown(self, worker: Worker) -> bool:
        started = worker.config
        added = set(self.shell_allowlist) - set(started["allowlist"])
        return bool(added) or self.max_memory > started["max_memory"] + 512 * MIB

    def _await_ready(self, worker: Worker) -> None:
        item = worker.receive(time.monotonic() + self.startup_timeout)
        if isinstance(item, dict) and item["type"] == "ready":
            try:
                protocol.check_fields(item["confinement"], CONFINEMENT_FIELDS, "confinement")
                notes = item["confinement"]["notes"]
                if len(notes) > _MAX_NOTES or not all(isinstance(n, str) and len(n) <= MAX_TEXT for n in notes):
                    raise ProtocolError(f"confinement notes must be at most {_MAX_NOTES} short strings")
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

    def _decoded(self, data: Any, worker: Worker | None = None) -> Any:
        try:
            return decode(data)
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


class _Output:
    """Printed text of one run on its way to ``write``: at most :data:`MAX_OUTPUT`
    characters, and a failing ``write`` never stops the run's messages."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._room = MAX_OUTPUT

    def write(self, text: str) -> None:
        if self._room <= 0:
            return
        if len(text) >= self._room:
            text = text[: self._room] + f"\n[output truncated: the cell printed more than {MAX_OUTPUT >> 20} MiB]\n"
        self._room -= len(text)
        try:
            self._write(text)
        except Exception:
            log.exception("on_stdout failed; printed text was lost")


def _state_error(call_id: int, message: str) -> bytes:
    """A failed ``state_reply``: ``nil, message`` in Lua, the message on one line."""
    reply = {"type": "state_reply", "id": call_id, "ok": False, "value": None, "error": one_line(message)}
    return protocol.dump(reply)


def _chunk_name(name: str) -> str:
    """A chunk name fit for Lua's messages: one line, at most 80 characters."""
    text = " ".join(str(name).split())[:80]
    return text or "<lua>"


def _print(text: str) -> None:
    sys.stdout.write(terminal_safe(text))
    sys.stdout.flush()

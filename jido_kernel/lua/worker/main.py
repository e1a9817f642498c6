"""The Lua worker process: :func:`main`, run by :mod:`.__main__` (started by the client).

stdin and stdout carry the protocol (:mod:`jido_kernel.lua.protocol`); anything else
written to stdout goes to stderr instead. The first message is ``config``: the worker
builds its Lua state, confines itself (:func:`jido_kernel.confine.confine_process`,
while it still has one thread), starts its threads, and answers ``ready`` with the
confinement report — or ``fatal``.

Two threads serve the kernel in turn (:class:`Requests`): one reads its messages while
the other handles a request, so a request is handled by the thread that read it, with no
hand-over. The reading thread acts on ``interrupt`` (it trips the running chunk at once)
and ``state_reply`` (it wakes a waiting ``jido.state`` call) itself, and queues a request
that arrives while another is handled. A watchdog thread trips the deadline; printed
text and tool-call records are batched (one write every 50 ms, 1 MiB or 256 records).
SIGINT is ignored: interrupts come as messages. When the kernel closes the pipe, the
worker exits.

Time the Lua thread spends waiting on the kernel (sending into a full pipe, waiting for
a ``state_reply``) stops the run's clock (:meth:`~jido_kernel.lua.worker.stopper.Limiter.paused`).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager

from jido_kernel import confine
from jido_kernel.commands.allowlist import resolve_allowlist
from jido_kernel.errors import JidoError
from jido_kernel.lua import protocol
from jido_kernel.lua.errors import LuaValueError
from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.protocol import (
    FROM_KERNEL,
    MAX_CALLS,
    MAX_ERROR,
    MAX_FRAME,
    MAX_FRAMES,
    ProtocolError,
)
from jido_kernel.lua.wire import RowBudget, WireError, check_value, decode, encode
from jido_kernel.lua.worker.bridge import FUNCTIONS, OPTION_NAMES, STATE_OPS, Bridge
from jido_kernel.lua.worker.lupa_data import collect_garbage
from jido_kernel.lua.worker.runtime import Callbacks, RunError, RunOutcome, SandboxRuntime
from jido_kernel.lua.worker.stopper import Limiter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FLUSH_INTERVAL = 0.05
FLUSH_BYTES = 1024 * 1024
MAX_OUTPUT = 32 * 1024 * 1024
"""Printed bytes forwarded per run; past it output is dropped with a notice."""
_TEXT_CHUNK = 2 * 1024 * 1024
"""Characters per ``stdout`` message: more than a full batch, so a batch is one message."""
CPU_MARGIN = 5.0
_READ_SIZE = 65536


class Inbox:
    """Reads the kernel's messages from a pipe, one at a time."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._decoder = protocol.Decoder(FROM_KERNEL)

    def next(self) -> dict[str, Any] | None:
        """The next message (blocking); ``None`` at end of file; :class:`ProtocolError` if malformed."""
        while (message := self._decoder.next()) is None:
            data = os.read(self._fd, _READ_SIZE)
            if not data:
                self._decoder.end()
                return None
            self._decoder.feed(data)
        return message


class Requests:
    """The kernel's requests, handled one at a time and in order by the two threads that
    run :meth:`serve`. The thread holding the pipe reads it. A request that arrives while
    none is being handled is handled by that thread, which first gives the pipe to the
    other; one that arrives while another is handled waits, and the handling thread
    takes it next."""

    def __init__(
        self, inbox: Inbox, act: Callable[[dict[str, Any]], bool], handle: Callable[[dict[str, Any]], None]
    ) -> None:
        self._inbox = inbox
        self._act = act  # acts on a message that is not a request at once; False for a request
        self._handle = handle
        self._reading = threading.Lock()  # held by the thread reading the pipe
        self._lock = threading.Lock()  # guards _busy and _pending
        self._busy = False  # a request is being handled
        self._pending: deque[dict[str, Any]] = deque()  # requests read meanwhile, in order
        self._ended = False  # the pipe has ended (read by the thread holding it)

    def serve(self) -> None:
        """Read and handle requests until the kernel closes the pipe; :class:`ProtocolError`
        if it sends a malformed message."""
        while True:
            with self._reading:
                request = self._read()
            if request is None:
                return
            while request is not None:
                self._handle(request)
                with self._lock:
                    request = self._pending.popleft() if self._pending else None
                    self._busy = request is not None

    def _read(self) -> dict[str, Any] | None:
        """The next request this thread is to handle (queueing those that must wait);
        ``None`` once the pipe has ended."""
        while not self._ended:
            message = self._inbox.next()
            if message is None:
                self._ended = True
                break
            if self._act(message):
                continue
            with self._lock:
                if self._busy:
                    self._pending.append(message)
                    continue
                self._busy = True
            return message
        return None


class Channel:
    """Writes protocol messages to the kernel, one at a time (any thread)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        self.write(protocol.dump(message))

    def write(self, lines: bytes) -> None:
        """Write protocol lines made by :func:`protocol.dump` (any thread)."""
        data = memoryview(lines)
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError:  # the kernel is gone
                os._exit(0)


class Output:
    """Printed text and tool-call records of the current run, in order, batched: one
    write to the kernel per interval (or per :data:`FLUSH_BYTES`, or per full message of
    records). Consecutive records become one ``tool_calls`` message of up to
    :data:`~jido_kernel.lua.protocol.MAX_CALLS` rows, encoded when it is closed (by
    printed text after it, by a flush, or full: then the Lua thread writes it itself, as
    handing it to the flusher thread would make Lua wait for that thread's turn)."""

    def __init__(self, channel: Channel, pause: Callable[[], AbstractContextManager[None]]) -> None:
        self._channel = channel
        self._pause = pause
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pending = threading.Event()
        self._parts: list[bytes] = []
        self._lines: list[bytes] = []
        self._calls: list[tuple[Any, ...]] = []  # records of the tool_calls message being built
        self._started: tuple[int, tuple[Any, ...]] | None = None  # a call's running record, not sent yet
        self._calls_id = 0
        self._size = 0
        self._total = 0
        self._run_id = 0

    def begin(self, run_id: int) -> None:
        with self._lock:
            self._run_id, self._total = run_id, 0

    def write(self, data: bytes) -> None:
        """Lua's ``print`` (the Lua thread)."""
        with self._lock:
            if self._total >= MAX_OUTPUT:
                return
            room = MAX_OUTPUT - self._total
            self._total += len(data)
            if self._total >= MAX_OUTPUT:
                data = data[:room] + b"\n[output truncated: the cell printed more than %d MiB]\n" % (MAX_OUTPUT >> 20)
            self._parts.append(data)
            self._size += len(data)
            full = self._size >= FLUSH_BYTES
        self._queued(full)

    def start(self, run_id: int, row: tuple[Any, ...]) -> None:
        """The ``running`` record of a tool call of run ``run_id`` that begins (the Lua
        thread), its :data:`~jido_kernel.lua.protocol.TOOL_CALL_FIELDS` values in order.
        A flush while the call runs sends it; a call that ends first sends both records
        as one row (:meth:`finish`)."""
        with self._lock:
            self._started = (run_id, row)
        if not self._pending.is_set():  # the flusher sends it if the call is still running then
            self._pending.set()

    def finish(self, run_id: int, row: tuple[Any, ...]) -> None:
        """The last record of the call :meth:`start` began, sent after what was printed
        before it; a full ``tool_calls`` message is sent at once."""
        with self._lock:
            started, self._started = self._started, None
            if started is not None and started[1][0] == row[0]:  # its running record was not sent
                row = (*row, True)
            full = self._add(run_id, row)
        self._queued(full)

    def _add(self, run_id: int, row: tuple[Any, ...]) -> bool:
        """Add a record to the message being built (holding the lock); True when it is
        full, and then closed (written from the Lua thread: no hand-over to the flusher)."""
        if self._parts:
            self._seal()
        if run_id != self._calls_id:
            self._close_calls()
            self._calls_id = run_id
        calls = self._calls
        calls.append(row)
        if len(calls) >= MAX_CALLS:
            self._close_calls()
            return True
        return self._size >= FLUSH_BYTES

    def _queued(self, full: bool) -> None:
        if full:
            with self._pause():  # the kernel may be slow to take it
                self.flush()
        elif not self._pending.is_set():  # set: the flusher clears it before it takes lines
            self._pending.set()

    def _close_calls(self) -> None:
        """Turn the records so far into a ``tool_calls`` line (holding the lock). Records
        are JSON-plain and bounded, so :data:`MAX_CALLS` of them fit in one message."""
        if not self._calls:
            return
        calls, self._calls = self._calls, []  # taken first: a record is never sent twice
        line = protocol.dump_records({"type": "tool_calls", "id": self._calls_id, "calls": calls})
        self._lines.append(line)
        self._size += len(line)

    def _seal(self) -> None:
        """Turn the printed bytes so far into ``stdout`` lines, after the records before
        them (holding the lock)."""
        if not self._parts:
            return
        self._close_calls()
        text = b"".join(self._parts).decode("utf-8", "replace")
        self._parts.clear()
        for start in range(0, len(text), _TEXT_CHUNK):
            message = {"type": "stdout", "id": self._run_id, "text": text[start : start + _TEXT_CHUNK]}
            self._lines.append(protocol.dump(message))

    def flush(self) -> None:
        """Send what is buffered (before any other event of the run, and before its answer)."""
        with self._flushing:
            with self._lock:
                self._seal()
                if self._started is not None:  # a call still running: its running record goes now
                    started, self._started = self._started, None
                    self._add(*started)
                self._close_calls()
                lines, self._lines, self._size = self._lines, [], 0
            if lines:
                self._channel.write(b"".join(lines))

    def loop(self) -> None:
        """Flusher thread: at most one ``stdout`` message per interval while Lua prints."""
        while True:
            self._pending.wait()
            time.sleep(FLUSH_INTERVAL)
            self._pending.clear()
            self.flush()


class Worker:
    """One worker: its Lua state, bridge, threads and request loop."""

    def __init__(self, config: dict[str, Any], channel: Channel) -> None:
        self.root: str = os.path.realpath(config["root"], strict=True)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"the project root is not a directory: {self.root}")
        self.channel = channel
        limits = SandboxLimits.from_wire(config["limits"])
        self._limits: tuple[Any, SandboxLimits] = (config["limits"], limits)  # the last wire form and its limits
        self.max_memory = limits.max_memory
        self.limiter = Limiter()
        self.output = Output(channel, self.limiter.paused)
        self.bridge = Bridge(self.root, self.limiter, self._event, limits, calls=self.output)
        self.runtime = self._new_runtime()
        self._handlers = {
            "run": self._run,
            "push": self._push,
            "pull": self._pull,
            "reset": self._reset,
            "names": self._names,
        }
        executables = list(resolve_allowlist(limits.shell_allowlist).values())
        self.confinement = confine.confine_process(self.root, max_memory=self.max_memory, exec_allowlist=executables)

    def _event(self, message: dict[str, Any]) -> None:
        """A state call of the running chunk (which waits for its answer), sent at once after
        what the chunk printed and recorded before it (tool-call records go to
        :meth:`Output.finish`, with the next batch)."""
        with self.limiter.paused():
            self.output.flush()
            self.channel.send(message)

    def _new_runtime(self) -> SandboxRuntime:
        callbacks = Callbacks(
            emit=self.output.write,
            bridge=self.bridge.call,
            state=self.bridge.state,
            bridge_names=FUNCTIONS,
            state_names=STATE_OPS,
            option_names=OPTION_NAMES,
        )
        return SandboxRuntime(callbacks, self.limiter, max_memory=self.max_memory)

    def serve(self, inbox: Inbox) -> None:
        """Start the threads, say ready, and answer requests until told to stop."""
        requests = Requests(inbox, self._act, self._handle)
        for target in (self.limiter.watch, self.output.loop, lambda: _serve(requests)):
            threading.Thread(target=target, daemon=True).start()
        version = self.runtime.lua.eval(b"_VERSION").decode()
        self.channel.send({"type": "ready", "confinement": self.confinement.to_json(), "lua": version})
        _serve(requests)

    def _act(self, message: dict[str, Any]) -> bool:
        """Act on an ``interrupt`` or ``state_reply`` at once (True); False for a request."""
        if message["type"] == "interrupt":
            self.limiter.interrupt(message["id"])
        elif message["type"] == "state_reply":
            self.bridge.deliver(message)
        else:
            return False
        return True

    def _handle(self, message: dict[str, Any]) -> None:
        """Answer one request (``shutdown`` exits)."""
        if message["type"] == "shutdown":
            os._exit(0)
        try:
            self._handlers[message["type"]](message)
        except (JidoError, WireError, ProtocolError, ValueError, TypeError) as error:
            self._fail(message["id"], _error_type(error), str(error))
        except MemoryError:  # the worker's own memory (its address-space limit), not Lua's
            collect_garbage()  # what a bulk read left in Lua, then the rest of the state's garbage
            self.runtime.lua.gccollect()
            gc.collect()
            problem = "The Lua worker ran out of memory converting values for Python; return or pull less at once."
            self._fail(message["id"], "LuaValueError", problem)
        except Exception as error:
            problem = f"internal error in the Lua worker: {type(error).__name__}: {error}"
            self._fail(message["id"], "LuaError", problem)

    def _fail(
        self,
        request: int,
        kind: str,
        message: str,
        chunk: str | None = None,
        line: int | None = None,
        traceback: tuple[str, ...] = (),
    ) -> None:
        if len(message) > MAX_ERROR:
            message = f"{message[:MAX_ERROR]}… (error message truncated, {len(message)} characters)"
        frames = [frame[:MAX_FRAME] for frame in traceback[:MAX_FRAMES]]
        error = {"type": kind, "message": message, "chunk": chunk, "line": line, "traceback": frames}
        self.channel.send({"type": "error", "id": request, "error": error})

    def _run(self, message: dict[str, Any]) -> None:
        run_id = message["id"]
        wire, limits = self._limits
        if message["limits"] != wire:  # a run usually has the limits of the one before it
            limits = SandboxLimits.from_wire(message["limits"])
            self._limits = (message["limits"], limits)
        self.bridge.limits = limits
        if limits.max_memory != self.runtime.max_memory:
            self.runtime.max_memory = self.max_memory = limits.max_memory
        confine.set_cpu_budget(limits.timeout + limits.grace_period + CPU_MARGIN)
        outputs = _strings(message["outputs"], "outputs")
        rows = RowBudget()  # the kernel's inputs may be packed, within one message's budget
        for name, value in message["inputs"].items():
            self.runtime.push(name, check_value(decode(value, rows), name))
        self.bridge.run_id = run_id
        self.output.begin(run_id)
        outcome = self.runtime.run(
            message["code"], message["name"], timeout=limits.timeout, want_return=message["want_return"],
            run_id=run_id, kernel_time=limits.kernel_time,
        )  # fmt: skip
        self.output.flush()
        if outcome.error is None and self.limiter.reason in ("interrupt", "timeout"):
            outcome.error = _stopped(self.limiter.reason, limits.timeout)  # tripped in a tool call's wait
        if outcome.error is not None:
            error = outcome.error
            self._fail(run_id, error.type, error.message, error.chunk, error.line, error.traceback)
            return
        self._answer(run_id, outcome, {name: self.runtime.pull(name) for name in outputs})

    def _answer(self, run_id: int, outcome: RunOutcome, outputs: dict[str, Any]) -> None:
        rows = RowBudget()  # one message: its values share the budget of the columnar form
        try:
            result = {
                "type": "result",
                "id": run_id,
                "values": [encode(value, rows) for value in outcome.values],
                "outputs": {name: encode(value, rows) for name, value in outputs.items()},
                "duration": outcome.duration,
            }
            self.channel.send(result)
        except ProtocolError as error:
            raise LuaValueError(f"The cell's result cannot be sent to Python: {error}.") from None
        finally:
            collect_garbage()  # once the answer is on its way

    def _push(self, message: dict[str, Any]) -> None:
        self.runtime.push(message["name"], check_value(decode(message["value"], RowBudget()), message["name"]))
        self.channel.send({"type": "done", "id": message["id"]})

    def _pull(self, message: dict[str, Any]) -> None:
        try:
            value = encode(self.runtime.pull(message["name"]), RowBudget())
            self.channel.send({"type": "value", "id": message["id"], "value": value})
        except ProtocolError as error:
            raise LuaValueError(f"{message['name']!r} cannot be sent to Python: {error}.") from None
        finally:
            collect_garbage()  # once the answer is on its way

    def _names(self, message: dict[str, Any]) -> None:
        names = self.runtime.names(_strings(message["path"], "path"))
        self.channel.send({"type": "value", "id": message["id"], "value": encode(names)})

    def _reset(self, message: dict[str, Any]) -> None:
        self.runtime.close()
        gc.collect()  # the old state and the callables it held form reference cycles
        self.runtime = self._new_runtime()
        self.channel.send({"type": "done", "id": message["id"]})


def _serve(requests: Requests) -> None:
    """A serving thread's body: the worker exits when the kernel closes the pipe, breaks
    the protocol, or a serving thread cannot go on (the kernel then starts a new worker)."""
    try:
        requests.serve()
    except ProtocolError as error:
        print(f"jido Lua worker: protocol error from the kernel: {error}", file=sys.stderr)
        os._exit(2)
    except BaseException as error:
        print(f"jido Lua worker: internal error reading the kernel's messages: {error!r}", file=sys.stderr)
        os._exit(3)
    os._exit(0)


def _stopped(reason: str, timeout: float) -> RunError:
    """A run whose limit tripped while Lua waited on a tool call, with nothing run after it."""
    if reason == "timeout":
        return RunError(
            "LuaTimeoutError",
            f"Lua time limit exceeded: the cell ran longer than {timeout:g} s and was stopped. "
            "The Lua state is intact; allow more time with --timeout or the lua_timeout setting.",
        )
    return RunError("KeyboardInterrupt", "Lua execution interrupted; the Lua state is intact.")


def _error_type(error: Exception) -> str:
    name = type(error).__name__
    return name if name in ("LuaValueError", "LuaMemoryError") else "LuaError"


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(value)


def _streams() -> tuple[Inbox, int]:
    """Private copies of the protocol pipes; fd 0 becomes /dev/null and fd 1 stderr."""
    inbox, outbox = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    return Inbox(inbox), outbox


def main() -> None:
    """Entry point of the worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox, outbox = _streams()
    channel = Channel(outbox)
    try:
        config = inbox.next()
        if config is None:
            return
        if config["type"] != "config":
            raise ProtocolError(f"the first message must be 'config', not {config['type']!r}")
        worker = Worker(config, channel)
    except BaseException as error:
        channel.send({"type": "fatal", "message": f"{type(error).__name__}: {error}"})
        os._exit(1)
    worker.serve(inbox)

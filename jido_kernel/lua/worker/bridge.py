"""The Python side of the ``jido`` table, in the worker.

``jido.read_file`` … ``jido.shell`` check their Lua arguments, go through
:mod:`jido_kernel.security` and :mod:`jido_kernel.commands.run` with the session's root and
limits, and answer ``value`` or ``nil, message`` — the security library's messages,
verbatim. Each call is a tool call: a ``running`` record as it begins, then a
``completed`` or ``error`` one. ``jido.state.*`` calls are sent to the kernel as
``state_call`` requests and wait for its answer. Waits give up as soon as a limit trips,
so an interrupt or a deadline is never held up by a slow command or a busy kernel.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable

from jido_kernel import security
from jido_kernel.commands.git import pin_git_dir, sandbox_policy
from jido_kernel.commands.run import run_command
from jido_kernel.errors import JidoError
from jido_kernel.lua.contract import BRIDGE, STATE, check_names
from jido_kernel.lua.errors import LuaValueError
from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.protocol import FUNCTIONS, MAX_ARGUMENTS, STATE_OPS, ProtocolError, one_line
from jido_kernel.lua.wire import LuaOpaque, decode, encode
from jido_kernel.lua.worker.jobs import Future, ThreadPoolExecutor
from jido_kernel.lua.worker.lupa_data import from_lua
from jido_kernel.lua.worker.stopper import Limiter
from jido_kernel.security import FileTooLarge
from jido_kernel.security.roots import get_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    class ToolCalls(Protocol):
        """Where a call's records go, each the values of
        :data:`~jido_kernel.lua.protocol.TOOL_CALL_FIELDS` in order: its ``running``
        record as it begins, then its last (:class:`~.main.Output` sends the first only
        if the call still runs at its next flush, else both as one row)."""

        def start(self, run_id: int, row: tuple[Any, ...]) -> None: ...

        def finish(self, run_id: int, row: tuple[Any, ...]) -> None: ...


check_names("jido.", BRIDGE, FUNCTIONS)
check_names("jido.state.", STATE, STATE_OPS)
_PARAMETERS: dict[str, tuple[str, ...]] = {function.short_name: function.parameter_names for function in BRIDGE}
OPTION_NAMES = tuple(name for name, parameters in _PARAMETERS.items() if parameters[1:2] == ("options",))
"""The functions whose second parameter is an options table (``read_file``, ``list_dir``)."""
_SHOWN_CHARS = 200
_SHOWN_ITEMS = 20
_RECORD_ITEMS = 1000
"""Table entries converted to show a tool call's arguments (more: not shown)."""
_ARGUMENT_ITEMS = 100_000
"""Table entries a bridge or state call accepts in one argument."""
_STOPPED = "stopped: a time, interrupt or memory limit was reached"


class ArgumentError(Exception):
    """A Lua argument of the wrong type or value; the message is the whole answer."""


class Bridge:
    """Implements :class:`~jido_kernel.lua.worker.runtime.Callbacks` ``bridge`` and ``state``.

    ``send(message)`` writes a protocol message to the kernel; ``calls`` takes each
    call's records; ``run_id`` is the id of the run in progress and ``limits`` its
    limits (both set by the worker).
    """

    def __init__(
        self,
        root: str,
        limiter: Limiter,
        send: Callable[[dict[str, Any]], None],
        limits: SandboxLimits,
        *,
        calls: ToolCalls,
    ) -> None:
        self.root = root
        self._root = get_root(root)  # resolved once: what the file functions take
        self.git = pin_git_dir(root)  # git for Lua uses the .git that exists now, never a later one
        self.policy = sandbox_policy(root, self.git)  # with the pinned repository's config paths
        self.limits = limits
        self.run_id = 0
        self._limiter = limiter
        self._send = send
        self._calls = calls
        self._call_ids = itertools.count()
        self._call_prefix = os.urandom(8).hex()  # tool-call ids: this bridge's random prefix and a counter
        self._commands = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jido-shell")
        self._lock = threading.Lock()
        self._next_call = 0
        self._replies: dict[int, Future] = {}
        self._running: set[int] = set()  # process groups of the commands running now
        self._handlers: dict[str, Callable[..., tuple[Any, str]]] = {
            name: getattr(self, f"_{name}") for name in FUNCTIONS
        }

    # -- jido.* ---------------------------------------------------------------------------

    def call(self, name: str, args: tuple[Any, ...]) -> tuple[Any, str | None]:
        """Run bridge function ``name``; ``(value, None)`` or ``(None, message)``.

        ``args`` are lupa's values; an options table the prelude read is a ``dict``
        already (see :class:`~jido_kernel.lua.worker.runtime.Callbacks` ``option_names``)."""
        handler = self._handlers.get(name)
        if handler is None:
            return None, f"jido.{name} does not exist"
        call_id = f"{self._call_prefix}{next(self._call_ids):016x}"
        arguments, tables = self._arguments(name, args)
        if tables:  # each table argument converted once: for the record and for the call
            converted = list(args)
            for index, table in tables.items():
                converted[index] = table
            args = tuple(converted)
        calls, run_id = self._calls, self.run_id
        calls.start(run_id, (call_id, name, arguments, "running", None, None))
        start = time.perf_counter()
        try:
            value, summary = handler(*args)
        except (ArgumentError, JidoError) as error:
            message = str(error)
        except Exception as error:
            message = f"{name} failed: {error}"
        else:
            duration = round((time.perf_counter() - start) * 1000, 3)
            calls.finish(run_id, (call_id, name, arguments, "completed", duration, summary))
            return value, None
        duration = round((time.perf_counter() - start) * 1000, 3)
        calls.finish(run_id, (call_id, name, arguments, "error", duration, one_line(message)))
        return None, message

    def _arguments(self, name: str, args: tuple[Any, ...]) -> tuple[dict[str, Any], dict[int, Any]]:
        """The arguments shown in the call's record, and the table arguments that
        converted (at most :data:`_RECORD_ITEMS` entries) by position, as plain data."""
        names = _PARAMETERS.get(name, ("path",))
        shown: dict[str, Any] = {}
        tables: dict[int, Any] = {}
        for index, value in enumerate(args[: len(names)]):
            if value is None:
                continue
            if type(value) is bytes and len(value) <= _SHOWN_CHARS:
                shown[names[index]] = value.decode("utf-8", "backslashreplace")  # what _shown gives, at once
                continue
            if type(value) is dict:  # an options table the prelude read: plain data already
                plain = value
            else:
                try:
                    plain = from_lua(value, strict=False, name=names[index], max_items=_RECORD_ITEMS)
                except LuaValueError:
                    shown[names[index]] = "<too large to show>"
                    continue
                if isinstance(plain, (list, dict)):
                    tables[index] = plain
            if type(plain) is dict and _few_flags(plain):
                shown[names[index]] = dict(plain)  # what _shown gives, and small
                continue
            plain = _shown(plain)
            # A shown scalar is at most ~200 characters (< 2,500 bytes of JSON): only tables are measured.
            too_large = isinstance(plain, (list, dict)) and len(json.dumps(plain)) > MAX_ARGUMENTS // 4
            shown[names[index]] = "<too large to show>" if too_large else plain
        return shown, tables

    def _read_file(self, path: Any = None, options: Any = None, *_: Any) -> tuple[bytes, str]:
        offset = limit = raw = None
        if options is not None:  # checked in the order: options, raw, path, offset, limit
            offset, limit, raw = _options(options, "read_file", "offset", "limit", "raw")
            if raw is not None and not isinstance(raw, bool):
                raise ArgumentError("read_file: raw must be a boolean")
        target = _path(path, "read_file", "path")
        if offset is not None or limit is not None:
            offset, limit = _count(offset, "read_file", "offset"), _count(limit, "read_file", "limit")
        text = security.read_file_utf8(
            target, self._root, offset=offset, limit=limit, numbered=not raw, max_bytes=self.limits.max_file_size
        )
        lines = text.count(b"\n") + (not text.endswith(b"\n") if raw else 1) if text else 0
        return text, f"{lines} line{'s' if lines != 1 else ''}"

    def _write_file(self, path: Any = None, content: Any = None, *_: Any) -> tuple[bool, str]:
        target = _path(path, "write_file", "path")
        if not isinstance(content, bytes):
            raise ArgumentError("write_file content must be a string")
        if len(content) > self.limits.max_file_size:
            raise FileTooLarge(target, len(content), self.limits.max_file_size)
        security.write_file(target, self._root, content, max_bytes=self.limits.max_file_size, policy=self.policy)
        return True, f"wrote {len(content)} bytes"

    def _list_dir(self, path: Any = None, options: Any = None, *_: Any) -> tuple[list[dict[str, str]], str]:
        target = "." if path is None else _path(path, "list_dir", "path")
        (patterns,) = _options(options, "list_dir", "ignore_patterns")
        ignore = _strings(patterns, "list_dir", "ignore_patterns") if patterns is not None else []
        entries = security.list_dir(target, self._root, ignore_patterns=ignore)
        return entries, f"{len(entries)} entr{'ies' if len(entries) != 1 else 'y'}"

    def _glob(self, pattern: Any = None, base: Any = None, *_: Any) -> tuple[list[str], str]:
        text = _path(pattern, "glob", "pattern")
        where = "." if base is None else _path(base, "glob", "base")
        paths = security.glob(text, self._root, base=where)
        return paths, f"{len(paths)} path{'s' if len(paths) != 1 else ''}"

    def _file_exists(self, path: Any = None, *_: Any) -> tuple[bool, str]:
        return _truth(security.file_exists(_path(path, "file_exists", "path"), self._root))

    def _is_file(self, path: Any = None, *_: Any) -> tuple[bool, str]:
        return _truth(security.is_file(_path(path, "is_file", "path"), self._root))

    def _is_dir(self, path: Any = None, *_: Any) -> tuple[bool, str]:
        return _truth(security.is_dir(_path(path, "is_dir", "path"), self._root))

    def _file_stat(self, path: Any = None, *_: Any) -> tuple[dict[str, Any], str]:
        info = security.file_stat(_path(path, "file_stat", "path"), self._root)
        return info, f"{info['type']}, {info['size']} bytes"

    def _delete_file(self, path: Any = None, *_: Any) -> tuple[bool, str]:
        security.delete_file(_path(path, "delete_file", "path"), self._root, policy=self.policy)
        return True, "deleted"

    def _mkdir_p(self, path: Any = None, *_: Any) -> tuple[bool, str]:
        security.mkdir_p(_path(path, "mkdir_p", "path"), self._root, policy=self.policy)
        return True, "created"

    def _shell(self, command: Any = None, args: Any = None, options: Any = None, *_: Any) -> tuple[dict[str, Any], str]:
        name = _path(command, "shell", "command")
        argv = [] if args is None else _strings(args, "shell", "args")
        (timeout_ms,) = _options(options, "shell", "timeout")
        limit = self.limits.shell_timeout
        if timeout_ms is not None:
            if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or not timeout_ms > 0:
                raise ArgumentError("shell: timeout must be a positive number of milliseconds")
            limit = min(limit, timeout_ms / 1000)
        # Never outlive the run's own deadline: the command is killed and Lua stops cleanly.
        limit = max(0.001, min(limit, self._limiter.remaining() + 0.05))
        job = self._commands.submit(
            self._command, name, argv, self.root,
            allowlist=self.limits.shell_allowlist, timeout=limit, max_output=self.limits.shell_max_output, git=self.git,
            in_session=True,  # the kernel kills the worker's session when the worker ends
        )  # fmt: skip
        try:
            result = self._wait(job)
        except ArgumentError:
            self._stop_commands()  # a stopped run leaves no command running
            raise
        summary = f"exit code {result.exit_code}" + (", output truncated" if result.truncated else "")
        return {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}, summary

    def _command(self, *args: Any, **kwargs: Any) -> Any:
        """:func:`run_command` in a pool thread, its process group known while it runs."""
        pids: list[int] = []

        def started(pid: int) -> None:
            with self._lock:
                self._running.add(pid)
            pids.append(pid)

        try:
            return run_command(*args, **kwargs, started=started)
        finally:
            with self._lock:
                self._running.difference_update(pids)

    def _stop_commands(self) -> None:
        """Kill the process group of every command running now."""
        with self._lock:
            for pgid in self._running:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)

    def _wait(self, job: Future) -> Any:
        while not self._limiter.tripped.is_set():
            try:
                return job.result(timeout=0.05)
            except TimeoutError:
                continue
        raise ArgumentError(_STOPPED)

    # -- jido.state.* ------------------------------------------------------------------

    def state(self, op: str, args: tuple[Any, ...]) -> tuple[Any, str | None]:
        """Ask the kernel to apply state operation ``op``; wait for its answer."""
        if op not in STATE_OPS:
            return None, f"jido.state.{op} does not exist"
        try:
            values = [
                encode(from_lua(arg, strict=True, name=f"argument {index}", max_items=_ARGUMENT_ITEMS))
                for index, arg in enumerate(args, 1)
            ]
        except LuaValueError as error:
            return None, f"jido.state.{op}: {error}"
        reply: Future = Future()
        with self._lock:
            self._next_call += 1
            call_id = self._next_call
            self._replies[call_id] = reply
        try:
            message = {"type": "state_call", "id": self.run_id, "call_id": call_id, "op": op, "args": values}
            with self._limiter.paused():  # the kernel's time, not Lua's
                self._send(message)
                ok, value = self._wait(reply)
        except ProtocolError as error:
            return None, f"jido.state.{op}: the arguments cannot be sent to the kernel ({error})"
        except ArgumentError as error:
            return None, f"jido.state.{op}: {error}"
        finally:
            with self._lock:
                self._replies.pop(call_id, None)
        return (value, None) if ok else (None, value)

    def deliver(self, message: dict[str, Any]) -> None:
        """A ``state_reply`` from the kernel (the thread reading its messages)."""
        with self._lock:
            reply = self._replies.get(message["id"])
        if reply is None or reply.done():
            return
        if message["ok"]:
            try:
                reply.set_result((True, decode(message["value"])))
            except ValueError:
                reply.set_result((False, "the kernel sent a malformed state value"))
        else:
            reply.set_result((False, one_line(str(message["error"]))))


def _path(value: Any, function: str, argument: str) -> str:
    if not isinstance(value, bytes):
        raise ArgumentError(f"{function}: {argument} must be a string")
    return value.decode("utf-8", "surrogateescape")


def _strings(value: Any, function: str, argument: str) -> list[str]:
    """An array of strings, from a Lua table or from already converted options."""
    if isinstance(value, (list, dict, str, bytes)):
        items = value
    else:
        items = from_lua(value, strict=False, name=argument, max_items=_ARGUMENT_ITEMS)
    if not isinstance(items, list) or not all(isinstance(item, (str, bytes)) for item in items):
        raise ArgumentError(f"{function}: {argument} must be an array of strings")
    return [item if isinstance(item, str) else item.decode("utf-8", "surrogateescape") for item in items]


def _options(value: Any, function: str, *names: str) -> tuple[Any, ...]:
    if value is None:
        return (None,) * len(names)
    if type(value) is dict:  # already converted (see Bridge.call): the usual case
        return tuple(map(value.get, names))
    if isinstance(value, (bytes, bool, int, float)):
        table = None
    elif isinstance(value, (list, dict)):  # already converted (see Bridge.call)
        table = value
    else:
        table = from_lua(value, strict=False, name="options", max_items=_ARGUMENT_ITEMS)
    if table == []:
        table = {}
    if not isinstance(table, dict):
        raise ArgumentError(f"{function}: options must be a table of named fields")
    return tuple(table.get(name) for name in names)


def _count(value: Any, function: str, argument: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ArgumentError(f"{function}: {argument} must be a non-negative integer")
    return value


def _truth(value: bool) -> tuple[bool, str]:
    return value, "true" if value else "false"


_FLAGS = frozenset({bool, int, type(None)})
_TEXT = frozenset({str})


def _few_flags(table: dict[Any, Any]) -> bool:
    """True for a table of at most :data:`_SHOWN_ITEMS` booleans and integers (64-bit:
    at most 20 characters) under text keys of at most :data:`_SHOWN_CHARS` characters in
    all (an options table): it shows as itself, in at most 2 + 12 × 200 + 20 × 30 bytes
    of JSON, below a shown argument's ``MAX_ARGUMENTS // 4``."""
    if len(table) == 1:  # the usual options table: one flag
        ((key, value),) = table.items()
        return type(key) is str and len(key) <= _SHOWN_CHARS and type(value) in _FLAGS
    return (
        len(table) <= _SHOWN_ITEMS
        and set(map(type, table)) <= _TEXT
        and set(map(type, table.values())) <= _FLAGS
        and sum(map(len, table)) <= _SHOWN_CHARS
    )


def _shown(value: Any) -> Any:
    """A tool-call argument as JSON-plain data, with long strings and tables shortened."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")  # bytes that are not UTF-8 show as \xff
    if isinstance(value, str):
        return value if len(value) <= _SHOWN_CHARS else f"{value[:_SHOWN_CHARS]}… ({len(value)} characters)"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, list):
        more = [f"… ({len(value) - _SHOWN_ITEMS} more)"] if len(value) > _SHOWN_ITEMS else []
        return [_shown(item) for item in value[:_SHOWN_ITEMS]] + more
    if isinstance(value, dict):
        items = list(value.items())
        shown = {_shown(key if isinstance(key, str) else repr(key)): _shown(item) for key, item in items[:_SHOWN_ITEMS]}
        if len(items) > _SHOWN_ITEMS:
            shown["…"] = f"{len(items) - _SHOWN_ITEMS} more"
        return shown
    if isinstance(value, LuaOpaque):
        return value.description
    return value

"""The Lua worker process and its pipes: start, send, receive, stop (kernel side).

Workers die with the thread that started them (``PR_SET_PDEATHSIG``), so they are
always started from one long-lived spawner thread (:data:`SPAWNER`), whichever thread
calls. No thread stands between a call and the worker: the calling thread writes its
request to the worker's stdin and reads the answer from its stdout itself. Each worker
has two threads of its own: one writes what the pipe cannot take at once (a large
message, a stopped worker), so sending never blocks, and one keeps the tail of its
stderr. Nothing from the worker is ever unpickled or evaluated: messages are JSON lines
checked by :mod:`~jido_kernel.lua.protocol`.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import math
import os
import select
import signal
import site
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from jido_kernel.commands.allowlist import SEARCH_PATH
from jido_kernel.confine import DISABLE_ENV
from jido_kernel.lua import protocol
from jido_kernel.lua.errors import LuaValueError
from jido_kernel.lua.protocol import FROM_WORKER, ProtocolError

_STDERR_TAIL = 4096
_WAIT_SLICE = 0.1
_READ_SIZE = 65536
_SESSION_SWEEPS = 20


class End:
    """Returned by :meth:`_Inbox.receive` once the worker's stream ends or breaks the protocol."""

    def __init__(self, problem: str | None = None) -> None:
        self.problem = problem


SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jido-lua-spawner")
"""Starts every worker: its thread lives as long as the process, so ``PR_SET_PDEATHSIG``
fires only when the kernel itself goes away."""


class _Outbox:
    """The worker's stdin: messages written in order, never blocking the sender.

    The sending thread writes a message itself when nothing is queued before it; what the
    pipe cannot take (a large message, a busy or stopped worker) waits in a backlog that
    the outbox's thread writes as the worker makes room.
    """

    def __init__(self, pipe: IO[bytes]) -> None:
        os.set_blocking(pipe.fileno(), False)
        self._pipe = pipe
        self._backlog = bytearray()
        self._closed = False  # by close(), or because the worker is gone: nothing more is written
        self._changed = threading.Condition()
        threading.Thread(target=self._drain, name="jido-lua-writer", daemon=True).start()

    def send(self, data: bytes) -> None:
        """Write ``data`` after everything sent before it (any thread)."""
        with self._changed:
            rest = memoryview(data)
            if not self._backlog:
                rest = rest[self._write(rest) :]
            if rest:
                self._backlog += rest
                self._changed.notify()

    @property
    def backlog(self) -> int:
        """Bytes sent but not yet taken by the worker."""
        return len(self._backlog)

    def close(self) -> None:
        """Drop what is queued; the outbox's thread closes the pipe."""
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _write(self, data: memoryview | bytearray) -> int:
        """Bytes of ``data`` the pipe took; all of them once closed (they are dropped)."""
        if self._closed:
            return len(data)
        try:
            return self._pipe.write(data) or 0  # None: the pipe is full
        except OSError:  # the worker is gone; its end of file reaches the waiting thread
            self._closed = True
            return len(data)

    def _drain(self) -> None:
        poller = select.poll()
        poller.register(self._pipe, select.POLLOUT)
        while self._wait_for_backlog():
            poller.poll(_WAIT_SLICE * 1000)  # a slice: close() is noticed even if the pipe stays full
            with self._changed:
                del self._backlog[: self._write(self._backlog)]
        with self._changed:
            self._pipe.close()

    def _wait_for_backlog(self) -> bool:
        """True once there is a backlog to write, False once the outbox is closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._backlog or self._closed)
            return not self._closed


class _Inbox:
    """The worker's stdout, read by the thread that waits for a message.

    No thread stands between the pipe and :meth:`receive`: its caller reads and frames
    the bytes itself, waiting in short slices so that a SIGINT (the kernel's interrupt)
    raises promptly. Only the caller of :meth:`receive` reads; :meth:`close` may come
    from any thread.
    """

    def __init__(self, pipe: IO[bytes]) -> None:
        os.set_blocking(pipe.fileno(), False)
        self._pipe = pipe
        self._poller = select.poll()
        self._poller.register(pipe, select.POLLIN)
        self._decoder = protocol.Decoder(FROM_WORKER)
        self._lock = threading.Lock()
        self._end: End | None = None

    def receive(self, deadline: float) -> dict[str, Any] | End | None:
        """The next message; :class:`End` once the stream is over (for good); ``None``
        once ``deadline`` (monotonic) passes."""
        while True:
            with self._lock:
                if self._end is not None:
                    return self._end
                try:
                    message = self._decoder.next()
                except ProtocolError as error:
                    self._end = End(f"it broke the protocol: {error}")
                    continue
                if message is not None:
                    return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if self._poller.poll(math.ceil(min(remaining, _WAIT_SLICE) * 1000)):
                    self._fill()

    def close(self) -> None:
        """Close the pipe; :meth:`receive` then returns :class:`End`."""
        with self._lock:
            if self._end is None:
                self._end = End()
            self._pipe.close()

    def _fill(self) -> None:
        try:
            data = self._pipe.read(_READ_SIZE)
            if data:
                self._decoder.feed(data)
        except KeyboardInterrupt:  # raised once the read returned, its bytes may be lost
            self._decoder.resync()
            raise
        except OSError as error:
            self._end = End(f"it broke the protocol: {error}")
            return
        if data == b"":
            try:
                self._decoder.end()
            except ProtocolError as error:
                self._end = End(f"it broke the protocol: {error}")
            else:
                self._end = End()


def kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid`` (a dead worker's commands, which run in
    process groups of their own inside its session; none can leave it: no allow-listed
    command calls ``setsid``). The session id cannot be reused while a member lives,
    and each process is signalled through a pidfd opened before its session is checked
    again, so no other process is ever hit."""
    for _ in range(_SESSION_SWEEPS):
        members = [pid for pid in _pids() if _session(pid) == sid]
        if not members:
            return
        for pid in members:
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                if _session(pid) == sid:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
            finally:
                os.close(pidfd)
        time.sleep(0.001)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _session(pid: int) -> int | None:
    """The session id of ``pid`` (``/proc/PID/stat``), ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return int(fields[3]) if len(fields) > 3 else None


MALLOC_TUNING = "glibc.malloc.tcache_count=1000"
"""glibc malloc setting of the worker. A process with threads (the worker has a few)
loses glibc's single-thread fast path, which made allocation-heavy Lua ~20% slower;
a larger per-thread cache serves Lua's allocations without locks again. It may keep
up to about 33 MB of freed small blocks per thread. Ignored by other C libraries."""


def _environment() -> dict[str, str]:
    """The worker's whole environment (never the kernel's)."""
    env = {"PATH": SEARCH_PATH, "LC_ALL": "C.UTF-8", "GLIBC_TUNABLES": MALLOC_TUNING}
    for name in (DISABLE_ENV, "TZ"):  # TZ: Lua's os.date and os.time use the owner's time zone
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def _launch(command: tuple[str, ...], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(command),
        bufsize=0,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd="/",
        env=env,
        start_new_session=True,
        close_fds=True,
    )


_standby: tuple[subprocess.Popen[bytes], tuple[str, ...], dict[str, str]] | None = None
_standby_lock = threading.Lock()
_prestarted = False


def prestart() -> bool:
    """Start a worker process in the background for the next :class:`Worker` to take, when
    a CPU is idle: its interpreter and modules load while the kernel starts, and it waits
    for its ``config`` (no Lua state, no confinement, nothing of the project before that).
    On a busy machine it does nothing, so the kernel's own start-up keeps the CPU.
    Returns whether this process has started one (now or before)."""
    global _prestarted
    if not _prestarted and _cpu_idle():
        _prestarted = True
        SPAWNER.submit(_prestart)
    return _prestarted


def _prestart() -> None:
    global _standby
    with _standby_lock:
        if _standby is not None:
            return
        command, env = Worker.command, _environment()
        with contextlib.suppress(OSError):  # the next Worker starts its own and reports why it cannot
            _standby = (_launch(command, env), command, env)


def discard_standby() -> None:
    """Stop the prestarted worker process if no :class:`Worker` took it (no session needs it)."""
    SPAWNER.submit(_take_standby, None, {})


def _take_standby(command: tuple[str, ...] | None, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """The prestarted process if it is alive and runs ``command`` in ``env``; otherwise
    None, and the prestarted process, if any, is killed."""
    global _standby
    with _standby_lock:
        standby, _standby = _standby, None
    if standby is None:
        return None
    process, its_command, its_env = standby
    if its_command == command and its_env == env and process.poll() is None:
        return process
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    return None


def _cpu_idle() -> bool:
    """Whether fewer tasks are runnable right now than this process may use CPUs (one
    of them is this one)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            runnable = int(loadavg.read().split()[3].partition("/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return runnable < len(os.sched_getaffinity(0))


_BOOT = (
    "import sys; package, *folders = sys.argv[1:]; del sys.argv[1:]; "
    "sys.path.append(package); import jido_kernel; del sys.path[-1]; "
    "sys.path += folders; import jido_kernel.lua.worker.__main__"
)
"""The worker's ``-c`` program. Its first argument is the folder holding ``jido_kernel``:
on ``sys.path`` only while ``import jido_kernel`` runs (its modules then load through the
package's own ``__path__``), because that folder may be the project root (an editable
install), where a Lua-written ``lupa/`` or ``msvcrt.py`` (an optional import that misses
everywhere else) would otherwise be imported. The other arguments (lupa's folders) stay
on ``sys.path`` after the standard library's; then :mod:`jido_kernel.lua.worker.__main__`
runs."""


def _import_folders() -> tuple[str, ...]:
    """The worker's import folders: first the folder holding this package (searched for
    ``jido_kernel`` alone, see :data:`_BOOT`), then the ``site-packages`` that ``python -I``
    would find lupa in, if any (no ``.pth`` file is run and no other folder is searched;
    it may be the same folder as the first)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.machinery.PathFinder.find_spec("lupa", site.getsitepackages())
    folders = [os.path.dirname(package)]
    if spec is not None and spec.submodule_search_locations:
        folders.append(os.path.dirname(os.path.abspath(spec.submodule_search_locations[0])))
    return tuple(folders)


class Worker:
    """One worker process: its pipes and the tail of its stderr."""

    command: tuple[str, ...] = (sys.executable, "-I", "-S", "-c", _BOOT, *_import_folders())
    """The worker's argv: isolated mode without ``site``, so nothing in the project root can
    shadow a module, no ``.pth`` file runs, ``jido_kernel`` is imported from its own folder
    and ``sys.path`` is the standard library plus lupa's folder pinned by
    :func:`_import_folders` (if lupa is missing there, the worker reports the failed
    import)."""

    def __init__(self, config: dict[str, Any]) -> None:
        env = _environment()
        self.config = config
        self.process = _take_standby(self.command, env) or _launch(self.command, env)
        self._stderr = bytearray()
        self.ready: dict[str, Any] | None = None
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self._outbox = _Outbox(self.process.stdin)
        self._inbox = _Inbox(self.process.stdout)
        threading.Thread(target=self._drain, args=(self.process.stderr,), daemon=True).start()
        self.send({"type": "config", **config})

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, Any]) -> None:
        """Send ``message`` (any thread; never blocks); :class:`LuaValueError` if it is
        larger than the protocol allows (huge code, inputs or pushed values)."""
        try:
            data = protocol.dump(message)
        except ProtocolError as error:
            raise LuaValueError(
                f"Too much data to send to Lua in one {message['type']} request: {error}. "
                "Pass smaller values, or write the data to a file in the project and read it "
                "with jido.read_file.",
                reason="too_large",
            ) from None
        self._outbox.send(data)

    def send_line(self, data: bytes) -> None:
        """Send a message already made by :func:`protocol.dump` (never blocks)."""
        self._outbox.send(data)

    @property
    def backlog(self) -> int:
        """Bytes of messages the worker has not taken yet."""
        return self._outbox.backlog

    def receive(self, deadline: float) -> dict[str, Any] | End | None:
        """The next message, :class:`End`, or ``None`` once ``deadline`` (monotonic) passes."""
        return self._inbox.receive(deadline)

    def _drain(self, stream: IO[bytes]) -> None:
        with stream:
            while chunk := stream.read(65536):
                self._stderr += chunk
                del self._stderr[:-_STDERR_TAIL]

    def kill(self) -> None:
        """SIGKILL the worker's process group, reap it, SIGKILL whatever is left in its
        session (the commands it started), and close its pipes."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        kill_session(self.process.pid)
        self._outbox.close()
        self._inbox.close()

    def stop(self, wait: float) -> None:
        """Ask the worker to exit; kill it if it has not within ``wait`` seconds."""
        self.send({"type": "shutdown"})
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(wait)
        self.kill()

    def exit_description(self) -> str:
        """How the process ended, with the last line it wrote to stderr.

        Called once its output has ended; a worker that closed its output but lingers is
        broken and is killed rather than waited for.
        """
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait()
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        lines = bytes(self._stderr).decode("utf-8", "replace").strip().splitlines()
        return f"{how}: {lines[-1]}" if lines else how

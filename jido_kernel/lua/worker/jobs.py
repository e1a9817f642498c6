"""Futures and a small thread pool for the worker, without :mod:`concurrent.futures`.

``concurrent.futures`` loads :mod:`logging` (and with it ``traceback``, ``warnings``,
``string``…) into every worker, for the few calls the bridge makes: a pool that runs
shell commands off the Lua thread, and futures that carry a command's outcome or the
kernel's answer to a state call. :class:`ThreadPoolExecutor` and :class:`Future` here
are those calls, with the same behaviour: threads start on demand up to
``max_workers`` and are reused once idle; ``result(timeout)`` raises the built-in
:class:`TimeoutError` when the time passes, and the call's exception when it raised.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Future:
    """The outcome of a call, set once (any thread), waited for by any thread."""

    __slots__ = ("_done", "_error", "_result")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._done.is_set()

    def set_result(self, result: Any) -> None:
        self._check_pending()
        self._result = result
        self._done.set()

    def set_exception(self, error: BaseException) -> None:
        self._check_pending()
        self._error = error
        self._done.set()

    def result(self, timeout: float | None = None) -> Any:
        """The result once set; :class:`TimeoutError` after ``timeout`` seconds without one."""
        if not self._done.wait(timeout):
            raise TimeoutError
        if self._error is not None:
            raise self._error
        return self._result

    def _check_pending(self) -> None:
        if self._done.is_set():
            raise RuntimeError("the future already has its outcome")


class ThreadPoolExecutor:
    """Runs submitted calls on up to ``max_workers`` daemon threads, started on demand."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "jido-job") -> None:
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._jobs: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        self._jobs = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future = Future()
        self._jobs.put((future, fn, args, kwargs))
        if not self._idle.acquire(timeout=0):  # no idle thread takes it: start one, if allowed
            with self._lock:
                if self._threads < self._max_workers:
                    name = f"{self._prefix}_{self._threads}"
                    self._threads += 1
                    threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            future, fn, args, kwargs = self._jobs.get()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as error:
                future.set_exception(error)
            del future, fn, args, kwargs  # nothing of a finished call kept while idle
            self._idle.release()

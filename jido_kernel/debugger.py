"""ipykernel's debugger, built on the first debug message instead of at start-up.

ipykernel builds its ``Debugger`` when the kernel starts and imports ``debugpy`` (and its
bundled ``pydevd``) to learn whether it can: some 40 ms of every start and 5 MB of every
kernel, though most sessions never debug. The ``jido`` kernel advertises the debugger
when ``debugpy`` is installed (found, not imported) and builds ipykernel's own
``Debugger`` the first time a front end sends a debug request (JupyterLab does when its
debugger panel is shown). Debugging then works as in any IPython kernel.

ipykernel looks the debugger module up at a few points (``from .debugger import ...``
when the kernel starts, in ``kernel_info``); :func:`stand_in` answers those lookups
without the import while the real module is not loaded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MODULE = "ipykernel.debugger"

_lock = threading.RLock()
"""Held while the stand-in is in ``sys.modules`` and while the real module is imported,
so a debug request on the control thread never meets the stand-in in an import."""


def debugpy_installed() -> bool:
    """Whether ``debugpy`` can be imported (looked up on ``sys.path``, not imported)."""
    try:
        return importlib.util.find_spec("debugpy") is not None
    except (ImportError, ValueError):
        return False


@contextmanager
def stand_in(available: bool) -> Iterator[None]:
    """Within the block, ipykernel's ``from .debugger import ...`` finds a module that says
    whether the debugger is ``available`` and builds a :class:`DeferredDebugger`; nothing
    stands in once the real module is loaded."""
    with _lock:
        if MODULE in sys.modules:
            yield
            return
        module = types.ModuleType(MODULE, "Stands in for ipykernel's debugger module until a debug request.")
        module._is_debugpy_available = available  # type: ignore[attr-defined]
        module.Debugger = DeferredDebugger  # type: ignore[attr-defined]
        sys.modules[MODULE] = module
        try:
            yield
        finally:
            if sys.modules.get(MODULE) is module:
                del sys.modules[MODULE]


class DeferredDebugger:
    """Holds the arguments of ipykernel's ``Debugger`` and builds it on first use of any of
    its attributes (a debug request calls ``process_request``). The kernel's loop that
    waits for stopped events (:meth:`handle_stopped_event`) waits for it to be built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._arguments = (args, kwargs)
        self._debugger: Any = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def debugger(self) -> Any:
        """ipykernel's ``Debugger``, built (and ``debugpy`` imported) on the first call."""
        if self._debugger is None:
            with _lock:
                if self._debugger is None:
                    from ipykernel.debugger import Debugger

                    args, kwargs = self._arguments
                    self._debugger = Debugger(*args, **kwargs)
                    waiters, self._waiters = self._waiters, []
                    for loop, waiter in waiters:
                        loop.call_soon_threadsafe(_resolve, waiter)
        return self._debugger

    async def handle_stopped_event(self) -> None:
        """ipykernel's, once the debugger is built (until then, waits without building it)."""
        if self._debugger is None:
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            with _lock:
                if self._debugger is None:
                    self._waiters.append((loop, waiter))
                else:
                    waiter.set_result(None)
            await waiter
        await self.debugger.handle_stopped_event()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.debugger, name)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)

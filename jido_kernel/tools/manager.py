"""``ToolsManager``: the global tools manager, kept for code written before sessions.

Migration: pass ``session_id=`` to every call (or use ``current_session().manager``).
With a session id, a call is delegated to that session's
:class:`~jido_kernel.session.manager.SessionManager` and recorded as a tool call in
the session's state. Without one, the call works on the global project root (the
working directory unless configured) and emits a :class:`DeprecationWarning`
naming the migration; ``c.ToolsManager.suppress_global_warnings = True`` silences it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from traitlets import Bool, Unicode
from traitlets.config import Configurable

from jido_kernel import security
from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.commands.git import sandbox_policy
from jido_kernel.commands.run import CommandResult, run_command
from jido_kernel.errors import JidoError
from jido_kernel.lua import LuaSandbox
from jido_kernel.session import registry

T = TypeVar("T")


class ToolsManager(Configurable):
    """File tools on the global project root, or on a session's root via ``session_id``."""

    root = Unicode("", help="Global project root for calls without a session_id (default: the working directory).").tag(
        config=True
    )
    suppress_global_warnings = Bool(False, help="Do not warn when a tool call has no session_id.").tag(config=True)
    require_session_context = Bool(
        False,
        help="Handler helpers refuse calls with neither session_id nor project_root "
        "instead of falling back to the global root.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lua: LuaSandbox | None = None

    def global_root(self) -> Path:
        """The resolved global project root."""
        return Path(self.root or Path.cwd()).resolve()

    def warn_global(self, caller: str) -> None:
        """Emit the deprecation warning for a call made without a session id."""
        if not self.suppress_global_warnings:
            warnings.warn(
                f"{caller} called without session_id. Global manager usage is deprecated: "
                "pass session_id= (or use current_session().manager) so the call is confined "
                "to that session's project root.",
                DeprecationWarning,
                stacklevel=4,
            )

    def _call(
        self,
        name: str,
        arguments: Mapping[str, Any],
        session_id: str | None,
        on_session: Callable[[Any], T],
        on_global: Callable[[Path], T],
    ) -> T:
        if session_id is None:
            self.warn_global(f"ToolsManager.{name}")
            return on_global(self.global_root())
        session = registry().lookup(session_id)
        return _recorded(session.state, name, arguments, lambda: on_session(session.manager))

    def project_root(self, *, session_id: str | None = None) -> Path:
        """The project root of the session, or the global one."""
        return self._call("project_root", {}, session_id, lambda m: m.project_root, lambda root: root)

    def validate_path(self, path: str, *, session_id: str | None = None) -> Path:
        return self._call(
            "validate_path",
            {"path": path},
            session_id,
            lambda m: m.validate_path(path),
            lambda root: security.validate_path(path, root),
        )

    def read_file(
        self, path: str, *, session_id: str | None = None, offset: int | None = None, limit: int | None = None
    ) -> str:
        """The line-numbered text of a file (the agent format)."""
        return self._call(
            "read_file",
            {"path": path, "offset": offset, "limit": limit},
            session_id,
            lambda m: m.read_file(path, offset=offset, limit=limit, numbered=True),
            lambda root: security.read_file(path, root, offset=offset, limit=limit, numbered=True),
        )

    def write_file(self, path: str, content: str, *, session_id: str | None = None) -> None:
        self._call(
            "write_file",
            {"path": path, "bytes": len(content.encode("utf-8"))},
            session_id,
            lambda m: m.write_file(path, content),
            lambda root: security.write_file(path, root, content, policy=sandbox_policy(root)),
        )

    def list_dir(self, path: str = ".", *, session_id: str | None = None) -> list[dict[str, str]]:
        return self._call(
            "list_dir",
            {"path": path},
            session_id,
            lambda m: m.list_dir(path),
            lambda root: security.list_dir(path, root),
        )

    # -- global-only extras of jido_code ------------------------------------------------

    def file_stat(self, path: str) -> dict[str, Any]:
        self.warn_global("ToolsManager.file_stat")
        return security.file_stat(path, self.global_root())

    def file_exists(self, path: str) -> bool:
        self.warn_global("ToolsManager.file_exists")
        return security.file_exists(path, self.global_root())

    def is_file(self, path: str) -> bool:
        self.warn_global("ToolsManager.is_file")
        return security.is_file(path, self.global_root())

    def is_dir(self, path: str) -> bool:
        self.warn_global("ToolsManager.is_dir")
        return security.is_dir(path, self.global_root())

    def delete_file(self, path: str) -> None:
        self.warn_global("ToolsManager.delete_file")
        root = self.global_root()
        security.delete_file(path, root, policy=sandbox_policy(root))

    def mkdir_p(self, path: str) -> None:
        self.warn_global("ToolsManager.mkdir_p")
        root = self.global_root()
        security.mkdir_p(path, root, policy=sandbox_policy(root))

    def execute(self, script: str, args: Any = None, *, timeout: float | None = None) -> Any:
        """Run ``script`` in a fresh sandboxed Lua state on the global root (``args`` is
        the Lua global ``args``); nothing persists between calls, as in jido_code.

        Returns ``None`` for no result, the value for one, a list for several.
        """
        self.warn_global("ToolsManager.execute")
        if self._lua is None:
            self._lua = LuaSandbox(self.global_root(), parent=self)
        try:
            values = self._lua.run(script, name="<tools>", timeout=timeout, inputs={"args": args}).values
        finally:
            self._lua.reset()
        return None if not values else values[0] if len(values) == 1 else values

    def close(self) -> None:
        """Stop the Lua worker of :meth:`execute`, if one was started."""
        if self._lua is not None:
            self._lua.close()
            self._lua = None

    def shell(self, command: str, args: Sequence[str] = (), *, timeout: float = 25.0) -> CommandResult:
        """Run an allow-listed command in the global root (default allow-list)."""
        self.warn_global("ToolsManager.shell")
        return run_command(command, list(args), self.global_root(), allowlist=DEFAULT_ALLOWLIST, timeout=timeout)


def _recorded(state: Any, name: str, arguments: Mapping[str, Any], call: Callable[[], T]) -> T:
    """Run ``call`` and record it as a tool call (status, duration, result) in ``state``."""
    record = state.add_tool_call(name, dict(arguments), status="running")
    started = time.perf_counter()
    try:
        result = call()
    except JidoError as error:
        state.update_tool_call(record.id, status="error", result=str(error), duration_ms=_ms_since(started))
        raise
    state.update_tool_call(record.id, status="completed", result=_summary(result), duration_ms=_ms_since(started))
    return result


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _summary(result: object, limit: int = 200) -> str:
    text = "ok" if result is None else str(result)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_instance: ToolsManager | None = None


def tools_manager() -> ToolsManager:
    """The process's global tools manager."""
    global _instance
    if _instance is None:
        _instance = ToolsManager()
    return _instance

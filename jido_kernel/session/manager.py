"""``SessionManager``: a session's security boundary.

Every file operation goes through :mod:`jido_kernel.security` with the session's
project root; Lua runs in the session's :class:`~jido_kernel.lua.sandbox.LuaSandbox`
worker, whose time limit really stops Lua. Lua's bridge calls become tool calls in the
session's state, and ``jido.state.*`` calls are applied to it.

Operations default to the ``SANDBOX`` policy (untrusted callers: agent tools, Lua);
writes, deletes and new folders to the root's own sandbox policy, which also protects
the paths the repository's git configuration names and the package's own folder
(:func:`~jido_kernel.commands.git.sandbox_policy`, as for Lua and the file magics). The
notebook owner's magics pass ``policy=OWNER``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets.config import Configurable

from jido_kernel import security
from jido_kernel.commands.git import sandbox_policy
from jido_kernel.errors import JidoError
from jido_kernel.lua.sandbox import LuaResult, LuaSandbox
from jido_kernel.security import SANDBOX, Policy
from jido_kernel.settings import SandboxLimits, sandbox_limits

if TYPE_CHECKING:
    from jido_kernel.session.session import Session


class SessionManager:
    """File operations and Lua runs confined to one session's project root."""

    def __init__(self, session: Session, *, parent: Configurable | None = None) -> None:
        self.session = session
        self.lua = LuaSandbox(
            session.project_root,
            parent=parent,
            on_tool_call=self._on_tool_call,
            on_state_call=self._on_state_call,
        )
        self.apply_settings()

    @property
    def project_root(self) -> Path:
        return self.session.project_root

    # -- limits ---------------------------------------------------------------------

    def apply_settings(self) -> SandboxLimits:
        """Apply the session's settings over the configured limits (the sandbox's traits)
        and give the result to the sandbox: :attr:`limits` are the session's limits."""
        self.limits = sandbox_limits(self.session.settings, **SandboxLimits.configured(self.lua).values)
        self.lua.limits = self.limits
        return self.limits

    # -- confined file operations -----------------------------------------------------

    def validate_path(self, path: str) -> Path:
        return security.validate_path(path, self.project_root)

    def read_file(
        self,
        path: str,
        *,
        offset: int | None = None,
        limit: int | None = None,
        numbered: bool = False,
        policy: Policy = SANDBOX,
    ) -> str:
        return security.read_file(path, self.project_root, offset=offset, limit=limit, numbered=numbered, policy=policy)

    def write_file(self, path: str, content: str | bytes, *, policy: Policy | None = None) -> None:
        security.write_file(path, self.project_root, content, policy=self._writing(policy))

    def list_dir(
        self, path: str = ".", *, ignore_patterns: Sequence[str] = (), policy: Policy = SANDBOX
    ) -> list[dict[str, str]]:
        return security.list_dir(path, self.project_root, ignore_patterns=ignore_patterns, policy=policy)

    def glob(self, pattern: str, *, base: str = ".", policy: Policy = SANDBOX) -> list[str]:
        return security.glob(pattern, self.project_root, base=base, policy=policy)

    def file_stat(self, path: str, *, policy: Policy = SANDBOX) -> dict[str, Any]:
        return security.file_stat(path, self.project_root, policy=policy)

    def file_exists(self, path: str, *, policy: Policy = SANDBOX) -> bool:
        return security.file_exists(path, self.project_root, policy=policy)

    def is_file(self, path: str, *, policy: Policy = SANDBOX) -> bool:
        return security.is_file(path, self.project_root, policy=policy)

    def is_dir(self, path: str, *, policy: Policy = SANDBOX) -> bool:
        return security.is_dir(path, self.project_root, policy=policy)

    def delete_file(self, path: str, *, policy: Policy | None = None) -> None:
        security.delete_file(path, self.project_root, policy=self._writing(policy))

    def mkdir_p(self, path: str, *, policy: Policy | None = None) -> None:
        security.mkdir_p(path, self.project_root, policy=self._writing(policy))

    def _writing(self, policy: Policy | None) -> Policy:
        """``policy``, or the root's sandbox policy for an untrusted write."""
        return sandbox_policy(self.project_root) if policy is None else policy

    # -- Lua ------------------------------------------------------------------------------

    def run_lua(
        self,
        code: str,
        *,
        timeout: float | None = None,
        name: str = "<lua>",
        inputs: Mapping[str, Any] | None = None,
        outputs: Sequence[str] = (),
        want_return: bool = True,
        on_stdout: Callable[[str], None] | None = None,
    ) -> LuaResult:
        """Run ``code`` in the session's Lua state with the session's :attr:`limits`;
        ``timeout`` (s, source ``"flag"``) overrides theirs and really stops it."""
        return self.lua.run(
            code, name=name, timeout=timeout, inputs=inputs, outputs=outputs, want_return=want_return,
            on_stdout=on_stdout, limits=self.limits,
        )  # fmt: skip

    def reset_lua(self) -> None:
        """Replace the Lua state with a fresh one (the sandbox and its limits stay)."""
        self.lua.reset()

    def confinement_notes(self) -> tuple[str, ...]:
        """The worker's notes on what the OS does not enforce."""
        return tuple(self.lua.confinement.get("notes", ()))

    def lua_names(self, path: Sequence[str] = (), *, wait: float = 0.2) -> dict[str, str] | None:
        """Names in the live Lua state (see ``LuaSandbox.names``); never waits for a run."""
        return self.lua.names(path, wait=wait)

    def close(self) -> None:
        """Stop the Lua worker."""
        self.lua.close()

    # -- events from the Lua worker ---------------------------------------------------------

    def _on_tool_call(self, record: Mapping[str, Any]) -> None:
        state = self.session.state
        if record["status"] in ("pending", "running"):
            state.add_tool_call(
                record["name"],
                record.get("arguments") or {},
                status=record["status"],
                id=record["id"],
            )
        else:
            state.update_tool_call(
                record["id"],
                status=record["status"],
                result=record.get("result_summary"),
                duration_ms=record.get("duration_ms"),
            )

    def _on_state_call(self, op: str, args: Sequence[Any]) -> Any:
        call = STATE_CALLS[op]
        try:
            inspect.signature(call).bind(self.session.state, *args)
        except TypeError:
            parameters = ", ".join(list(inspect.signature(call).parameters)[1:])
            raise JidoError(
                f"jido.state.{op} takes ({parameters}), not {len(args)} argument{'s' if len(args) != 1 else ''}",
                reason="bad_arguments",
            ) from None
        return call(self.session.state, *args)


def _append_message(state: Any, role: str, content: str) -> bool:
    state.append_message(role, content)
    return True


def _update_todos(state: Any, todos: Sequence[Mapping[str, Any]]) -> bool:
    """Replace the todos; ``activeForm`` (the common agent spelling) means ``active_form``."""
    state.update_todos([{("active_form" if k == "activeForm" else k): v for k, v in todo.items()} for todo in todos])
    return True


def _start_streaming(state: Any, message_id: str | None = None) -> bool:
    state.start_streaming(message_id)
    return True


def _add_reasoning_step(state: Any, content: str) -> bool:
    return bool(state.add_reasoning_step(content))


def _update_streaming(state: Any, chunk: str) -> bool:
    return state.update_streaming(chunk) or True


def _end_streaming(state: Any) -> str:
    return state.end_streaming().content


STATE_CALLS: dict[str, Callable[..., Any]] = {
    "append_message": _append_message,
    "add_reasoning_step": _add_reasoning_step,
    "update_todos": _update_todos,
    "start_streaming": _start_streaming,
    "update_streaming": _update_streaming,
    "end_streaming": _end_streaming,
}

"""Session lifecycle: opening a session with its settings, state, saved state and manager;
closing it; the current one; where the notebook's own session came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from traitlets.config import Configurable

from jido_kernel.session.errors import SessionError
from jido_kernel.session.origin import Origin
from jido_kernel.session.registry import SessionRegistry
from jido_kernel.session.session import CONFIG_KEYS, Session

_registry: SessionRegistry | None = None
_origin: Origin | None = None
_refusal: str | None = None
_workers_deferred = False


def registry() -> SessionRegistry:
    """This process's session registry (created on first use)."""
    global _registry
    if _registry is None:
        _registry = SessionRegistry()
    return _registry


def set_registry(new: SessionRegistry) -> None:
    """Use ``new`` as the process's registry (the extension passes a configured one)."""
    global _registry
    _registry = new


def set_origin(origin: Origin | None) -> None:
    """Remember how the notebook's own session was located (the extension does)."""
    global _origin
    _origin = origin


def set_refusal(message: str | None) -> None:
    """Remember why the notebook's own session was refused: which root, from where, how
    to fix it (the extension does); every magic then says so."""
    global _refusal
    _refusal = message


def defer_workers() -> None:
    """Open sessions without starting their Lua workers until :func:`start_workers` (a
    kernel starting on a busy machine answers ``kernel_info`` first)."""
    global _workers_deferred
    _workers_deferred = True


def start_workers() -> None:
    """Start the Lua worker of every open session that has none, and of every session
    opened from now on (each starts in the background; a run waits for it)."""
    global _workers_deferred
    _workers_deferred = False
    for session in registry().list():
        session.manager.lua.start()


def no_session_message() -> str:
    """Why no session is open and what to do, in one line."""
    if _refusal is not None:
        return f"No jido session is open: {_refusal}"
    if _origin is not None:
        return "No jido session is open (it was closed): open one with %session new PATH."
    return "No jido session is open: run %load_ext jido_kernel, or open one with %session new PATH."


def origin() -> Origin | None:
    """How the notebook's own session was located, if the extension opened it."""
    return _origin


def current_session() -> Session:
    """The current session of this process (the notebook's, unless switched)."""
    session = registry().current
    if session is None:
        raise SessionError(no_session_message(), reason="no_session")
    return session


def open_session(
    project_root: object,
    *,
    name: str | None = None,
    id: str | None = None,
    config: Mapping[str, Any] | None = None,
    parent: Configurable | None = None,
) -> Session:
    """Create a session with its settings, state and manager, and register it.

    The model config comes from the merged settings (``provider``, ``model``,
    ``temperature``, ``max_tokens``) under ``config``. The Lua worker is started in
    the background so the first ``%%lua`` cell does not wait for it (unless workers are
    deferred: :func:`defer_workers`). Every change of the state is saved from then on
    (:mod:`jido_kernel.persistence`).
    """
    from jido_kernel import persistence
    from jido_kernel import settings as settings_mod
    from jido_kernel.session.manager import SessionManager
    from jido_kernel.state import SessionState, StateLimits

    session = Session.new(project_root, name=name, id=id)
    loaded = settings_mod.load(session.project_root)
    from_settings = {k: loaded.values[k] for k in CONFIG_KEYS if k in loaded.values}
    session.update_config({**from_settings, **(config or {})})
    session.settings = loaded
    session.state = SessionState(session.id, StateLimits(parent=parent))
    registry().register(session)
    try:
        session.manager = SessionManager(session, parent=parent)
        if not _workers_deferred:
            session.manager.lua.start()
    except BaseException:
        registry().unregister(session.id)
        raise
    persistence.attach(session, parent)
    return session


def reload_settings(session: Session) -> Any:
    """Re-read the session's settings files and apply their limits to its Lua sandbox."""
    from jido_kernel import settings as settings_mod

    session.settings = settings_mod.load(session.project_root)
    session.manager.apply_settings()
    return session.settings


def close_session(session: Session) -> None:
    """Stop the session's Lua worker, write its pending changes, and remove it from the registry."""
    from jido_kernel import persistence

    registry().unregister(session.id)
    persistence.detach(session.id)
    if session.manager is not None:
        session.manager.close()

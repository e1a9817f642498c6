"""Saved session state: every change written to ``$JIDO_CODE_HOME/sessions/<id>.sqlite3``.

Messages, reasoning steps, tool calls and todos of each open session are written as they
change (see :mod:`.writer`); ``%session resume`` brings a notebook's saved state back
(never automatically, so *Restart & Run All* does not double it). The Lua state (globals
of ``%%lua`` cells) is not saved. The directory must lie outside the project root (the
worker cannot reach it: Landlock and the user-space checks confine Lua to the root);
when it does not, nothing is saved and ``%session`` says why.

Settings: ``session_keep_days`` (default 30: files unchanged that long are deleted
when a session opens) and ``session_max_mb`` (default 10 per session: past it the
oldest records are dropped); a project's own file can only lower them.
Configuration: ``c.SessionStore.enabled = False`` saves nothing.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from traitlets import Bool
from traitlets.config import Configurable

from jido_kernel import _logging  # noqa: F401  (the library's NullHandler)
from jido_kernel.errors import JidoError
from jido_kernel.persistence import store
from jido_kernel.persistence.writer import Persister
from jido_kernel.session.session import UUID_RE
from jido_kernel.settings.paths import global_dir
from jido_kernel.settings.schema import SCHEMA

DIRECTORY_NAME = "sessions"
MB = 1000 * 1000

_persisters: dict[str, Persister] = {}
_not_saved: dict[str, str] = {}


class PersistenceError(JidoError):
    """Saved state could not be found, read or written."""

    reason = "persistence_error"


class SessionStore(Configurable):
    """Where and whether session state is saved."""

    enabled = Bool(True, help="Save each session's state as it changes (resume with %session resume).").tag(config=True)


def directory() -> Path:
    """``$JIDO_CODE_HOME/sessions`` (default ``~/.jido_code/sessions``)."""
    return global_dir() / DIRECTORY_NAME


def session_file(session_id: str) -> Path:
    """The file of ``session_id`` (a UUID: nothing else names a file)."""
    if not UUID_RE.match(session_id):
        raise PersistenceError(f"Not a session id: {session_id!r}.", reason="invalid_session_id")
    return directory() / f"{session_id}{store.SUFFIX}"


def _tightest(settings: Any, key: str) -> int:
    """The value of ``key`` in effect: a project's file may only lower the global one."""
    default = SCHEMA[key].default
    if settings is None:
        return int(default)
    return int(min(settings.global_values.get(key, default), settings.get(key, default)))


def attach(session: Any, parent: Configurable | None = None) -> None:
    """Start saving ``session``'s state (its writer thread deletes files past the retention period)."""
    if not SessionStore(parent=parent).enabled:
        _not_saved[session.id] = "saving is off (c.SessionStore.enabled = False)"
        return
    folder = directory()
    root = Path(session.project_root)
    if folder.resolve() == root or root in folder.resolve().parents:
        _not_saved[session.id] = f"{folder} is inside the project root: set $JIDO_CODE_HOME elsewhere"
        return
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        _persisters[session.id] = Persister(
            session.state,
            session_file(session.id),
            name=session.name,
            project_root=str(session.project_root),
            max_bytes=_tightest(session.settings, "session_max_mb") * MB,
            keep_days=_tightest(session.settings, "session_keep_days"),
        )
    except OSError as error:
        _not_saved[session.id] = f"{folder} cannot be written ({error})"
    else:
        _not_saved.pop(session.id, None)


@atexit.register
def _close_all() -> None:
    """At interpreter exit, commit what is pending (the writer threads are daemons)."""
    for session_id in list(_persisters):
        detach(session_id)


def detach(session_id: str) -> None:
    """Write what is pending and stop saving the session."""
    persister = _persisters.pop(session_id, None)
    _not_saved.pop(session_id, None)
    if persister is not None:
        persister.close()


def persister(session_id: str) -> Persister | None:
    return _persisters.get(session_id)


def status(session_id: str) -> str:
    """One line for ``%session``: where the state is saved, or why it is not."""
    current = _persisters.get(session_id)
    if current is None:
        return f"not saved: {_not_saved.get(session_id, 'the session is not open')}"
    problems = []
    if current.error:
        problems.append(f"last write failed: {current.error}")
    if current.dropped:
        problems.append(f"{current.dropped} oldest records dropped past {current.max_bytes // MB} MB")
    line = f"{current.path} (the Lua state itself is not saved)"
    return line + ("; " + "; ".join(problems) if problems else "")


def flush_all() -> None:
    """Wait until every open session's changes are committed."""
    for each in list(_persisters.values()):
        each.flush()


def saved(session_id: str) -> store.Saved:
    """Everything saved for ``session_id`` (its pending changes written first)."""
    current = _persisters.get(session_id)
    if current is not None:
        current.flush()
    path = session_file(session_id)
    if not path.is_file():
        raise PersistenceError(
            f"Nothing is saved for session {session_id}: see %session saved.", reason="nothing_saved"
        )
    try:
        return store.load(path)
    except store.sqlite3.Error as error:
        raise PersistenceError(f"The saved state at {path} cannot be read: {error}.", reason="unreadable") from error


def summaries() -> list[store.SavedSummary]:
    """Saved sessions, most recently changed first."""
    flush_all()
    return store.summaries(directory())


def forget(session_id: str) -> None:
    """Delete what is saved for ``session_id`` (an open session goes on saving new changes)."""
    current = _persisters.get(session_id)
    if current is not None:
        current.reset()
        current.flush()
        return
    path = session_file(session_id)
    if not path.is_file():
        raise PersistenceError(f"Nothing is saved for session {session_id}.", reason="nothing_saved")
    store.remove(path)

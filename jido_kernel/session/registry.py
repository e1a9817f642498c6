"""``SessionRegistry``: the sessions open in this process, and which one is current."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from traitlets import Int
from traitlets.config import Configurable

from jido_kernel.session.errors import SessionError
from jido_kernel.session.session import Session


class SessionRegistry(Configurable):
    """Holds up to ``max_sessions`` sessions, with lookups by id, path and name."""

    max_sessions = Int(10, help="How many sessions one kernel process may hold open at once.").tag(config=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._sessions: dict[str, Session] = {}
        self._current: str | None = None
        self._lock = threading.RLock()

    def register(self, session: Session) -> Session:
        """Add ``session``; the first one registered becomes current."""
        with self._lock:
            if session.id in self._sessions:
                raise SessionError(f"A session with id {session.id} is already open.", reason="session_exists")
            if len(self._sessions) >= self.max_sessions:
                raise SessionError(
                    f"Session limit reached ({len(self._sessions)} of {self.max_sessions} open): "
                    "close one with %session close, or raise SessionRegistry.max_sessions.",
                    reason="session_limit_reached",
                )
            for other in self._sessions.values():
                if other.project_root == session.project_root:
                    raise SessionError(
                        f"Project {session.project_root} is already open in session "
                        f"{other.name!r}: switch to it with %session switch {other.name}.",
                        reason="project_already_open",
                    )
            self._sessions[session.id] = session
            if self._current is None:
                self._current = session.id
            return session

    def unregister(self, session_id: str) -> Session:
        """Remove a session; if it was current, the oldest remaining one becomes current."""
        with self._lock:
            session = self.lookup(session_id)
            del self._sessions[session.id]
            if self._current == session.id:
                self._current = next(iter(self._sessions), None)
            return session

    def lookup(self, session_id: str) -> Session:
        """The session with this id (case-insensitive)."""
        with self._lock:
            session = self._sessions.get(str(session_id).lower())
        if session is None:
            raise SessionError(f"No open session has id {session_id}.", reason="session_not_found")
        return session

    def lookup_by_path(self, path: str | Path) -> Session:
        """The session whose project root is ``path`` (compared resolved)."""
        wanted = Path(path).resolve()
        with self._lock:
            for session in self._sessions.values():
                if session.project_root == wanted:
                    return session
        raise SessionError(f"No open session has project root {path}.", reason="session_not_found")

    def lookup_by_name(self, name: str) -> Session:
        """The first session (in opening order) called ``name``."""
        with self._lock:
            for session in self._sessions.values():
                if session.name == name:
                    return session
        raise SessionError(f"No open session is named {name!r}.", reason="session_not_found")

    def find(self, key: str) -> Session:
        """Look a session up by 1-based index in :meth:`list`, id, name or project path."""
        sessions = self.list()
        if key.isdigit() and 1 <= int(key) <= len(sessions):
            return sessions[int(key) - 1]
        for lookup in (self.lookup, self.lookup_by_name, self.lookup_by_path):
            try:
                return lookup(key)
            except SessionError:
                continue
        raise SessionError(
            f"No open session matches {key!r}: give its number, id, name or project path (see %session list).",
            reason="session_not_found",
        )

    def list(self) -> list[Session]:
        """Open sessions in the order they were opened."""
        with self._lock:
            return list(self._sessions.values())

    def __iter__(self) -> Iterator[Session]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def current(self) -> Session | None:
        with self._lock:
            return self._sessions.get(self._current) if self._current else None

    def switch(self, session_id: str) -> Session:
        """Make the session with this id current."""
        with self._lock:
            session = self.lookup(session_id)
            self._current = session.id
            return session

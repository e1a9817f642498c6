"""Sessions: each notebook is a session with a validated project root.

``current_session()`` returns the notebook's :class:`Session` (``.id``, ``.name``,
``.project_root``, ``.config``, ``.manager``, ``.state``, ``.settings``).
"""

from __future__ import annotations

from .errors import SessionError, SessionValidationError
from .opening import Origin, locate
from .registry import SessionRegistry
from .session import Session
from .sessions import (
    close_session,
    current_session,
    open_session,
    registry,
    reload_settings,
    set_registry,
)

__all__ = [
    "Origin",
    "Session",
    "SessionError",
    "SessionRegistry",
    "SessionValidationError",
    "close_session",
    "current_session",
    "locate",
    "open_session",
    "registry",
    "reload_settings",
    "set_registry",
]

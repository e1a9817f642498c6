"""Sessions: each notebook is a session with a validated project root.

``current_session()`` returns the notebook's :class:`Session` (``.id``, ``.name``,
``.project_root``, ``.config``, ``.manager``, ``.state``, ``.settings``).
"""

from __future__ import annotations

from jido_kernel import _logging  # noqa: F401  (the library's NullHandler)
from jido_kernel.session.errors import SessionError, SessionValidationError
from jido_kernel.session.lifecycle import (
    close_session,
    current_session,
    open_session,
    registry,
    reload_settings,
    set_registry,
)
from jido_kernel.session.origin import Origin, locate
from jido_kernel.session.registry import SessionRegistry
from jido_kernel.session.session import Session

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

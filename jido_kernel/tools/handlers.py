"""Session-aware helpers for tool handlers.

``context`` is the tool call's context mapping. Order of precedence (jido_code's):
``session_id`` (must be a UUID, case-insensitive; delegates to that session) →
``project_root`` (used directly) → an error when
``c.ToolsManager.require_session_context`` is set → the global tools manager, with a
warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jido_kernel import security
from jido_kernel.session import SessionError, registry
from jido_kernel.session.session import UUID_RE
from jido_kernel.tools.manager import tools_manager


def _session_manager(context: Mapping[str, Any]) -> Any:
    session_id = context["session_id"]
    if not isinstance(session_id, str) or not UUID_RE.match(session_id):
        raise SessionError(f"Invalid session ID format (expected UUID): {session_id!r}", reason="invalid_session_id")
    return registry().lookup(session_id).manager


def _fallback(caller: str) -> Path:
    tools = tools_manager()
    if tools.require_session_context:
        raise SessionError(
            "Session context required (session_id or project_root must be provided)",
            reason="session_context_required",
        )
    if not tools.suppress_global_warnings:
        warnings.warn(
            f"HandlerHelpers.{caller} falling back to the global ToolsManager: pass "
            "session_id (or project_root) in the tool context.",
            DeprecationWarning,
            stacklevel=3,
        )
    return tools.global_root()


def get_project_root(context: Mapping[str, Any]) -> Path:
    """The project root a tool call works in."""
    if context.get("session_id") is not None:
        return _session_manager(context).project_root
    if context.get("project_root"):
        return Path(context["project_root"])
    return _fallback("get_project_root")


def validate_path(path: str, context: Mapping[str, Any]) -> Path:
    """Validate ``path`` for a tool call, against the root its context names."""
    if context.get("session_id") is not None:
        return _session_manager(context).validate_path(path)
    if context.get("project_root"):
        return security.validate_path(path, context["project_root"])
    return security.validate_path(path, _fallback("validate_path"))

"""Errors and warnings raised by the settings library."""

from __future__ import annotations

from pathlib import Path

from jido_kernel.errors import JidoError


class SettingsError(JidoError):
    """A setting or a settings file that cannot be used as asked.

    ``reason`` is one of ``unknown_key``, ``invalid_type``, ``invalid_value``,
    ``invalid_scope``, ``malformed_file``, ``unreadable_file``, ``symlinked_settings_dir``,
    ``not_a_directory`` or ``write_failed``. ``key`` names the offending setting and
    ``path`` the file or directory, when there is one.
    """

    reason = "settings_error"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        key: str | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.key = key
        self.path = path


class InvalidProjectPath(JidoError, ValueError):
    """A project root that settings cannot be located under."""

    reason = "invalid_project_path"

    def __init__(self, problem: str, *, reason: str | None = None) -> None:
        super().__init__(f"Invalid project path: {problem}", reason=reason)
        self.problem = problem


class SettingsWarning(UserWarning):
    """A settings file (or a key in it) ignored while loading; the session goes on."""

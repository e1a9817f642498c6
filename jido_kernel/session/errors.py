"""Errors of the session layer, with jido_code's reasons."""

from __future__ import annotations

from jido_kernel.errors import JidoError


class SessionError(JidoError):
    """A session could not be created, found or changed.

    ``reason`` is one of jido_code's atoms: ``missing_project_path``,
    ``invalid_project_path``, ``path_too_long``, ``path_traversal_detected``,
    ``path_not_absolute``, ``path_not_found``, ``path_not_directory``,
    ``symlink_escape``, ``path_permission_denied``, ``path_no_space``,
    ``invalid_name``, ``name_too_long``, ``invalid_config``, ``invalid_provider``,
    ``invalid_model``, ``invalid_temperature``, ``invalid_max_tokens``,
    ``session_not_found``, ``session_exists``, ``session_limit_reached``,
    ``project_already_open``, ``invalid_session_id``, ``session_context_required``,
    ``no_session``.
    """


class SessionValidationError(SessionError):
    """Several fields are invalid; ``reasons`` lists them in field order."""

    reason = "invalid_session"

    def __init__(self, reasons: list[str], details: list[str]) -> None:
        super().__init__("Invalid session: " + "; ".join(details))
        self.reasons = reasons

"""``validate_path``: the original's validation, with symlinks resolved at every component."""

from __future__ import annotations

import os
from pathlib import Path

from . import audit
from .errors import FileOpError, Refusal, file_error
from .lexical import parts_under
from .locate import resolve_parts
from .policy import OWNER
from .roots import get_root


def validate_path(path: str | os.PathLike[str], root: str | os.PathLike[str], *, log_violations: bool = True) -> Path:
    """The resolved absolute path of ``path`` under ``root``, or a :class:`SecurityError`.

    In order: non-text input, NUL bytes and paths over 4096 bytes (or a component over
    255) are ``invalid_path``; URL-encoded traversal is ``path_escapes_boundary``;
    ``.`` and ``..`` are collapsed lexically (``""`` is the root) and the result must
    be the root or below it (``path_outside_boundary`` for absolute input, else
    ``path_escapes_boundary``); ``.jido_code/settings.json`` at any depth is
    ``protected_settings_file``; then every symlink on the way is resolved — targets
    must stay inside (``symlink_escapes_boundary``) and more than 40 hops is
    ``symlink_loop``. Absent leaves are allowed (for creation). ``~`` and ``\\`` are
    ordinary characters.

    Violations are counted per root (:func:`violation_count`) and, unless
    ``log_violations`` is false, logged on ``jido_kernel.security``. A directory that
    cannot be searched raises :class:`~.errors.PermissionDenied`.

    The returned path is only a name: to act on it safely use the confined operations,
    which resolve again from the root at the moment they act.
    """
    resolved_root = get_root(root)
    try:
        parts = parts_under(path, resolved_root)
        reason = OWNER.refusal(parts, write=False)
        if reason:
            raise Refusal(reason)
        root_fd = resolved_root.open()
        try:
            resolved = resolve_parts(resolved_root, root_fd, parts, OWNER, write=False)
        finally:
            os.close(root_fd)
    except Refusal as refusal:
        raise audit.refuse(
            refusal.reason, path, resolved_root.real, log=log_violations, detail=refusal.detail
        ) from None
    except FileOpError:
        raise
    except OSError as exc:
        raise file_error(exc, path) from None
    return Path(resolved_root.join(resolved))


def violation_count(root: str | os.PathLike[str]) -> int:
    """How many security violations were recorded against ``root`` in this process."""
    return audit.count(get_root(root).real)

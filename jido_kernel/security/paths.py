"""``validate_path``: jido_code's validation, with symlinks resolved at every component
and ``..`` resolved as the operating system does."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jido_kernel.security import audit
from jido_kernel.security.errors import FileOpError, Refusal, file_error
from jido_kernel.security.lexical import parts_under, walk_parts
from jido_kernel.security.locate import close_found
from jido_kernel.security.policy import OWNER, Policy
from jido_kernel.security.resolve import Walker
from jido_kernel.security.roots import Root, get_root


def _leaf_refusal(st: os.stat_result | None, policy: Policy) -> str | None:
    """What ``policy`` refuses about an existing leaf (hard links, special files)."""
    if st is None or stat.S_ISDIR(st.st_mode):
        return None
    if stat.S_ISREG(st.st_mode):
        return "hardlinked_file" if policy.refuse_hardlinks and st.st_nlink > 1 else None
    return "not_regular_file" if policy.refuse_special_files else None


def _resolve(root: Root, path: object, policy: Policy) -> list[str]:
    parts = parts_under(path, root)
    reason = policy.refusal(parts, write=False)
    if reason:
        raise Refusal(reason)
    root_fd = root.open()
    try:
        found = Walker(root, root_fd, policy, write=False).resolve(walk_parts(path, root))
        close_found(found, root_fd)
    finally:
        os.close(root_fd)
    reason = _leaf_refusal(None if found.missing else found.st, policy)
    if reason:
        raise Refusal(reason)
    return found.parts


def validate_path(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    log_violations: bool = True,
    policy: Policy = OWNER,
) -> Path:
    """The resolved absolute path of ``path`` under ``root``, or a :class:`SecurityError`.

    In order: non-text input, NUL bytes and paths over 4096 bytes (or a component over
    255) are ``invalid_path``; URL-encoded traversal is ``path_escapes_boundary``;
    ``.`` and ``..`` collapsed lexically (``""`` is the root) must stay at the root or
    below it (``path_outside_boundary`` for absolute input, else
    ``path_escapes_boundary``); ``.jido_code/settings.json`` at any depth is
    ``protected_settings_file``; then the path is resolved as the OS would, one
    component at a time: every symlink's target must stay inside
    (``symlink_escapes_boundary``; ``link/..`` is the parent of the link's target, so a
    link leading out makes ``link/../x`` an escape) and more than 40 hops is
    ``symlink_loop``. Absent leaves are allowed (for creation). ``~`` and ``\\`` are
    ordinary characters. ``policy``'s rules hold too: under
    :data:`~.policy.SANDBOX` (untrusted paths) ``.jido_code`` is refused, and so are an
    existing hard-linked file or special file.

    Violations are counted per root (:func:`violation_count`) and, unless
    ``log_violations`` is false, logged on ``jido_kernel.security``. A directory that
    cannot be searched raises :class:`~.errors.PermissionDenied`.

    The returned path is only a name: to act on it safely use the confined operations,
    which resolve again from the root at the moment they act.
    """
    resolved_root = get_root(root)
    try:
        resolved = _resolve(resolved_root, path, policy)
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

"""Writing the settings files: locked read-modify-write, atomic replace, mode 0600."""

from __future__ import annotations

import copy
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from jido_kernel.security.atomic import atomic_write_at
from jido_kernel.settings.errors import SettingsError
from jido_kernel.settings.loading import ReadResult, read_at
from jido_kernel.settings.paths import (
    FILE_NAME,
    LOCK_NAME,
    global_dir,
    local_dir,
    local_lock,
    open_settings_dir,
    write_error,
)
from jido_kernel.settings.schema import validate, validate_value

Scope = Literal["local", "global"]
FILE_MODE = 0o600


@contextmanager
def _locked(root: str | os.PathLike[str] | None, scope: str) -> Iterator[tuple[int, Path]]:
    """Hold the settings directory open and its lock file exclusively locked."""
    if scope == "local":
        directory = local_dir(root)  # type: ignore[arg-type]  # None is refused there
    elif scope == "global":
        directory = global_dir()
    else:
        raise SettingsError(f"unknown settings scope {scope!r}: use 'local' or 'global'", reason="invalid_scope")
    dir_fd = open_settings_dir(directory, follow_symlink=scope == "global")
    try:
        lock_fd = _open_lock(root if scope == "local" else None, directory, dir_fd)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            yield dir_fd, directory / FILE_NAME
        finally:
            os.close(lock_fd)
    finally:
        os.close(dir_fd)


_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_lock(root: str | os.PathLike[str] | None, directory: Path, dir_fd: int) -> int:
    """The lock file (mode 0600) of the settings in ``directory``, opened for ``flock``.

    A project's lock lives in the global directory (see :func:`.paths.local_lock`);
    when that directory cannot be written it falls back to ``.settings.json.lock``
    beside the file, as does the global file's own lock.
    """
    if root is not None:
        lock_dir, name = local_lock(root)
        try:
            lock_dir_fd = open_settings_dir(lock_dir, follow_symlink=True)
        except SettingsError:
            pass  # no writable global directory: the lock stays beside the file
        else:
            try:
                return os.open(name, _LOCK_FLAGS, FILE_MODE, dir_fd=lock_dir_fd)
            except OSError:
                pass
            finally:
                os.close(lock_dir_fd)
    try:
        return os.open(LOCK_NAME, _LOCK_FLAGS, FILE_MODE, dir_fd=dir_fd)
    except OSError as error:
        raise write_error(directory / LOCK_NAME, error) from error


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON text (so ``1``, ``1.0`` and ``true`` differ)."""
    try:
        return _dump(a) == _dump(b)
    except (TypeError, ValueError):
        return False


def _changes(old: dict[str, Any], new: Any) -> Any:
    """The part of ``new`` that differs from ``old`` (``new`` itself if not a dict)."""
    if not isinstance(new, dict):
        return new
    return {k: v for k, v in new.items() if k not in old or not _same(old[k], v)}


def _refusal(result: ReadResult) -> SettingsError:
    what = "malformed" if result.status == "malformed" else "unreadable"
    return SettingsError(
        f"refusing to overwrite {what} settings file {result.path} ({result.error}); "
        "fix or remove the file, or overwrite it: force=True (%settings set ... --force)",
        reason=f"{what}_file",
        path=result.path,
    )


def update(
    root: str | os.PathLike[str] | None,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    scope: Scope = "local",
    force: bool = False,
) -> Path:
    """Locked read-modify-write of one settings file; returns its path.

    ``change`` gets a copy of the file's content and returns the new content. Keys it
    adds or changes are validated; keys it leaves as they were are kept untouched. A
    malformed or unreadable file is refused unless ``force`` (then it counts as empty).
    The file is replaced atomically with mode 0600.
    """
    with _locked(root, scope) as (dir_fd, path):
        current = read_at(path, dir_fd)
        if current.status in ("malformed", "unreadable") and not force:
            raise _refusal(current)
        new = change(copy.deepcopy(current.data))
        validate(_changes(current.data, new))
        # A lone surrogate (JSON allows one as an escape) is written back as that escape.
        data = (_dump(new) + "\n").encode("utf-8", "backslashreplace")
        try:
            atomic_write_at(dir_fd, FILE_NAME, data, mode=FILE_MODE)
        except OSError as error:
            raise write_error(path, error) from error
    return path


def save(
    root: str | os.PathLike[str] | None,
    settings: dict[str, Any],
    *,
    scope: Scope = "local",
    force: bool = False,
) -> Path:
    """Validate ``settings`` and make them the whole content of the scope's file.

    ``root`` may be ``None`` for ``scope="global"``. Returns the file's path.
    """
    validate(settings)
    return update(root, lambda _old: copy.deepcopy(settings), scope=scope, force=force)


def set(  # the public name of jido_code; shadows the builtin in this module
    root: str | os.PathLike[str] | None,
    key: str,
    value: Any,
    *,
    scope: Scope = "local",
    force: bool = False,
) -> Path:
    """Set one key, keeping the others (validated before anything is touched)."""
    validate_value(key, value)
    return update(root, lambda old: {**old, key: value}, scope=scope, force=force)


def unset(
    root: str | os.PathLike[str] | None,
    key: str,
    *,
    scope: Scope = "local",
    force: bool = False,
) -> Path:
    """Remove one key from the scope's file (any key, known or not), keeping the others."""
    return update(root, lambda old: {k: v for k, v in old.items() if k != key}, scope=scope, force=force)

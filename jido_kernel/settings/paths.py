"""Where the settings files live, and the checks made before touching them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from jido_kernel.settings.errors import InvalidProjectPath, SettingsError

HOME_ENV = "JIDO_CODE_HOME"
DIR_NAME = ".jido_code"
FILE_NAME = "settings.json"
LOCK_NAME = ".settings.json.lock"
LOCKS_DIR = "locks"
MAX_PATH_BYTES = 4096


def validate_project_path(root: str | os.PathLike[str]) -> Path:
    """Return ``root`` with ``~`` expanded, or raise :class:`InvalidProjectPath`.

    The root must be absolute, contain no NUL byte and no ``..`` component, and be at
    most 4096 bytes long. It is not resolved and need not exist.
    """
    if not isinstance(root, (str, os.PathLike)) or not isinstance(os.fspath(root), str):
        raise InvalidProjectPath(f"path must be a string or a path, got: {root!r}", reason="invalid_project_path")
    text = os.fspath(root)
    if "\x00" in text:
        raise InvalidProjectPath("path contains null byte", reason="null_byte")
    text = os.path.expanduser(text)
    if len(os.fsencode(text)) > MAX_PATH_BYTES:
        raise InvalidProjectPath(f"path exceeds maximum length of {MAX_PATH_BYTES} bytes", reason="path_too_long")
    if ".." in text.split("/"):
        raise InvalidProjectPath("path contains '..' traversal", reason="path_traversal_detected")
    if not os.path.isabs(text):
        raise InvalidProjectPath("path must be absolute", reason="path_not_absolute")
    return Path(text)


def global_dir() -> Path:
    """``$JIDO_CODE_HOME`` when set, else ``~/.jido_code``."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser().absolute()
    return Path("~").expanduser() / DIR_NAME


def global_path() -> Path:
    """The global settings file."""
    return global_dir() / FILE_NAME


def local_lock(root: str | os.PathLike[str]) -> tuple[Path, str]:
    """Where a project's settings lock lives: ``(directory, name)`` under the global
    directory (``locks/<sha256 of the project's path>.lock``), so saving a project's
    settings adds nothing to the project but its ``settings.json``."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(validate_project_path(root)))).hexdigest()
    return global_dir() / LOCKS_DIR, f"{key}.lock"


def local_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.jido_code`` for a valid project root."""
    return validate_project_path(root) / DIR_NAME


def local_path(root: str | os.PathLike[str]) -> Path:
    """``<root>/.jido_code/settings.json`` for a valid project root."""
    return local_dir(root) / FILE_NAME


def write_error(path: Path, error: OSError) -> SettingsError:
    """The typed error for an OS failure while writing settings at ``path``."""
    return SettingsError(
        f"cannot write settings at {path}: {error.strerror or error}; check that the directory exists and is writable",
        reason="write_failed",
        path=path,
    )


def open_settings_dir(directory: Path, *, follow_symlink: bool) -> int:
    """Create ``directory`` (mode 0700) if missing and return an open descriptor on it.

    With ``follow_symlink=False`` (project directories) a symlink is refused, and the
    descriptor is opened with ``O_NOFOLLOW`` so nothing swapped in later is used; the
    global directory (the user's own home) may be a link and gets its parents created.
    """
    try:
        directory.mkdir(mode=0o700, parents=follow_symlink, exist_ok=True)
    except FileExistsError:
        pass  # a link or a non-directory: reported precisely below
    except OSError as error:
        raise write_error(directory, error) from error
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    if not follow_symlink:
        flags |= os.O_NOFOLLOW
    try:
        return os.open(directory, flags)
    except OSError as error:
        if not follow_symlink and directory.is_symlink():
            raise SettingsError(
                f"security violation: path is a symlink: {directory}; settings are only "
                "written to a real directory, replace the link with one",
                reason="symlinked_settings_dir",
                path=directory,
            ) from error
        if directory.exists() and not directory.is_dir():
            raise SettingsError(
                f"{directory} exists but is not a directory; move it away to save settings",
                reason="not_a_directory",
                path=directory,
            ) from error
        raise write_error(directory, error) from error


def ensure_local_dir(root: str | os.PathLike[str]) -> Path:
    """Create ``<root>/.jido_code`` if missing (refusing a symlink) and return it."""
    directory = local_dir(root)
    os.close(open_settings_dir(directory, follow_symlink=False))
    return directory

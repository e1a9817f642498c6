"""Errors raised by path validation and confined file operations.

:class:`SecurityError` means a rule refused the path; the :class:`FileOpError` family
means the file system said no. The file errors also derive from the matching built-in
(``FileNotFound`` is a ``FileNotFoundError``), so callers can catch either way.
Messages name the path as the caller gave it.
"""

from __future__ import annotations

import errno as errno_codes
import os

from jido_kernel.errors import JidoError

#: Rule wording per reason; the first three are jido_code's exact words.
RULES: dict[str, str] = {
    "path_escapes_boundary": "path escapes project boundary",
    "path_outside_boundary": "path is outside project",
    "symlink_escapes_boundary": "symlink points outside project",
    "symlink_loop": "too many levels of symbolic links (a symlink loop)",
    "invalid_path": "invalid path",
    "protected_settings_file": "settings files (.jido_code/settings.json) are protected",
    "protected_path": "the .jido_code directory is protected from sandboxed code",
    "read_only_path": "the .git directory is read-only for sandboxed code",
    "git_metadata": (
        "sandboxed code may not create or change git metadata (.git, HEAD) or other version control "
        "metadata (.hg, .bzr)"
    ),
    "trusted_config": (
        "sandboxed code may not create or change files trusted programs read as configuration "
        "or run (.pdbrc, paths the repository's git configuration names)"
    ),
    "installed_code": (
        "sandboxed code may not create or change installed or compiled code "
        "(__pycache__, *.pyc, *.so, node_modules, site-packages, __pypackages__, "
        "virtual and conda environments, jido_kernel's own source)"
    ),
    "hardlinked_file": "file has more than one hard link (it may be a file outside the project)",
    "not_regular_file": "not a regular file (FIFOs, sockets and devices are refused)",
}

_MAX_SHOWN = 4096


def display_path(path: object) -> str:
    """The caller's path for a message: control characters escaped, inputs longer than
    any valid path shortened."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    text = path if isinstance(path, str) else repr(path)
    if any(ord(c) < 32 or 127 <= ord(c) <= 159 for c in text):
        text = "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or 127 <= ord(c) <= 159 else c for c in text)
    if len(text) > _MAX_SHOWN:
        text = f"{text[:100]}...{text[-60:]} ({len(text)} chars)"
    return text


class SecurityError(JidoError):
    """A path or operation refused by a security rule.

    ``reason`` is one of :data:`RULES`' keys; ``path`` is the input as given;
    ``str(error)`` reads ``"Security error: <rule>: <path>"``.
    """

    reason = "security_error"

    def __init__(self, reason: str, path: object, *, detail: str | None = None) -> None:
        rule = RULES.get(reason, reason.replace("_", " "))
        if detail:
            rule = f"{rule} ({detail})"
        super().__init__(f"Security error: {rule}: {display_path(path)}", reason=reason)
        self.path = path


class FileOpError(JidoError):
    """Base of the file-operation errors; ``path`` is the input as given.

    Subclasses backed by an ``errno`` also derive from the matching ``OSError``
    subclass and carry ``errno``, ``strerror`` and ``filename``.
    """

    reason = "file_error"
    errno_code: int | None = None

    def __init__(self, path: object, message: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(message or self._message(display_path(path)), reason=reason)
        self.path = path
        if isinstance(self, OSError):
            # Through an ``OSError`` name, so mypy does not take these for attributes
            # of every FileOpError (only the OSError subclasses have them).
            os_error: OSError = self
            os_error.filename = path if isinstance(path, str) else None
            if self.errno_code is not None:
                os_error.errno = self.errno_code
                os_error.strerror = os.strerror(self.errno_code)

    def _message(self, shown: str) -> str:
        return f"File error: {shown}"

    def __str__(self) -> str:
        return self.message


class FileNotFound(FileOpError, FileNotFoundError):
    """The path, or a directory on the way to it, does not exist."""

    reason = "file_not_found"
    errno_code = errno_codes.ENOENT

    def _message(self, shown: str) -> str:
        return f"File not found: {shown}"


class IsADirectory(FileOpError, IsADirectoryError):
    """A file operation was given a directory."""

    reason = "is_a_directory"
    errno_code = errno_codes.EISDIR

    def _message(self, shown: str) -> str:
        return f"Is a directory: {shown}"


class NotADirectory(FileOpError, NotADirectoryError):
    """A directory operation was given a file, or a file sits where a directory must."""

    reason = "not_a_directory"
    errno_code = errno_codes.ENOTDIR

    def _message(self, shown: str) -> str:
        return f"Not a directory: {shown}"


class PermissionDenied(FileOpError, PermissionError):
    """The operating system refused access (file mode or ownership)."""

    reason = "permission_denied"
    errno_code = errno_codes.EACCES

    def _message(self, shown: str) -> str:
        return f"Permission denied: {shown}"


class FileExists(FileOpError, FileExistsError):
    """Something that is not a directory already exists where one must be created."""

    reason = "file_exists"
    errno_code = errno_codes.EEXIST

    def _message(self, shown: str) -> str:
        return f"File exists and is not a directory: {shown}"


class FileSystemError(FileOpError, OSError):
    """Any other operating-system failure: "File error (enospc): P (No space left on device)"."""


class BinaryFile(FileOpError, ValueError):
    """A text read met a NUL byte in the first 8 KiB."""

    reason = "binary_file"

    def _message(self, shown: str) -> str:
        return f"Binary file detected: {shown}. Cannot read binary files."


class FileTooLarge(FileOpError, ValueError):
    """A read or write above the size limit."""

    reason = "file_too_large"

    def __init__(self, path: object, size: int, limit: int) -> None:
        super().__init__(path, f"File too large: {display_path(path)} ({size} bytes; the limit is {limit} bytes)")
        self.size = size
        self.limit = limit


_BY_ERRNO: dict[int, type[FileOpError]] = {
    errno_codes.ENOENT: FileNotFound,
    errno_codes.EISDIR: IsADirectory,
    errno_codes.ENOTDIR: NotADirectory,
    errno_codes.EACCES: PermissionDenied,
    errno_codes.EPERM: PermissionDenied,
    errno_codes.EEXIST: FileExists,
}


def file_error(exc: OSError, path: object) -> FileOpError:
    """The typed error for an ``OSError`` met while operating on ``path``."""
    cls = _BY_ERRNO.get(exc.errno or 0)
    if cls is not None:
        return cls(path)
    code = errno_codes.errorcode.get(exc.errno or 0, "unknown").lower()
    detail = f" ({exc.strerror})" if exc.strerror else ""
    error = FileSystemError(path, f"File error ({code}): {display_path(path)}{detail}")
    error.errno = exc.errno
    error.strerror = exc.strerror
    return error


class Refusal(Exception):
    """Internal signal that a rule refused a path; the public functions turn it into a
    recorded :class:`SecurityError` naming the caller's path."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail

"""Path security and confined file I/O: nothing escapes the project root, nothing is
half-written.

Every function takes the path first and the project root second. Paths are validated
lexically, then resolved from an open descriptor of the root (``openat2`` with
``RESOLVE_BENEATH`` when the kernel has it, else a walk with ``O_NOFOLLOW`` at every
component), so symlinks swapped in concurrently cannot redirect an operation outside.
The operations default to the :data:`SANDBOX` policy (untrusted Lua and tool callers);
the notebook owner's magics pass :data:`OWNER`.

Refusals raise :class:`SecurityError` (``.reason``, ``.path``), logged on the
``jido_kernel.security`` logger and counted per root (:func:`violation_count`);
file-system failures raise :class:`FileOpError` subclasses that are also the matching
built-in exceptions (``FileNotFound`` is a ``FileNotFoundError``).

:func:`validate_path` and :func:`violation_count` are imported on first use: their
module returns :class:`pathlib.Path`, and the Lua worker, which uses the rest, starts
without :mod:`pathlib`.
"""

from jido_kernel.security.atomic import atomic_write, atomic_write_at
from jido_kernel.security.errors import (
    BinaryFile,
    FileExists,
    FileNotFound,
    FileOpError,
    FileSystemError,
    FileTooLarge,
    IsADirectory,
    NotADirectory,
    PermissionDenied,
    SecurityError,
)
from jido_kernel.security.fileops import (
    DEFAULT_MAX_BYTES,
    delete_file,
    file_exists,
    file_stat,
    is_dir,
    is_file,
    list_dir,
    mkdir_p,
    read_bytes,
    read_file,
    read_file_utf8,
    write_file,
)
from jido_kernel.security.globbing import glob
from jido_kernel.security.policy import OWNER, SANDBOX, Policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from jido_kernel.security.paths import validate_path, violation_count

__all__ = [
    "DEFAULT_MAX_BYTES",
    "OWNER",
    "SANDBOX",
    "BinaryFile",
    "FileExists",
    "FileNotFound",
    "FileOpError",
    "FileSystemError",
    "FileTooLarge",
    "IsADirectory",
    "NotADirectory",
    "PermissionDenied",
    "Policy",
    "SecurityError",
    "atomic_write",
    "atomic_write_at",
    "delete_file",
    "file_exists",
    "file_stat",
    "glob",
    "is_dir",
    "is_file",
    "list_dir",
    "mkdir_p",
    "read_bytes",
    "read_file",
    "read_file_utf8",
    "validate_path",
    "violation_count",
    "write_file",
]


def __getattr__(name: str) -> object:
    if name not in ("validate_path", "violation_count"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from jido_kernel.security import paths

    return getattr(paths, name)

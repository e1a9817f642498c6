"""Settings: global and per-project JSON files, validated, merged, written atomically.

Files
    Global: ``$JIDO_CODE_HOME/settings.json`` (default ``~/.jido_code/settings.json``).
    Local: ``<project root>/.jido_code/settings.json``. :func:`load` merges local over
    global (``models`` one level deep) and returns an immutable :class:`Settings` that
    knows where each value came from. Files are read from disk on every load.

Schema
    :data:`SCHEMA` lists every key with its type, description and default: the
    jido_code's ``version``, ``provider``, ``model``, ``theme``, ``providers``, ``models``,
    and the sandbox's ``lua_timeout``, ``lua_max_memory_mb``, ``shell_allowlist``,
    ``shell_timeout``. :func:`validate` raises :class:`SettingsError` naming the key and
    the expected type.

Loading never fails
    A missing file is empty. A malformed file (invalid JSON, not UTF-8, not an object),
    an unreadable one, or an invalid key in a file is ignored with a
    :class:`SettingsWarning` naming the file and the problem; the messages are also in
    ``Settings.problems``.

Writing
    :func:`save`, :func:`set`, :func:`unset` and :func:`update` validate first, then hold
    an exclusive ``flock`` on a lock file for the whole read-modify-write (a project's
    lock lives in the global directory, ``locks/<sha256 of the project path>.lock``, so
    the project gains only its ``settings.json``; the global file's lock is beside it),
    so concurrent writers (several kernels) lose no update. The file is replaced
    atomically (temporary file with a random name, fsync, rename) with mode 0600. A
    malformed or unreadable file is never overwritten unless ``force=True``. The local
    ``.jido_code`` directory is created with mode 0700 and refused if it is a symlink. The
    sandbox cannot reach these files: the security library refuses
    ``.jido_code/settings.json`` (reason ``protected_settings_file``).

Composition with traitlets configuration
    For the limits both can set, the value in effect is, from lowest to highest
    precedence::

        traitlets config (trait default or c.LuaSandbox.*) < global settings
            < local settings < explicit per-cell magic flag

    :func:`sandbox_limits` applies the settings over the configured values and records
    each value's source (``"config"``, ``"global"``, ``"local"``);
    :meth:`SandboxLimits.override` applies the magic flags (source ``"flag"``).
"""

from __future__ import annotations

from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.settings.errors import InvalidProjectPath, SettingsError, SettingsWarning
from jido_kernel.settings.limits import sandbox_limits
from jido_kernel.settings.loading import (
    Effective,
    ReadResult,
    Settings,
    Source,
    load,
    load_global,
    load_local,
    read_file,
)
from jido_kernel.settings.paths import (
    ensure_local_dir,
    global_dir,
    global_path,
    local_dir,
    local_path,
    validate_project_path,
)
from jido_kernel.settings.schema import SCHEMA, Setting, validate, validate_value
from jido_kernel.settings.store import save, set, unset, update

__all__ = [
    "SCHEMA",
    "Effective",
    "InvalidProjectPath",
    "ReadResult",
    "SandboxLimits",
    "Setting",
    "Settings",
    "SettingsError",
    "SettingsWarning",
    "Source",
    "ensure_local_dir",
    "global_dir",
    "global_path",
    "load",
    "load_global",
    "load_local",
    "local_dir",
    "local_path",
    "read_file",
    "sandbox_limits",
    "save",
    "set",
    "unset",
    "update",
    "validate",
    "validate_project_path",
    "validate_value",
]

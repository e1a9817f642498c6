"""Keep the project root off Python's import path.

Lua may write any file in the project root, so a ``jedi.py`` or ``stack_data.py`` there
must never be what the kernel imports on the owner's next Tab or traceback. Python puts
the working directory first on ``sys.path`` (``python -m``, ``-c``, the interactive
prompt) and IPython adds ``''`` too; :func:`remove_folders` takes every entry naming
such a folder out again, and :func:`forbid_cwd_in_app` stops the IPython application
from re-adding ``''``.

The owner's own modules in the notebook folder are then not importable by default;
``sys.path.append(str(current_session().project_root))`` makes them so, after everything
installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable


def _resolved(entry: str) -> str:
    """The folder a ``sys.path`` entry names (``''`` and ``'.'`` are the working directory)."""
    try:
        return os.path.realpath(entry or ".")
    except (OSError, ValueError):
        return entry


def remove_folders(folders: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Remove every ``sys.path`` entry naming one of ``folders`` (in any spelling:
    relative, absolute, through symlinks, ``''`` for the working directory) and forget
    their cached finders; return the entries removed."""
    unsafe = {_resolved(os.fspath(folder)) for folder in folders}
    removed = [entry for entry in sys.path if _resolved(entry) in unsafe]
    sys.path[:] = [entry for entry in sys.path if entry not in removed]
    for key in list(sys.path_importer_cache):
        if _resolved(key) in unsafe:
            del sys.path_importer_cache[key]
    return removed


def working_directory() -> list[str]:
    """The working directory as a one-item list (empty when it was removed)."""
    try:
        return [os.getcwd()]
    except OSError:
        return []


def forbid_cwd_in_app(app: object) -> None:
    """Tell an IPython application (``InteractiveShellApp``) not to add ``''`` to
    ``sys.path`` in its ``init_path``; anything else is left alone."""
    from IPython.core.shellapp import InteractiveShellApp

    if isinstance(app, InteractiveShellApp):
        app.ignore_cwd = True

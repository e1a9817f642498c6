"""Keep files in the project root from being run as code by the kernel or its children.

Lua may write any file in the project root, so a ``jedi.py`` or ``stack_data.py`` there
must never be what the kernel imports on the owner's next Tab or traceback. Python puts
the working directory first on ``sys.path`` (``python -m``, ``-c``, the interactive
prompt) and IPython adds ``''`` too; :func:`remove_folders` takes every entry naming
such a folder out again, and :func:`forbid_cwd_in_app` stops the IPython application
from re-adding ``''``. :func:`guard_children` sets ``PYTHONSAFEPATH=1`` so the Python
processes the kernel starts in the root (``%pip``, ``!python -m X``) never put their
working directory first either, and :func:`guard_debugger` makes the shell's debuggers
(``%debug``, ``%pdb``, ``breakpoint()``) skip ``.pdbrc`` files, which pdb reads from the
working directory.

The owner's own modules in the notebook folder are then not importable by name: install
them (``pip install -e .``) or load one reviewed file with
``importlib.util.spec_from_file_location``. Never put the project root on ``sys.path``:
an optional import of a library (``import astroid`` when it is not installed) would then
find a Lua-written file.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable
from typing import Any


def _resolved(entry: str) -> str:
    """The path a ``sys.path`` entry resolves to (``''`` and ``'.'`` are the working directory)."""
    try:
        return os.path.realpath(entry or ".")
    except (OSError, ValueError):
        return entry


def _folder(entry: str) -> tuple[int, int] | str:
    """The folder a ``sys.path`` entry names: its device and inode, so any spelling of it
    (relative, through symlinks or a bind mount) compares equal in one ``stat``; its
    resolved path when it cannot be stat'ed (``<root>/absent/..`` still names the root)."""
    try:
        status = os.stat(entry or ".")
    except (OSError, ValueError):
        return _resolved(entry)
    return (status.st_dev, status.st_ino)


def remove_folders(folders: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Remove every ``sys.path`` entry naming one of ``folders`` (in any spelling:
    relative, absolute, through symlinks, ``''`` for the working directory) and forget
    their cached finders; return the entries removed."""
    names = [os.fspath(folder) for folder in folders]
    unsafe = {_folder(name) for name in names} | {_resolved(name) for name in names}
    removed = [entry for entry in sys.path if _folder(entry) in unsafe]
    sys.path[:] = [entry for entry in sys.path if entry not in removed]
    for key in list(sys.path_importer_cache):
        if _folder(key) in unsafe:
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


def guard_children() -> None:
    """Make Python children (3.11 and later) never prepend their working directory or
    script folder to ``sys.path``: the kernel starts them in the project root."""
    os.environ["PYTHONSAFEPATH"] = "1"


@functools.cache
def no_rc_debugger() -> type:
    """IPython's interruptible debugger, reading no ``.pdbrc`` (imported on first use)."""
    from IPython.core.debugger import InterruptiblePdb

    class NoRcPdb(InterruptiblePdb):
        """A debugger that never runs ``.pdbrc`` (the working directory's may be Lua-written)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["readrc"] = False
            super().__init__(*args, **kwargs)

    return NoRcPdb


def _breakpoint(*args: Any, **kwargs: Any) -> None:
    """``breakpoint()``: the no-rc debugger, stopping in the caller's frame."""
    no_rc_debugger()().set_trace(sys._getframe(1))


def guard_debugger(shell: Any) -> None:
    """Give ``shell``'s post-mortem and automatic debuggers (``%debug``, ``%pdb``) and
    ``breakpoint()`` the no-rc debugger. (``%debug STATEMENT`` uses the shell class's own
    ``debugger_cls``: see :class:`jido_kernel.kernel.JidoShell`.)"""
    traceback = getattr(shell, "InteractiveTB", None)
    if traceback is not None:
        traceback.debugger_cls = no_rc_debugger()
        if traceback.pdb is not None:
            traceback.pdb = no_rc_debugger()()
    if sys.breakpointhook is sys.__breakpointhook__:
        sys.breakpointhook = _breakpoint

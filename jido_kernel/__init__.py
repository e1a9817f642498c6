"""jido_kernel: sandboxed, project-scoped Lua scripting and live agent state in Jupyter.

``%load_ext jido_kernel`` in any IPython, or the ``jido`` kernel, which loads it at
start-up. ``jido_kernel.current_session()`` returns the notebook's session.
"""

from __future__ import annotations

from jido_kernel._version import __version__

# Imports nothing else: the Lua worker loads this package first, and never loads logging
# (the kernel side's packages set it up: :mod:`jido_kernel._logging`).
TYPE_CHECKING = False  # without importing typing for it
if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from jido_kernel.session import Session

__all__ = ["__version__", "current_session", "load_ipython_extension", "unload_ipython_extension"]


def current_session() -> Session:
    """The notebook's session (``.id``, ``.name``, ``.project_root``, ``.config``,
    ``.manager``, ``.state``, ``.settings``)."""
    from jido_kernel.session import current_session as current

    return current()


def load_ipython_extension(shell: InteractiveShell) -> None:
    """``%load_ext jido_kernel``: open the notebook's session and register the magics."""
    from jido_kernel.extension import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """``%unload_ext jido_kernel``: close the sessions."""
    from jido_kernel.extension import unload_ipython_extension as unload

    unload(shell)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt JupyterLab extension is (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jido-kernel-lua"}]

"""Where a notebook's session comes from: its project root, id and name.

Project root, first that applies:

1. ``$JIDO_PROJECT_ROOT``;
2. the configured ``JidoKernel.project_root``;
3. the notebook's directory from ``$JPY_SESSION_NAME`` (set by Jupyter Server);
4. ``$KERNEL_JIDO_PROJECT_ROOT`` (gateways forward only ``KERNEL_`` variables);
5. the notebook's directory from ``$KERNEL_JIDO_SESSION_NAME``;
6. ``$KERNEL_WORKING_DIR`` (Enterprise Gateway, gateway_provisioners);
7. the working directory.

The notebook is ``$JPY_SESSION_NAME``, else ``$KERNEL_JIDO_SESSION_NAME``. The id is a
UUID derived from the notebook's path (else the root), so a kernel restart reopens the
same session. A kernel started by a gateway (any ``KERNEL_`` variable set, such as
``KERNEL_ID`` or ``KERNEL_GATEWAY``) whose root or notebook is unknown gets notes saying
which variable to set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jido_kernel.session.session import MAX_NAME_LENGTH, stable_id

ROOT_ENV = "JIDO_PROJECT_ROOT"
NOTEBOOK_ENV = "JPY_SESSION_NAME"
REMOTE_ROOT_ENV = "KERNEL_JIDO_PROJECT_ROOT"
REMOTE_NOTEBOOK_ENV = "KERNEL_JIDO_SESSION_NAME"
WORKING_DIR_ENV = "KERNEL_WORKING_DIR"
REMOTE_PREFIX = "KERNEL_"
WORKING_DIRECTORY = "working directory"


@dataclass(frozen=True)
class Origin:
    """How the notebook's session was located."""

    project_root: str
    root_source: str  # an environment variable's name, "config", "notebook" or "working directory"
    notebook: Path | None
    remote: bool = False

    @property
    def session_id(self) -> str:
        key = f"notebook:{self.notebook}" if self.notebook else f"root:{self.project_root}"
        return stable_id(key)

    @property
    def name(self) -> str:
        stem = self.notebook.stem if self.notebook else ""
        name = stem or Path(self.project_root).name or self.project_root
        return name[:MAX_NAME_LENGTH]

    @property
    def notes(self) -> tuple[str, ...]:
        """What a kernel behind a gateway could not learn, and how to tell it."""
        if not self.remote:
            return ()
        notes = []
        if self.root_source == WORKING_DIRECTORY:
            notes.append(
                f"this kernel was started by a gateway and its project root fell back to its working "
                f"directory ({self.project_root}): set {REMOTE_ROOT_ENV} (or {WORKING_DIR_ENV}) in the "
                "kernel's environment, or c.JidoKernel.project_root."
            )
        if self.notebook is None:
            notes.append(
                f"this kernel was started by a gateway without a notebook path, so every notebook on this "
                f"root shares one session: set {REMOTE_NOTEBOOK_ENV} to the notebook's path."
            )
        return tuple(notes)


def _value(env: Mapping[str, str], key: str) -> str:
    return env.get(key, "").strip()


def notebook_path(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The notebook's absolute path from ``$JPY_SESSION_NAME``, else ``$KERNEL_JIDO_SESSION_NAME``.

    Jupyter Server gives an absolute path when it knows the file name, otherwise the
    API path (relative to the server root); the kernel then runs in the notebook's
    directory, so a relative value is resolved against ``cwd`` by its file name. A
    relative ``$KERNEL_JIDO_SESSION_NAME`` is taken whole, against the root the
    gateway gave (``$KERNEL_JIDO_PROJECT_ROOT``, else ``$KERNEL_WORKING_DIR``, else ``cwd``).
    """
    value = _value(env, NOTEBOOK_ENV)
    if value:
        path = Path(value)
        return path if path.is_absolute() else cwd / path.name
    value = _value(env, REMOTE_NOTEBOOK_ENV)
    if not value:
        return None
    base = _value(env, REMOTE_ROOT_ENV) or _value(env, WORKING_DIR_ENV)
    return Path(os.path.expanduser(base) if base else cwd) / value


def locate(
    configured_root: str = "",
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Origin:
    """Apply the project-root precedence to this process's environment."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    notebook = notebook_path(env, cwd)
    remote = any(key.startswith(REMOTE_PREFIX) for key in env)

    def origin(root: str, source: str) -> Origin:
        return Origin(os.path.expanduser(root), source, notebook, remote)

    if _value(env, ROOT_ENV):
        return origin(_value(env, ROOT_ENV), ROOT_ENV)
    if configured_root:
        return origin(configured_root, "config")
    if notebook is not None and _value(env, NOTEBOOK_ENV):
        return origin(str(notebook.parent), "notebook")
    if _value(env, REMOTE_ROOT_ENV):
        return origin(_value(env, REMOTE_ROOT_ENV), REMOTE_ROOT_ENV)
    if notebook is not None:
        return origin(str(notebook.parent), "notebook")
    if _value(env, WORKING_DIR_ENV):
        return origin(_value(env, WORKING_DIR_ENV), WORKING_DIR_ENV)
    return origin(str(cwd), WORKING_DIRECTORY)

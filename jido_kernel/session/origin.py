"""Where a notebook's session comes from: its project root, id and name.

Project root, first that applies: ``$JIDO_PROJECT_ROOT``; the configured
``JidoKernel.project_root``; the notebook's directory (``$JPY_SESSION_NAME``, set by
Jupyter Server to the notebook's path); the working directory. The id is a UUID derived
from the notebook's path, so a kernel restart reopens the same session.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jido_kernel.session.session import MAX_NAME_LENGTH, stable_id

ROOT_ENV = "JIDO_PROJECT_ROOT"
NOTEBOOK_ENV = "JPY_SESSION_NAME"


@dataclass(frozen=True)
class Origin:
    """How the notebook's session was located."""

    project_root: str
    root_source: str  # "JIDO_PROJECT_ROOT", "config", "notebook" or "working directory"
    notebook: Path | None

    @property
    def session_id(self) -> str:
        key = f"notebook:{self.notebook}" if self.notebook else f"root:{self.project_root}"
        return stable_id(key)

    @property
    def name(self) -> str:
        stem = self.notebook.stem if self.notebook else ""
        name = stem or Path(self.project_root).name or self.project_root
        return name[:MAX_NAME_LENGTH]


def notebook_path(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The notebook's absolute path from ``$JPY_SESSION_NAME``, if any.

    Jupyter Server gives an absolute path when it knows the file name, otherwise the
    API path (relative to the server root); the kernel then runs in the notebook's
    directory, so a relative value is resolved against ``cwd`` by its file name.
    """
    value = env.get(NOTEBOOK_ENV, "").strip()
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else cwd / path.name


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
    if env.get(ROOT_ENV, "").strip():
        return Origin(os.path.expanduser(env[ROOT_ENV].strip()), ROOT_ENV, notebook)
    if configured_root:
        return Origin(os.path.expanduser(configured_root), "config", notebook)
    if notebook is not None:
        return Origin(str(notebook.parent), "notebook", notebook)
    return Origin(str(cwd), "working directory", None)

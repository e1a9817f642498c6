"""Agent tools' entry points: the global ``ToolsManager`` (compatibility layer) and the
session-aware handler helpers."""

from __future__ import annotations

from jido_kernel import _logging  # noqa: F401  (the library's NullHandler)
from jido_kernel.tools.handlers import get_project_root, validate_path
from jido_kernel.tools.manager import ToolsManager, tools_manager

__all__ = ["ToolsManager", "get_project_root", "tools_manager", "validate_path"]

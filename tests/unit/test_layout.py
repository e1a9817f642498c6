"""The trust boundary in the import graph: the worker side imports nothing of the kernel side.

``jido_kernel.lua.worker`` is the untrusted process; it, the command runner, the OS
confinement and the security library may not import Jupyter, IPython or the kernel-side
packages, and nothing on the kernel side may import the worker package. Checked on the
source (every ``import`` statement, also those inside functions) and on a real worker
start (``sys.modules`` after importing its entry point in a fresh interpreter).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "jido_kernel"

WORKER_SIDE = ("jido_kernel.lua.worker", "jido_kernel.commands", "jido_kernel.confine", "jido_kernel.security")
"""Packages that run in (or are used by) the untrusted process."""

KERNEL_SIDE = (
    "jido_kernel.kernel",
    "jido_kernel.kernelapp",
    "jido_kernel.outstream",
    "jido_kernel.debugger",
    "jido_kernel.extension",
    "jido_kernel.magics",
    "jido_kernel.session",
    "jido_kernel.display",
    "jido_kernel.settings",
    "jido_kernel.tools",
    "jido_kernel.lua.sandbox",
    "jido_kernel.lua.transport",
)
FOREIGN = ("IPython", "ipykernel", "jupyter_client", "jupyter_core", "traitlets", "zmq")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module an ``import`` or ``from … import`` in ``path`` names (absolute imports)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _within(m, WORKER_SIDE)))
def test_worker_side_imports_nothing_of_the_kernel_side(module: str) -> None:
    bad = sorted(name for name in MODULES[module] if _within(name, KERNEL_SIDE) or name.split(".")[0] in FOREIGN)
    assert bad == [], f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _within(m, ("jido_kernel.lua.worker",))))
def test_nothing_outside_the_worker_imports_it(module: str) -> None:
    bad = sorted(name for name in MODULES[module] if _within(name, ("jido_kernel.lua.worker",)))
    assert bad == [], f"{module} imports the worker package: {bad}"


def test_a_started_worker_has_loaded_no_kernel_side_module() -> None:
    code = "import json, sys\nimport jido_kernel.lua.worker.main\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(done.stdout)
    bad = [name for name in loaded if _within(name, KERNEL_SIDE) or name.split(".")[0] in FOREIGN]
    assert bad == []


def test_session_state_is_importable_without_ipython() -> None:
    code = "import sys\nimport jido_kernel.state\nprint('IPython' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"

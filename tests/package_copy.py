"""A copy of the package standing for an editable install, and Lua run by a worker from it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import jido_kernel

PACKAGE = Path(jido_kernel.__file__).parent

needs_native = pytest.mark.skipif(
    not (PACKAGE / "lua" / "worker" / "libnative.so").exists(), reason="the C library is not built"
)

_DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import jido_kernel
from jido_kernel.lua import LuaSandbox
assert jido_kernel.__file__.startswith(sys.argv[1]), jido_kernel.__file__
sandbox = LuaSandbox(sys.argv[2])
try:
    print(json.dumps(sandbox.run(sys.argv[3]).values[0]))
finally:
    sandbox.close()
"""


def copy_package(folder: Path) -> Path:
    """A copy of the package in ``folder`` (its bytecode caches aside); the copy's path."""
    copy = folder / "jido_kernel"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def sources(copy: Path) -> dict[Path, bytes]:
    """The files of a copy of the package (Python's own bytecode caches aside)."""
    return {path: path.read_bytes() for path in copy.rglob("*") if path.is_file() and "__pycache__" not in path.parts}


def run_lua_from(copy: Path, root: Path, code: str) -> Any:
    """The first value ``code`` returns, run on ``root`` by a worker started from ``copy``."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", _DRIVER, str(copy.parent), str(root), code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])

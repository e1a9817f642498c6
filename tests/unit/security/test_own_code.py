"""The package's own source is never Lua's to write, even inside the project root.

With an editable install of jido_kernel in the project (its folder under the root), every
kernel and worker imports that source at start: a Lua-written change there would run as
the owner's code on the next start. A copy of the package under a temporary root stands
for such an install; a real worker runs from it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import jido_kernel
from jido_kernel.security.policy import SANDBOX, own_code

PACKAGE = Path(jido_kernel.__file__).parent


def test_own_code_is_the_package_folder_inside_the_root(tmp_path: Path) -> None:
    package = tmp_path / "src" / "jido_kernel"
    package.mkdir(parents=True)
    assert own_code(str(tmp_path), str(package)) == frozenset({("src", "jido_kernel")})
    assert own_code(str(tmp_path / "src"), str(package)) == frozenset({("jido_kernel",)})
    assert own_code(str(package), str(package)) == frozenset({()})  # the root is the package itself
    assert own_code(str(tmp_path / "other"), str(package)) == frozenset()
    assert own_code(str(tmp_path / "sr"), str(package)) == frozenset()  # a prefix of a name is not a folder


def test_writes_in_the_package_are_refused_and_the_rest_of_the_root_is_not(tmp_path: Path) -> None:
    policy = SANDBOX.protecting(code=own_code(str(tmp_path), str(tmp_path / "jido_kernel")))
    assert policy.refusal(["jido_kernel", "kernel.py"], write=True) == "installed_code"
    assert policy.refusal(["jido_kernel"], write=True) == "installed_code"
    assert policy.refusal(["jido_kernel", "kernel.py"], write=False) is None  # reading stays allowed
    assert policy.refusal(["jido_kernel_notes.txt"], write=True) is None
    assert policy.refusal(["notes", "jido_kernel", "x.py"], write=True) is None


LUA = """
local ok, message = jido.write_file('jido_kernel/lua/worker/__main__.py', 'import os')
return {
  ok == nil, message,
  jido.write_file('jido_kernel/new.py', 'x') == true,
  jido.mkdir_p('jido_kernel/sub') == true,
  jido.delete_file('jido_kernel/__init__.py') == true,
  (jido.shell('touch', {'jido_kernel/evil.py'}) or {}).exit_code == 0,
  jido.write_file('notes.txt', 'mine') == true,
}
"""

DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import jido_kernel
from jido_kernel.lua import LuaSandbox
assert jido_kernel.__file__.startswith(sys.argv[1]), jido_kernel.__file__
sandbox = LuaSandbox(sys.argv[1])
try:
    print(json.dumps(sandbox.run(sys.argv[2]).values[0]))
finally:
    sandbox.close()
"""


def _sources(folder: Path) -> dict[Path, bytes]:
    """The package's files (Python's own bytecode caches aside)."""
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts}


@pytest.mark.skipif(not (PACKAGE / "lua" / "worker" / "libnative.so").exists(), reason="the C library is not built")
def test_lua_cannot_change_an_editable_install_in_the_root(tmp_path: Path) -> None:
    root = Path(os.path.realpath(tmp_path))
    shutil.copytree(PACKAGE, root / "jido_kernel", ignore=shutil.ignore_patterns("__pycache__"))
    before = _sources(root / "jido_kernel")
    done = subprocess.run(
        [sys.executable, "-I", "-c", DRIVER, str(root), LUA], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert results[0] is True and "installed or compiled code" in results[1]
    assert results[2:6] == [False, False, False, False]
    assert results[6] is True and (root / "notes.txt").read_text() == "mine"
    assert _sources(root / "jido_kernel") == before  # nothing created, changed or removed

"""The package's own source is never Lua's to write, even inside the project root.

With an editable install of jido_kernel in the project (its folder under the root), every
kernel and worker imports that source at start: a Lua-written change there would run as
the owner's code on the next start. A copy of the package under a temporary root stands
for such an install; a real worker runs from it.
"""

from __future__ import annotations

import os
from pathlib import Path

from jido_kernel.security.policy import SANDBOX, own_code
from tests.package_copy import copy_package, needs_native, run_lua_from, sources


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


@needs_native
def test_lua_cannot_change_an_editable_install_in_the_root(tmp_path: Path) -> None:
    root = Path(os.path.realpath(tmp_path))
    copy = copy_package(root)
    before = sources(copy)
    results = run_lua_from(copy, root, LUA)
    assert results[0] is True and "installed or compiled code" in results[1]
    assert results[2:6] == [False, False, False, False]
    assert results[6] is True and (root / "notes.txt").read_text() == "mine"
    assert sources(copy) == before  # nothing created, changed or removed

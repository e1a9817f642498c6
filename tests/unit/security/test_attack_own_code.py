"""Ways around the rule that the package's own source is never Lua's to write.

A stand-in package folder in a temporary root (``src/jido_kernel``, the src layout, so
that a folder above it can be renamed) is attacked through the confined file operations
and the shell commands' write checks: symlinks into it and above it, ``..``, ``//``,
``.``, trailing slashes, other letter cases, hard links, moving, copying over and
removing it or its parent, a name that is not UTF-8. A root inside the package is all
package. A real worker run from a copy of the package, on a root inside that copy,
cannot change it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jido_kernel import security
from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.commands.options import ShellError
from jido_kernel.commands.policy import checked
from jido_kernel.security import SecurityError
from jido_kernel.security.policy import SANDBOX, Policy, own_code
from tests.package_copy import copy_package, needs_native, run_lua_from, sources

WRITERS = [*DEFAULT_ALLOWLIST, "mv", "cp", "rm", "ln", "touch", "mkdir", "rmdir", "sort"]


def snapshot(folder: Path) -> dict[str, tuple[str, bytes]]:
    """Every name below ``folder``, with its kind and a file's content."""
    found: dict[str, tuple[str, bytes]] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = ("link", os.readlink(path).encode())
        elif path.is_dir():
            found[key] = ("dir", b"")
        else:
            found[key] = ("file", path.read_bytes())
    return found


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Policy]:
    """A root holding ``src/jido_kernel`` (two files), ``other/`` and symlinks into and
    above the package; the sandbox policy for that root and package."""
    root = Path(os.path.realpath(tmp_path)) / "project"
    package = root / "src" / "jido_kernel"
    (package / "lua").mkdir(parents=True)
    (package / "kernel.py").write_text("original")
    (package / "lua" / "x.py").write_text("original")
    (root / "other").mkdir()
    (root / "other" / "f").write_text("data")
    os.symlink("src/jido_kernel", root / "pk")
    os.symlink("src", root / "s")
    os.symlink("jido_kernel/kernel.py", root / "src" / "k.py")
    return root, package, SANDBOX.protecting(code=own_code(str(root), str(package)))


def test_own_code_for_roots_inside_the_package_and_odd_spellings(tmp_path: Path) -> None:
    package = str(tmp_path / "src" / "jido_kernel")
    os.makedirs(os.path.join(package, "lua", "worker"))
    for root in (
        package,
        package + "/",
        package + "//",
        os.path.join(package, "lua"),
        os.path.join(package, "lua", "worker"),
    ):
        assert own_code(root, package) == frozenset({()}), root  # a root inside the package is all package
    assert own_code(str(tmp_path) + "//", package) == frozenset({("src", "jido_kernel")})
    assert own_code(str(tmp_path / "src") + "/", package) == frozenset({("jido_kernel",)})
    assert own_code("/", package) == frozenset({tuple(part for part in package.split("/") if part)})
    assert own_code(str(tmp_path / "src" / "jido"), package) == frozenset()  # a prefix of a name
    assert own_code(str(tmp_path / "src" / "jido_kernel_extra"), package) == frozenset()


def test_a_root_inside_the_package_cannot_write_it(tmp_path: Path) -> None:
    package = Path(os.path.realpath(tmp_path)) / "jido_kernel"
    (package / "lua" / "worker").mkdir(parents=True)
    (package / "lua" / "worker" / "__main__.py").write_text("original")
    root = package / "lua"
    policy = SANDBOX.protecting(code=own_code(str(root), str(package)))
    for path in ("worker/__main__.py", "new.py", "worker/../evil.py", "./x.py"):
        with pytest.raises(SecurityError, match="installed or compiled code"):
            security.write_file(path, str(root), "import os", policy=policy)
    with pytest.raises(SecurityError, match="installed or compiled code"):
        security.delete_file("worker/__main__.py", str(root), policy=policy)
    with pytest.raises(SecurityError, match="installed or compiled code"):
        security.mkdir_p("sub", str(root), policy=policy)
    with pytest.raises(ShellError) as refused:
        checked("touch", ["evil.py"], str(root), WRITERS, policy)
    assert refused.value.reason == "installed_code"
    assert (package / "lua" / "worker" / "__main__.py").read_text() == "original"
    assert sorted(p.name for p in package.rglob("*")) == ["__main__.py", "lua", "worker"]


WRITES = [
    "src/jido_kernel/kernel.py",
    "src//jido_kernel/kernel.py",
    "src/jido_kernel/./kernel.py",
    "./src/./jido_kernel/new.py",
    "other/../src/jido_kernel/new.py",
    "s/../src/jido_kernel/new.py",
    "pk/new.py",
    "pk/lua/x.py",
    "s/jido_kernel/new.py",
    "src/k.py",  # a symlink to a file in the package
    "SRC/jido_kernel/new.py",  # the same folder on a case-insensitive file system
    "src/JIDO_KERNEL/new.py",
    "src/Jido_Kernel/lua/x.py",
]


def refused_unchanged(package: Path, change: Any) -> None:
    """``change()`` is refused as installed code and leaves the package as it was."""
    before = snapshot(package)
    with pytest.raises(SecurityError, match="installed or compiled code"):
        change()
    assert snapshot(package) == before


@pytest.mark.parametrize("path", WRITES)
def test_writes_into_the_package_are_refused_however_spelled(layout: tuple[Path, Path, Policy], path: str) -> None:
    root, package, policy = layout
    refused_unchanged(package, lambda: security.write_file(path, str(root), "import os", policy=policy))


@pytest.mark.parametrize(
    "path", ["src/jido_kernel/sub", "src/jido_kernel/", "src//jido_kernel/lua/d/", "SRC/jido_kernel/d"]
)
def test_folders_in_the_package_are_refused(layout: tuple[Path, Path, Policy], path: str) -> None:
    root, package, policy = layout
    refused_unchanged(package, lambda: security.mkdir_p(path, str(root), policy=policy))


@pytest.mark.parametrize(("path", "file"), [("pk/sub", False), ("s/jido_kernel/lua/d", False), ("pk/a/b/x.py", True)])
def test_folders_reached_through_a_symlink_are_refused(
    layout: tuple[Path, Path, Policy], path: str, file: bool
) -> None:
    # No folder is made on the way: the walk asks the policy before each one it creates.
    root, package, policy = layout
    if file:
        refused_unchanged(package, lambda: security.write_file(path, str(root), "x", policy=policy))
    else:
        refused_unchanged(package, lambda: security.mkdir_p(path, str(root), policy=policy))


@pytest.mark.parametrize(
    "path", ["src/jido_kernel/kernel.py", "pk/kernel.py", "s/jido_kernel/lua/x.py", "pk/../jido_kernel/kernel.py"]
)
def test_deleting_package_files_is_refused(layout: tuple[Path, Path, Policy], path: str) -> None:
    root, package, policy = layout
    refused_unchanged(package, lambda: security.delete_file(path, str(root), policy=policy))


def test_the_rest_of_the_root_stays_writable(layout: tuple[Path, Path, Policy]) -> None:
    root, _, policy = layout
    security.write_file("src/notes.txt", str(root), "mine", policy=policy)
    security.write_file("pk/../x.txt", str(root), "mine", policy=policy)  # .. after a link: the target's parent, src
    security.write_file("jido_kernel_notes/a.py", str(root), "mine", policy=policy)
    security.mkdir_p("other/jido_kernel", str(root), policy=policy)  # another folder of that name
    assert (root / "src" / "notes.txt").read_text() == (root / "src" / "x.txt").read_text() == "mine"


COMMANDS = [
    ("mv", ["src", "src2"]),  # the package's parent, renamed away
    ("mv", ["s", "s2"]),
    ("mv", ["src/", "t"]),
    ("mv", ["src/.", "t"]),
    ("mv", ["pk/", "pk2"]),
    ("mv", ["src/jido_kernel", "other/"]),
    ("mv", ["other", "src/jido_kernel"]),  # a new folder moved into it
    ("mv", ["src/jido_kernel/lua/x.py", "y.py"]),
    ("rm", ["-r", "src"]),
    ("rm", ["-r", "s/"]),
    ("rm", ["-r", "pk/"]),
    ("rm", ["s/jido_kernel/kernel.py"]),
    ("rmdir", ["src/jido_kernel/lua"]),
    ("cp", ["-r", "other", "src/jido_kernel"]),
    ("cp", ["-r", "other/.", "pk/"]),
    ("cp", ["other/f", "SRC/jido_kernel/kernel.py"]),
    ("ln", ["other/f", "pk/evil.py"]),
    ("ln", ["src/jido_kernel/kernel.py", "hardlink.py"]),  # a hard link shares the package file's inode
    ("ln", ["-s", "x", "src/jido_kernel/e.py"]),
    ("touch", ["pk/evil.py"]),
    ("touch", ["src/jido_kernel//e.py"]),
    ("touch", ["src/k.py"]),
    ("mkdir", ["pk/d"]),
    ("mkdir", ["-p", "src/Jido_Kernel/d"]),
    ("sort", ["-o", "pk/kernel.py", "other/f"]),
]


@pytest.mark.parametrize(("command", "args"), COMMANDS)
def test_commands_that_would_change_the_package_are_refused(
    layout: tuple[Path, Path, Policy], command: str, args: list[str]
) -> None:
    root, _, policy = layout
    with pytest.raises(ShellError) as refused:
        checked(command, args, str(root), WRITERS, policy)
    assert refused.value.reason == "installed_code"


def test_a_package_folder_whose_name_is_not_utf8(tmp_path: Path) -> None:
    root = Path(os.path.realpath(tmp_path))
    folder = os.fsdecode(b"lib\xff")
    package = root / folder / "jido_kernel"
    package.mkdir(parents=True)
    code = own_code(str(root), str(package))
    assert code == frozenset({(folder, "jido_kernel")})
    policy = SANDBOX.protecting(code=code)
    with pytest.raises(SecurityError, match="installed or compiled code"):
        security.write_file(f"{folder}/jido_kernel/new.py", str(root), "x", policy=policy)
    security.write_file(f"{folder}/other.py", str(root), "x", policy=policy)
    assert not list(package.iterdir())


LUA = """
local results = {}
for _, path in ipairs({'worker/__main__.py', 'new.py', './x.py', 'worker//evil.py'}) do
  results[#results + 1] = jido.write_file(path, 'import os') == nil
end
results[#results + 1] = jido.mkdir_p('sub') == nil
results[#results + 1] = jido.delete_file('worker/__main__.py') == nil
results[#results + 1] = (jido.shell('touch', {'evil.py'}) or {}).exit_code ~= 0
results[#results + 1] = (jido.shell('rm', {'sandbox.py'}) or {}).exit_code ~= 0
return results
"""


@needs_native
def test_lua_in_a_root_inside_an_installed_copy_cannot_change_it(tmp_path: Path) -> None:
    copy = copy_package(Path(os.path.realpath(tmp_path)))
    before = sources(copy)
    assert run_lua_from(copy, copy / "lua", LUA) == [True] * 8
    assert sources(copy) == before

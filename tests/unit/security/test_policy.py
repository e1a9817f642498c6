"""Sandboxed writes never create or change what the owner's tools run without review.

git metadata (``.git`` in any case, ``HEAD``), compiled Python (``__pycache__``,
``*.pyc``), installed trees (``node_modules``, ``site-packages``) and anything below a
virtual environment (a folder holding ``pyvenv.cfg``) are refused for ``write_file``,
``mkdir_p`` and ``delete_file`` under ``SANDBOX`` — through symlinks too, and before
anything is created. Reads stay allowed. The last tests go through a real kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kernel_helpers import execute, jido_kernel

from jido_kernel import security
from jido_kernel.security import OWNER, SANDBOX, SecurityError


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _refused(reason: str, call: object, *args: object) -> SecurityError:
    with pytest.raises(SecurityError) as caught:
        call(*args)  # type: ignore[operator]
    assert caught.value.reason == reason, caught.value
    return caught.value


@pytest.fixture
def venvs(project: Path) -> Path:
    """``.venv`` and ``venv2``: virtual environments (each holds a real ``pyvenv.cfg``)."""
    for name in (".venv", "venv2"):
        (project / name / "bin").mkdir(parents=True)
        (project / name / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
        (project / name / "bin" / "activate").write_text("# activate\n")
    (project / ".venv" / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    return project


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("sub/HEAD", "git_metadata"),
        ("HEAD", "git_metadata"),
        ("x/.Git/config", "git_metadata"),
        ("__pycache__/m.cpython-311.pyc", "installed_code"),
        ("pkg/mod.pyc", "installed_code"),
        ("pkg/MOD.PYO", "installed_code"),
        ("node_modules/x/index.js", "installed_code"),
        ("a/Node_Modules/x.js", "installed_code"),
        ("lib/site-packages/evil.pth", "installed_code"),
        ("pyvenv.cfg", "installed_code"),
    ],
)
def test_writes_of_trusted_names_are_refused_and_create_nothing(
    project: Path, resolution: str, path: str, reason: str
) -> None:
    _refused(reason, security.write_file, path, project, "x")
    _refused(reason, security.mkdir_p, path, project)
    assert _tree(project) == set()


def test_writes_below_a_virtual_environment_are_refused(venvs: Path, resolution: str) -> None:
    before = _tree(venvs)
    _refused("installed_code", security.write_file, ".venv/lib/python3.11/site-packages/evil.pth", venvs, "import os")
    _refused("installed_code", security.write_file, "venv2/bin/activate", venvs, "evil")
    _refused("installed_code", security.write_file, "venv2/new/dir/file.py", venvs, "evil")
    _refused("installed_code", security.mkdir_p, "venv2/lib/python3.11", venvs)
    _refused("installed_code", security.delete_file, "venv2/bin/activate", venvs)
    _refused("installed_code", security.delete_file, "venv2/pyvenv.cfg", venvs)
    assert _tree(venvs) == before
    assert (venvs / "venv2" / "bin" / "activate").read_text() == "# activate\n"


@pytest.mark.parametrize(
    ("target", "write", "reason"),
    [
        ("node_modules", "link/x/index.js", "installed_code"),
        ("NODE_MODULES", "link/x/index.js", "installed_code"),
        ("deep/__PyCache__", "link/m.py", "installed_code"),
        (".GIT", "link/hooks/pre-commit", "git_metadata"),
        ("venv2", "link/bin/new/activate", "installed_code"),
    ],
)
def test_trusted_trees_reached_through_a_symlink_are_refused_before_creation(
    venvs: Path, resolution: str, target: str, write: str, reason: str
) -> None:
    (venvs / target).mkdir(parents=True, exist_ok=True)
    (venvs / "link").symlink_to(target)
    before = _tree(venvs)
    _refused(reason, security.write_file, write, venvs, "evil")
    _refused(reason, security.mkdir_p, os.path.dirname(write), venvs)
    assert _tree(venvs) == before


def test_existing_installed_files_cannot_be_deleted(venvs: Path, resolution: str) -> None:
    for path in ("node_modules/x/index.js", "__pycache__/m.cpython-311.pyc", "pkg/mod.pyc", "sub/HEAD"):
        (venvs / path).parent.mkdir(parents=True, exist_ok=True)
        (venvs / path).write_text("installed")
    (venvs / "link").symlink_to("node_modules")
    for path, reason in [
        ("node_modules/x/index.js", "installed_code"),
        ("link/x/index.js", "installed_code"),
        ("__pycache__/m.cpython-311.pyc", "installed_code"),
        ("pkg/mod.pyc", "installed_code"),
        ("sub/HEAD", "git_metadata"),
        (".venv/bin/activate", "installed_code"),
    ]:
        _refused(reason, security.delete_file, path, venvs)
    assert (venvs / "node_modules/x/index.js").read_text() == "installed"


def test_reads_of_installed_code_stay_allowed(venvs: Path, resolution: str) -> None:
    (venvs / "node_modules" / "x").mkdir(parents=True)
    (venvs / "node_modules" / "x" / "index.js").write_text("module.exports = 1\n")
    (venvs / "link").symlink_to("node_modules")
    assert security.read_file("link/x/index.js", venvs) == "module.exports = 1\n"
    assert security.read_file("venv2/bin/activate", venvs) == "# activate\n"
    assert [e["name"] for e in security.list_dir("venv2", venvs)] == ["bin", "pyvenv.cfg"]
    assert security.is_file(".venv/pyvenv.cfg", venvs)


def test_ordinary_writes_next_to_installed_trees_still_work(venvs: Path, resolution: str) -> None:
    security.write_file("src/app.py", venvs, "print(1)\n")
    security.write_file("headers/HEAD.txt", venvs, "x")
    security.mkdir_p("docs/node_modules_notes", venvs)
    security.delete_file("src/app.py", venvs)
    assert (venvs / "headers" / "HEAD.txt").read_text() == "x"


def test_the_owner_policy_is_not_bound_by_the_sandbox_names(venvs: Path) -> None:
    security.write_file("venv2/bin/tool", venvs, "#!/bin/sh\n", policy=OWNER)
    assert (venvs / "venv2" / "bin" / "tool").exists()
    assert SANDBOX.protect_trusted_names and not OWNER.protect_trusted_names


@pytest.mark.kernel
def test_lua_gets_nil_and_a_message_for_every_trusted_write(venvs: Path) -> None:
    (venvs / "node_modules").mkdir()
    (venvs / "link").symlink_to("node_modules")
    before = _tree(venvs)
    lua = """
local function try(name, ok, msg) print(name .. "=" .. tostring(ok) .. ":" .. tostring(msg)) end
for _, p in ipairs({"sub/HEAD", "__pycache__/m.cpython-311.pyc", "pkg/mod.pyc",
                    ".venv/lib/python3.11/site-packages/evil.pth", "venv2/bin/activate",
                    "node_modules/x/index.js", "link/x/index.js"}) do
  try("write " .. p, jido.write_file(p, "evil"))
  try("delete " .. p, jido.delete_file(p))
end
try("mkdir x/.Git", jido.mkdir_p("x/.Git"))
try("mkdir link/y", jido.mkdir_p("link/y"))
print("read=" .. tostring(string.find(jido.read_file("venv2/bin/activate"), "# activate", 1, true)))
"""
    with jido_kernel(venvs) as (_, kc):
        run = execute(kc, "%%lua\n" + lua)
    assert run.status == "ok", run.error
    *refusals, read = run.stdout.splitlines()
    assert read != "read=nil"
    assert len(refusals) == 16
    for line in refusals:
        assert "=nil:" in line and "sandboxed code may not create or change" in line, line
    assert _tree(venvs) == before


def test_file_stat_reports_installed_code_as_read_only(venvs: Path, resolution: str) -> None:
    (venvs / "node_modules").mkdir()
    (venvs / "node_modules" / "index.js").write_text("x")
    (venvs / "src.py").write_text("x")
    assert security.file_stat("venv2/bin/activate", venvs)["access"] == "read"
    assert security.file_stat("node_modules/index.js", venvs)["access"] == "read"
    assert security.file_stat("src.py", venvs)["access"] == "read_write"
    assert security.file_stat("venv2/bin/activate", venvs, policy=OWNER)["access"] == "read_write"

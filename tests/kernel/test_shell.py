"""Through a real kernel: Lua cannot make any folder a git repository the owner's git obeys,
and git run for Lua uses the pinned repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_helpers import execute, jido_kernel

from jido_kernel.commands.allowlist import SEARCH_PATH

GIT = shutil.which("git", path=SEARCH_PATH)
pytestmark = [pytest.mark.kernel, pytest.mark.skipif(GIT is None, reason="git is not installed")]

FOLDERS = ["", "lay", "lay/objects", "sub", "sub/deep"]


def owner_git(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git as the owner runs it: their normal environment, a HOME of their own."""
    assert GIT is not None
    env = {**os.environ, "HOME": str(home)}
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return subprocess.run([GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _config(canary: Path) -> str:
    command = f"touch {canary}"
    return (
        f"[core]\n\tbare = false\n\trepositoryformatversion = 0\n\tworktree = ..\n\tfsmonitor = {command}\n"
        f"\tpager = {command}; cat\n[diff]\n\texternal = {command}\n"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path, Any]]:
    base = tmp_path_factory.mktemp("shell-kernel").resolve()
    root, home, canary = base / "project", base / "home", base / "canary"
    root.mkdir()
    home.mkdir()
    (root / "a.txt").write_text("alpha\n")
    for args in (["init", "-q"], ["add", "a.txt"], ["-c", "user.name=O", "-c", "user.email=o@x", "commit", "-qm", "1"]):
        assert owner_git(root, home, *args).returncode == 0
    with jido_kernel(root) as (_, kc):
        yield root, home, canary, kc


LUA_ATTACKS = r"""
local config = %s
local refused, ran = {}, {}
local function try(command, args)
  local result, message = jido.shell(command, args)
  if result == nil then
    refused[#refused + 1] = command .. " " .. table.concat(args, " ") .. " => " .. message
  else
    ran[#ran + 1] = command .. " " .. table.concat(args, " ") .. " => " .. result.exit_code
  end
end
assert(jido.mkdir_p("lay/objects/info"))
assert(jido.mkdir_p("lay/refs/heads"))
assert(jido.mkdir_p("sub/deep"))
assert(jido.write_file("lay/config", config))
assert(jido.write_file("head.txt", "ref: refs/heads/main\n"))
assert(jido.write_file("HEA", "ref: refs/heads/main\n"))
assert(jido.write_file("lay/HEA", "ref: refs/heads/main\n"))
try("touch", {"lay/HEAD"})
try("cp", {"head.txt", "lay/HEAD"})
try("mv", {"head.txt", "lay/HEAD"})
try("ln", {"-s", "head.txt", "lay/HEAD"})
try("ln", {"head.txt", "lay/HEAD"})
try("sort", {"-o", "lay/HEAD", "head.txt"})
try("uniq", {"head.txt", "lay/HEAD"})
try("cp", {"--backup", "--suffix=D", "head.txt", "lay/HEA"})
try("mv", {"-b", "-S", "D", "head.txt", "lay/HEA"})
try("mkdir", {"sub/.git"})
try("mv", {"lay", "sub/.git"})
try("cp", {"-r", "lay/.", "sub/.GIT"})
try("cp", {"lay/config", ".git/config"})
try("cp", {"-bS", "t", "head.txt", "sub/.gi"})
try("git", {"config", "core.fsmonitor", "touch x"})
try("git", {"-C", "lay", "status"})
try("git", {"--git-dir=lay", "status"})
local pinned = jido.shell("git", {"rev-parse", "--absolute-git-dir"})
local status = jido.shell("git", {"status", "--porcelain"})
return {refused = refused, ran = ran, pinned = pinned.stdout, status = status.exit_code}
"""


def test_lua_cannot_make_a_repository_the_owners_git_obeys(project: tuple[Path, Path, Path, Any]) -> None:
    root, home, canary, kc = project
    done = execute(
        kc, "%%lua -o report\nreport = (function()\n" + LUA_ATTACKS % json.dumps(_config(canary)) + "\nend)()"
    )
    assert done.status == "ok", done.error
    shown = execute(kc, "import json; print(json.dumps(report))")
    assert shown.status == "ok", shown.error
    report = json.loads(shown.stdout)
    assert report["ran"] == [], report["ran"]
    assert len(report["refused"]) == 17 and all("=> Security error" in line for line in report["refused"]), report
    assert report["pinned"].strip() == str(root / ".git")  # git for Lua runs on the pinned repository
    assert report["status"] == 0
    assert not (root / "lay" / "HEAD").exists() and not (root / "sub" / ".git").exists()
    assert not (root / "HEAD").exists() and not (root / "sub" / ".GIT").exists()

    for folder in FOLDERS:
        cwd = root / folder
        if not cwd.is_dir():
            continue
        for args in (["status"], ["diff"], ["log", "-1"], ["status", "--porcelain", "-uall"]):
            owner_git(cwd, home, *args)
    assert not canary.exists(), "the owner's git ran a program that Lua configured"


def test_control_the_same_layout_with_head_is_obeyed(tmp_path: Path) -> None:
    """What the refused commands would have made: a folder git treats as a repository."""
    canary, home = tmp_path / "canary", tmp_path / "home"
    home.mkdir()
    lay = tmp_path / "lay"
    (lay / "objects" / "info").mkdir(parents=True)
    (lay / "refs" / "heads").mkdir(parents=True)
    (lay / "config").write_text(_config(canary).replace("worktree = ..", "worktree = " + str(tmp_path)))
    (lay / "HEAD").write_text("ref: refs/heads/main\n")
    owner_git(lay, home, "status")
    assert canary.exists(), "control: git obeys the layout once HEAD exists"

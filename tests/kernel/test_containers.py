"""The ``jido`` kernel as in a container: namespace creation refused by seccomp (Docker's and
Podman's default profiles), with and without Landlock.

The kernel runs under :mod:`container_helpers`' filter. The worker cannot make ``.git``
read-only or hide ``.jido_code`` with a mount namespace; it must say so (``%session`` and
the first ``%%lua``), keep Landlock when there is one, and the protections that do not
need the namespace must hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_helpers import execute, jido_kernel

pytest.importorskip("pyseccomp")

pytestmark = pytest.mark.kernel

HELPER = Path(__file__).resolve().parents[1] / "container_helpers.py"
NAMESPACE_NOTE = "A private mount namespace could not be created (unshare: Operation not permitted)"

CHECKS = r"""%%lua
local function refused(value, message) return value == nil and type(message) == "string" end
local function check(name, ok) print(name .. " " .. tostring(ok)) end
check("git_config_write", refused(jido.write_file(".git/config", "[core]\n\tpager = touch pwned\n")))
check("git_hook_write", refused(jido.write_file(".git/hooks/pre-commit", "#!/bin/sh\n")))
check("git_delete", refused(jido.delete_file(".git/HEAD")))
check("nested_git", refused(jido.write_file("sub/.git/config", "[core]\n")))
check("settings_read", refused(jido.read_file(".jido_code/settings.json")))
check("settings_write", refused(jido.write_file(".jido_code/settings.json", "{}")))
check("outside_relative", refused(jido.read_file("../secret.txt")))
check("outside_absolute", refused(jido.read_file(SECRET)))
check("symlink_out", refused(jido.read_file("link.txt")))
local shell_cat, _ = jido.shell("cat", {"../secret.txt"})
check("shell_outside", shell_cat == nil or shell_cat.exit_code ~= 0)
check("shell_interpreter", refused(jido.shell("python3", {"-c", "print(1)"})))
check("no_os_execute", os.execute == nil and io == nil and require == nil and debug == nil)
check("write_inside", jido.write_file("ok.txt", "data") == true)
local touched = jido.shell("touch", {".git/hooks/post-checkout"})
check("shell_git_write", touched == nil or touched.exit_code ~= 0)
local copied = jido.shell("cp", {"ok.txt", ".git/config"})
check("shell_git_copy", copied == nil or copied.exit_code ~= 0)
local listed = jido.shell("cat", {"ok.txt"})
check("shell_inside", listed ~= nil and listed.stdout == "data")
"""


@pytest.fixture
def container_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that starts the kernel under the seccomp filter."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "jido-container"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-P", str(HELPER), sys.executable, "-P", "-m", "jido_kernel", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Jido (container)", "language": "python", "interrupt_mode": "signal"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", f"{tmp_path / 'jupyter'}:{__import__('os').environ['JUPYTER_PATH']}")
    return "jido-container"


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[Path]:
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".jido_code").mkdir()
    (root / ".jido_code" / "settings.json").write_text('{"lua_timeout": 5}')
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    yield root


@pytest.mark.parametrize("landlock", [True, False], ids=["landlock", "no-landlock"])
def test_without_namespaces_the_kernel_says_what_it_lost_and_stays_safe(
    container_spec: str, repository: Path, tmp_path: Path, jido_home: Path, landlock: bool
) -> None:
    env = {} if landlock else {"JIDO_KERNEL_DISABLE_LANDLOCK": "1"}
    git_config = (repository / ".git" / "config").read_text()
    with jido_kernel(repository, env=env, kernel_name=container_spec) as (_, kc):
        probe = execute(kc, "import ctypes\nctypes.CDLL(None, use_errno=True).unshare(0x20000), ctypes.get_errno()")
        shown = execute(kc, "%session")
        checks = execute(kc, CHECKS.replace("SECRET", json.dumps(str(tmp_path / "secret.txt"))))
        again = execute(kc, "%%lua\nreturn 1")
    assert probe.result is not None and probe.result["text/plain"] == "(-1, 1)"  # EPERM: the filter is on
    session_text = shown.result["text/plain"] if shown.result else ""
    assert NAMESPACE_NOTE in session_text
    assert NAMESPACE_NOTE in checks.stderr and "Note:" not in again.stderr
    if landlock:
        assert "Landlock ABI" in session_text and "Landlock" not in checks.stderr
    else:
        assert "user-space checks only (no Landlock)" in session_text
        assert "Landlock is disabled by JIDO_KERNEL_DISABLE_LANDLOCK=1" in checks.stderr
    assert checks.status == "ok", checks.error
    results = dict(line.split(" ") for line in checks.stdout.splitlines())
    assert results == dict.fromkeys(results, "true") and len(results) == 16, results
    assert (repository / ".git" / "config").read_text() == git_config
    assert not (repository / ".git" / "hooks" / "pre-commit").exists()
    assert not (repository / ".git" / "hooks" / "post-checkout").exists()
    assert (repository / ".jido_code" / "settings.json").read_text() == '{"lua_timeout": 5}'

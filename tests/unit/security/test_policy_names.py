"""Sandboxed writes never create names trusted programs obey: debugger rc files, native
extension modules, conda and PEP 582 trees, other version control metadata, and the files
a repository's configuration names (real files, both resolutions, and the command checks)."""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import pytest

from jido_kernel import security
from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.commands.options import ShellError
from jido_kernel.commands.run import run_command
from jido_kernel.security import OWNER, SANDBOX, SecurityError
from jido_kernel.security.policy import COMPILED_SUFFIXES, ENVIRONMENT_MARKERS, TRUSTED_DIRS


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _refused(reason: str, call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(SecurityError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.reason == reason, caught.value


def _command_refused(reason: str, project: Path, command: str, *args: str) -> None:
    with pytest.raises(ShellError) as caught:
        run_command(command, list(args), project, allowlist=DEFAULT_ALLOWLIST, timeout=10)
    assert caught.value.reason == reason, caught.value


def test_every_extension_suffix_is_compiled_code() -> None:
    for suffix in [*importlib.machinery.EXTENSION_SUFFIXES, ".so", ".pyd", ".pyc"]:
        assert suffix.lower() in COMPILED_SUFFIXES
    assert set(ENVIRONMENT_MARKERS) == {"pyvenv.cfg", "conda-meta"}
    assert {".hg", ".bzr", "__pypackages__", "conda-meta"} <= set(TRUSTED_DIRS)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (".pdbrc", "trusted_config"),
        ("sub/.pdbrc", "trusted_config"),
        *((f"mymod{suffix}", "installed_code") for suffix in importlib.machinery.EXTENSION_SUFFIXES),
        ("pkg/mymod.so", "installed_code"),
        ("pkg/MYMOD.SO", "installed_code"),
        ("mymod.abi3.so", "installed_code"),
        ("mymod.pyd", "installed_code"),
        ("__pypackages__/3.11/lib/requests/__init__.py", "installed_code"),
        ("env/conda-meta/history", "installed_code"),
        (".hg/hgrc", "git_metadata"),
        ("sub/.HG/hgrc", "git_metadata"),
        (".bzr/branch/branch.conf", "git_metadata"),
    ],
)
def test_trusted_names_are_refused_and_create_nothing(project: Path, resolution: str, path: str, reason: str) -> None:
    _refused(reason, security.write_file, path, project, "x")
    _refused(reason, security.mkdir_p, path, project)
    assert _tree(project) == set()
    security.write_file(path, project, "x", policy=OWNER)  # the owner's own tools are not bound


def test_commands_cannot_create_the_names_either(project: Path) -> None:
    (project / "data.bin").write_bytes(b"\x7fELF")
    _command_refused("installed_code", project, "cp", "data.bin", "mymod.abi3.so")
    _command_refused("installed_code", project, "mv", "data.bin", "mymod.cpython-311-x86_64-linux-gnu.so")
    _command_refused("installed_code", project, "ln", "-s", "data.bin", "x.so")
    _command_refused("trusted_config", project, "cp", "data.bin", ".pdbrc")
    _command_refused("git_metadata", project, "mkdir", "-p", ".hg")
    assert _tree(project) == {"data.bin"}


def test_writes_below_a_conda_environment_are_refused(project: Path, resolution: str) -> None:
    env = project / "envs" / "work"
    (env / "conda-meta").mkdir(parents=True)
    (env / "lib" / "python3.11" / "site").mkdir(parents=True)
    (env / "bin").mkdir()
    before = _tree(project)
    _refused("installed_code", security.write_file, "envs/work/bin/python3", project, "#!/bin/sh")
    _refused("installed_code", security.write_file, "envs/work/lib/python3.11/site/x.py", project, "x")
    _refused("installed_code", security.mkdir_p, "envs/work/etc/conda/activate.d", project)
    (project / "link").symlink_to("envs/work/bin")
    _refused("installed_code", security.write_file, "link/activate", project, "x")
    _command_refused("installed_code", project, "touch", "envs/work/bin/activate")
    assert _tree(project) == before | {"link"}
    security.write_file("envs/notes.txt", project, "next to it is fine")


def test_config_paths_make_a_policy_refuse_them_and_below(project: Path, resolution: str) -> None:
    policy = SANDBOX.protecting(frozenset({(".husky",), ("conf", "git.inc")}))
    _refused("trusted_config", security.write_file, ".husky/pre-commit", project, "x", policy=policy)
    _refused("trusted_config", security.mkdir_p, ".husky", project, policy=policy)
    _refused("trusted_config", security.write_file, "conf/git.inc", project, "x", policy=policy)
    (project / "conf").mkdir()
    (project / "conf" / "git.inc").write_text("[core]\n")
    _refused("trusted_config", security.delete_file, "conf/git.inc", project, policy=policy)
    (project / "hooks").symlink_to(".husky")
    _refused("trusted_config", security.write_file, "hooks/pre-commit", project, "x", policy=policy)
    security.write_file(".husky2/pre-commit", project, "x", policy=policy)
    security.write_file(".husky/pre-commit", project, "x")  # only the session's policy knows the paths

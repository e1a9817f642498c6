"""The file magics take untrusted paths: the rules Lua follows, resolved as the OS does,
taken literally. Through a real kernel, as the owner meets them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from kernel_helpers import Execution, execute, failure, jido_kernel, plain

pytestmark = pytest.mark.kernel


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project with links out of it, a link inside, a hard link and a FIFO."""
    project = tmp_path / "project"
    (project / "a" / "b").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("OUTSIDE SECRET\n")
    (outside / "x").write_text("outside x\n")
    os.link(outside / "secret.txt", project / "hl.txt")
    (project / "out_link").symlink_to(outside / "dir")
    (project / "rel_out").symlink_to("../outside/dir")
    (project / "in_link").symlink_to("a/b")
    (project / "chain").symlink_to("in_link/../../out_link")
    (project / "x").write_text("root x\n")
    os.mkfifo(project / "fifo")
    return project


@pytest.fixture
def kc(root: Path) -> Iterator[BlockingKernelClient]:
    with jido_kernel(root) as (_, client):
        yield client


def _refused(run: Execution, words: str) -> None:
    assert run.status == "error", run.result
    assert failure(run)["ename"] == "SecurityError", run.error
    assert words in failure(run)["evalue"], failure(run)["evalue"]
    assert len(failure(run)["traceback"]) == 1


def test_a_hard_link_to_a_file_outside_is_refused(kc: BlockingKernelClient, root: Path, tmp_path: Path) -> None:
    _refused(execute(kc, "%read_file hl.txt"), "more than one hard link")
    _refused(execute(kc, "%validate_path hl.txt"), "more than one hard link")
    _refused(execute(kc, "%%write_file hl.txt\nchanged\n"), "more than one hard link")
    _refused(execute(kc, "%%write_file hl.txt --append\nchanged\n"), "more than one hard link")
    assert (tmp_path / "outside" / "secret.txt").read_text() == "OUTSIDE SECRET\n"


def test_special_files_and_the_settings_directory_are_refused(kc: BlockingKernelClient, root: Path) -> None:
    (root / ".jido_code").mkdir()
    (root / ".jido_code" / "notes.json").write_text("{}")
    _refused(execute(kc, "%read_file fifo", timeout=20), "not a regular file")
    _refused(execute(kc, "%validate_path fifo"), "not a regular file")
    _refused(execute(kc, "%read_file .jido_code/notes.json"), ".jido_code directory is protected")
    _refused(execute(kc, "%list_dir .jido_code"), ".jido_code directory is protected")


def test_writes_of_trusted_names_are_refused(kc: BlockingKernelClient, root: Path) -> None:
    _refused(execute(kc, "%%write_file node_modules/x/index.js\nevil()\n"), "installed or compiled code")
    _refused(execute(kc, "%%write_file sub/HEAD\nref: refs/heads/main\n"), "git metadata")
    _refused(execute(kc, "%%write_file pkg/__pycache__/m.cpython-311.pyc\nx\n"), "installed or compiled code")
    assert not (root / "node_modules").exists() and not (root / "sub").exists() and not (root / "pkg").exists()


@pytest.mark.parametrize("path", ["out_link/../x", "rel_out/../x", "out_link/../secret.txt", "chain/../x"])
def test_dotdot_after_a_link_leading_out_is_an_escape(kc: BlockingKernelClient, root: Path, path: str) -> None:
    _refused(execute(kc, f"%validate_path {path}"), "outside project")
    _refused(execute(kc, f"%validate_path {root}/{path}"), "outside project")
    _refused(execute(kc, f"%read_file {path}"), "outside project")
    _refused(execute(kc, f"%%write_file {path}\nx\n"), "outside project")
    lua = execute(kc, f"%%lua\nlocal ok, msg = jido.read_file({path!r}) print(ok, msg)")
    assert lua.stdout.startswith("nil\tSecurity error: symlink points outside project"), lua.stdout


def test_lua_and_the_magics_read_the_same_file_through_dotdot(kc: BlockingKernelClient, root: Path) -> None:
    (root / "a" / "x").write_text("a's x\n")
    magic = execute(kc, "%read_file in_link/../x")
    lua = execute(kc, "%%lua\nprint(jido.read_file('in_link/../x'))")
    assert magic.status == "ok" and "a's x" in plain(magic)
    assert "a's x" in lua.stdout


def test_dotdot_after_a_link_inside_resolves_as_the_os_does(kc: BlockingKernelClient, root: Path) -> None:
    run = execute(kc, "%validate_path in_link/../new.txt")
    assert run.status == "ok", run.error
    assert plain(run) == repr(str(root.resolve() / "a" / "new.txt"))
    lexical = execute(kc, "%validate_path a/../x")
    assert plain(lexical) == repr(str(root.resolve() / "x"))


def test_paths_are_taken_literally(kc: BlockingKernelClient, root: Path) -> None:
    (root / "$HOME").write_text("a file named $HOME\n")
    (root / "{name}").mkdir()
    runs = [
        execute(kc, "%read_file {__import__('os').system('touch CANARY')}"),
        execute(kc, "%validate_path {__import__('os').system('touch CANARY2')}"),
        execute(kc, "%list_dir {__import__('os').system('touch CANARY3')}"),
        execute(kc, "%%write_file {__import__('os').system('touch CANARY4')}\nbody\n"),
    ]
    home = execute(kc, "%read_file $HOME")
    listing = execute(kc, "name = 'ignored'\n%list_dir {name}")
    execute(kc, "value = 'x'")
    written = execute(kc, "%%write_file out/$value\nliteral\n")
    assert [p.name for p in root.iterdir() if p.name.startswith("CANARY")] == []
    assert runs[0].status == "error" and failure(runs[0])["ename"] == "FileNotFound"
    assert "{__import__(os).system(touch CANARY)}" in failure(runs[0])["evalue"]
    assert home.status == "ok" and "a file named $HOME" in plain(home)
    assert listing.status == "ok", listing.error
    assert written.status == "ok", written.error
    assert (root / "out" / "$value").read_text() == "literal\n"
    assert (root / "{__import__(os).system(touch CANARY4)}").read_text() == "body\n"


def test_settings_arguments_are_literal(kc: BlockingKernelClient, root: Path) -> None:
    run = execute(kc, "%settings set theme {__import__('os').system('touch CANARY')}")
    assert run.status == "ok", run.error
    assert not (root / "CANARY").exists()
    assert plain(execute(kc, "%settings get theme")) == repr("{__import__(os).system(touch CANARY)}")

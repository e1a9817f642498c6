"""Crash-safe replacement (atomic_write, atomic_write_at): content, mode, owner, hard
links, clean-up on failure. (Killing a writer mid-write is in test_security_races.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jido_kernel.security import atomic_write, atomic_write_at


def temp_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".jido-tmp-")]


def test_writes_new_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    atomic_write(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}'
    atomic_write(str(target), b"{}")
    assert target.read_bytes() == b"{}"
    assert temp_files(tmp_path) == []


def test_mode_argument_and_kept_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"x", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    os.chmod(target, 0o751)
    atomic_write(target, b"y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o751


def test_owner_is_kept(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    target = tmp_path / "f"
    target.write_bytes(b"old")
    os.chown(target, 65534, 65534)
    atomic_write(target, b"new")
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534)
    assert target.read_bytes() == b"new"


def test_hard_link_is_never_written_through(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"precious")
    link = tmp_path / "link"
    os.link(elsewhere, link)
    atomic_write(link, b"replaced")
    assert elsewhere.read_bytes() == b"precious"
    assert link.read_bytes() == b"replaced"
    assert elsewhere.stat().st_nlink == 1


def test_symlink_target_is_replaced_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"precious")
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        atomic_write_at(dir_fd, "link", b"new")
    finally:
        os.close(dir_fd)
    assert elsewhere.read_bytes() == b"precious"
    assert not link.is_symlink() and link.read_bytes() == b"new"


def test_failure_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write(target, 123)  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert temp_files(tmp_path) == []


def test_long_and_unicode_names(tmp_path: Path) -> None:
    name = "é" * 127  # 254 bytes: the temporary name is cut to fit
    atomic_write(tmp_path / name, b"x")
    assert (tmp_path / name).read_bytes() == b"x"
    assert temp_files(tmp_path) == []


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "f", b"x")

"""Confined file operations: jido_code's bridge file cases, policies, and the
errors' types. Every test runs with ``openat2`` (when available) and with the walk."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.errors import JidoError
from jido_kernel.security import (
    OWNER,
    SANDBOX,
    BinaryFile,
    FileExists,
    FileNotFound,
    FileOpError,
    FileTooLarge,
    IsADirectory,
    NotADirectory,
    PermissionDenied,
    Policy,
    SecurityError,
    delete_file,
    file_exists,
    file_stat,
    glob,
    is_dir,
    is_file,
    list_dir,
    mkdir_p,
    openat2,
    read_bytes,
    read_file,
    read_file_utf8,
    write_file,
)

pytestmark = pytest.mark.usefixtures("resolution")  # every test with openat2 and with the walk


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET")
    return project


@pytest.fixture
def outside(root: Path) -> Path:
    return root.parent / "outside"


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its content (to prove nothing changed)."""
    return {
        str(p.relative_to(directory)): p.read_bytes() if p.is_file() and not p.is_symlink() else b""
        for p in sorted(directory.rglob("*"))
    }


def refusal(func: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(SecurityError) as info:
        func(*args, **kwargs)  # type: ignore[operator]
    return info.value.reason


# --- read_file ----------------------------------------------------------------------


def test_read_file_plain_and_nested(root: Path) -> None:
    (root / "test.txt").write_text("Hello, World!")
    (root / "src").mkdir()
    (root / "src" / "code.ex").write_text("defmodule Test do\nend")
    assert read_file("test.txt", root) == "Hello, World!"
    assert read_file("src/code.ex", root) == "defmodule Test do\nend"
    assert read_bytes("src/code.ex", root) == b"defmodule Test do\nend"


@pytest.mark.parametrize(
    ("content", "offset", "limit", "expected"),
    [
        ("hello", None, None, "     1→hello"),
        ("one\ntwo\nthree", None, None, "     1→one\n     2→two\n     3→three"),
        ("one\ntwo\nthree\nfour", 2, None, "     2→two\n     3→three\n     4→four"),
        ("one\ntwo\nthree\nfour", None, 2, "     1→one\n     2→two"),
        ("one\ntwo\nthree\nfour\nfive", 2, 2, "     2→two\n     3→three"),
        ("one\r\ntwo\r\nthree", None, None, "     1→one\n     2→two\n     3→three"),
        ("", None, None, "     1→"),
        ("a\n", None, None, "     1→a"),
        ("a\n\n", None, None, "     1→a\n     2→"),
        ("one\ntwo", 0, 1, "     1→one"),
        ("one\ntwo", 5, None, ""),
        ("one\ntwo", 1, 0, ""),
    ],
)
def test_numbered_format(root: Path, content: str, offset: int | None, limit: int | None, expected: str) -> None:
    (root / "f.txt").write_bytes(content.encode())
    assert read_file("f.txt", root, offset=offset, limit=limit, numbered=True) == expected


def test_numbered_truncates_long_lines(root: Path) -> None:
    (root / "long.txt").write_text("x" * 2500 + "\nshort\n" + "y" * 2000)
    lines = read_file("long.txt", root, numbered=True).split("\n")
    assert lines[0] == "     1→" + "x" * 2000 + " [truncated]"
    assert lines[1] == "     2→short"
    assert lines[2] == "     3→" + "y" * 2000


def test_numbered_width_grows_past_six_digits(root: Path) -> None:
    (root / "many.txt").write_text("\n".join(str(n) for n in range(1, 100_002)))
    assert read_file("many.txt", root, offset=100_000, limit=2, numbered=True) == "100000→100000\n100001→100001"
    (root / "more.txt").write_text("\n".join(str(n) for n in range(1, 1_000_002)))
    assert read_file("more.txt", root, offset=999_999, limit=3, numbered=True) == (
        " 999999→999999\n1000000→1000000\n1000001→1000001"
    )


def test_numbered_default_limit_is_2000_lines(root: Path) -> None:
    (root / "big.txt").write_text("\n".join(["line"] * 2500))
    lines = read_file("big.txt", root, numbered=True).split("\n")
    assert len(lines) == 2000
    assert lines[-1] == "  2000→line"


def test_plain_line_window_keeps_line_endings(root: Path) -> None:
    (root / "f.txt").write_bytes(b"one\r\ntwo\nthree\nfour")
    assert read_file("f.txt", root) == "one\r\ntwo\nthree\nfour"
    assert read_file("f.txt", root, offset=2, limit=2) == "two\nthree\n"
    assert read_file("f.txt", root, offset=4) == "four"
    assert read_file("f.txt", root, limit=1) == "one\r\n"


def test_line_window_arguments(root: Path) -> None:
    (root / "f.txt").write_text("a")
    with pytest.raises(ValueError):
        read_file("f.txt", root, limit=-1)
    with pytest.raises(TypeError):
        read_file("f.txt", root, offset="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        read_file("missing.txt", root, limit=-1)  # arguments are checked before any I/O


def test_binary_detection(root: Path) -> None:
    (root / "binary.bin").write_bytes(bytes([0, 1, 2, 3, 0, 255, 254]))
    with pytest.raises(BinaryFile) as info:
        read_file("binary.bin", root)
    assert str(info.value) == "Binary file detected: binary.bin. Cannot read binary files."
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileOpError)
    assert read_bytes("binary.bin", root) == bytes([0, 1, 2, 3, 0, 255, 254])
    (root / "late.txt").write_bytes(b"a" * 8192 + b"\0")
    assert read_file("late.txt", root) == "a" * 8192 + "\0"


def test_invalid_utf8_is_replaced(root: Path) -> None:
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert read_file("latin1.txt", root) == "caf\ufffd"


def test_read_errors(root: Path) -> None:
    (root / "src").mkdir()
    (root / "file.txt").write_text("x")
    with pytest.raises(FileNotFound) as missing:
        read_file("missing.txt", root)
    assert str(missing.value) == "File not found: missing.txt"
    assert isinstance(missing.value, FileNotFoundError) and missing.value.errno == 2
    with pytest.raises(FileNotFoundError):
        read_file("nodir/missing.txt", root)
    with pytest.raises(IsADirectory) as directory:
        read_file("src", root)
    assert str(directory.value) == "Is a directory: src"
    assert isinstance(directory.value, IsADirectoryError)
    with pytest.raises(NotADirectory) as not_dir:
        read_file("file.txt/x", root)
    assert str(not_dir.value) == "Not a directory: file.txt/x"
    assert isinstance(not_dir.value, NotADirectoryError)
    assert refusal(read_file, "../../../etc/passwd", root) == "path_escapes_boundary"
    assert refusal(read_file, "/etc/passwd", root) == "path_outside_boundary"
    with pytest.raises(IsADirectory):
        read_file("", root)


@pytest.mark.parametrize(
    "data",
    [b"", b"one line", b"a\nb\n", b"crlf\r\nend\r\n", "é→\n".encode(), b"bad \xff utf-8\n", b"y" * 2500,
     b"".join(b"line %d\n" % i for i in range(2500))],
)  # fmt: skip
@pytest.mark.parametrize("window", [{}, {"offset": 2}, {"limit": 1}, {"offset": 0, "limit": 3}])
@pytest.mark.parametrize("numbered", [False, True])
def test_utf8_read_is_the_text_encoded(root: Path, data: bytes, window: dict[str, int], numbered: bool) -> None:
    (root / "f.txt").write_bytes(data)
    expected = read_file("f.txt", root, numbered=numbered, **window).encode("utf-8")
    assert read_file_utf8("f.txt", root, numbered=numbered, **window) == expected


def test_utf8_read_has_the_text_read_errors(root: Path) -> None:
    (root / "bin.dat").write_bytes(b"\x00\x01")
    (root / "big.txt").write_text("x" * 11)
    with pytest.raises(BinaryFile):
        read_file_utf8("bin.dat", root)
    with pytest.raises(FileTooLarge):
        read_file_utf8("big.txt", root, max_bytes=10)
    with pytest.raises(FileNotFound):
        read_file_utf8("missing.txt", root)
    assert refusal(read_file_utf8, "../../../etc/passwd", root) == "path_escapes_boundary"
    with pytest.raises(ValueError):
        read_file_utf8("big.txt", root, limit=-1)


def test_size_limit(root: Path) -> None:
    (root / "big.txt").write_text("x" * 11)
    with pytest.raises(FileTooLarge) as info:
        read_file("big.txt", root, max_bytes=10)
    assert str(info.value) == "File too large: big.txt (11 bytes; the limit is 10 bytes)"
    assert read_file("big.txt", root, max_bytes=11) == "x" * 11


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 65536, 65537, 300_000])
def test_files_are_read_whole_at_any_size(root: Path, size: int) -> None:
    data = bytes(range(1, 256)) * (size // 255) + b"x" * (size % 255)
    (root / "f.bin").write_bytes(data)
    assert read_bytes("f.bin", root) == data
    assert read_bytes("f.bin", root, max_bytes=size) == data
    if size:
        with pytest.raises(FileTooLarge):
            read_bytes("f.bin", root, max_bytes=size - 1)


def test_read_follows_inside_links_and_refuses_outside(root: Path, outside: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f.txt").write_text("deep")
    (root / "link").symlink_to("a/b")
    (root / "abs").symlink_to(root / "a")
    (root / "out").symlink_to(outside)
    (root / "a" / "sneaky").symlink_to("../../outside/secret.txt")
    assert read_file("link/f.txt", root) == "deep"
    assert read_file("abs/b/f.txt", root) == "deep"
    assert refusal(read_file, "out/secret.txt", root) == "symlink_escapes_boundary"
    assert refusal(read_file, "a/sneaky", root) == "symlink_escapes_boundary"
    assert (
        refusal(read_file, "link/../sneaky", root) == "symlink_escapes_boundary"
    )  # ".." after a link: its target's parent
    assert read_file("link/../b/f.txt", root) == "deep"


# --- write_file ---------------------------------------------------------------------


def test_write_creates_parents_and_overwrites(root: Path) -> None:
    write_file("output.txt", root, "Test content")
    assert (root / "output.txt").read_text() == "Test content"
    write_file("a/b/c/file.txt", root, "Nested")
    assert (root / "a/b/c/file.txt").read_text() == "Nested"
    write_file("output.txt", root, "New content")
    assert (root / "output.txt").read_text() == "New content"
    write_file("bytes.bin", root, b"\x00\xff")
    assert (root / "bytes.bin").read_bytes() == b"\x00\xff"
    write_file("ünï/ć.txt", root, "ü")
    assert (root / "ünï" / "ć.txt").read_text() == "ü"
    assert not [p for p in root.rglob("*") if p.name.startswith(".jido-tmp-")]


def test_write_keeps_mode_and_uses_umask_for_new_files(root: Path) -> None:
    (root / "script.sh").write_text("old")
    os.chmod(root / "script.sh", 0o750)
    write_file("script.sh", root, "new")
    assert stat.S_IMODE((root / "script.sh").stat().st_mode) == 0o750
    umask = os.umask(0o022)
    os.umask(umask)
    write_file("fresh.txt", root, "x")
    assert stat.S_IMODE((root / "fresh.txt").stat().st_mode) == 0o666 & ~umask


def test_write_rejects_bad_content(root: Path) -> None:
    with pytest.raises(TypeError, match="content must be a string"):
        write_file("x.txt", root, 123)  # type: ignore[arg-type]
    with pytest.raises(FileTooLarge):
        write_file("x.txt", root, "x" * 11, max_bytes=10)
    assert not (root / "x.txt").exists()


def test_write_errors(root: Path) -> None:
    (root / "dir").mkdir()
    (root / "file.txt").write_text("x")
    with pytest.raises(IsADirectory):
        write_file("dir", root, "x")
    with pytest.raises(IsADirectory):
        write_file(".", root, "x")
    with pytest.raises(NotADirectory):
        write_file("file.txt/inner.txt", root, "x")
    assert (root / "file.txt").read_text() == "x"


def test_write_outside_is_refused_and_nothing_is_created(root: Path, outside: Path) -> None:
    before = snapshot(outside)
    (root / "out").symlink_to(outside)
    (root / "out_file").symlink_to(outside / "secret.txt")
    (root / "out_new").symlink_to(outside / "created.txt")
    assert refusal(write_file, "../evil.txt", root, "Bad") == "path_escapes_boundary"
    assert refusal(write_file, str(outside / "evil.txt"), root, "Bad") == "path_outside_boundary"
    assert refusal(write_file, "out/evil.txt", root, "Bad") == "symlink_escapes_boundary"
    assert refusal(write_file, "out/new_dir/evil.txt", root, "Bad") == "symlink_escapes_boundary"
    assert refusal(write_file, "out_file", root, "Bad") == "symlink_escapes_boundary"
    assert refusal(write_file, "out_new", root, "Bad") == "symlink_escapes_boundary"
    assert snapshot(outside) == before


def test_write_through_inside_links(root: Path) -> None:
    (root / "real").mkdir()
    (root / "real" / "target.txt").write_text("old")
    (root / "alias.txt").symlink_to("real/target.txt")
    (root / "pending").symlink_to("real/later/new.txt")
    write_file("alias.txt", root, "new")
    assert (root / "real" / "target.txt").read_text() == "new"
    assert (root / "alias.txt").is_symlink()
    write_file("pending", root, "created")
    assert (root / "real" / "later" / "new.txt").read_text() == "created"


# --- Hard links, special files, protected directories -------------------------------


def test_hard_links_refused_for_sandbox(root: Path, outside: Path) -> None:
    os.link(outside / "secret.txt", root / "hard.txt")
    assert refusal(read_file, "hard.txt", root) == "hardlinked_file"
    assert refusal(read_bytes, "hard.txt", root) == "hardlinked_file"
    assert refusal(write_file, "hard.txt", root, "pwned") == "hardlinked_file"
    assert (outside / "secret.txt").read_text() == "SECRET"
    with pytest.raises(SecurityError) as info:
        read_file("hard.txt", root)
    assert str(info.value).startswith("Security error: file has more than one hard link")


def test_owner_write_replaces_a_hard_link_with_a_new_inode(root: Path, outside: Path) -> None:
    os.link(outside / "secret.txt", root / "hard.txt")
    assert read_file("hard.txt", root, policy=OWNER) == "SECRET"
    write_file("hard.txt", root, "mine", policy=OWNER)
    assert (outside / "secret.txt").read_text() == "SECRET"
    assert (outside / "secret.txt").stat().st_nlink == 1
    assert (root / "hard.txt").read_text() == "mine"
    assert (root / "hard.txt").stat().st_ino != (outside / "secret.txt").stat().st_ino


@pytest.mark.timeout(60)
def test_fifo_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")
    started = time.monotonic()
    assert refusal(read_file, "pipe", root) == "not_regular_file"
    assert refusal(write_file, "pipe", root, "x") == "not_regular_file"
    (root / "pipe_link").symlink_to("pipe")
    assert refusal(read_file, "pipe_link", root) == "not_regular_file"
    assert refusal(read_file, "pipe", root, policy=OWNER) == "not_regular_file"
    assert time.monotonic() - started < 30
    assert stat.S_ISFIFO((root / "pipe").lstat().st_mode)
    assert list_dir(".", root) == [{"name": "pipe", "type": "other"}, {"name": "pipe_link", "type": "symlink"}]
    assert file_stat("pipe", root)["type"] == "other"
    assert file_stat("pipe", root)["access"] == "none"


@pytest.mark.timeout(60)
def test_socket_refused(root: Path) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(root / "sock"))
        assert refusal(read_file, "sock", root) == "not_regular_file"
    finally:
        server.close()


def test_git_is_read_only_for_sandbox(root: Path) -> None:
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]")
    (root / "sub" / ".git").mkdir(parents=True)
    (root / "gitlink").symlink_to(".git")
    (root / "config_link").symlink_to(".git/config")
    assert read_file(".git/config", root) == "[core]"
    assert read_file("gitlink/config", root) == "[core]"
    assert [e["name"] for e in list_dir(".git", root)] == ["hooks", "config"]
    for path in [".git/config", ".git/hooks/pre-commit", "gitlink/config", "config_link", "sub/.git/x", ".git"]:
        assert refusal(write_file, path, root, "x") == "read_only_path", path
    assert refusal(delete_file, ".git/config", root) == "read_only_path"
    assert refusal(mkdir_p, ".git/new", root) == "read_only_path"
    assert refusal(mkdir_p, "sub/.git/new/deeper", root) == "read_only_path"
    assert (root / ".git" / "config").read_text() == "[core]"
    assert not (root / ".git" / "hooks" / "pre-commit").exists()
    assert not (root / ".git" / "new").exists()
    assert not (root / "sub" / ".git" / "new").exists()
    assert file_stat(".git/config", root)["access"] == "read"
    assert file_stat(".git/config", root, policy=OWNER)["access"] == "read_write"
    write_file(".git/config", root, "[owner]", policy=OWNER)
    assert (root / ".git" / "config").read_text() == "[owner]"


def test_jido_code_is_protected_for_sandbox(root: Path) -> None:
    (root / ".jido_code").mkdir()
    (root / ".jido_code" / "other.json").write_text("{}")
    (root / ".jido_code" / "settings.json").write_text('{"a": 1}')
    (root / "cfg").symlink_to(".jido_code")
    (root / "cfg_file").symlink_to(".jido_code/other.json")
    for call in [
        lambda: read_file(".jido_code/other.json", root),
        lambda: read_file("cfg/other.json", root),
        lambda: read_file("cfg_file", root),
        lambda: list_dir(".jido_code", root),
        lambda: write_file(".jido_code/new.json", root, "{}"),
        lambda: write_file("deep/.jido_code/new.json", root, "{}"),
        lambda: file_exists(".jido_code/other.json", root),
        lambda: file_stat(".jido_code", root),
        lambda: delete_file(".jido_code/other.json", root),
        lambda: mkdir_p(".jido_code/x", root),
        lambda: glob("*", root, base=".jido_code"),
    ]:
        assert refusal(call) == "protected_path"
    assert not (root / ".jido_code" / "new.json").exists()
    assert not (root / "deep").exists()
    assert glob(".jido_code/*", root) == []
    assert glob("cfg/*", root) == []
    # settings.json keeps its own reason under every policy, for reads and writes
    for policy in (SANDBOX, OWNER):
        assert refusal(read_file, ".jido_code/settings.json", root, policy=policy) == "protected_settings_file"
        assert refusal(write_file, ".jido_code/settings.json", root, "{}", policy=policy) == "protected_settings_file"
        assert refusal(file_exists, "cfg/settings.json", root, policy=policy) == "protected_settings_file"
        assert refusal(delete_file, ".jido_code/settings.json", root, policy=policy) == "protected_settings_file"
    assert (root / ".jido_code" / "settings.json").read_text() == '{"a": 1}'
    # the owner reads and writes the rest
    assert read_file(".jido_code/other.json", root, policy=OWNER) == "{}"
    write_file(".jido_code/new.json", root, "[]", policy=OWNER)
    listed = [e["name"] for e in list_dir(".jido_code", root, policy=OWNER)]
    assert listed == ["new.json", "other.json", "settings.json"]
    assert sorted(glob(".jido_code/*", root, policy=OWNER)) == [".jido_code/new.json", ".jido_code/other.json"]
    assert sorted(glob("cfg/*", root, policy=OWNER)) == ["cfg/new.json", "cfg/other.json"]
    assert glob("cfg/settings.json", root, policy=OWNER) == []


def test_policy_must_be_a_policy(root: Path) -> None:
    with pytest.raises(TypeError):
        read_file("x", root, policy="owner")  # type: ignore[arg-type]
    custom = Policy("strict", protected_dirs=frozenset({"private"}))
    (root / "private").mkdir()
    assert refusal(list_dir, "private", root, policy=custom) == "protected_path"


# --- list_dir -----------------------------------------------------------------------


def test_list_dir_sorting_and_types(root: Path) -> None:
    for name in ["b.txt", "a.txt", "Z.md"]:
        (root / name).write_text("")
    for name in ["zdir", "adir"]:
        (root / name).mkdir()
    (root / "link").symlink_to("a.txt")
    assert list_dir("", root) == [
        {"name": "adir", "type": "directory"},
        {"name": "zdir", "type": "directory"},
        {"name": "Z.md", "type": "file"},
        {"name": "a.txt", "type": "file"},
        {"name": "b.txt", "type": "file"},
        {"name": "link", "type": "symlink"},
    ]
    assert list_dir(".", root) == list_dir("", root) == list_dir(str(root), root)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.text("abAB_.-é1", min_size=1, max_size=4).filter(lambda n: n not in (".", "..")), st.booleans())
)
def test_list_dir_puts_directories_first_then_orders_by_name(entries: dict[str, bool]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        for name, is_dir in entries.items():
            (root / name).mkdir() if is_dir else (root / name).touch()
        expected = sorted((not is_dir, name) for name, is_dir in entries.items())
        assert list_dir(".", root) == [
            {"name": name, "type": "file" if not_dir else "directory"} for not_dir, name in expected
        ]


def test_list_dir_ignore_patterns(root: Path) -> None:
    for name in ["main.ex", "debug.log", "test_1", "test_22", "a.b"]:
        (root / name).write_text("")
    names = [e["name"] for e in list_dir(".", root, ignore_patterns=["*.log", "test_?", "a.b"])]
    assert names == ["main.ex", "test_22"]
    names = [e["name"] for e in list_dir(".", root, ignore_patterns=["a?b"])]
    assert names == ["debug.log", "main.ex", "test_1", "test_22"]


def test_list_dir_cases(root: Path, outside: Path) -> None:
    (root / "empty").mkdir()
    (root / "src").mkdir()
    (root / "src" / "main.ex").write_text("")
    (root / "src" / "helper.ex").write_text("")
    (root / "file.txt").write_text("")
    (root / "srclink").symlink_to("src")
    (root / "out").symlink_to(outside)
    assert list_dir("empty", root) == []
    assert [e["name"] for e in list_dir("src", root)] == ["helper.ex", "main.ex"]
    assert [e["name"] for e in list_dir("srclink", root)] == ["helper.ex", "main.ex"]
    with pytest.raises(NotADirectory) as info:
        list_dir("file.txt", root)
    assert str(info.value) == "Not a directory: file.txt"
    with pytest.raises(FileNotFound):
        list_dir("missing", root)
    assert refusal(list_dir, "../..", root) == "path_escapes_boundary"
    assert refusal(list_dir, "out", root) == "symlink_escapes_boundary"


# --- glob ---------------------------------------------------------------------------


@pytest.fixture
def tree(root: Path, outside: Path) -> Path:
    files = {
        "lib/a.ex": 100,
        "lib/b.exs": 200,
        "lib/nested/c.ex": 300,
        "test/a_test.exs": 400,
        "README.md": 500,
        "x1.txt": 600,
        "x22.txt": 700,
        ".hidden.ex": 800,
        ".git/HEAD.ex": 900,
    }
    for name, mtime in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        os.utime(path, (mtime, mtime))
    (root / "out").symlink_to(outside)
    (outside / "evil.ex").write_text("x")
    (root / "lib" / "escape.ex").symlink_to(outside / "evil.ex")
    (root / "lib" / "alias.ex").symlink_to("a.ex")
    for name, mtime in {"lib/nested": 40, "lib": 50, "test": 60}.items():
        os.utime(root / name, (mtime, mtime))
    return root


def test_glob_patterns(tree: Path) -> None:
    # newest first; a symlink counts with its target's time; ties by path
    assert glob("**/*.ex", tree) == ["lib/nested/c.ex", "lib/a.ex", "lib/alias.ex"]
    assert glob("lib/*.ex", tree) == ["lib/a.ex", "lib/alias.ex"]
    assert glob("**/*.{ex,exs}", tree) == [
        "test/a_test.exs", "lib/nested/c.ex", "lib/b.exs", "lib/a.ex", "lib/alias.ex"
    ]  # fmt: skip
    assert glob("x?.txt", tree) == ["x1.txt"]
    assert glob("x*.txt", tree) == ["x22.txt", "x1.txt"]
    assert glob("{lib,test}/{a,b}*", tree) == ["test/a_test.exs", "lib/b.exs", "lib/a.ex", "lib/alias.ex"]
    assert glob("*.ex", tree, base="lib") == ["lib/a.ex", "lib/alias.ex"]
    assert glob("**/c.ex", tree, base="lib") == ["lib/nested/c.ex"]
    assert glob("nested/../*.exs", tree, base="lib") == ["lib/b.exs"]
    assert glob("*", tree) == ["x22.txt", "x1.txt", "README.md", "test", "lib"]
    assert glob("**", tree)[:3] == ["x22.txt", "x1.txt", "README.md"]
    assert len(glob("**", tree)) == len(set(glob("**", tree))) == 11
    assert glob(str(tree / "lib" / "*.exs"), tree) == ["lib/b.exs"]
    assert glob("nothing*", tree) == []


def test_glob_newest_first(tree: Path) -> None:
    os.utime(tree / "x1.txt", (5000, 5000))
    assert glob("x*.txt", tree) == ["x1.txt", "x22.txt"]


def test_glob_dotfiles(tree: Path) -> None:
    assert ".hidden.ex" not in glob("*", tree)
    assert not [p for p in glob("**/*", tree) if "/." in "/" + p]
    assert glob(".hidden*", tree) == [".hidden.ex"]
    assert glob(".git/*", tree) == [".git/HEAD.ex"]


def test_glob_is_confined(tree: Path, outside: Path) -> None:
    assert all(not p.startswith("out") for p in glob("**/*", tree))
    assert "lib/escape.ex" not in glob("lib/*", tree)
    assert glob("out/*", tree) == []
    assert refusal(glob, "../*", tree) == "path_escapes_boundary"
    assert refusal(glob, "lib/../../*", tree) == "path_escapes_boundary"
    assert refusal(glob, str(outside / "*"), tree) == "path_outside_boundary"
    assert refusal(glob, "*", tree, base="../outside") == "path_escapes_boundary"
    assert refusal(glob, "*", tree, base="out") == "symlink_escapes_boundary"
    with pytest.raises(FileNotFound) as info:
        glob("*", tree, base="missing")
    assert str(info.value) == "File not found: missing"
    with pytest.raises(NotADirectory):
        glob("*", tree, base="README.md")
    assert refusal(glob, "a\x00b", tree) == "invalid_path"


def test_glob_follows_inside_directory_links_but_not_with_double_star(tree: Path) -> None:
    (tree / "liblink").symlink_to("lib")
    (tree / "lib" / "loop").symlink_to("..")
    assert glob("liblink/*.exs", tree) == ["liblink/b.exs"]
    assert "liblink/b.exs" not in glob("**/*.exs", tree)
    assert glob("lib/loop/lib/*.exs", tree) == ["lib/loop/lib/b.exs"]


def test_glob_braces_nested_and_limits(tree: Path) -> None:
    assert glob("lib/{a,{b,nested}}*", tree) == ["lib/b.exs", "lib/a.ex", "lib/alias.ex", "lib/nested"]
    assert glob("x{1}.txt", tree) == []  # no comma: a literal brace
    assert refusal(glob, "{a,b}" * 11, tree) == "invalid_path"
    started = time.monotonic()
    assert glob("{" * 2000 + "a,b" + "}" * 2000, tree) == []
    assert glob("{" * 4000, tree) == []
    (tree / "self").symlink_to(".")
    assert refusal(glob, "self/" * 300 + "*", tree) == "invalid_path"
    assert glob("self/" * 200 + "x1.txt", tree) == ["self/" * 200 + "x1.txt"]
    assert time.monotonic() - started < 10


# --- file_stat, file_exists, is_file, is_dir ----------------------------------------


def test_file_stat(root: Path) -> None:
    (root / "f.txt").write_text("12345")
    os.utime(root / "f.txt", (1609556645, 1609556645))
    assert file_stat("f.txt", root) == {
        "size": 5, "type": "regular", "access": "read_write", "mtime": "2021-01-02T03:04:05"
    }  # fmt: skip
    (root / "d").mkdir()
    assert file_stat("d", root)["type"] == "directory"
    assert file_stat(".", root)["type"] == "directory"
    (root / "l").symlink_to("f.txt")
    assert file_stat("l", root)["size"] == 5
    with pytest.raises(FileNotFound):
        file_stat("missing", root)


def test_existence_checks(root: Path, outside: Path) -> None:
    (root / "f.txt").write_text("x")
    (root / "d").mkdir()
    (root / "dl").symlink_to("d")
    (root / "fl").symlink_to("f.txt")
    (root / "dangling").symlink_to("nowhere")
    (root / "out").symlink_to(outside / "secret.txt")
    assert file_exists("f.txt", root) and file_exists("d", root) and file_exists("", root)
    assert not file_exists("missing.txt", root)
    assert not file_exists("missing/deeper.txt", root)
    assert not file_exists("f.txt/x", root)
    assert not file_exists("dangling", root)
    assert is_file("f.txt", root) and is_file("fl", root) and not is_file("d", root) and not is_file("nope", root)
    assert is_dir("d", root) and is_dir("dl", root) and is_dir(".", root) and not is_dir("f.txt", root)
    for func in (file_exists, is_file, is_dir):
        assert refusal(func, "out", root) == "symlink_escapes_boundary"
        assert refusal(func, "../outside", root) == "path_escapes_boundary"


# --- delete_file, mkdir_p -----------------------------------------------------------


def test_delete_file(root: Path, outside: Path) -> None:
    (root / "f.txt").write_text("x")
    (root / "d").mkdir()
    (root / "target.txt").write_text("kept")
    (root / "link").symlink_to("target.txt")
    (root / "out").symlink_to(outside / "secret.txt")
    delete_file("f.txt", root)
    assert not (root / "f.txt").exists()
    delete_file("link", root)
    assert not (root / "link").is_symlink() and (root / "target.txt").read_text() == "kept"
    with pytest.raises(FileNotFound):
        delete_file("f.txt", root)
    with pytest.raises(IsADirectory):
        delete_file("d", root)
    with pytest.raises(IsADirectory):
        delete_file("", root)
    assert refusal(delete_file, "out", root) == "symlink_escapes_boundary"
    assert refusal(delete_file, "../outside/secret.txt", root) == "path_escapes_boundary"
    assert (outside / "secret.txt").read_text() == "SECRET"
    assert (root / "out").is_symlink()


def test_mkdir_p(root: Path, outside: Path) -> None:
    mkdir_p("a/b/c", root)
    assert (root / "a" / "b" / "c").is_dir()
    mkdir_p("a/b/c", root)
    mkdir_p(".", root)
    (root / "f.txt").write_text("x")
    with pytest.raises(FileExists) as info:
        mkdir_p("f.txt", root)
    assert str(info.value) == "File exists and is not a directory: f.txt"
    with pytest.raises(NotADirectory):
        mkdir_p("f.txt/sub", root)
    (root / "alink").symlink_to("a")
    mkdir_p("alink/x/y", root)
    assert (root / "a" / "x" / "y").is_dir()
    before = snapshot(outside)
    (root / "out").symlink_to(outside)
    assert refusal(mkdir_p, "out/new/deeper", root) == "symlink_escapes_boundary"
    assert refusal(mkdir_p, "../escape", root) == "path_escapes_boundary"
    assert snapshot(outside) == before


# --- Permissions (a child process without root's privileges) --------------------------


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A project in a directory the unprivileged user can traverse."""
    base = Path(tempfile.mkdtemp(prefix="jido-perm-"))
    os.chmod(base, 0o755)
    project = base / "proj"
    project.mkdir()
    os.chmod(project, 0o777)
    try:
        yield project
    finally:
        shutil.rmtree(base)


def run_unprivileged(root: Path, calls: list[str]) -> list[str]:
    """Evaluate each call (an expression using the security API and ``root``) as
    uid/gid 65534; returns ``"ok:<repr>"`` or ``"<ErrorClass>:<message>"`` per call."""
    script = f"""
import json, os
from jido_kernel.security import *
from jido_kernel.security import openat2
openat2.ENABLED = {openat2.ENABLED!r}
root = {str(root)!r}
os.setgroups([]); os.setgid(65534); os.setuid(65534)
out = []
for call in json.loads({json.dumps(json.dumps(calls))}):
    try:
        out.append("ok:" + repr(eval(call)))
    except Exception as exc:
        out.append(type(exc).__name__ + ":" + str(exc) + ":" + ",".join(
            base.__name__ for base in (PermissionError, FileOpError) if isinstance(exc, base)))
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_permission_denied(shared_root: Path) -> None:
    secret = shared_root / "secret.txt"
    secret.write_text("write-only")
    os.chmod(secret, 0o200)
    readonly = shared_root / "readonly.txt"
    readonly.write_text("keep")
    os.chmod(readonly, 0o444)
    (shared_root / "locked").mkdir(mode=0o555)
    (shared_root / "private").mkdir(mode=0o700)
    none = shared_root / "none.txt"
    none.write_text("")
    os.chmod(none, 0o000)
    for owned in (secret, readonly, none):  # owner bits then apply to the unprivileged user
        os.chown(owned, 65534, 65534)
    results = run_unprivileged(
        shared_root,
        [
            "read_file('secret.txt', root)",
            "write_file('readonly.txt', root, 'changed')",
            "write_file('locked/new.txt', root, 'x')",
            "list_dir('private', root)",
            "read_file('private/x', root)",
            "file_stat('secret.txt', root)['access']",
            "file_stat('readonly.txt', root)['access']",
            "file_stat('none.txt', root)['access']",
            "write_file('ok.txt', root, 'fine')",
        ],
    )
    permission = ":PermissionError,FileOpError"
    assert results == [
        "PermissionDenied:Permission denied: secret.txt" + permission,
        "PermissionDenied:Permission denied: readonly.txt" + permission,
        "PermissionDenied:Permission denied: locked/new.txt" + permission,
        "PermissionDenied:Permission denied: private" + permission,
        "PermissionDenied:Permission denied: private/x" + permission,
        "ok:'write'",
        "ok:'read'",
        "ok:'none'",
        "ok:None",
    ]
    assert readonly.read_text() == "keep"
    assert (shared_root / "ok.txt").read_text() == "fine"
    assert not list((shared_root / "locked").iterdir())


# --- Error types --------------------------------------------------------------------


def test_error_hierarchy() -> None:
    for cls, builtin in [
        (FileNotFound, FileNotFoundError),
        (IsADirectory, IsADirectoryError),
        (NotADirectory, NotADirectoryError),
        (PermissionDenied, PermissionError),
        (FileExists, FileExistsError),
        (BinaryFile, ValueError),
        (FileTooLarge, ValueError),
    ]:
        assert issubclass(cls, builtin) and issubclass(cls, FileOpError) and issubclass(cls, JidoError)
    assert not issubclass(SecurityError, OSError) and issubclass(SecurityError, JidoError)
    error = PermissionDenied("a b")
    assert str(error) == "Permission denied: a b" and error.reason == "permission_denied" and error.path == "a b"
    assert error._render_traceback_() == ["\x1b[0;31mPermissionDenied\x1b[0m: a b"]


def test_concurrent_writers_leave_a_whole_file(root: Path) -> None:
    contents = [bytes([65 + n]) * 200_000 for n in range(4)]
    errors: list[BaseException] = []

    def writer(data: bytes) -> None:
        try:
            for _ in range(15):
                write_file("shared.bin", root, data)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(c,)) for c in contents]
    for thread in threads:
        thread.start()
    for _ in range(50):
        with contextlib.suppress(FileNotFound):
            assert read_bytes("shared.bin", root) in contents
    for thread in threads:
        thread.join()
    assert errors == []
    assert (root / "shared.bin").read_bytes() in contents
    assert not [p for p in root.iterdir() if p.name.startswith(".jido-tmp-")]

"""``read_file`` under hostile input: windows at and past their bounds, odd line endings,
text that is not UTF-8, very long lines, special files and links, and files that change
size while read. Lua's ``jido.read_file`` gives the same text as the library, every
refusal is one clear error, and no read hangs or does more than linear work.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jido_kernel import security
from jido_kernel.lua import LuaSandbox
from jido_kernel.security import fileops
from jido_kernel.security.lines import line_window, number_lines
from jido_kernel.security.policy import SANDBOX


def numbered(lines: list[str], first: int = 1, width: int = 6) -> str:
    """The agent format of ``lines`` numbered from ``first``, the reference form."""
    return "\n".join(f"{number:>{width}}→{line}" for number, line in enumerate(lines, first))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reads").resolve()
    (root / "five.txt").write_text("a\nb\nc\nd\ne\n")
    (root / "crlf.txt").write_bytes(b"a\r\nb\rc\r\n\r\nd")
    (root / "cr.txt").write_bytes(b"a\rb\rc")
    (root / "bad.txt").write_bytes(b"ok \xff\xfe \xc3 end\n\xed\xa0\x80\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "newline.txt").write_bytes(b"\n")
    (root / "long.txt").write_text("x" * 1_000_000 + "\nshort\n")
    (root / "many.txt").write_text("".join(f"l{i}\n" for i in range(1, 300_001)))
    (root / "late_nul.txt").write_bytes(b"a" * 9000 + b"\0tail")
    (root / "nul.txt").write_bytes(b"a\0b")
    (root / "percent.txt").write_text("%s %d %%\n%(x)s\n")
    (root / "dir").mkdir()
    os.mkfifo(root / "fifo")
    os.symlink("five.txt", root / "link_in")
    os.symlink("/etc/hostname", root / "link_out")
    os.symlink("/dev/zero", root / "link_dev")
    os.symlink("fifo", root / "link_fifo")
    os.symlink("dir", root / "link_dir")
    os.symlink("loop_b", root / "loop_a")
    os.symlink("loop_a", root / "loop_b")
    return root


@pytest.fixture(scope="module")
def lua(tree: Path) -> Iterator[LuaSandbox]:
    sandbox = LuaSandbox(tree, timeout=20)
    yield sandbox
    sandbox.close()


def lua_read(lua: LuaSandbox, path: str, options: str = "nil") -> tuple[Any, Any]:
    value, message = ([*lua.run(f"return jido.read_file({path!r}, {options})").values, None, None])[:2]
    return value, message


@pytest.mark.parametrize(
    ("offset", "limit", "first", "count"),
    [
        (None, None, 1, 5),
        (0, None, 1, 5),
        (-7, 2, 1, 2),
        (1, 0, 1, 0),
        (5, None, 5, 1),
        (5, 1, 5, 1),
        (6, None, 6, 0),
        (2**62, 2**62, 0, 0),
        (2, 2**62, 2, 4),
    ],
)
def test_windows_at_and_past_the_bounds(tree: Path, offset: Any, limit: Any, first: int, count: int) -> None:
    lines = ["a", "b", "c", "d", "e"]
    text = security.read_file("five.txt", tree, offset=offset, limit=limit, numbered=True)
    window = lines[first - 1 : first - 1 + count] if count else []
    assert text == numbered(window, first)
    raw = security.read_file("five.txt", tree, offset=offset, limit=limit)
    assert raw == "".join(line + "\n" for line in window) or (offset is None and limit is None)


def test_the_library_refuses_unusable_windows(tree: Path) -> None:
    with pytest.raises(ValueError):
        security.read_file("five.txt", tree, limit=-1)
    with pytest.raises(TypeError):
        security.read_file("five.txt", tree, offset=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("{offset = -1}", "offset must be a non-negative integer"),
        ("{offset = 1.5}", "offset must be a non-negative integer"),
        ("{offset = 0/0}", "offset must be a non-negative integer"),
        ("{offset = 1/0}", "offset must be a non-negative integer"),
        ("{limit = -1}", "limit must be a non-negative integer"),
        ("{limit = '3'}", "limit must be a non-negative integer"),
        ("{limit = true}", "limit must be a non-negative integer"),
        ("{raw = 1}", "raw must be a boolean"),
    ],
)
def test_lua_gets_one_clear_error_for_unusable_options(lua: LuaSandbox, options: str, problem: str) -> None:
    value, message = lua_read(lua, "five.txt", options)
    assert value is None and problem in message and "\n" not in message


def test_huge_offsets_from_lua_give_nothing_at_once(lua: LuaSandbox) -> None:
    started = time.monotonic()
    assert lua_read(lua, "five.txt", "{offset = 1e308}")[0] == ""
    assert lua_read(lua, "five.txt", "{offset = math.maxinteger, limit = math.maxinteger}")[0] == ""
    assert lua_read(lua, "five.txt", "{offset = 3, limit = math.maxinteger, raw = true}")[0] == "c\nd\ne\n"
    assert time.monotonic() - started < 2


def test_line_endings(tree: Path, lua: LuaSandbox) -> None:
    # \r\n ends a line, a lone \r does not (numbered); raw windows split at \n only
    assert security.read_file("crlf.txt", tree, numbered=True) == numbered(["a", "b\rc", "", "d"])
    assert lua_read(lua, "crlf.txt")[0] == numbered(["a", "b\rc", "", "d"])
    assert lua_read(lua, "crlf.txt", "{raw = true}")[0] == "a\r\nb\rc\r\n\r\nd"
    assert lua_read(lua, "crlf.txt", "{raw = true, offset = 2, limit = 2}")[0] == "b\rc\r\n\r\n"
    assert lua_read(lua, "cr.txt")[0] == numbered(["a\rb\rc"])
    assert lua_read(lua, "empty.txt")[0] == numbered([""])
    assert lua_read(lua, "newline.txt")[0] == numbered([""])
    assert lua_read(lua, "empty.txt", "{raw = true}")[0] == ""


def test_text_that_is_not_utf8_is_replaced(lua: LuaSandbox) -> None:
    text = lua_read(lua, "bad.txt")[0]
    assert text == numbered(["ok \ufffd\ufffd \ufffd end", "\ufffd\ufffd\ufffd"])
    assert lua_read(lua, "percent.txt")[0] == numbered(["%s %d %%", "%(x)s"])


def test_binary_files_are_refused_by_their_first_bytes_only(lua: LuaSandbox) -> None:
    value, message = lua_read(lua, "nul.txt")
    assert value is None and "binary" in message.lower()
    value, _ = lua_read(lua, "late_nul.txt", "{raw = true}")
    assert isinstance(value, str) and value.endswith("\x00tail")


def test_long_lines_and_long_files_are_cut_quickly(lua: LuaSandbox) -> None:
    started = time.monotonic()
    text = lua_read(lua, "long.txt")[0]
    assert text == numbered(["x" * 2000 + " [truncated]", "short"])
    tail = lua_read(lua, "many.txt", "{offset = 299999}")[0]
    assert tail == numbered(["l299999", "l300000"], 299_999)
    head = lua_read(lua, "many.txt")[0]
    assert head.count("\n") == 1999 and head.endswith("  2000→l2000")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "name",
    ["fifo", "link_fifo", "link_out", "link_dev", "dir", "link_dir", "loop_a", "../outside", "/etc/passwd"],
)
def test_special_files_and_links_out_of_the_root_are_refused_at_once(lua: LuaSandbox, name: str) -> None:
    started = time.monotonic()
    value, message = lua_read(lua, name)
    assert value is None and isinstance(message, str) and "\n" not in message
    assert time.monotonic() - started < 5


def test_a_link_inside_the_root_is_read(lua: LuaSandbox) -> None:
    assert lua_read(lua, "link_in", "{raw = true}")[0] == "a\nb\nc\nd\ne\n"


@pytest.fixture
def grown(tmp_path: Path) -> Iterator[tuple[int, os.stat_result]]:
    """A descriptor of a 3 MB file, and the size taken before it grew (1 byte)."""
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"x")
    big.write_bytes(b"y" * 3_000_000)
    fd = os.open(big, os.O_RDONLY)
    try:
        yield fd, os.stat(small)
    finally:
        os.close(fd)


def test_a_file_that_grew_after_its_size_was_taken_is_read_whole_in_blocks(grown: tuple[int, os.stat_result]) -> None:
    started = time.monotonic()
    data = fileops._read_fd(*grown, "big", SANDBOX, 10_000_000)
    assert len(data) == 3_000_000 and time.monotonic() - started < 2


def test_a_file_that_grew_past_the_bound_is_refused(grown: tuple[int, os.stat_result]) -> None:
    with pytest.raises(security.FileTooLarge):
        fileops._read_fd(*grown, "big", SANDBOX, 1_000_000)


def test_a_file_that_shrank_after_its_size_was_taken_is_read_as_it_is(tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"x" * 100)
    big.write_bytes(b"y" * 3_000_000)
    fd = os.open(small, os.O_RDONLY)
    try:
        assert fileops._read_fd(fd, os.stat(big), "small", SANDBOX, 10_000_000) == b"x" * 100
    finally:
        os.close(fd)


def test_a_file_past_the_size_bound_is_refused_from_lua(tree: Path) -> None:
    sandbox = LuaSandbox(tree, timeout=20, max_file_size=100_000)
    try:
        value, message = lua_read(sandbox, "long.txt")
        assert value is None and "large" in message.lower()
    finally:
        sandbox.close()


def _reference_numbered(text: str, offset: int | None, limit: int | None) -> str:
    start = max(0, (offset if offset is not None else 1) - 1)
    count = 2000 if limit is None else limit
    lines = re.split(r"\r?\n", text)
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    width = max(6, len(str(len(lines))))
    shown = []
    for index in range(start, min(len(lines), start + count)):
        line = lines[index] if len(lines[index]) <= 2000 else lines[index][:2000] + " [truncated]"
        shown.append(f"{index + 1:>{width}}→{line}")
    return "\n".join(shown)


def test_numbered_windows_match_the_reference_on_odd_texts() -> None:
    rng = random.Random(7)
    pieces = ["a", "\r", "\n", "\r\n", "%", "%s", "x" * 2500, "\u2028", "\x85", "é", "\ufffd"]
    offsets = [None, -3, 0, 1, 2, 3, 5, 2000, 2001, 10**20]
    limits = [None, 0, 1, 2, 3, 2000, 10**20]
    for round_ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        if round_ % 50 == 0:
            text = "\n".join(["l"] * rng.randint(1990, 2010)) + rng.choice(["", "\n"])
        offset, limit = rng.choice(offsets), rng.choice(limits)
        assert number_lines(text, offset, limit) == _reference_numbered(text, offset, limit), (text, offset, limit)
        raw = "".join(re.findall(r"[^\n]*\n|[^\n]+", text)[max(0, (offset or 1) - 1) :][:limit])
        assert line_window(text, offset, limit) == (text if offset is None and limit is None else raw)


def test_a_name_that_is_not_utf8_does_not_break_listing_its_directory(project: Path) -> None:
    sandbox = LuaSandbox(project, timeout=20)
    try:
        assert sandbox.run("return jido.write_file('bad\\255.txt', 'x')").values == [True]
        for call in ("jido.list_dir('.')", "jido.glob('*')"):
            value, message = lua_read_call(sandbox, call)
            assert value is not None, message
    finally:
        sandbox.close()


def lua_read_call(lua: LuaSandbox, call: str) -> tuple[Any, Any]:
    value, message = ([*lua.run(f"return {call}").values, None, None])[:2]
    return value, message

"""How a Lua error shows its frames under the one-line message."""

from __future__ import annotations

from jido_kernel.lua.errors import MAX_FRAMES, LuaError, user_frames

FRAMES = [
    "[C]: in function 'error'",
    "<cell 3>:2: in upvalue 'parse'",
    "<cell 3>:5: in local 'run'",
    "<cell 3>:7: in main chunk",
    "[jido sandbox]:270: in function <[jido sandbox]:267>",
]


def error_with(frames: object, show: bool | None = None) -> LuaError:
    error = LuaError("<cell 3>:2: bad input")
    error.lua_traceback = frames  # type: ignore[attr-defined]
    error.show_traceback = show
    return error


def test_user_frames_only() -> None:
    assert user_frames(FRAMES) == FRAMES[1:4]
    assert user_frames("not a list") == []
    assert user_frames([1, None, "<cell 1>:1: in main chunk"]) == ["<cell 1>:1: in main chunk"]


def test_frames_under_the_message_by_default() -> None:
    lines = error_with(FRAMES)._render_traceback_()
    assert lines[0].endswith("<cell 3>:2: bad input")
    assert lines[1] == "Lua traceback (most recent call first):"
    assert lines[2:] == [
        "  <cell 3>:2: in upvalue 'parse'",
        "  <cell 3>:5: in local 'run'",
        "  <cell 3>:7: in main chunk",
    ]


def test_one_frame_or_no_traceback_is_one_line() -> None:
    assert len(error_with(FRAMES[:2])._render_traceback_()) == 1
    assert len(error_with(FRAMES, show=False)._render_traceback_()) == 1
    assert len(error_with(FRAMES[:2], show=True)._render_traceback_()) == 3
    assert len(LuaError("plain")._render_traceback_()) == 1


def test_frames_are_bounded_and_terminal_safe() -> None:
    many = [f"<cell 1>:{n}: in function 'f'\x1b[2J" for n in range(100)]
    lines = error_with(many)._render_traceback_()
    assert len(lines) == 2 + MAX_FRAMES + 1 and lines[-1] == f"  … {100 - MAX_FRAMES} more frames"
    assert not any("\x1b[2J" in line for line in lines)

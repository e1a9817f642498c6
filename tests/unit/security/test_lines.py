"""Line numbering: exactly the text's lines."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.security.lines import line_window, line_window_utf8, number_lines, number_lines_utf8


def test_a_final_newline_ends_the_last_line() -> None:
    assert number_lines("first\nsecond\n") == "     1→first\n     2→second"
    assert number_lines("first\nsecond") == "     1→first\n     2→second"
    assert number_lines("a\n\n") == "     1→a\n     2→"
    assert number_lines("") == "     1→" and number_lines("\n") == "     1→"


@given(st.lists(st.text(alphabet="ab \t", max_size=5), min_size=1, max_size=30), st.booleans())
def test_one_numbered_line_per_line(lines: list[str], final_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    assert len(number_lines(text).split("\n")) == max(1, len(text.splitlines()))


def reference(text: str, offset: int | None, limit: int | None) -> str:
    """The format spelled out line by line."""
    lines = re.split(r"\r?\n", text)
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    width = max(6, len(str(len(lines))))
    start = max(0, (offset if offset is not None else 1) - 1)
    stop = start + (2000 if limit is None else limit)
    out = []
    for number, line in enumerate(lines[start:stop], start + 1):
        shown = line[:2000] + " [truncated]" if len(line) > 2000 else line
        out.append(f"{number:>{width}}→{shown}")
    return "\n".join(out)


lines_text = st.lists(
    st.sampled_from(["", "a", "b c", "\t", "\r", "é→", "x" * 2000, "y" * 2001, "z" * 2500]), max_size=40
).flatmap(
    lambda parts: st.lists(st.sampled_from(["\n", "\r\n", "\r\r\n"]), min_size=len(parts), max_size=len(parts)).map(
        lambda ends: "".join(part + end for part, end in zip(parts, ends, strict=True))
    )
)


@settings(max_examples=300)
@given(
    lines_text,
    st.booleans(),
    st.none() | st.integers(-2, 45),
    st.none() | st.integers(0, 45),
)
def test_numbering_matches_the_format_line_by_line(
    text: str, cut_last_end: bool, offset: int | None, limit: int | None
) -> None:
    if cut_last_end:
        text = text.rstrip("\r\n")
    assert number_lines(text, offset, limit) == reference(text, offset, limit)


def test_numbers_past_the_first_window_and_wide_numbers() -> None:
    text = "".join(f"l{i}\n" for i in range(1, 3001))
    assert number_lines(text, 2999).split("\n") == ["  2999→l2999", "  3000→l3000"]
    assert number_lines(text, 1, 3000).split("\n")[-1] == "  3000→l3000"
    many = "\n" * 1_000_000
    assert number_lines(many, 999_999, 5) == " 999999→\n1000000→"


def test_percent_signs_and_format_fields_are_text() -> None:
    assert number_lines("100%\n%s %d %(x)s %%\n") == "     1→100%\n     2→%s %d %(x)s %%"
    for size in (1, 2, 3, 2000, 2, 1999, 1):  # numbered forms of several lengths, again and again
        text = "".join(f"%{index}\n" for index in range(size))
        assert number_lines(text) == reference(text, None, None)
        assert number_lines(text, 1, 1) == reference(text, 1, 1)


UTF8_PIECES = [b"", b"a", b"b c\n", b"\n", b"\r\n", b"\r", "é→\n".encode(), b"\xff\xfe", b"\xed\xa0\x80", b"\xe2\x86"]
UTF8_PIECES += [b"x" * 2000, b"y" * 2001 + b"\n", "é".encode() * 1001 + b"\n", b"%s%d\n", b"\n" * 1999, b"z" * 30000]
utf8_texts = st.lists(st.sampled_from(UTF8_PIECES), max_size=12).map(b"".join)


@settings(max_examples=300)
@given(utf8_texts, st.none() | st.integers(-1, 30), st.none() | st.integers(0, 30))
def test_utf8_numbering_is_the_numbered_text_encoded(data: bytes, offset: int | None, limit: int | None) -> None:
    expected = number_lines(data.decode("utf-8", "replace"), offset, limit).encode("utf-8")
    assert number_lines_utf8(data, offset, limit) == expected


@settings(max_examples=200)
@given(utf8_texts, st.none() | st.integers(-1, 30), st.none() | st.integers(0, 30))
def test_a_utf8_window_is_the_window_encoded(data: bytes, offset: int | None, limit: int | None) -> None:
    expected = line_window(data.decode("utf-8", "replace"), offset, limit).encode("utf-8")
    assert line_window_utf8(data, offset, limit) == expected

"""Line numbering: exactly the text's lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jido_kernel.security.lines import number_lines


def test_a_final_newline_ends_the_last_line() -> None:
    assert number_lines("first\nsecond\n") == "     1→first\n     2→second"
    assert number_lines("first\nsecond") == "     1→first\n     2→second"
    assert number_lines("a\n\n") == "     1→a\n     2→"
    assert number_lines("") == "     1→" and number_lines("\n") == "     1→"


@given(st.lists(st.text(alphabet="ab \t", max_size=5), min_size=1, max_size=30), st.booleans())
def test_one_numbered_line_per_line(lines: list[str], final_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    assert len(number_lines(text).split("\n")) == max(1, len(text.splitlines()))

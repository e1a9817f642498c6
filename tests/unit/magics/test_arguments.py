"""-h/--help on every magic."""

from __future__ import annotations

import pytest

from jido_kernel.magics.arguments import help_requested
from jido_kernel.magics.files import FileMagics


def magic(line: str) -> None:
    """%magic [--flag]

    Does a thing.
    """


@pytest.mark.parametrize("line", ["--help", "-h", "path -h", "'a b' --help"])
def test_help_prints_the_usage(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert help_requested(magic, line)
    assert capsys.readouterr().out == "%magic [--flag]\n\nDoes a thing.\n"


@pytest.mark.parametrize("line", ["", "x", "-- --help", "'--help", "--helpful"])
def test_anything_else_is_not_help(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not help_requested(magic, line)
    assert capsys.readouterr().out == ""


def test_magic_arguments_usage_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    assert help_requested(FileMagics.read_file, "--help")
    out = capsys.readouterr().out
    assert out.startswith("%read_file [--offset OFFSET] [--limit LIMIT] path") and "--offset" in out

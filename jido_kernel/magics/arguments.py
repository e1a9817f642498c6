"""Argument parsing shared by the magics."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Callable
from typing import Any

from IPython.utils.process import arg_split


def parse(magic: Callable[..., Any], line: str) -> Namespace:
    """Parse ``line`` with the magic's ``@magic_arguments`` parser, POSIX-style.

    IPython's ``parse_argstring`` keeps quotes (``'*.tmp'`` stays quoted); shell-style
    splitting lets users quote globs, JSON values and paths with spaces.
    """
    return magic.parser.parse_args(arg_split(line, posix=True))  # type: ignore[attr-defined]

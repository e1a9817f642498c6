"""Argument parsing shared by the magics, with ``-h``/``--help`` on every one."""

from __future__ import annotations

import inspect
from argparse import Namespace
from collections.abc import Callable
from typing import Any

from IPython.utils.process import arg_split

HELP = frozenset({"-h", "--help"})


def help_requested(magic: Callable[..., Any], line: str) -> bool:
    """Print the magic's usage and return ``True`` when ``line`` asks for help.

    Only the options before a lone ``--`` count, so ``%lua -- --help`` is Lua code.
    """
    try:
        words = arg_split(line, posix=True)
    except ValueError:  # an unbalanced quote: not a request for help
        return False
    if "--" in words:
        words = words[: words.index("--")]
    if HELP.isdisjoint(words):
        return False
    text = inspect.cleandoc(magic.__doc__ or f"%{magic.__name__}: no help available.")
    print(text.removeprefix("::").strip())
    return True


def parse(magic: Callable[..., Any], line: str) -> Namespace:
    """Parse ``line`` with the magic's ``@magic_arguments`` parser, POSIX-style.

    IPython's ``parse_argstring`` keeps quotes (``'*.tmp'`` stays quoted); shell-style
    splitting lets users quote globs, JSON values and paths with spaces.
    """
    return magic.parser.parse_args(arg_split(line, posix=True))  # type: ignore[attr-defined]

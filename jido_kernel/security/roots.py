"""Project roots: the given root resolved once, and a descriptor opened per operation."""

from __future__ import annotations

import functools
import os

from jido_kernel.security.errors import FileNotFound, NotADirectory, file_error
from jido_kernel.values import FrozenValue

_ROOT_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class Root(FrozenValue):
    """A project root: ``real`` is its realpath, ``given`` the lexical absolute form it
    was named by. Paths naming either form are inside; files are always reached
    through ``real``."""

    _fields = ("real", "given", "real_parts", "given_parts")
    __slots__ = _fields
    real: str
    given: str
    real_parts: tuple[str, ...]
    given_parts: tuple[str, ...]

    def __init__(self, real: str, given: str, real_parts: tuple[str, ...], given_parts: tuple[str, ...]) -> None:
        self._set(real, given, real_parts, given_parts)

    def join(self, parts: tuple[str, ...] | list[str]) -> str:
        """The absolute path of ``parts`` under the real root."""
        if not parts:
            return self.real
        return (self.real if self.real != "/" else "") + "/" + "/".join(parts)

    def relative(self, parts: list[str]) -> list[str] | None:
        """``parts`` (components of an absolute path) made relative to the root, or None."""
        for prefix in (self.real_parts, self.given_parts):
            if parts[: len(prefix)] == list(prefix):
                return parts[len(prefix) :]
        return None

    def __fspath__(self) -> str:
        """The root as it was given (a :class:`Root` is itself a valid ``root`` argument)."""
        return self.given

    def __hash__(self) -> int:  # type: ignore[override]
        return hash((self.real, self.given))  # the parts follow from the two paths

    def open(self) -> int:
        """An ``O_PATH`` descriptor of the root directory (the caller closes it)."""
        try:
            return os.open(self.real, _ROOT_FLAGS)
        except FileNotFoundError:
            raise FileNotFound(self.given) from None
        except NotADirectoryError:
            raise NotADirectory(self.given) from None
        except OSError as exc:
            raise file_error(exc, self.given) from None


def split(path: str) -> list[str]:
    """Components of ``path`` with empty and ``.`` components dropped (``..`` kept)."""
    return [p for p in path.split("/") if p and p != "."]


@functools.lru_cache(maxsize=256)
def _resolve(absolute: str) -> Root:
    given = os.path.normpath(absolute)
    if given.startswith("//"):
        given = "/" + given.lstrip("/")
    real = os.path.realpath(given)
    return Root(real, given, tuple(split(real)), tuple(split(given)))


def get_root(root: str | os.PathLike[str]) -> Root:
    """The :class:`Root` for ``root`` (a str or path; relative roots are made absolute)."""
    if type(root) is Root:
        return root
    text = os.fspath(root)
    if not isinstance(text, str):
        raise TypeError(f"project root must be a str or os.PathLike[str], not {type(text).__name__}")
    if "\0" in text or not text:
        raise ValueError(f"invalid project root: {text!r}")
    if not text.startswith("/"):
        text = os.path.abspath(text)
    return _resolve(text)

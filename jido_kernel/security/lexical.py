"""The lexical stage of validation: argument checks, URL-encoded traversal, and ``..``
collapsed against the root before anything touches the file system."""

from __future__ import annotations

import functools
import os

from jido_kernel.security.errors import Refusal
from jido_kernel.security.roots import Root

MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255

#: jido_code's URL-encoded traversal markers (matched case-insensitively).
URL_ENCODED_TRAVERSAL = (
    "%2e%2e%2f",
    "%2e%2e/",
    "..%2f",
    "%2e%2e\\",
    "..%5c",
    "%2e%2e%5c",
    "%252e%252e%252f",
    "%252e%252e/",
)


def _byte_len(text: str) -> int:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        raise Refusal("invalid_path", "not valid text") from None


def as_text(path: object) -> str:
    """``path`` as a str (``""`` means the root); refuses non-text, NUL and over-long input."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise Refusal("invalid_path", "not a string")
    if "\0" in path:
        raise Refusal("invalid_path", "contains a NUL byte")
    if _byte_len(path) > MAX_PATH_BYTES:
        raise Refusal("invalid_path", f"longer than {MAX_PATH_BYTES} bytes")
    if "%" in path:
        lowered = path.lower()
        if any(marker in lowered for marker in URL_ENCODED_TRAVERSAL):
            raise Refusal("path_escapes_boundary")
    return path


def parts_under(path: object, root: Root) -> list[str]:
    """Components of ``path`` relative to ``root`` after collapsing ``.`` and ``..``.

    Relative paths are joined to the root; absolute paths must name the root (its real
    or its given form) or something below it. Symlinks are not looked at here.
    """
    if type(path) is str:
        return list(_text_parts_under(path, root))
    return _parts_under(path, root)


@functools.lru_cache(maxsize=128)
def _text_parts_under(path: str, root: Root) -> tuple[str, ...]:
    """:func:`parts_under` of a ``str`` path, remembered: it depends on nothing else
    (a refusal raises each time). At most 128 paths of at most 4096 bytes are kept."""
    return tuple(_parts_under(path, root))


def _parts_under(path: object, root: Root) -> list[str]:
    text = as_text(path)
    raw = text.split("/")
    if len(text) > MAX_NAME_BYTES // 4:  # a shorter text cannot hold a name over 255 bytes
        for name in raw:
            if _byte_len(name) > MAX_NAME_BYTES:
                raise Refusal("invalid_path", f"a component is longer than {MAX_NAME_BYTES} bytes")
    absolute = text.startswith("/")
    if not absolute and ".." not in raw:
        return [name for name in raw if name and name != "."]
    stack: list[str] = [] if absolute else list(root.real_parts)
    for name in raw:
        if not name or name == ".":
            continue
        if name == "..":
            if stack:
                stack.pop()
            continue
        stack.append(name)
    relative = root.relative(stack)
    if relative is None:
        raise Refusal("path_outside_boundary" if absolute else "path_escapes_boundary")
    return relative


def walk_parts(path: object, root: Root) -> list[str]:
    """Components of ``path`` relative to ``root`` with ``..`` kept, for a resolution that
    follows ``..`` as the OS does (after a symlink it is the parent of the link's target).

    Call after :func:`parts_under` accepted ``path``. An absolute path keeps its ``..``
    only below the root's own prefix; otherwise its lexical form is the answer.
    """
    text = as_text(path)
    raw = [name for name in text.split("/") if name and name != "."]
    if not text.startswith("/"):
        return raw
    for prefix in (list(root.real_parts), list(root.given_parts)):
        if raw[: len(prefix)] == prefix:
            return raw[len(prefix) :]
    return parts_under(path, root)

"""The ``openat2`` call itself: what it opens, and what the confinement flags refuse."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jido_kernel.security import openat2

pytestmark = pytest.mark.skipif(not openat2.AVAILABLE, reason="openat2 is not usable on this kernel")


@pytest.fixture
def root_fd(tmp_path: Path) -> Iterator[int]:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "file.txt").write_text("inside\n")
    (tmp_path / "link").symlink_to("dir/file.txt")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_a_plain_path_below_the_directory_opens(root_fd: int) -> None:
    fd = openat2.openat2(root_fd, b"dir/file.txt", os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"inside\n"
        assert os.get_inheritable(fd) is False  # O_CLOEXEC
    finally:
        os.close(fd)
    os.close(openat2.openat2(root_fd, b"dir", os.O_PATH | os.O_DIRECTORY))


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (b"link", errno.ELOOP),  # no symlink is followed, in-root ones neither
        (b"..", errno.EXDEV),  # nothing above the directory
        (b"dir/../../etc/passwd", errno.EXDEV),
        (b"/etc/passwd", errno.EXDEV),  # nor an absolute path
        (b"/proc/self/root", errno.EXDEV),
        (b"missing", errno.ENOENT),
    ],
)
def test_escapes_and_links_are_refused(root_fd: int, path: bytes, code: int) -> None:
    with pytest.raises(OSError) as caught:
        os.close(openat2.openat2(root_fd, path, os.O_RDONLY))
    assert caught.value.errno == code


def test_the_path_must_be_bytes_and_the_descriptor_an_int(root_fd: int) -> None:
    # Passed to ctypes without declared types: a str would go as a wide string, a float as a double.
    with pytest.raises(TypeError):
        openat2.openat2(root_fd, "dir/file.txt", os.O_RDONLY)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        openat2.openat2(float(root_fd), b"dir/file.txt", os.O_RDONLY)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        openat2.openat2(root_fd, bytearray(b"dir/file.txt"), os.O_RDONLY)  # type: ignore[arg-type]

"""Run a program as in a Docker or Podman container with the default seccomp profile.

``python -P container_helpers.py PROGRAM ARGS...`` installs a seccomp filter (libseccomp,
through pyseccomp) that refuses namespace creation as those profiles do for an
unprivileged container, then executes PROGRAM; the filter is inherited by everything it
starts (the kernel, its Lua worker, the worker's commands):

- ``unshare`` and ``setns``: ``EPERM``;
- ``clone`` with any ``CLONE_NEW*`` flag: ``EPERM`` (plain ``clone``, threads and
  ``fork`` still work);
- ``clone3``: ``ENOSYS`` (its flags are in memory, out of a filter's reach), so C
  libraries fall back to ``clone``.

Landlock stays available, as in those profiles; ``JIDO_KERNEL_DISABLE_LANDLOCK=1`` in the
environment stands for a runtime without it (gVisor).
"""

from __future__ import annotations

import errno
import os
import sys

CLONE_NEW_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
    "CLONE_NEWTIME": 0x00000080,
}


def install_filter() -> None:
    """Refuse namespace creation in this process and everything it starts."""
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in ("unshare", "setns"):
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in CLONE_NEW_FLAGS.values():
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.load()


if __name__ == "__main__":
    install_filter()
    os.execv(sys.argv[1], sys.argv[1:])

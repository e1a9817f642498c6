"""Operation policies: what a caller may do inside the project root.

Every policy confines paths to the root and protects ``.jido_code/settings.json`` at
any depth. :data:`SANDBOX` (untrusted Lua and tool callers, the default everywhere)
adds the sandbox rules; :data:`OWNER` (the notebook owner's magics) keeps only the
common ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SETTINGS_DIR = ".jido_code"
SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class Policy:
    """The rules one class of caller is held to.

    ``protected_dirs``: directory names that may not be read, listed or written at
    any depth (``protected_path``). ``read_only_dirs``: directory names whose contents
    may be read but not written, deleted or created (``read_only_path``).
    ``refuse_hardlinks``: refuse regular files with more than one hard link
    (``hardlinked_file``). ``refuse_special_files``: refuse FIFOs, sockets and devices
    without blocking (``not_regular_file``).
    """

    name: str
    protected_dirs: frozenset[str] = frozenset()
    read_only_dirs: frozenset[str] = frozenset()
    refuse_hardlinks: bool = False
    refuse_special_files: bool = False

    def refusal(self, parts: Sequence[str], *, write: bool) -> str | None:
        """The reason a resolved path (components under the root) is refused, if any."""
        if is_settings_file(parts):
            return "protected_settings_file"
        if self.protected_dirs and not self.protected_dirs.isdisjoint(parts):
            return "protected_path"
        if write and self.read_only_dirs and not self.read_only_dirs.isdisjoint(parts):
            return "read_only_path"
        return None

    def entering(self, name: str, rest: Sequence[str], *, write: bool) -> str | None:
        """The reason stepping into directory ``name`` (with ``rest`` still to walk) is refused."""
        if name in self.protected_dirs:
            if name == SETTINGS_DIR and list(rest) == [SETTINGS_FILE]:
                return "protected_settings_file"
            return "protected_path"
        if write and name in self.read_only_dirs:
            return "read_only_path"
        return None


def is_settings_file(parts: Sequence[str]) -> bool:
    """True for ``.../.jido_code/settings.json`` at any depth."""
    return len(parts) >= 2 and parts[-1] == SETTINGS_FILE and parts[-2] == SETTINGS_DIR


OWNER = Policy("owner", refuse_special_files=True)  # a FIFO read would block the kernel
SANDBOX = Policy(
    "sandbox",
    protected_dirs=frozenset({SETTINGS_DIR}),
    read_only_dirs=frozenset({".git"}),
    refuse_hardlinks=True,
    refuse_special_files=True,
)

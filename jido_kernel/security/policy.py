"""Operation policies: what a caller may do inside the project root.

Every policy confines paths to the root and protects ``.jido_code/settings.json`` at
any depth. :data:`SANDBOX` (untrusted Lua and tool callers, the default everywhere)
adds the sandbox rules; :data:`OWNER` (the notebook owner's magics) keeps only the
common ones.

Files Lua writes are data: under :data:`SANDBOX`, no write may create or change a name
that a trusted program would obey without review (:func:`trusted_name_refusal`): git's
repository layouts (``.git`` in any letter case, a ``HEAD`` that makes a folder a bare
repository), Mercurial's ``.hg`` and Bazaar's ``.bzr`` (their configuration runs
hooks), the settings directory, files trusted tools read as configuration from the
working directory (``.pdbrc``: pdb runs it on the owner's next ``%debug``), and
installed or compiled code (``__pycache__``, ``*.pyc``, native extension modules such
as ``*.so`` that Python imports in preference to the reviewed ``.py`` beside them,
``node_modules``, ``site-packages``, ``__pypackages__``, a virtual environment's
``pyvenv.cfg``, a conda environment's ``conda-meta``). A folder that holds one of
:data:`ENVIRONMENT_MARKERS` is an installed environment: writing anywhere below it is
refused too, which needs the file system (checked by the callers that walk directories).

The kernel's own debugger does not read ``.pdbrc`` from the working directory either
(see ``jido_kernel.kernel``), so the name rule and the debugger agree by construction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES

from jido_kernel.security.roots import split
from jido_kernel.values import FrozenValue

PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
"""The real folder this package is imported from."""
SETTINGS_DIR = ".jido_code"
SETTINGS_FILE = "settings.json"
VENV_MARKER = "pyvenv.cfg"
"""A folder holding this file is a virtual environment: its tree is installed code."""
CONDA_MARKER = "conda-meta"
"""A folder holding this directory is a conda environment: its tree is installed code."""
ENVIRONMENT_MARKERS: tuple[str, ...] = (VENV_MARKER, CONDA_MARKER)
"""Names (files or folders) that make the folder holding them an installed environment."""

TRUSTED_DIRS: dict[str, str] = {
    ".git": "git_metadata",
    ".hg": "git_metadata",  # Mercurial: .hg/hgrc hooks run on the owner's next hg command
    ".bzr": "git_metadata",  # Bazaar / Breezy: branch configuration and plugins
    SETTINGS_DIR: "protected_path",
    "__pycache__": "installed_code",
    "node_modules": "installed_code",
    "site-packages": "installed_code",
    "dist-packages": "installed_code",
    "__pypackages__": "installed_code",  # PEP 582 local packages
    CONDA_MARKER: "installed_code",
}
"""Component names (compared case-insensitively) that sandboxed writes may never create,
enter or change, with the reason each refusal carries."""

TRUSTED_FILES: dict[str, str] = {
    "HEAD": "git_metadata",  # with objects/ and refs/ it makes a folder a bare repository
    VENV_MARKER: "installed_code",
    ".pdbrc": "trusted_config",  # pdb runs ./.pdbrc, and the kernel's cwd is the root
}
"""Final names (compared exactly, as git and Python do) that sandboxed writes may never
create or change."""

COMPILED_SUFFIXES: tuple[str, ...] = tuple(
    sorted({".pyc", ".pyo", ".so", ".pyd", *(suffix.lower() for suffix in EXTENSION_SUFFIXES)})
)
"""Python runs a matching compiled file (bytecode, or a native extension module such as
``mod.cpython-311-x86_64-linux-gnu.so`` or ``mod.abi3.so``) instead of the reviewed
source beside it."""


def trusted_name_refusal(parts: Sequence[str]) -> str | None:
    """The reason writing the path ``parts`` (components under the root) would create or
    change something a trusted program obeys, or None.

    Holds for every way a name comes into being: callers pass each name a write, copy,
    rename, link or backup would create, not only the arguments they were given.
    """
    for part in parts:
        reason = TRUSTED_DIRS.get(part.lower())
        if reason:
            return reason
    if parts:
        leaf = parts[-1]
        reason = TRUSTED_FILES.get(leaf)
        if reason:
            return reason
        if leaf.lower().endswith(COMPILED_SUFFIXES):
            return "installed_code"
    return None


class Policy(FrozenValue):
    """The rules one class of caller is held to.

    ``protected_dirs``: directory names that may not be read, listed or written at
    any depth (``protected_path``). ``read_only_dirs``: directory names whose contents
    may be read but not written, deleted or created (``read_only_path``).
    ``refuse_hardlinks``: refuse regular files with more than one hard link
    (``hardlinked_file``). ``refuse_special_files``: refuse FIFOs, sockets and devices
    without blocking (``not_regular_file``). ``config_paths``: root-relative paths (as
    component tuples) that a trusted program reads as configuration or runs, found per
    session (the repository's ``core.hooksPath``, ``include.path``…, see
    :func:`jido_kernel.commands.git.pin_git_dir`): with the trusted names protected, writing
    them or anything below them is refused (``trusted_config``). ``code_paths``: likewise
    for code every kernel and worker imports (:func:`own_code`), refused as
    ``installed_code``.
    """

    _fields = (
        "name",
        "protected_dirs",
        "read_only_dirs",
        "refuse_hardlinks",
        "refuse_special_files",
        "protect_trusted_names",
        "config_paths",
        "code_paths",
    )
    __slots__ = _fields
    name: str
    protected_dirs: frozenset[str]
    read_only_dirs: frozenset[str]
    refuse_hardlinks: bool
    refuse_special_files: bool
    protect_trusted_names: bool
    config_paths: frozenset[tuple[str, ...]]
    code_paths: frozenset[tuple[str, ...]]

    def __init__(
        self,
        name: str,
        protected_dirs: frozenset[str] = frozenset(),
        read_only_dirs: frozenset[str] = frozenset(),
        refuse_hardlinks: bool = False,
        refuse_special_files: bool = False,
        protect_trusted_names: bool = False,
        config_paths: frozenset[tuple[str, ...]] = frozenset(),
        code_paths: frozenset[tuple[str, ...]] = frozenset(),
    ) -> None:
        self._set(
            name,
            protected_dirs,
            read_only_dirs,
            refuse_hardlinks,
            refuse_special_files,
            protect_trusted_names,
            config_paths,
            code_paths,
        )

    def protecting(
        self, paths: frozenset[tuple[str, ...]] = frozenset(), *, code: frozenset[tuple[str, ...]] = frozenset()
    ) -> Policy:
        """This policy with ``paths`` added to :attr:`config_paths` and ``code`` to
        :attr:`code_paths`."""
        if not paths and not code:
            return self
        return self.replace(config_paths=self.config_paths | paths, code_paths=self.code_paths | code)

    def refusal(self, parts: Sequence[str], *, write: bool) -> str | None:
        """The reason a resolved path (components under the root) is refused, if any."""
        if is_settings_file(parts):
            return "protected_settings_file"
        if self.protected_dirs and not self.protected_dirs.isdisjoint(parts):
            return "protected_path"
        if write and self.read_only_dirs and not self.read_only_dirs.isdisjoint(parts):
            return "read_only_path"
        if write and self.protect_trusted_names:
            if self.config_paths and any(tuple(parts[: len(path)]) == path for path in self.config_paths):
                return "trusted_config"
            if self.code_paths and _below(parts, self.code_paths):
                return "installed_code"
            return trusted_name_refusal(parts)
        return None

    def entering(self, name: str, rest: Sequence[str], *, write: bool) -> str | None:
        """The reason stepping into directory ``name`` (with ``rest`` still to walk) is refused."""
        if name in self.protected_dirs:
            if name == SETTINGS_DIR and list(rest) == [SETTINGS_FILE]:
                return "protected_settings_file"
            return "protected_path"
        if write and name in self.read_only_dirs:
            return "read_only_path"
        if write and self.protect_trusted_names:
            return TRUSTED_DIRS.get(name.lower())
        return None

    def watches(self, name: str, *, write: bool) -> bool:
        """Whether stepping into ``name`` may be refused (see :meth:`entering`)."""
        if name in self.protected_dirs or (write and name in self.read_only_dirs):
            return True
        return write and self.protect_trusted_names and name.lower() in TRUSTED_DIRS

    def guards_installed_code(self, *, write: bool) -> bool:
        """Whether a write must also refuse every directory holding :data:`VENV_MARKER`."""
        return write and self.protect_trusted_names


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
    protect_trusted_names=True,
)


def own_code(root: str | os.PathLike[str], package: str = PACKAGE) -> frozenset[tuple[str, ...]]:
    """The real folder ``package`` (this package's) as components relative to the real
    ``root`` when it lies inside it (an editable install in the project): every kernel and
    worker imports its code at start, so it is never Lua's to write. ``{()}`` (the whole
    root) when the root is the package or a folder inside it; empty otherwise.

    Folders are compared in any letter case, as :meth:`Policy.refusal` compares the paths
    it gives: on a case-insensitive file system ``JIDO_KERNEL`` is the same folder."""
    folders = split(os.path.realpath(root))
    code = split(package)
    if _folded(folders[: len(code)]) == _folded(code):  # the root is the package or inside it
        return frozenset({()})
    if _folded(code[: len(folders)]) != _folded(folders):
        return frozenset()
    return frozenset({tuple(code[len(folders) :])})


def _folded(parts: Sequence[str]) -> tuple[str, ...]:
    return tuple(part.lower() for part in parts)


def _below(parts: Sequence[str], paths: frozenset[tuple[str, ...]]) -> bool:
    """True when ``parts`` is one of ``paths`` or below one, folders compared in any
    letter case (a case-insensitive file system takes ``SRC/Jido_Kernel`` for
    ``src/jido_kernel``, as it takes ``.GIT`` for ``.git``)."""
    folded = _folded(parts)
    return any(folded[: len(path)] == _folded(path) for path in paths)

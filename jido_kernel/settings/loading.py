"""Reading and merging the settings files (global under local)."""

from __future__ import annotations

import copy
import json
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from jido_kernel.settings.errors import SettingsError, SettingsWarning
from jido_kernel.settings.paths import FILE_NAME, global_path, local_path
from jido_kernel.settings.schema import SCHEMA, unknown_key, validate_value

Status = Literal["missing", "ok", "malformed", "unreadable"]


@dataclass(frozen=True)
class ReadResult:
    """What a settings file holds: ``data`` is empty unless ``status`` is ``"ok"``.

    ``error`` is the parse error (``malformed``: invalid JSON, not UTF-8, or not an
    object) or the OS error (``unreadable``).
    """

    path: Path
    status: Status
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def read_at(path: Path, dir_fd: int | None = None) -> ReadResult:
    """Read ``path``, or ``settings.json`` in the open directory ``dir_fd`` if given."""
    name = FILE_NAME if dir_fd is not None else path
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return ReadResult(path, "missing")
    except OSError as error:
        return ReadResult(path, "unreadable", error=error.strerror or str(error))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return ReadResult(path, "unreadable", error="not a regular file")
    with open(fd, "rb") as file:
        try:
            raw = file.read()
        except OSError as error:
            return ReadResult(path, "unreadable", error=error.strerror or str(error))
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError as error:
        return ReadResult(path, "malformed", error=str(error))
    except RecursionError:
        return ReadResult(path, "malformed", error="JSON nested too deeply")
    if not isinstance(data, dict):
        kind = _JSON_KINDS[type(data)]
        return ReadResult(path, "malformed", error=f"expected a JSON object, got {kind}")
    return ReadResult(path, "ok", data)


def read_file(path: str | os.PathLike[str]) -> ReadResult:
    """Read one settings file without validating its keys."""
    return read_at(Path(path))


class Source(NamedTuple):
    """Where a value comes from: ``scope`` is "global", "local" or "default"."""

    scope: str
    path: Path | None


class Effective(NamedTuple):
    """A value in effect and its :class:`Source`."""

    value: Any
    source: Source


@dataclass(frozen=True)
class Settings:
    """Merged, validated settings of a project (immutable; read from disk, never cached).

    ``values`` is a fresh copy of the merged dict, ``sources`` maps each set key to its
    :class:`Source`, ``problems`` lists what was ignored while loading.
    """

    _values: dict[str, Any] = field(repr=False)
    sources: Mapping[str, Source]
    problems: tuple[str, ...] = ()
    global_path: Path | None = None
    local_path: Path | None = None
    _layers: Mapping[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def values(self) -> dict[str, Any]:
        return copy.deepcopy(self._values)

    @property
    def global_values(self) -> dict[str, Any]:
        """The valid values of the global file alone (what the local file overrides)."""
        return copy.deepcopy(self._layers.get("global", {}))

    def get(self, key: str, default: Any = None) -> Any:
        """The value set for ``key`` in a file, else ``default``."""
        return copy.deepcopy(self._values[key]) if key in self._values else default

    def effective(self, key: str) -> Effective:
        """The value in effect for a schema key, falling back to the schema default."""
        if key not in SCHEMA:
            raise unknown_key(key)
        if key in self._values:
            return Effective(self.get(key), self.sources[key])
        return Effective(copy.deepcopy(SCHEMA[key].default), Source("default", None))

    def __repr__(self) -> str:
        return f"Settings({self._values!r}, problems={len(self.problems)})"


def _usable(result: ReadResult, problems: list[str]) -> dict[str, Any]:
    """The valid part of a file's content; every problem is warned about and recorded."""
    found: list[str] = []
    if result.status == "malformed":
        found.append(
            f"ignoring malformed settings file {result.path}: {result.error}; fix or "
            "remove it (saves refuse to overwrite it until then)"
        )
    elif result.status == "unreadable":
        found.append(f"ignoring unreadable settings file {result.path}: {result.error}")
    usable = {}
    for key, value in result.data.items():
        try:
            validate_value(key, value)
        except SettingsError as error:
            found.append(f"ignoring {key!r} in {result.path}: {error}")
        else:
            usable[key] = value
    for message in found:
        warnings.warn(SettingsWarning(message), stacklevel=4)
    problems.extend(found)
    return usable


def _settings(layers: list[tuple[str, Path]], *, global_file: Path | None, local_file: Path | None) -> Settings:
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    problems: list[str] = []
    by_scope: dict[str, dict[str, Any]] = {}
    for scope, path in layers:
        by_scope[scope] = _usable(read_at(path), problems)
        for key, value in by_scope[scope].items():
            if key == "models" and isinstance(values.get(key), dict):
                value = {**values[key], **value}
            values[key] = value
            sources[key] = Source(scope, path)
    return Settings(
        values,
        MappingProxyType(sources),
        tuple(problems),
        global_file,
        local_file,
        MappingProxyType(by_scope),
    )


def load_global() -> Settings:
    """Settings of the global file alone."""
    path = global_path()
    return _settings([("global", path)], global_file=path, local_file=None)


def load_local(root: str | os.PathLike[str]) -> Settings:
    """Settings of the project's local file alone."""
    path = local_path(root)
    return _settings([("local", path)], global_file=None, local_file=path)


def load(root: str | os.PathLike[str]) -> Settings:
    """Global settings with the project's local settings over them.

    ``models`` is merged one level deep. Missing files count as empty; a malformed file
    or an invalid key is ignored with a :class:`SettingsWarning` (also in ``problems``).
    """
    local, glob = local_path(root), global_path()
    return _settings([("global", glob), ("local", local)], global_file=glob, local_file=local)

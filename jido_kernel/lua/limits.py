"""``SandboxLimits``: every limit of a Lua run, where each value came from, and its wire form.

Built once in the kernel (traitlets configuration, then the settings files, then a
``%%lua`` flag), sent to the worker as the ``limits`` field of a run, and used there
as is by the runtime and the ``jido.*`` bridge. Light on imports: the worker reads it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.lua.errors import LuaValueError
from jido_kernel.values import FrozenValue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

MIB = 1024 * 1024
SOURCES = frozenset({"config", "global", "local", "flag"})
"""Where a value comes from: traitlets configuration (or its default), the global or the
project's settings file, or a flag of the cell (``%%lua --timeout``)."""

_NUMBERS: dict[str, type] = {
    "timeout": float,
    "max_memory": int,
    "shell_timeout": float,
    "max_file_size": int,
    "shell_max_output": int,
    "grace_period": float,
    "kernel_time": float,
}


class SandboxLimits(FrozenValue):
    """The limits of a Lua run: seconds, bytes and command names.

    ``sources`` maps each field to ``"config"``, ``"global"``, ``"local"`` or ``"flag"``
    (a field it leaves out is ``"config"``); ``notes`` say what a project's settings
    asked for that does not apply. Two limits are equal when their values are (sources
    and notes aside).
    """

    _fields = (*_NUMBERS, "shell_allowlist", "sources", "notes")
    __slots__ = _fields
    timeout: float
    max_memory: int
    shell_timeout: float
    shell_allowlist: tuple[str, ...]
    max_file_size: int
    shell_max_output: int
    grace_period: float
    kernel_time: float
    sources: Mapping[str, str]
    notes: tuple[str, ...]

    def __init__(
        self,
        timeout: float = 30.0,
        max_memory: int = 256 * MIB,
        shell_timeout: float = 25.0,
        shell_allowlist: tuple[str, ...] = DEFAULT_ALLOWLIST,
        max_file_size: int = 10_000_000,
        shell_max_output: int = MIB,
        grace_period: float = 2.0,
        kernel_time: float = 30.0,
        sources: Mapping[str, str] = MappingProxyType({}),
        notes: tuple[str, ...] = (),
    ) -> None:
        values = {
            "timeout": timeout, "max_memory": max_memory, "shell_timeout": shell_timeout,
            "max_file_size": max_file_size, "shell_max_output": shell_max_output,
            "grace_period": grace_period, "kernel_time": kernel_time,
        }  # fmt: skip
        numbers = []
        for name, kind in _NUMBERS.items():
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise LuaValueError(f"The Lua sandbox limit {name} must be a positive number, not {value!r}.")
            if kind is int and not isinstance(value, int) and not float(value).is_integer():
                raise LuaValueError(f"The Lua sandbox limit {name} must be a whole number, not {value!r}.")
            numbers.append(kind(value))
        if isinstance(shell_allowlist, str) or not all(isinstance(item, str) for item in shell_allowlist):
            raise LuaValueError("The Lua sandbox limit shell_allowlist must be a list of command names.")
        if not set(sources.values()) <= SOURCES or not set(sources) <= set(self.FIELDS):
            raise LuaValueError(f"Unknown limit sources: {dict(sources)!r}.")
        every = MappingProxyType({**dict.fromkeys(self.FIELDS, "config"), **sources})
        self._set(*numbers, tuple(shell_allowlist), every, tuple(notes))

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    SETTINGS_KEYS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"timeout": "lua_timeout", "max_memory": "lua_max_memory_mb", "shell_timeout": "shell_timeout",
         "shell_allowlist": "shell_allowlist"}
    )  # fmt: skip
    """Fields a settings file may set, and their settings keys."""

    FIELDS: ClassVar[tuple[str, ...]] = (*_NUMBERS, "shell_allowlist")

    @classmethod
    def configured(cls, config: Any) -> SandboxLimits:
        """The limits as ``config`` (an object with one attribute per field, such as a
        :class:`~jido_kernel.lua.sandbox.LuaSandbox` and its traits) sets them."""
        return cls(**{name: getattr(config, name) for name in cls.FIELDS})

    @property
    def values(self) -> dict[str, Any]:
        """The limits by field name."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def as_settings(self) -> dict[str, tuple[Any, str]]:
        """Settings key -> (value in the setting's unit, source), for the fields settings set."""
        shown = {**self.values, "max_memory": self.max_memory // MIB, "shell_allowlist": list(self.shell_allowlist)}
        return {key: (shown[name], self.sources[name]) for name, key in self.SETTINGS_KEYS.items()}

    def override(self, **flags: Any) -> SandboxLimits:
        """Apply a cell's explicit values (``None`` means "not given"; source ``"flag"``)."""
        given = {name: value for name, value in flags.items() if value is not None}
        unknown = given.keys() - set(self.FIELDS)
        if unknown:
            raise TypeError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        if not given:
            return self
        return self.replace(**given, sources={**self.sources, **dict.fromkeys(given, "flag")})

    def to_wire(self) -> dict[str, Any]:
        """The JSON form sent to the worker (values only)."""
        return {**self.values, "shell_allowlist": list(self.shell_allowlist)}

    @classmethod
    def from_wire(cls, data: Any) -> SandboxLimits:
        """The limits in a ``limits`` field; :class:`ValueError` unless it is exactly
        :meth:`to_wire`'s form with valid values."""
        if not isinstance(data, dict) or set(data) != set(cls.FIELDS):
            raise ValueError(f"limits must have exactly the fields {', '.join(cls.FIELDS)}")
        if not isinstance(data["shell_allowlist"], list):
            raise ValueError("limits.shell_allowlist must be a list of strings")
        try:
            return cls(**data)
        except LuaValueError as error:
            raise ValueError(str(error)) from None

"""Small value classes, without the cost of defining dataclasses.

Defining a dataclass generates and compiles its methods: about half a millisecond for a
frozen one, paid by the Lua worker at every start for each class it imports. A
:class:`Value` names its fields in ``_fields`` (in order; also its ``__slots__``) and
writes its ``__init__``; it gets what ``@dataclass`` would generate: ``repr``, ``==`` on
the fields (of the same class), and no hash. A :class:`FrozenValue` is also
immutable (assigning a field raises ``AttributeError``) and hashable; its ``__init__``
sets the fields with :meth:`_set`, and :meth:`replace` makes a changed copy.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, Self


class Value:
    """Fields named by ``_fields``; ``repr`` and ``==`` as a dataclass's."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable: unhashable, as a dataclass with eq


class FrozenValue(Value):
    """A :class:`Value` whose fields are set once, by ``__init__``; hashable."""

    __slots__ = ()

    def _set(self, *values: Any) -> None:
        """Set the fields, in ``_fields`` order (``__init__`` only)."""
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (fields by name), made by ``__init__`` as a new one is
        (so it is checked alike); ``__init__`` takes the fields as keywords."""
        return type(self)(**{**{name: getattr(self, name) for name in self._fields}, **changes})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a {type(self).__qualname__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a {type(self).__qualname__}")

    def __hash__(self) -> int:  # type: ignore[override]  # frozen: hashable again
        return hash(self._values())

"""Value and FrozenValue: what the worker's small classes get instead of ``@dataclass``."""

from __future__ import annotations

import pytest

from jido_kernel.values import FrozenValue, Value


class Point(FrozenValue):
    _fields = ("x", "y")
    __slots__ = _fields
    x: int
    y: int

    def __init__(self, x: int, y: int = 0) -> None:
        self._set(x, y)


class Bag(Value):
    _fields = ("items",)
    __slots__ = _fields

    def __init__(self, items: list[int] | None = None) -> None:
        self.items = [] if items is None else items


def test_repr_and_equality_follow_the_fields() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"
    assert Point(1) == Point(1, 0)
    assert Point(1) != Point(2)
    assert Point(1) != (1, 0)
    assert Bag([1]) == Bag([1])
    assert repr(Bag()) == "Bag(items=[])"


def test_frozen_values_are_immutable_and_hashable() -> None:
    point = Point(1, 2)
    with pytest.raises(AttributeError):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.z = 1  # type: ignore[attr-defined]
    assert {Point(1, 2), Point(1, 2)} == {point}


def test_mutable_values_are_unhashable() -> None:
    bag = Bag()
    bag.items.append(1)
    bag.items = [2]
    with pytest.raises(TypeError):
        hash(bag)


def test_replace_makes_a_changed_copy_through_init() -> None:
    point = Point(1, 2)
    assert point.replace(y=5) == Point(1, 5) and point == Point(1, 2)
    assert type(point.replace()) is Point and point.replace() == point
    with pytest.raises(TypeError):
        point.replace(z=1)

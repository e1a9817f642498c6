"""SandboxLimits: checked on every construction, frozen, equal by their values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jido_kernel.lua.errors import LuaValueError
from jido_kernel.lua.limits import MIB, SandboxLimits

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)
limits = st.builds(
    SandboxLimits,
    timeout=positive,
    max_memory=st.integers(1, 1 << 40),
    shell_timeout=positive,
    shell_allowlist=st.lists(st.text(min_size=1, max_size=8), max_size=4).map(tuple),
    max_file_size=st.integers(1, 1 << 40),
)


@given(limits)
def test_the_wire_form_round_trips(value: SandboxLimits) -> None:
    assert SandboxLimits.from_wire(value.to_wire()) == value


@given(limits, st.sampled_from(["global", "local", "flag"]))
def test_equal_by_values_whatever_their_sources_and_notes(value: SandboxLimits, source: str) -> None:
    other = value.replace(sources={"timeout": source}, notes=("a note",))
    assert other == value and hash(other) == hash(value)
    assert other.sources["timeout"] == source and other.sources["max_memory"] == "config"
    assert value.replace(timeout=value.timeout + 1) != value


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", 0), ("timeout", -1.0), ("timeout", math.inf), ("timeout", math.nan), ("timeout", True),
     ("max_memory", 1.5), ("max_memory", "1"), ("shell_allowlist", "git"), ("shell_allowlist", (1,))],
)  # fmt: skip
def test_a_bad_value_is_refused_however_it_is_made(field: str, value: object) -> None:
    with pytest.raises(LuaValueError, match=field):
        SandboxLimits(**{field: value})
    with pytest.raises(LuaValueError, match=field):
        SandboxLimits().replace(**{field: value})
    with pytest.raises(ValueError, match=field):
        SandboxLimits.from_wire({**SandboxLimits().to_wire(), field: value})


def test_frozen_and_normalised() -> None:
    value = SandboxLimits(max_memory=float(64 * MIB), shell_allowlist=["git"])  # type: ignore[arg-type]
    assert value.max_memory == 64 * MIB and type(value.max_memory) is int
    assert value.shell_allowlist == ("git",)
    with pytest.raises(AttributeError):
        value.timeout = 1.0  # type: ignore[misc]
    with pytest.raises(LuaValueError, match="sources"):
        SandboxLimits(sources={"timeout": "elsewhere"})
    assert value.override(timeout=None) is value
    assert value.override(timeout=2).sources["timeout"] == "flag"

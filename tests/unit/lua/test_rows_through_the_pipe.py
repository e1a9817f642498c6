"""Lists of records crossing from the worker in columns (``$rows``), end to end.

A real worker sends a large list of records in columns and the kernel gets exactly the
list of dicts; the columnar forms of one message share one budget (past it the worker
sends the plain form). A worker that breaks the rules — malformed columns, more than
the budget, columns where none are accepted — is restarted with a clear reason.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.lua import LuaSandbox, LuaWorkerCrashed
from tests.fake_worker import PREAMBLE, workers

ROWS = "local t = {} for i = 1, %d do t[i] = {id = i, name = 'row' .. i, value = i * 0.5, ok = i %% 2 == 0} end "


def expected(count: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"row{i}", "ok": i % 2 == 0, "value": i * 0.5} for i in range(1, count + 1)]


@pytest.fixture
def sandbox(project: Path) -> Iterator[LuaSandbox]:
    sandbox = LuaSandbox(project, timeout=30)
    yield sandbox
    sandbox.close()


def test_a_returned_list_of_records(sandbox: LuaSandbox) -> None:
    (rows,) = sandbox.run(ROWS % 100_000 + "return t").values
    assert rows == expected(100_000)
    assert list(rows[0]) == ["id", "name", "ok", "value"]  # keys in order, as in the plain form


def test_pulled_and_output_records(sandbox: LuaSandbox) -> None:
    result = sandbox.run(ROWS % 5000 + "rows = t", outputs=["rows"])
    assert result.outputs == {"rows": expected(5000)}
    assert sandbox.pull("rows") == expected(5000)


def test_values_past_the_budget_of_a_message_come_plain(sandbox: LuaSandbox) -> None:
    # 120,000 rows of 4 fields: 600,000 entries each, so the second one is sent plain
    values = sandbox.run(ROWS % 120_000 + "return t, t, {rows = t}").values
    assert values == [expected(120_000)] * 2 + [{"rows": expected(120_000)}]
    assert sandbox.run("return 1").values == [1]


ROGUE = PREAMBLE + textwrap.dedent(
    """
    ready()
    rid = receive()["id"]
    if sys.argv[2] == "large":  # 400,000 rows of 1 field: 800,000 entries
        rows = {"$rows": [["a"], [{"$i64": base64.b64encode(bytes(8 * 400_000)).decode()}]]}
    else:
        rows = json.loads(sys.argv[2])
    if sys.argv[1] == "state":
        send({"type": "state_call", "id": rid, "call_id": 1, "op": "update_todos", "args": [rows]})
        receive()
        rows = None
    send({"type": "result", "id": rid, "values": [rows] * int(sys.argv[3]), "outputs": {}, "duration": 0.0})
    receive()
    """
)


@pytest.fixture
def rogue(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with workers(ROGUE, project, tmp_path, monkeypatch, on_state_call=lambda op, args: True) as start:
        yield lambda mode, rows, copies=1: start(mode, rows, str(copies))


def test_well_formed_columns_from_any_worker_are_rows(rogue: Any) -> None:
    rows = '{"$rows": [["a", "$b"], [[1, 2], [{"$bytes": "/w=="}, "x"]]]}'
    assert rogue("result", rows).run("").values == [[{"a": 1, "$b": b"\xff"}, {"a": 2, "$b": "x"}]]
    assert rogue("result", "large").run("").values == [[{"a": 0}] * 400_000]


@pytest.mark.parametrize(
    ("rows", "copies", "problem"),
    [
        ('{"$rows": [["a", "b"], [[1, 2], [3]]]}', 1, "columns are empty or of different lengths"),
        ('{"$rows": [["a", "a"], [[1], [2]]]}', 1, "keys are not distinct strings"),
        ('{"$rows": [["a"], [[[1]]]]}', 1, "a value that is not a scalar"),
        ('{"$rows": [["a"], [{"$f64": "AAAA"}]]}', 1, "not a whole number of 8-byte values"),
        ("large", 2, "entries in one message"),  # twice 800,000 entries: past the budget
    ],
)
def test_malformed_or_oversized_columns_restart_it(rogue: Any, rows: str, copies: int, problem: str) -> None:
    with pytest.raises(LuaWorkerCrashed, match=f"broke the protocol: malformed value.*{problem}") as caught:
        rogue("result", rows, copies).run("")
    assert caught.value.state_reset


def test_columns_where_none_are_accepted_restart_it(rogue: Any) -> None:
    with pytest.raises(LuaWorkerCrashed, match=r"malformed value \(a \$rows value where none is accepted\)"):
        rogue("state", '{"$rows": [["a"], [[1]]]}').run("")

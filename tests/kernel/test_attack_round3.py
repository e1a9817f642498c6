"""The jido shell's ``%%lua`` transform against IPython's, in a real kernel, for cells
built to trip it: odd first lines, line separators other than ``\\n``, prompts, ``?``
endings, escapes, quotes, and shell states (autocall, automagic off, a shadowed
``get_ipython``, post transformers that keep or change the call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_helpers import execute
from kernel_helpers import jido_kernel as start_jido

pytestmark = pytest.mark.kernel

PROBE = r"""
import random
from IPython.core.interactiveshell import InteractiveShell
shell = get_ipython()
rng = random.Random(3)
firsts = ["%%lua", "%%lua ", "%%lua -i a", "%%lua\t-o x ", "%%lua ?", "%%lua\x0c-q", "%%lua\r", "%%lua --timeout 2",
          "%%lua -i a=b,c", "%%lua '\"", "%%lua \\", "%%lua %d", "%%lua {x}", "%%lua $x"]
pieces = ["return 1", ">>> x", "... y", "In [1]: z", "   ...: w", "?", "??", "!ls", "%time", "x = %lua 1", "'" * 3,
          '"' * 3, "\\", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\t", "  ", "é", "\0",
          "#", "await x", "[[", "]]", "\n"]
cells = ["%%lua\nreturn 1", "%%lua", "%%lua\n"]
for _ in range(400):
    body = "".join(rng.choice(pieces) for _ in range(rng.randrange(6)))
    cells.append(rng.choice(firsts) + rng.choice(["\n", "\r\n", "\r", " "]) + body + rng.choice(["", "\n", "?"]))

def compare():
    wrong = []
    for cell in cells:
        try:
            theirs = InteractiveShell.transform_cell(shell, cell)
        except Exception as error:
            theirs = repr(error)
        try:
            ours = shell.transform_cell(cell)
        except Exception as error:
            ours = repr(error)
        if ours != theirs:
            wrong.append(("transform", cell))
            continue
        if ours.startswith("get_ipython") or "await" in ours:
            fast = shell.should_run_async(cell, transformed_cell=ours)
            slow = InteractiveShell.should_run_async(shell, cell, transformed_cell=ours)
            if fast is not slow:
                wrong.append(("async", cell))
    return wrong

results = {"plain": compare()}
shell.autocall = 2
results["autocall"] = compare()
shell.autocall = 0
shell.automagic = False
results["automagic_off"] = compare()
shell.automagic = True
shell.user_ns["get_ipython"] = lambda: None
results["shadowed"] = compare()
del shell.user_ns["get_ipython"]
shell.input_transformers_post.append(lambda lines: list(lines))
results["post_keeps"] = compare()
shell.input_transformers_post[-1] = lambda lines: [l.replace("get_ipython()", "await get_ipython()") for l in lines]
results["post_awaits"] = compare()
shell.input_transformers_post.pop()
call = shell.transform_cell("%%lua\nreturn 1")
copy = "".join(list(call))
results["identity"] = [shell._lua_call is call, shell.should_run_async("x", transformed_cell="await f()\n")]
{key: value[:3] for key, value in results.items()}
"""


def test_the_lua_transform_and_async_answer_are_ipythons(tmp_path: Path) -> None:
    with start_jido(tmp_path) as (_, kc):
        run = execute(kc, PROBE)
    assert run.status == "ok", run.error
    assert run.result is not None
    results = eval(run.result["text/plain"])  # a dict of lists of plain literals
    assert results.pop("identity") == [True, True]
    assert results == {key: [] for key in results}, results

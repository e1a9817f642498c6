"""The ``jido`` kernel over the Jupyter protocol: conformance and identity."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jupyter_kernel_test
import pytest
from jupyter_client.manager import start_new_kernel
from kernel_helpers import execute
from kernel_helpers import jido_kernel as start_jido

import jido_kernel

pytestmark = pytest.mark.kernel


class JidoKernelTests(jupyter_kernel_test.KernelTests):
    """jupyter_kernel_test's protocol checks, run against kernel ``jido``."""

    kernel_name = "jido"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    # jupyter_kernel_test is configured through these class attributes (its own defaults are
    # plain lists, annotated as instance attributes), so they are not ClassVar here either.
    completion_samples = [{"text": "zi", "matches": {"zip"}}]  # noqa: RUF012
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]  # noqa: RUF012
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]  # noqa: RUF012
    invalid_code_samples = ["import = 7q"]  # noqa: RUF012
    code_page_something = "zip?"
    code_generate_error = "raise ValueError('boom')"
    code_execute_result = [  # noqa: RUF012
        {"code": "1+2+3", "result": "6"},
        {"code": "[n * n for n in range(1, 4)]", "result": "[1, 4, 9]"},
    ]
    code_display_data = [  # noqa: RUF012
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))", "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))", "mime": "text/latex"},
    ]
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "zip"
    code_clear_output = "from IPython.display import clear_output; clear_output()"

    @classmethod
    def setUpClass(cls) -> None:
        cls._cwd = tempfile.TemporaryDirectory()
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, cwd=cls._cwd.name)

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        cls._cwd.cleanup()


def test_kernel_info_names_the_kernel_the_session_and_the_root(tmp_path: Path) -> None:
    with start_jido(tmp_path) as (_, kc):
        kc.kernel_info()
        reply = kc.get_shell_msg(timeout=30)["content"]
    assert reply["implementation"] == "jido_kernel"
    assert reply["implementation_version"] == jido_kernel.__version__
    assert reply["language_info"]["name"] == "python"
    assert str(tmp_path.resolve()) in reply["banner"]
    assert f"session {tmp_path.name!r}" in reply["banner"]
    assert any("Lua" in link["text"] for link in reply["help_links"])


def test_kernel_loads_the_extension_at_start(tmp_path: Path) -> None:
    with start_jido(tmp_path) as (_, kc):
        run = execute(kc, "%project_root")
        magics = execute(kc, "sorted(get_ipython().magics_manager.lsmagic()['cell'])")
    assert run.status == "ok"
    assert run.result is not None and str(tmp_path.resolve()) in run.result["text/plain"]
    assert "lua" in magics.result["text/plain"]


def test_kernel_starts_without_a_session_when_the_root_is_invalid(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    with start_jido(tmp_path, env={"JIDO_PROJECT_ROOT": str(missing)}) as (_, kc):
        kc.kernel_info()
        banner = kc.get_shell_msg(timeout=30)["content"]["banner"]
        run = execute(kc, "%project_root")
        alive = execute(kc, "1 + 1")
    assert "No jido session is open" in banner and str(missing) in banner and "JIDO_PROJECT_ROOT" in banner
    assert run.status == "error"
    assert run.error["ename"] == "SessionError"
    assert "%session new" in run.error["evalue"]
    assert len(run.error["traceback"]) == 1
    assert alive.result["text/plain"] == "2"


WORKERS = (
    "import os, jido_kernel.lua.transport as t\n"
    "t.SPAWNER.submit(lambda: None).result()\n"
    "[int(p) for task in os.listdir('/proc/self/task')\n"
    " for p in open(f'/proc/self/task/{task}/children').read().split()]"
)


def test_the_sessions_worker_runs_before_the_first_lua_cell(tmp_path: Path) -> None:
    with start_jido(tmp_path) as (_, kc):
        before = execute(kc, WORKERS)
        worker = execute(kc, "import jido_kernel; jido_kernel.current_session().manager.lua.pid")
        lua = execute(kc, "%%lua\nreturn 40 + 2")
        after = execute(kc, "jido_kernel.current_session().manager.lua.pid")
    assert before.result is not None and worker.result is not None
    assert f"[{worker.result['text/plain']}]" == before.result["text/plain"]
    assert lua.result == {"text/plain": "42"}
    assert after.result == worker.result


def test_a_kernel_without_a_session_keeps_no_worker(tmp_path: Path) -> None:
    with start_jido(tmp_path, env={"JIDO_PROJECT_ROOT": str(tmp_path / "does-not-exist")}) as (_, kc):
        workers = execute(kc, WORKERS)
    assert workers.result == {"text/plain": "[]"}


TRANSFORMS = r"""
from IPython.core.interactiveshell import InteractiveShell
shell = get_ipython()
cells = ["%%lua\nreturn 1", "%%lua", "%%lua -i a --quiet\nreturn a\n", "%%lua\t-o x \nx = 1",
         "%%lua\nreturn [[\n>>> x\n... y\nIn [1]: z\n]]", "%%lua\r\nreturn '\u2028\x85\x0c'\r\n",
         "%%lua\nreturn '''?\n", "%%lua\nreturn 1?", "%%luax\nx", " %%lua\nreturn 1", "\n%%lua\nreturn 1"]
def same():
    return [shell.transform_cell(c) == InteractiveShell.transform_cell(shell, c) for c in cells]
plain = same()
shell.autocall = 2
autocall = same()
shell.autocall = 0
shell.input_transformers_post.append(lambda lines: [s.replace("get_ipython()", "await get_ipython()") for s in lines])
post = same()
posted = shell.transform_cell("%%lua\nreturn 1")
awaits = shell.should_run_async("%%lua\nreturn 1", transformed_cell=posted)
shell.input_transformers_post.pop()
call = shell.transform_cell("%%lua\nreturn 1")
fast = shell._lua_call is call  # made without IPython's tokenizer
(plain, autocall, post, shell.should_run_async("%%lua\nreturn 1", transformed_cell=call), awaits, fast)
"""


def test_a_lua_cells_transform_is_ipythons(tmp_path: Path) -> None:
    with start_jido(tmp_path) as (_, kc):
        run = execute(kc, TRANSFORMS)
    assert run.status == "ok", run.error
    plain, autocall, post, call_awaits, posted_awaits, fast = eval(run.result["text/plain"])  # a literal of bools
    assert all(plain) and all(autocall) and all(post) and fast
    assert call_awaits is False  # the call itself: known at once
    assert posted_awaits is True  # a post transformer changed it: IPython's own check


EVENTS = """
seen = []
get_ipython().events.register("pre_run_cell", lambda info: seen.append(("pre", info.raw_cell)))
get_ipython().events.register("post_run_cell", lambda result: seen.append(("post", result.success)))
"""


def test_a_lua_cell_keeps_count_history_events_and_display(tmp_path: Path) -> None:
    with start_jido(tmp_path) as (_, kc):
        execute(kc, EVENTS)
        ok = execute(kc, "%%lua\nreturn 6 * 7")
        failed = execute(kc, "%%lua\nerror('no')")
        after = execute(kc, f"(seen, In[-3:-1], _i, Out.get({ok.reply['content']['execution_count']}))")
    count = ok.reply["content"]["execution_count"]
    assert failed.reply["content"]["execution_count"] == count + 1
    assert ok.result == {"text/plain": "42"} and failed.status == "error"
    assert after.result is not None
    seen, inputs, last, out = eval(after.result["text/plain"])  # reprs of plain values
    assert seen[1:5] == [("pre", "%%lua\nreturn 6 * 7"), ("post", True), ("pre", "%%lua\nerror('no')"), ("post", False)]
    assert inputs == [
        "get_ipython().run_cell_magic('lua', '', 'return 6 * 7\\n')",
        "get_ipython().run_cell_magic('lua', '', \"error('no')\\n\")",
    ]
    assert last == "%%lua\nerror('no')" and out == 42


ORDERED = """
import sys, threading
from jido_kernel.outstream import OutStream
helper = threading.Thread(target=print, args=("from a thread",))
helper.start()
helper.join()
print("from the cell")
print("to stderr", file=sys.stderr)
(isinstance(sys.stdout, OutStream), isinstance(sys.stderr, OutStream), get_ipython().kernel._execute_sleep)
"""


def test_output_reaches_the_front_end_before_the_result_and_idle(tmp_path: Path) -> None:
    """The kernel's streams skip the IOPub thread only when nothing is unsent, and the
    reply follows without ipykernel's pause."""
    with start_jido(tmp_path) as (_, kc):
        python = execute(kc, ORDERED)
        lua = execute(kc, "%%lua\nprint('from Lua') return 1")
        quiet = execute(kc, "%%lua\nreturn 2")
    assert python.result == {"text/plain": "(True, True, 0.0)"}
    assert python.stdout == "from a thread\nfrom the cell\n" and python.stderr == "to stderr\n"
    assert lua.stdout == "from Lua\n" and lua.result == {"text/plain": "1"}
    assert quiet.result == {"text/plain": "2"} and quiet.stdout == ""
    for run in (python, lua):
        kinds = [message["msg_type"] for message in run.messages]
        assert kinds.index("execute_result") > max(i for i, kind in enumerate(kinds) if kind == "stream")


def test_descriptor_output_reaches_the_front_end_before_the_result_and_idle(tmp_path: Path) -> None:
    """What a cell writes to the file descriptors (a child process, os.write) goes through
    ipykernel's pipe and watcher thread; a flush waits for it, so it is never late."""
    cells = [
        ("import os; os.write(1, b'raw\\n');", "raw\n", False),
        ("import os; os.system('echo from a child'); 1", "from a child\n", True),
    ]
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}  # else ipykernel
    km, kc = start_new_kernel(kernel_name="jido", cwd=str(tmp_path), env=env)  # does not watch the descriptors
    try:
        for _ in range(20):
            for code, text, result in cells:
                run = execute(kc, code)
                assert run.stdout == text
                kinds = [message["msg_type"] for message in run.messages]
                if result:
                    assert kinds.index("stream") < kinds.index("execute_result")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

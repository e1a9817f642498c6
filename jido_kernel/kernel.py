"""``JidoKernel``: ipykernel's IPython kernel with the jido extension loaded at start-up.

Cells are Python; ``%%lua`` runs Lua in the session's sandbox. All features live in the
extension (:mod:`jido_kernel.extension`), so ``%load_ext jido_kernel`` gives the same
magics in any IPython. The kernel adds its identity (``kernel_info``) and the session
banner, and builds ipykernel's debugger only when a front end first debugs
(:mod:`jido_kernel.debugger`).

However it is launched (``python -P -m jido_kernel``, or ``IPKernelApp`` with
``kernel_class=jido_kernel.kernel.JidoKernel`` as remote launchers do), the kernel takes
its working directory and the project root off ``sys.path`` and stops IPython from
adding ``''``: files in the project (which Lua may have written) are never found by
the imports the kernel makes later (jedi's and IPython's lazy ones on Tab or on a
traceback). Modules a launcher imports before the kernel class exists are beyond its
reach: launchers must start Python with ``-P`` (or ``PYTHONSAFEPATH=1``).
"""

from __future__ import annotations

from typing import Any

from ipykernel.ipkernel import IPythonKernel
from ipykernel.zmqshell import ZMQInteractiveShell
from traitlets import Float, List, Type, Unicode

from jido_kernel._version import __version__
from jido_kernel.debugger import DeferredDebugger, debugpy_installed, stand_in
from jido_kernel.importpath import (
    forbid_cwd_in_app,
    guard_children,
    no_rc_debugger,
    remove_folders,
    working_directory,
)
from jido_kernel.language.cells import lua_cell_body, lua_text
from jido_kernel.language.completeness import is_complete
from jido_kernel.language.completion import complete
from jido_kernel.language.inspection import inspect_lua
from jido_kernel.lua.errors import LuaError
from jido_kernel.lua.transport import discard_standby, prestart
from jido_kernel.magics.lua import lua_call
from jido_kernel.session.lifecycle import defer_workers, start_workers

EXTENSION = "jido_kernel"


class JidoShell(ZMQInteractiveShell):
    """ipykernel's shell whose debuggers never read ``.pdbrc`` (the root's may be Lua-written),
    and which transforms a ``%%lua`` cell without IPython's tokenizer.

    A cell's transform runs twice (ipykernel's and IPython's ``run_cell``), each time
    followed by a compile to see whether it awaits: about a third of a ``%%lua return 1``
    cell's own time. A ``%%lua`` cell becomes its magic call directly (:func:`lua_call`,
    the same text), then IPython's single-line prefilter and post transformers run as in
    :meth:`~IPython.core.interactiveshell.InteractiveShell.transform_cell`; when those
    leave the call as it is, it is known not to await (a call with three string
    literals). Everything else of ``run_cell`` (execution count, history, events, display,
    errors) is IPython's own.
    """

    _lua_call: str | None = None
    """The last transformed ``%%lua`` cell that is exactly its magic call."""

    @property
    def debugger_cls(self) -> type:
        return no_rc_debugger()

    def transform_cell(self, raw_cell: str) -> str:
        call = lua_call(self.input_transformer_manager, raw_cell)
        if call is None:
            cell: str = super().transform_cell(raw_cell)
            return cell
        cell = call
        if len(cell.splitlines()) == 1:
            assert self.prefilter_manager is not None
            with self.builtin_trap:
                cell = self.prefilter_manager.prefilter_lines(cell) + "\n"
        lines = cell.splitlines(keepends=True)
        for transform in self.input_transformers_post:
            lines = transform(lines)
        cell = "".join(lines)
        self._lua_call = cell if cell == call else None
        return cell

    def should_run_async(
        self, raw_cell: str, *, transformed_cell: str | None = None, preprocessing_exc_tuple: Any = None
    ) -> bool:
        if transformed_cell is not None and transformed_cell is self._lua_call and preprocessing_exc_tuple is None:
            return False
        answer: bool = super().should_run_async(
            raw_cell, transformed_cell=transformed_cell, preprocessing_exc_tuple=preprocessing_exc_tuple
        )
        return answer


class JidoKernel(IPythonKernel):
    """The ``jido`` kernel."""

    implementation = "jido_kernel"
    implementation_version = __version__
    shell_class = Type(JidoShell)
    lua_first = False
    """Whether a cell is Lua unless it starts with ``%`` (the ``jido-lua`` kernel)."""

    project_root = Unicode(
        "",
        help="""Project root of the notebook's session. $JIDO_PROJECT_ROOT wins over it; when
        empty: the notebook's directory ($JPY_SESSION_NAME), $KERNEL_JIDO_PROJECT_ROOT, the
        directory of $KERNEL_JIDO_SESSION_NAME, $KERNEL_WORKING_DIR, the working directory.""",
    ).tag(config=True)

    help_links = List(
        [
            {"text": "jido_kernel", "url": "https://github.com/agentjido/jido_kernel#readme"},
            {"text": "Lua 5.4 Reference Manual", "url": "https://www.lua.org/manual/5.4/"},
            *(IPythonKernel.class_traits()["help_links"].default() or []),
        ]
    ).tag(config=True)

    _execute_sleep = Float(0.0).tag(config=True)
    """ipykernel pauses 0.5 ms before each ``execute_reply`` (a mitigation from when a flush
    did not wait for the output to be sent). The kernel's flush returns only once all that
    was written before it, to ``sys.stdout`` or the descriptors, is on the IOPub socket
    (:mod:`jido_kernel.outstream`), so the pause would only delay every cell."""

    debugger_class = Type(DeferredDebugger, klass=object)
    """What ipykernel 7 builds as the kernel's debugger (see :mod:`jido_kernel.debugger`)."""

    def __init__(self, **kwargs: Any) -> None:
        forbid_cwd_in_app(kwargs.get("parent"))  # its init_path runs after this
        remove_folders(working_directory())
        guard_children()  # %pip, !python -m X: children must not import from the root either
        if not prestart():  # a busy machine: kernel_info is answered before the worker starts
            defer_workers()
        # Python's debugger drives the kernel with Python cells: not in the Lua-first kernel.
        self._debuggable = not self.lua_first and debugpy_installed()  # looked up once the root is off sys.path
        with stand_in(self._debuggable):
            super().__init__(**kwargs)
        assert self.shell is not None
        self._extension_error: str | None = None
        try:
            self.shell.extension_manager.load_extension(EXTENSION)
        except Exception as error:  # the kernel must still run Python cells
            self.log.exception("jido_kernel: the extension failed to load")
            self._extension_error = f"{type(error).__name__}: {error}"
            discard_standby()

    async def kernel_info_request(self, stream: Any, ident: Any, parent: Any) -> None:
        """Answer, then start the sessions' Lua workers if the start-up deferred them."""
        await super().kernel_info_request(stream, ident, parent)
        try:
            start_workers()
        except LuaError as error:  # the first Lua run tries again and reports it
            self.log.warning("jido_kernel: the Lua worker could not start: %s", error)

    async def do_debug_request(self, msg: Any) -> Any:
        """ipykernel's; without a debugger, no answer (as ipykernel gives without debugpy)."""
        if not self._debuggable:
            return None
        return await super().do_debug_request(msg)

    @property
    def kernel_info(self) -> dict[str, Any]:
        """ipykernel's, saying whether the debugger is available without importing it."""
        with stand_in(self._debuggable):
            info: dict[str, Any] = super().kernel_info
        return info

    @property
    def banner(self) -> str:  # type: ignore[override]
        if self._extension_error is not None:
            head = (
                f"Jido (Python + Lua) {__version__} — the jido extension failed to load "
                f"({self._extension_error}); Python cells work, the jido magics do not."
            )
        else:
            from jido_kernel.extension import session_banner

            head = session_banner()
        return f"{head}\n\n{super().banner or ''}".rstrip() + "\n"

    # -- Lua text: completion, help and is_complete (the extension's matcher serves IPython) ---

    def do_complete(self, code: str, cursor_pos: int | None) -> Any:
        """Lua completions in Lua text (never Python's); Python as IPython does it."""
        cursor = len(code) if cursor_pos is None else cursor_pos
        region = lua_text(code, cursor, lua_first=self.lua_first)
        if region is None:
            return super().do_complete(code, cursor_pos)
        prefix, matches = complete(code[region.offset : cursor], _live_names())
        start = cursor - len(prefix)
        types = [{"start": start, "end": cursor, "text": text, "type": kind, "signature": ""} for text, kind in matches]
        return {
            "matches": [text for text, _ in matches],
            "cursor_start": start,
            "cursor_end": cursor,
            "metadata": {"_jupyter_types_experimental": types},
            "status": "ok",
        }

    def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()) -> Any:
        """Help on the Lua name at the cursor in Lua text; Python as IPython does it."""
        region = lua_text(code, cursor_pos, lua_first=self.lua_first)
        if region is None:
            return super().do_inspect(code, cursor_pos, detail_level, omit_sections)
        bundle = inspect_lua(region.code, cursor_pos - region.offset, _live_names())
        return {"status": "ok", "found": bundle is not None, "data": bundle or {}, "metadata": {}}

    def do_is_complete(self, code: str) -> Any:
        """Lua's answer for a ``%%lua`` cell, a ``%lua`` line or a Lua-first cell."""
        body = lua_cell_body(code)
        if body is None and self.lua_first and not code.lstrip().startswith("%"):
            body = code
        elif body is None and code.lstrip().startswith("%lua ") and "\n" not in code.strip():
            body = code.lstrip()[len("%lua ") :]
        if body is None:
            return super().do_is_complete(code)
        if not body.strip():
            return {"status": "complete"} if body is code else {"status": "incomplete", "indent": ""}
        status, indent = is_complete(body)
        return {"status": status, "indent": indent} if status == "incomplete" else {"status": status}


def _live_names() -> Any:
    from jido_kernel.extension import live_names

    return live_names()

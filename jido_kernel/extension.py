"""The IPython extension: ``%load_ext jido_kernel``.

Loading it opens the notebook's session (see :mod:`jido_kernel.session.origin`),
registers every magic, and flushes live displays before each cell's reply. The
``jido`` kernel loads it at start-up; any IPython (terminal or the stock ``python3``
kernel) can load it too and gets the same magics.

Loading it takes the project root off ``sys.path`` (Lua may write files there; they
must never be imported) and says so in one line when it was there, keeps Python
children and the debugger from reading files in the working directory (see
:mod:`jido_kernel.importpath`); the owner's own modules are installed
(``pip install -e .``) or loaded by file with ``importlib.util.spec_from_file_location``.
"""

from __future__ import annotations

import logging
import sys

from IPython.core.interactiveshell import InteractiveShell

from jido_kernel._version import __version__
from jido_kernel.display.live import LiveDisplay, flush_all
from jido_kernel.display.reprs import session_html, session_text
from jido_kernel.errors import JidoError
from jido_kernel.importpath import guard_children, guard_debugger, remove_folders
from jido_kernel.language.completion import LiveNames, lua_matcher, restore_python_completion
from jido_kernel.lua.transport import discard_standby
from jido_kernel.magics import MAGIC_CLASSES
from jido_kernel.magics.lua import keep_lua_source
from jido_kernel.magics.session import note_origin_once
from jido_kernel.magics.settings import note_problems
from jido_kernel.magics.state import show_streams_live
from jido_kernel.session import Origin, Session, SessionRegistry, locate, open_session, registry, set_registry
from jido_kernel.session.lifecycle import close_session, no_session_message, set_origin, set_refusal

log = logging.getLogger("jido_kernel")

_loaded: InteractiveShell | None = None
_origin: Origin | None = None
_open_error: JidoError | None = None


def _configured_root(shell: InteractiveShell) -> str:
    """``JidoKernel.project_root`` from the running kernel, else from the shell's config."""
    kernel = getattr(shell, "kernel", None)
    value = getattr(kernel, "project_root", None)
    if value is None:
        value = shell.config.JidoKernel.get("project_root", "")
    return str(value or "")


def _register_formatters(shell: InteractiveShell) -> None:
    """Show a :class:`Session` (``%session``, ``current_session()``) as a summary."""
    assert shell.display_formatter is not None  # set by InteractiveShell.__init__
    formatters = shell.display_formatter.formatters
    formatters["text/plain"].for_type(Session, session_text)
    formatters["text/html"].for_type(Session, session_html)


def load_ipython_extension(shell: InteractiveShell) -> None:
    """Open the notebook's session and register the magics (idempotent)."""
    global _loaded, _origin, _open_error
    if _loaded is shell:
        return
    set_registry(SessionRegistry(parent=shell))
    _origin = locate(_configured_root(shell))
    set_origin(_origin)
    _open_error = None
    set_refusal(None)
    in_jido_kernel = _in_jido_kernel(shell)
    try:
        session = open_session(_origin.project_root, name=_origin.name, id=_origin.session_id, parent=shell)
    except JidoError as error:
        _open_error = error
        set_refusal(refusal_text(_origin, error, in_jido_kernel=in_jido_kernel))
        log.warning("jido_kernel: no session opened: %s", error)
        discard_standby()
        if not in_jido_kernel:
            print(f"jido_kernel: {no_session_message()}", file=sys.stderr)
    else:
        show_streams_live(shell, session)
        _keep_root_off_import_path(shell, str(session.project_root))
        if not in_jido_kernel:
            print(
                f"jido_kernel: session {session.name!r} at {session.project_root} "
                f"(root from {source_text(_origin.root_source)}); %session shows it, %lsmagic lists the magics."
            )
    for magic_class in MAGIC_CLASSES:
        shell.register_magics(magic_class(shell=shell))
    _register_formatters(shell)
    _register_completer(shell)
    displays = LiveDisplay.instance(parent=shell)
    if displays not in shell.configurables:
        # so %config LiveDisplay works; IPython infers list[InteractiveShell] from its `[self]`
        shell.configurables.append(displays)  # type: ignore[arg-type]
    keep_lua_source(shell)
    shell.events.register("post_execute", flush_all)  # last update before the cell's reply
    shell.events.register("pre_run_cell", _note_settings_problems)
    shell.events.register("pre_run_cell", note_origin_once)
    _loaded = shell


def _note_settings_problems(_info: object = None) -> None:
    """Show once, in the first cell that runs, what the session's settings files ask
    for that is not in effect (an invalid value, a limit a project may not raise)."""
    session = registry().current
    if session is not None:
        note_problems(session)


def _in_jido_kernel(shell: InteractiveShell) -> bool:
    """Whether the ``jido`` kernel runs ``shell`` (it loads the extension itself)."""
    kernel_module = sys.modules.get("jido_kernel.kernel")
    return kernel_module is not None and isinstance(getattr(shell, "kernel", None), kernel_module.JidoKernel)


def source_text(root_source: str) -> str:
    """Where a project root came from, in words (an environment variable, the config…)."""
    if root_source == "config":
        return "c.JidoKernel.project_root"
    if root_source in ("notebook", "working directory"):
        return f"the {'notebook' if root_source == 'notebook' else 'kernel'}'s directory"
    return f"${root_source}"


def refusal_text(origin: Origin, error: JidoError, *, in_jido_kernel: bool) -> str:
    """Which root was refused, where it came from, why, and how to fix it."""
    restart = "restart the kernel" if in_jido_kernel else "run %reload_ext jido_kernel"
    return (
        f"the project root {origin.project_root} (from {source_text(origin.root_source)}) was refused: "
        f"{error.message.rstrip('.')}. Fix: open a writable project directory with %session new PATH, "
        f"or set JIDO_PROJECT_ROOT or c.JidoKernel.project_root to one and {restart}."
    )


def _keep_root_off_import_path(shell: InteractiveShell, root: str) -> None:
    """Take the project root off ``sys.path``; say so unless the jido kernel started us."""
    removed = remove_folders([root])
    guard_children()
    guard_debugger(shell)
    if removed and not _in_jido_kernel(shell):
        print(
            f"jido_kernel: removed {', '.join(map(repr, removed))} from sys.path (files in the project "
            "may be Lua-written); import your own modules by installing them (pip install -e) or with "
            "importlib.util.spec_from_file_location on one reviewed file"
        )


def live_names() -> LiveNames | None:
    """The current session's live Lua names for completion and help (None without a
    session; a failing lookup answers None, it never raises into the completer)."""
    session = registry().current
    if session is None:
        return None

    def names(path: tuple[str, ...]) -> dict[str, str] | None:
        try:
            return session.lua_names(path)
        except Exception:
            return None

    return names


def _register_completer(shell: InteractiveShell, *, register: bool = True) -> None:
    """Complete Lua text in ``%%lua`` cells and ``%lua`` lines (IPython Matcher API v2);
    ``register=False`` takes the Lua matcher away and gives Python its matchers back."""
    completer = getattr(shell, "Completer", None)
    if completer is None:
        return
    completer.custom_matchers[:] = [m for m in completer.custom_matchers if getattr(m, "__name__", "") != LUA_MATCHER]
    if register:
        completer.custom_matchers.append(lua_matcher(shell, live_names))
    else:
        restore_python_completion(completer)


LUA_MATCHER = "jido_lua_matcher"


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """Close every session and stop flushing displays (magics stay registered)."""
    global _loaded
    if _loaded is not shell:
        return
    keep_lua_source(shell, keep=False)
    shell.events.unregister("post_execute", flush_all)
    shell.events.unregister("pre_run_cell", _note_settings_problems)
    shell.events.unregister("pre_run_cell", note_origin_once)
    LiveDisplay.instance().close_all()
    _register_completer(shell, register=False)
    for session in registry().list():
        close_session(session)
    _loaded = None


def session_banner() -> str:
    """One paragraph naming the session and its project root (or why there is none)."""
    head = f"Jido (Python + Lua) {__version__}"
    session = registry().current
    if session is not None:
        source = ""
        if _origin is not None and session.id == _origin.session_id:  # the notebook's own session
            source = f" (from {source_text(_origin.root_source)})"
        return (
            f"{head} — session {session.name!r} [{session.id}]\n"
            f"Project root: {session.project_root}{source}\n"
            "Python cells as usual; %%lua runs sandboxed Lua. %session and %lsmagic list the rest."
        )
    if _open_error is not None:
        return f"{head}\n{no_session_message()}"
    return f"{head} — no session open."

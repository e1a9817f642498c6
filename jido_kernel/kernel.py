"""``JidoKernel``: ipykernel's IPython kernel with the jido extension loaded at start-up.

Cells are Python; ``%%lua`` runs Lua in the session's sandbox. All features live in the
extension (:mod:`jido_kernel.extension`), so ``%load_ext jido_kernel`` gives the same
magics in any IPython. The kernel adds its identity (``kernel_info``) and the session
banner.

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
from traitlets import List, Unicode

from jido_kernel._version import __version__
from jido_kernel.importpath import forbid_cwd_in_app, remove_folders, working_directory

EXTENSION = "jido_kernel"


class JidoKernel(IPythonKernel):
    """The ``jido`` kernel."""

    implementation = "jido_kernel"
    implementation_version = __version__

    project_root = Unicode(
        "",
        help="""Project root of the notebook's session. Empty: $JIDO_PROJECT_ROOT, else
        the notebook's directory (from $JPY_SESSION_NAME), else the working directory.""",
    ).tag(config=True)

    help_links = List(
        [
            {"text": "jido_kernel", "url": "https://github.com/agentjido/jido_kernel#readme"},
            {"text": "Lua 5.4 Reference Manual", "url": "https://www.lua.org/manual/5.4/"},
            *(IPythonKernel.class_traits()["help_links"].default() or []),
        ]
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        forbid_cwd_in_app(kwargs.get("parent"))  # its init_path runs after this
        remove_folders(working_directory())
        super().__init__(**kwargs)
        assert self.shell is not None
        self._extension_error: str | None = None
        try:
            self.shell.extension_manager.load_extension(EXTENSION)
        except Exception as error:  # the kernel must still run Python cells
            self.log.exception("jido_kernel: the extension failed to load")
            self._extension_error = f"{type(error).__name__}: {error}"

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

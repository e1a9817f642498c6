"""The kernel application: ipykernel's ``IPKernelApp`` running :class:`JidoKernel`."""

from __future__ import annotations

from typing import Any

from ipykernel.kernelapp import IPKernelApp
from traitlets import Dict, DottedObjectName, Type

from jido_kernel.kernel import JidoKernel
from jido_kernel.lua.transport import prestart


class JidoKernelApp(IPKernelApp):
    """``python -m jido_kernel -f CONNECTION_FILE``."""

    name = "python -m jido_kernel"
    description = (
        "The jido kernel: IPython with a sandboxed, project-scoped Lua 5.4 state (%%lua), "
        "sessions, live session state and settings. Jupyter starts it from the 'jido' "
        "kernelspec; install that with `python -m jido_kernel install --user` (options: "
        "`python -m jido_kernel install --help`)."
    )
    examples = """
python -m jido_kernel install --user          # install the 'jido' kernelspec
python -m jido_kernel -f CONNECTION_FILE      # run the kernel (Jupyter does this)
python -m jido_kernel -f CONNECTION_FILE --JidoKernel.project_root=/path/to/project
"""
    # `install` is handled before this application starts (jido_kernel.__main__).
    subcommands: dict[str, Any] = Dict()  # type: ignore[assignment]
    kernel_class = Type(JidoKernel, klass="ipykernel.kernelbase.Kernel").tag(config=True)  # type: ignore[assignment]
    outstream_class = DottedObjectName(
        "jido_kernel.outstream.OutStream", help="The importstring for the OutStream factory."
    ).tag(config=True)

    def init_connection_file(self) -> None:
        """The first step of the kernel's start-up: the Lua worker's interpreter starts
        loading alongside it (see :func:`~jido_kernel.lua.transport.prestart`)."""
        prestart()
        super().init_connection_file()

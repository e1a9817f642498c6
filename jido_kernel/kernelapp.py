"""The kernel application: ipykernel's ``IPKernelApp`` running :class:`JidoKernel`."""

from __future__ import annotations

from ipykernel.kernelapp import IPKernelApp
from traitlets import Type

from jido_kernel.kernel import JidoKernel


class JidoKernelApp(IPKernelApp):
    """``python -m jido_kernel -f CONNECTION_FILE``."""

    name = "jido-kernel"
    description = "Jido (Python + Lua): IPython with a sandboxed, project-scoped Lua state."
    kernel_class = Type(JidoKernel, klass="ipykernel.kernelbase.Kernel").tag(config=True)  # type: ignore[assignment]

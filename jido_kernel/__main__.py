"""``python -m jido_kernel -f CONNECTION_FILE`` runs the kernel; ``… install`` installs its spec."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "install":
    from jido_kernel.kernelspec import main

    sys.exit(main(sys.argv[2:]))
else:
    from jido_kernel.kernelapp import JidoKernelApp

    JidoKernelApp.launch_instance()

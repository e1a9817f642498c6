"""Run the Lua worker on stdin/stdout: imported by the kernel's ``python -I -S -c`` start
(:class:`jido_kernel.lua.transport.Worker`), or run as ``python -I -m jido_kernel.lua.worker``.

The worker's modules load with the cyclic garbage collector off (they leave nothing to
collect) and are then frozen out of every later collection. OpenSSL is never loaded:
the worker hashes nothing, and its library would add some 3 MB to every worker
(``hashlib`` and ``hmac`` fall back to Python's built-in hashes).
"""

import gc
import sys

gc.disable()
sys.modules["_hashlib"] = None  # type: ignore[assignment]  # import then raises ImportError

from jido_kernel.lua.worker.main import main  # noqa: E402

gc.freeze()
gc.enable()
main()

"""``python -I -m jido_kernel.lua.worker``: run the Lua worker on stdin/stdout."""

from jido_kernel.lua.worker.main import main

main()

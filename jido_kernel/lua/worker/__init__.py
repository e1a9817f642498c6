"""The untrusted process: one Lua 5.4 state per session, confined before it runs any Lua.

Started by the kernel side as ``python -I -S`` running :mod:`.__main__` (see
:class:`jido_kernel.lua.transport.Worker`), or by hand as ``python -I -m
jido_kernel.lua.worker``. The modules it loads import :mod:`typing` only for type
checkers (``TYPE_CHECKING = False``): the module would cost every worker 0.7 MB.
:mod:`.runtime` builds the sandboxed state from :file:`prelude.lua`; :mod:`.stopper`
stops it (time, interrupt, memory) with a count hook armed only when a limit trips;
:mod:`.bridge` answers ``jido.*`` calls through the security library and the command
runner; :mod:`.lupa_data` converts between Lua and plain data. Nothing here imports the
kernel side.
"""

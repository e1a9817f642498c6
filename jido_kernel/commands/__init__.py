"""The allow-listed command runner behind ``jido.shell`` (runs in the Lua worker).

:mod:`.allowlist` names what may run; :mod:`.options` holds each command's option
allow-list; :mod:`.effects` works out what a command would write and read;
:mod:`.git` pins and hardens git; :mod:`.policy` makes every check; :mod:`.run` runs the
checked command.
"""

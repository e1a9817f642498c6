"""The declarative contract of the Lua names a cell sees: ``jido.*``, ``jido.state.*`` and
the kept Lua library, one row each (parameters, returns, one doc line).

The worker's bridge checks its functions against :data:`BRIDGE` and :data:`STATE`;
completion, inspection, the ``%%lua`` docstring and the README's bridge table are all
rendered from here.
"""

from __future__ import annotations

from jido_kernel.values import FrozenValue


class LuaFunction(FrozenValue):
    """One function: its full name (``jido.read_file``), parameters, returns, one doc line."""

    _fields = ("name", "parameters", "returns", "doc")
    __slots__ = _fields
    name: str
    parameters: str
    returns: str
    doc: str

    def __init__(self, name: str, parameters: str, returns: str, doc: str) -> None:
        self._set(name, parameters, returns, doc)

    @property
    def signature(self) -> str:
        return f"{self.name}({self.parameters})" + (f" -> {self.returns}" if self.returns else "")

    @property
    def short_name(self) -> str:
        return self.name.rpartition(".")[2]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameters' names, in order (``path [, {offset=, limit=}]`` → path, options)."""
        names = []
        for part in self.parameters.replace("[", ",").replace("]", ",").split(","):
            part = part.strip()
            if part.startswith("{"):
                names.append("options")
            elif part.isidentifier():
                names.append(part)
        return tuple(names)


def _rows(prefix: str, rows: str) -> tuple[LuaFunction, ...]:
    """``name | parameters | returns | doc`` lines as functions named ``prefix + name``."""
    functions = []
    for row in rows.strip().splitlines():
        name, parameters, returns, doc = (cell.strip() for cell in row.split("|"))
        functions.append(LuaFunction(prefix + name, parameters, returns, doc))
    return tuple(functions)


FAILS = "nil, message"

BRIDGE = _rows(
    "jido.",
    f"""
read_file   | path [, {{offset=, limit=, raw=}}] | text or {FAILS} | A project file's text, line-numbered ("     1→line"; raw=true: as is), from line offset, at most limit lines (default 2000).
write_file  | path, content                  | true or {FAILS} | Write (create or replace) a project file, atomically; parents are created.
list_dir    | [path [, {{ignore_patterns=}}]] | entries or {FAILS} | A directory's entries {{name=, type=}}, directories first.
glob        | pattern [, base]               | paths or {FAILS} | Relative paths matching a pattern (**, *, ?, {{a,b}}), newest first.
file_exists | path                           | boolean | Whether the path exists in the project.
is_file     | path                           | boolean | Whether the path is a regular file in the project.
is_dir      | path                           | boolean | Whether the path is a directory in the project.
file_stat   | path                           | stat or {FAILS} | A path's {{size=, type=, access=, mtime=}}.
delete_file | path                           | true or {FAILS} | Delete a file of the project.
mkdir_p     | path                           | true or {FAILS} | Create a directory and its parents.
shell       | command [, args [, {{timeout=ms}}]] | {{exit_code=, stdout=, stderr=}} or {FAILS} | Run an allow-listed command in the project root.
""",
)
"""The ``jido.*`` bridge functions (each call a tool call); a refused call returns ``nil, message``."""

IN_SANDBOX = _rows(
    "jido.",
    f"""
sleep | seconds | true or {FAILS} | Wait without using CPU; a time limit or an interrupt ends the wait.
""",
)
"""``jido.*`` functions the sandbox implements itself (no tool call)."""

STATE = _rows(
    "jido.state.",
    f"""
append_message     | role, content        | true or {FAILS} | Add a message to the session (role: user, assistant, system or tool).
add_reasoning_step | content              | true or {FAILS} | Add a reasoning step to the session.
update_todos       | todos                | true or {FAILS} | Replace the todos: {{{{content=, status=, active_form=}}, …}} (status: pending, in_progress, completed).
start_streaming    | [message_id]         | true or {FAILS} | Start streaming an assistant message.
update_streaming   | chunk                | true or {FAILS} | Append a chunk to the streaming message.
end_streaming      |                      | content or {FAILS} | End streaming; returns the whole message, which joins the conversation.
""",
)
"""The ``jido.state.*`` operations on the session's live state."""

LIBRARY = (
    *_rows(
        "",
        """
assert         | v [, message]            | v, ... | Raise an error if v is false or nil; otherwise return all arguments.
error          | message [, level]        |        | Raise an error with message (level 1 adds the caller's position).
ipairs         | t                        | iterator | Iterate t[1], t[2], … up to the first nil.
next           | t [, key]                | key, value | The next key and value of a table after key.
pairs          | t                        | iterator | Iterate over all keys and values of a table.
select         | n, ...                   | ...    | The arguments after the n-th; select("#", ...) counts them.
rawequal       | a, b                     | boolean | Equality without metamethods.
rawget         | t, key                   | value  | t[key] without metamethods.
rawlen         | v                        | integer | Length of a table or string without metamethods.
rawset         | t, key, value            | t      | t[key] = value without metamethods.
getmetatable   | v                        | table or nil | The metatable of v (or its __metatable field).
setmetatable   | t, mt                    | t      | Set the metatable of table t (no __gc in the sandbox).
tonumber       | v [, base]               | number or nil | Convert to a number.
tostring       | v                        | string | Convert any value to a string.
type           | v                        | string | The type name of v.
pcall          | f, ...                   | ok, ... | Call f in protected mode.
xpcall         | f, handler, ...          | ok, ... | Call f in protected mode with a message handler.
load           | chunk [, name [, mode [, env]]] | function or nil, message | Compile a chunk of text (no binary chunks).
collectgarbage | [option]                 | value  | Control the garbage collector ("collect", "count", "step", "isrunning").
print          | ...                      |        | Write the values to the cell's output.
""",
    ),
    *_rows(
        "string.",
        """
byte     | s [, i [, j]]                | integers | Byte values of s[i..j].
char     | ...                          | string | String from byte values.
find     | s, pattern [, init [, plain]] | start, end, captures | First match of a pattern.
format   | fmt, ...                     | string | Format values like C's printf.
gmatch   | s, pattern [, init]          | iterator | Iterate over the matches of a pattern.
gsub     | s, pattern, repl [, n]       | string, count | Replace matches of a pattern.
len      | s                            | integer | Length in bytes.
lower    | s                            | string | Lower-case copy.
match    | s, pattern [, init]          | captures | Captures of the first match of a pattern.
pack     | fmt, ...                     | string | Pack values into a binary string.
packsize | fmt                          | integer | Size of a string.pack result.
rep      | s, n [, sep]                 | string | s repeated n times.
reverse  | s                            | string | Reversed copy.
sub      | s, i [, j]                   | string | Substring s[i..j].
unpack   | fmt, s [, pos]               | ... | Unpack values from a binary string.
upper    | s                            | string | Upper-case copy.
""",
    ),
    *_rows(
        "table.",
        """
concat | t [, sep [, i [, j]]] | string | Join the strings or numbers t[i..j].
insert | t, [pos,] value       |        | Insert value at pos (default: at the end).
move   | a1, f, e, t [, a2]    | a2     | Move a1[f..e] to a2[t..].
pack   | ...                   | table  | The arguments as a table with field n.
remove | t [, pos]             | value  | Remove and return t[pos] (default: the last).
sort   | t [, comp]            |        | Sort t in place.
unpack | t [, i [, j]]         | ...    | The elements t[i..j].
""",
    ),
    *_rows(
        "math.",
        """
abs        | x        | number  | Absolute value.
ceil       | x        | integer | Smallest integer >= x.
floor      | x        | integer | Largest integer <= x.
fmod       | x, y     | number  | Remainder of x / y rounded towards zero.
max        | x, ...   | number  | The largest argument.
min        | x, ...   | number  | The smallest argument.
modf       | x        | integer part, fraction | Split x.
sqrt       | x        | number  | Square root.
exp        | x        | number  | e to the power x.
log        | x [, base] | number | Logarithm (natural by default).
sin        | x        | number  | Sine (radians).
cos        | x        | number  | Cosine (radians).
tan        | x        | number  | Tangent (radians).
asin       | x        | number  | Arc sine.
acos       | x        | number  | Arc cosine.
atan       | y [, x]  | number  | Arc tangent of y/x.
deg        | x        | number  | Radians to degrees.
rad        | x        | number  | Degrees to radians.
random     | [m [, n]] | number | Pseudo-random float in [0,1), or integer in [m, n].
randomseed | [x [, y]] |        | Seed the pseudo-random generator.
tointeger  | x        | integer or nil | x as an integer if it has an exact one.
type       | x        | string or nil | "integer", "float", or nil for a non-number.
ult        | m, n     | boolean | Unsigned comparison m < n.
""",
    ),
    *_rows(
        "utf8.",
        """
char      | ...                 | string   | UTF-8 string from code points.
codes     | s                   | iterator | Iterate over the code points of s.
codepoint | s [, i [, j]]       | integers | Code points of s[i..j].
len       | s [, i [, j]]       | integer or nil, position | Number of UTF-8 characters.
offset    | s, n [, i]          | integer  | Byte position of the n-th character.
""",
    ),
    *_rows(
        "coroutine.",
        """
create      | f          | thread  | A new coroutine running f.
resume      | co, ...    | ok, ... | Start or continue a coroutine.
yield       | ...        | ...     | Suspend the running coroutine.
status      | co         | string  | "running", "suspended", "normal" or "dead".
wrap        | f          | function | A function that resumes a new coroutine on each call.
running     |            | thread, boolean | The running coroutine.
isyieldable |            | boolean | Whether the running coroutine can yield.
close       | co         | ok, message | Close a suspended or dead coroutine.
""",
    ),
    *_rows(
        "os.",
        """
time  | [t]              | integer | Current time, or the time of date table t.
clock |                  | number  | CPU time used, in seconds.
date  | [format [, time]] | string or table | Format a date (format "*t" gives a table).
""",
    ),
)
"""The Lua library functions the sandbox keeps, as the Lua 5.4 manual describes them."""

CONSTANTS: dict[str, tuple[str, ...]] = {
    "": ("_G", "_VERSION"),
    "math": ("huge", "pi", "maxinteger", "mininteger"),
    "utf8": ("charpattern",),
}
"""Non-function fields of the kept library."""

KEYWORDS: tuple[str, ...] = (
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
)  # fmt: skip

LIBRARY_TABLES: tuple[str, ...] = ("string", "table", "math", "utf8", "coroutine", "os")

FUNCTIONS: dict[str, LuaFunction] = {function.name: function for function in (*BRIDGE, *IN_SANDBOX, *STATE, *LIBRARY)}
"""Every function of the contract by full name."""


def members(table: str) -> list[str]:
    """Field names of a contract table (``jido``, ``jido.state``, ``string``, … or ``""`` for globals)."""
    prefix = f"{table}." if table else ""
    names = {name[len(prefix) :] for name in FUNCTIONS if name.startswith(prefix) and "." not in name[len(prefix) :]}
    names.update(CONSTANTS.get(table, ()))
    if table == "":
        names.update(("jido", *LIBRARY_TABLES))
    if table == "jido":
        names.add("state")
    return sorted(names)


def bridge_summary(indent: str = "") -> str:
    """The ``jido.*`` functions: a signature line and an indented doc line each."""
    return "\n".join(f"{indent}{f.signature}\n{indent}    {f.doc}" for f in (*BRIDGE, *IN_SANDBOX, *STATE))


def markdown_table() -> str:
    """The bridge table of the README, in Markdown."""
    lines = ["| Function | Returns | What it does |", "|---|---|---|"]
    for function in (*BRIDGE, *IN_SANDBOX, *STATE):
        returns = function.returns.replace("|", "\\|")
        lines.append(f"| `{function.name}({function.parameters})` | {returns} | {function.doc} |")
    return "\n".join(lines) + "\n"


def check_names(prefix: str, expected: tuple[LuaFunction, ...], actual: tuple[str, ...]) -> None:
    """Raise ``RuntimeError`` unless ``actual`` names exactly the contract's functions."""
    wanted = {function.short_name for function in expected}
    if wanted != set(actual):
        raise RuntimeError(f"{prefix}* differs from the contract: {sorted(wanted ^ set(actual))}")

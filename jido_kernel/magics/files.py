"""File magics on the current session's project root: ``%validate_path``,
``%read_file``, ``%%write_file``, ``%list_dir``.

Their path arguments are untrusted (an agent may have chosen the name), so they follow
the rules Lua follows (policy ``SANDBOX``): confined to the project root, ``.jido_code``
protected, hard-linked and special files refused, ``.git`` and installed code
(``__pycache__``, ``node_modules``, virtual environments) read-only. Paths are taken
literally: no ``{expr}`` or ``$var`` expansion.
"""

from __future__ import annotations

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from jido_kernel import security
from jido_kernel.commands.git import sandbox_policy
from jido_kernel.display.reprs import DirListing, FileText
from jido_kernel.magics.arguments import help_requested, parse
from jido_kernel.security.lines import line_window, number_lines
from jido_kernel.session import current_session


@magics_class
class FileMagics(Magics):
    """Confined file operations for notebook cells."""

    @magic_arguments()
    @argument("path", help="a path relative to the project root (or absolute inside it)")
    @line_magic
    @no_var_expand
    def validate_path(self, line: str) -> str | None:
        """%validate_path PATH

        Check PATH against the session's security rules and return it resolved.
        A refused path is one line naming the rule it broke.

        Examples
        --------
        ::

            %validate_path src/main.lua      # '/home/me/project/src/main.lua'
            %validate_path ../../etc/passwd  # SecurityError: path escapes project boundary
        """
        if help_requested(self.validate_path, line):
            return None
        args = parse(self.validate_path, line)
        root = current_session().project_root
        return str(security.validate_path(args.path, root, policy=security.SANDBOX))

    @magic_arguments()
    @argument("path", help="file to read, relative to the project root")
    @argument("--offset", type=int, default=None, help="first line to return (1-based)")
    @argument("--limit", type=int, default=None, help="number of lines to return")
    @line_magic
    @no_var_expand
    def read_file(self, line: str) -> FileText | None:
        """%read_file PATH [--offset N] [--limit N]

        Read a text file of the project and return its text (a ``str``); the cell shows
        it with line numbers. ``--offset``/``--limit`` select a window of lines.

        Examples
        --------
        ::

            text = %read_file README.md
            %read_file src/app.lua --offset 10 --limit 20
        """
        if help_requested(self.read_file, line):
            return None
        args = parse(self.read_file, line)
        text = current_session().manager.read_file(args.path)
        return FileText(line_window(text, args.offset, args.limit), number_lines(text, args.offset, args.limit))

    @magic_arguments()
    @argument("path", help="file to write, relative to the project root")
    @argument("--append", action="store_true", help="add the cell to the end of the file")
    @cell_magic
    @no_var_expand
    def write_file(self, line: str, cell: str) -> None:
        """%%write_file PATH [--append]

        Write the cell's body to PATH in the project (parent directories are created).
        The write is atomic: the file holds the old or the new content, never a mix.

        Examples
        --------
        ::

            %%write_file notes/todo.md
            - write the tests first
        """
        if help_requested(self.write_file, line):
            return None
        args = parse(self.write_file, line)
        manager = current_session().manager
        content = cell
        if args.append and manager.file_exists(args.path):
            content = manager.read_file(args.path) + cell
        manager.write_file(args.path, content, policy=sandbox_policy(manager.project_root))
        verb = "Appended" if args.append else "Wrote"
        print(f"{verb} {len(cell.encode('utf-8'))} bytes to {args.path}")

    @magic_arguments()
    @argument("path", nargs="?", default=".", help="directory (default: the project root)")
    @argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PATTERN",
        help="glob pattern of names to leave out (repeatable)",
    )
    @line_magic
    @no_var_expand
    def list_dir(self, line: str) -> DirListing | None:
        """%list_dir [PATH] [--ignore PATTERN ...]

        List a directory of the project: directories first, then files, alphabetically.
        Returns a list of ``{"name", "type"}`` dicts, shown as a table.

        Examples
        --------
        ::

            %list_dir
            entries = %list_dir src --ignore '*.tmp'
        """
        if help_requested(self.list_dir, line):
            return None
        args = parse(self.list_dir, line)
        entries = current_session().manager.list_dir(args.path, ignore_patterns=args.ignore)
        return DirListing(entries)

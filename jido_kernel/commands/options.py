"""Per-command option allow-lists for :mod:`jido_kernel.commands.run`.

Every allow-listed command has a table of the options it is known to need; an option
nobody listed is refused before anything runs, with one line naming the command and the
option. Allow-lists, never deny-lists: GNU tools keep finding ways to create names no
argument shows (``--backup --suffix``, ``-T``, ``--parents``), to run programs
(``--compress-program``, ``find -exec``) or to read lists of files (``--files0-from``).

A table is written as one spec string, which is also what README shows
(:func:`markdown_table`). Tokens: ``-x`` a short flag; ``-x=`` a short option taking a
value (attached ``-n5`` or the next argument); ``-x?`` a short option with an optional
attached value (``-Iseconds``); ``--name`` a long flag; ``--name=`` a long option taking a
value (``--name=v`` or ``--name v``); ``--name?`` a long option with an optional
``=value``; ``-NUM`` accepts ``-20`` (``head -20``). Long names must be given in full
(GNU's abbreviations are refused). Short flags cluster (``-rn``); ``--`` ends options.
``find`` takes primaries (:data:`FIND_PRIMARIES`) and ``git`` a table per subcommand
(:data:`GIT_OPTIONS`). ``echo``, ``printf``, ``test``, ``true`` and ``false`` take text,
not options (:data:`TEXT_COMMANDS`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from jido_kernel.errors import JidoError
from jido_kernel.values import FrozenValue, Value

__all__ = [
    "FIND_PRIMARIES",
    "GIT_OPTIONS",
    "OPTION_TABLES",
    "TEXT_COMMANDS",
    "OptionTable",
    "Parsed",
    "ShellError",
    "markdown_table",
    "parse_find",
    "parse_options",
]


class ShellError(JidoError):
    """A command was refused, not found, or timed out.

    ``reason``: ``interpreter_blocked``, ``not_allowed`` (command, subcommand or option),
    ``path_traversal``, ``absolute_path_outside``, ``symlink_escape``, ``read_only_path``,
    ``protected_path``, ``protected_settings_file``, ``git_metadata``, ``installed_code``,
    ``hardlinked_file``, ``not_regular_file``, ``too_many_entries``, ``no_repository``,
    ``invalid_argument``, ``not_found``, ``start_failed`` (e.g. out of processes or
    memory), ``timeout``.
    """

    reason = "shell_error"


class OptionTable(FrozenValue):
    """The options one command (or git subcommand) accepts; see the module docstring."""

    _fields = ("spec", "flags", "valued", "optional", "long_flags", "long_valued", "long_optional", "numeric")
    __slots__ = _fields
    spec: str
    flags: frozenset[str]
    valued: frozenset[str]
    optional: frozenset[str]
    long_flags: frozenset[str]
    long_valued: frozenset[str]
    long_optional: frozenset[str]
    numeric: bool

    def __init__(
        self,
        spec: str,
        flags: frozenset[str] = frozenset(),
        valued: frozenset[str] = frozenset(),
        optional: frozenset[str] = frozenset(),
        long_flags: frozenset[str] = frozenset(),
        long_valued: frozenset[str] = frozenset(),
        long_optional: frozenset[str] = frozenset(),
        numeric: bool = False,
    ) -> None:
        self._set(spec, flags, valued, optional, long_flags, long_valued, long_optional, numeric)

    @classmethod
    def of(cls, spec: str) -> OptionTable:
        """Build a table from its spec string."""
        kinds: dict[str, set[str]] = {key: set() for key in ("f", "v", "o", "lf", "lv", "lo")}
        numeric = False
        for token in spec.split():
            if token == "-NUM":
                numeric = True
                continue
            long = token.startswith("--")
            name, kind = (token[:-1], token[-1]) if token[-1] in "=?" else (token, "")
            name = name[2:] if long else name[1:]
            if not long and len(name) != 1:
                raise ValueError(f"bad short option in spec: {token}")
            prefix = "l" if long else ""
            kinds[prefix + {"": "f", "=": "v", "?": "o"}[kind]].add(name)
        return cls(
            spec=" ".join(spec.split()),
            flags=frozenset(kinds["f"]),
            valued=frozenset(kinds["v"]),
            optional=frozenset(kinds["o"]),
            long_flags=frozenset(kinds["lf"]),
            long_valued=frozenset(kinds["lv"]),
            long_optional=frozenset(kinds["lo"]),
            numeric=numeric,
        )


class Parsed(Value):
    """A command line split into options (``-n``/``--lines`` with their values) and operands."""

    _fields = ("options", "operands")
    __slots__ = _fields

    def __init__(self, options: list[tuple[str, str | None]] | None = None, operands: list[str] | None = None) -> None:
        self.options: list[tuple[str, str | None]] = [] if options is None else options
        self.operands: list[str] = [] if operands is None else operands

    def has(self, *names: str) -> bool:
        """True when any of ``names`` (``-r``, ``--recursive``) was given."""
        return any(name in names for name, _ in self.options)

    def values(self, *names: str) -> list[str]:
        """The values given to any of ``names``, in order."""
        return [value for name, value in self.options if name in names and value is not None]


class _Tables(Mapping[str, OptionTable]):
    """Option tables by name, each built from its spec string when first looked up: a
    worker builds the tables of the commands its cells run, not all of them at start."""

    def __init__(self, specs: dict[str, str]) -> None:
        self._specs = specs
        self._built: dict[str, OptionTable] = {}

    def __getitem__(self, name: str) -> OptionTable:
        table = self._built.get(name)
        if table is None:
            table = self._built[name] = OptionTable.of(self._specs[name])
        return table

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


_LS = (
    "-a -A -l -h -R -r -t -S -d -1 -F -p -i -s -n -g -o -G -Q -U -X -v -x -m -c -u -k -C -I= -w= "
    "--all --almost-all --human-readable --si --recursive --reverse --directory --classify? --file-type "
    "--inode --size --numeric-uid-gid --literal --quote-name --no-group --full-time --group-directories-first "
    "--quoting-style= --sort= --time= --time-style= --color? --format= --hide= --ignore= --indicator-style= "
    "--width= --block-size="
)
_GREP = (
    "-i -y -v -w -x -c -l -L -n -h -H -o -q -s -r -E -F -G -P -a -I -b -T -Z -z -e= -f= -m= -A= -B= -C= -NUM "
    "--ignore-case --no-ignore-case --invert-match --word-regexp --line-regexp --count --files-with-matches "
    "--files-without-match --line-number --no-filename --with-filename --only-matching --quiet --silent "
    "--no-messages --recursive --extended-regexp --fixed-strings --basic-regexp --perl-regexp --text "
    "--byte-offset --initial-tab --null --null-data --regexp= --file= --max-count= --after-context= "
    "--before-context= --context= --include= --exclude= --exclude-dir= --color? --colour? --binary-files= "
    "--label= --line-buffered"
)
_DIFF = (
    "-q -s -u -c -y -i -E -Z -b -w -B -a -t -T -N -r -p -d -U= -C= -W= -I= -x= "
    "--brief --report-identical-files --unified? --context? --side-by-side --ignore-case --ignore-tab-expansion "
    "--ignore-trailing-space --ignore-space-change --ignore-all-space --ignore-blank-lines --text --expand-tabs "
    "--initial-tab --new-file --unidirectional-new-file --recursive --show-c-function --minimal --normal "
    "--strip-trailing-cr --suppress-common-lines --left-column --color? --label= --width= --exclude= "
    "--ignore-matching-lines= --tabsize= --no-dereference --speed-large-files"
)
_SORT = (
    "-b -d -f -g -i -M -h -n -R -r -V -c -C -s -u -z -m -k= -t= -o= -S= "
    "--ignore-leading-blanks --dictionary-order --ignore-case --general-numeric-sort --ignore-nonprinting "
    "--month-sort --human-numeric-sort --numeric-sort --random-sort --reverse --version-sort --check? "
    "--stable --unique --zero-terminated --merge --debug --key= --field-separator= --output= --buffer-size= "
    "--sort= --parallel="
)

OPTION_TABLES: Mapping[str, OptionTable] = _Tables(
    {
        "ls": _LS,
        "cat": (
            "-n -b -s -E -T -A -v -e -t -u --number --number-nonblank --squeeze-blank --show-ends --show-tabs "
            "--show-all --show-nonprinting"
        ),
        "head": "-q -v -z -n= -c= -NUM --quiet --silent --verbose --zero-terminated --lines= --bytes=",
        "tail": "-q -v -z -n= -c= -NUM --quiet --silent --verbose --zero-terminated --lines= --bytes=",
        "grep": _GREP,
        "wc": "-c -m -l -L -w --bytes --chars --lines --max-line-length --words --total=",
        "diff": _DIFF,
        "sort": _SORT,
        "uniq": (
            "-c -d -D -u -i -z -f= -s= -w= --count --repeated --all-repeated? --unique --ignore-case "
            "--zero-terminated --skip-fields= --skip-chars= --check-chars= --group?"
        ),
        "pwd": "-L -P",
        "mkdir": "-p -v -m= --parents --verbose --mode=",
        "rmdir": "-p -v --parents --verbose --ignore-fail-on-non-empty",
        "cp": (
            "-f -i -n -p -v -r -R -a -P -d -u -x --force --interactive --no-clobber --verbose --recursive "
            "--archive --no-dereference --preserve? --no-preserve= --update? --remove-destination "
            "--strip-trailing-slashes --sparse= --attributes-only --one-file-system"
        ),
        "mv": "-f -i -n -v -u --force --interactive --no-clobber --verbose --update? --strip-trailing-slashes",
        "ln": "-s -f -i -n -v -r --symbolic --force --interactive --no-dereference --verbose --relative",
        "touch": "-a -c -m -h -d= -t= -r= --no-create --no-dereference --date= --reference= --time=",
        "rm": "-f -i -I -r -R -d -v --force --recursive --dir --verbose --one-file-system --preserve-root",
        "date": "-u -R -d= -r= -I? --utc --universal --rfc-email --date= --reference= --iso-8601? --rfc-3339=",
        "sleep": "",
        "find": (""),  # leading options are parsed by parse_find
    }
)
"""Option tables of :data:`DEFAULT_ALLOWLIST <jido_kernel.commands.run.DEFAULT_ALLOWLIST>` commands."""

TEXT_COMMANDS = frozenset({"echo", "printf", "test", "true", "false"})
"""Commands whose arguments are text (``echo -n``, ``printf FORMAT``, ``test -f X``), not options."""

_FIND_WITH_VALUE = (
    "-name -iname -path -ipath -wholename -iwholename -regex -iregex -regextype -type -xtype -maxdepth -mindepth "
    "-size -mtime -mmin -atime -amin -ctime -cmin -newer -perm -links -printf -user -group -uid -gid"
)
_FIND_ALONE = (
    "-empty -print -print0 -prune -not ! ( ) -o -a -or -and -depth -true -false -readable -writable -executable "
    "-ls -quit -xdev -mount -nouser -nogroup -daystart"
)
FIND_PRIMARIES: dict[str, int] = {
    **{primary: 1 for primary in _FIND_WITH_VALUE.split()},
    **{primary: 0 for primary in _FIND_ALONE.split()},
}
"""find's allowed primaries and how many values each takes. Not listed, so refused:
``-exec -execdir -ok -okdir -delete -fprint -fprint0 -fprintf -fls -files0-from``,
``-L``/``-H``/``-follow`` (following symlinks out of the root)."""

_FIND_LEADING = frozenset({"-P"})

_REVISIONS = (
    "-NUM -n= -i -E -F -z --max-count= --skip= --since= --after= --until= --before= --author= --committer= "
    "--grep= --all-match --invert-grep --regexp-ignore-case --extended-regexp --fixed-strings --merges "
    "--no-merges --first-parent --all --branches? --tags? --remotes? --reverse --date-order --topo-order "
    "--author-date-order --full-history --simplify-by-decoration --left-right --cherry-pick --ancestry-path "
    "--boundary --not --follow --source --parents --children --oneline --format= --pretty? --abbrev-commit "
    "--no-abbrev-commit --abbrev? --decorate? --no-decorate --relative-date --date= --graph "
    "--no-walk? --do-walk --count --encoding= --notes? --no-notes"
)
_DIFFS = (
    "-p -u -s -z -w -b -a -W -R -U= -M? -C? -S= -G= --patch --no-patch --unified= --raw --patch-with-raw --stat? "
    "--shortstat --numstat --dirstat? --summary --name-only --name-status --check --full-index --binary "
    "--text --find-renames? --find-copies? --no-renames --diff-filter= --pickaxe-regex --pickaxe-all "
    "--ignore-space-at-eol --ignore-space-change --ignore-all-space --ignore-blank-lines --ignore-cr-at-eol "
    "--minimal --patience --histogram --diff-algorithm= --function-context --exit-code --quiet --relative? "
    "--no-relative --src-prefix= --dst-prefix= --no-prefix --color? --no-color --color-moved? --word-diff? "
    "--word-diff-regex= --color-words? --ita-invisible-in-index --ignore-submodules? --cc --combined-all-paths "
    "-m --merge --compact-summary --stat-width= --stat-count= --line-prefix= --inter-hunk-context="
)
_DIFF_PLUMBING = f"{_DIFFS} -r -t --root --cached --no-commit-id --pretty? --format= -c -v"

GIT_OPTIONS: Mapping[str, OptionTable] = _Tables(
    {
        "status": (
            "-s -b -u? -z --short --branch --porcelain? --long --untracked-files? --ignored? "
            "--ignore-submodules? --show-stash --ahead-behind --no-ahead-behind --renames --no-renames "
            "--find-renames?"
        ),
        "log": f"{_REVISIONS} {_DIFFS}",
        "show": f"{_REVISIONS} {_DIFFS}",
        "diff": f"{_DIFFS} --cached --staged --merge-base",
        "shortlog": f"{_REVISIONS} -s -e -c --numbered --summary --email --committer --group=",
        "rev-list": f"{_REVISIONS} --objects --header --timestamp",
        "diff-tree": _DIFF_PLUMBING,
        "diff-files": _DIFF_PLUMBING,
        "diff-index": _DIFF_PLUMBING,
        "grep": (
            "-n -i -w -l -L -e= -E -F -G -P -c -v -h -H -o -q -I -z -p -W -A= -B= -C= -m= -NUM --line-number "
            "--ignore-case --word-regexp --files-with-matches --name-only --files-without-match --count "
            "--invert-match --cached --untracked --exclude-standard --extended-regexp "
            "--fixed-strings --basic-regexp --perl-regexp --null --heading --break --full-name --column "
            "--show-function --function-context --all-match --and --or --not --max-depth= --context= "
            "--after-context= --before-context= --max-count= --color? --no-color --text"
        ),
        "ls-files": (
            "-c -d -m -o -i -s -u -k -z -t -v -x= --cached --deleted --modified --others --ignored --stage "
            "--unmerged --killed --exclude-standard --directory --no-empty-directory --full-name --abbrev? "
            "--error-unmatch --exclude= --deduplicate"
        ),
        "ls-tree": (
            "-d -r -t -l -z --long --name-only --name-status --object-only --full-name --full-tree --abbrev? --format="
        ),
        "rev-parse": (
            "-q --short? --verify --quiet --abbrev-ref? --symbolic --symbolic-full-name --all --branches? --tags? "
            "--remotes? --show-toplevel --show-prefix --show-cdup --git-dir --absolute-git-dir --git-common-dir "
            "--is-inside-work-tree --is-inside-git-dir --is-bare-repository --is-shallow-repository "
            "--show-object-format? --default= --revs-only --no-revs --flags --no-flags"
        ),
        "blame": (
            "-l -t -s -e -w -p -c -n -f -b -L= -M? -C? --porcelain --line-porcelain --show-name --show-number "
            "--show-email --root --show-stats --date= --since= --abbrev? --incremental --minimal --score-debug"
        ),
        "describe": (
            "--all --tags --contains --abbrev? --candidates= --exact-match --long --match= --exclude= --always "
            "--first-parent --dirty? --broken?"
        ),
        "cat-file": "-t -s -e -p --allow-unknown-type",
        "show-ref": "-d -s -q --head --heads --tags --dereference --hash? --verify --abbrev? --quiet",
        "for-each-ref": (
            "--format= --sort= --count= --shell --python --perl --tcl --points-at= --merged? --no-merged? "
            "--contains? --no-contains? --ignore-case --color?"
        ),
        "name-rev": "--tags --refs= --exclude= --all --name-only --no-undefined --always",
        "merge-base": "-a --all --octopus --independent --is-ancestor --fork-point",
        "count-objects": "-v -H --verbose --human-readable",
        "check-ignore": "-q -n -z --quiet --non-matching --no-index",
        "branch": (
            "-l -a -r -v -i --list --all --remotes --verbose --show-current --ignore-case --color? --no-color "
            "--column? --no-column --omit-empty --contains? --no-contains? --merged? --no-merged? --points-at= "
            "--sort= --format= --abbrev? --no-abbrev"
        ),
        "tag": (
            "-l -i -n? --list --ignore-case --color? --no-color --column? --no-column --omit-empty --contains? "
            "--no-contains? --merged? --no-merged? --points-at= --sort= --format="
        ),
        "version": "--build-options",
    }
)
"""git's read-only subcommands and their options. Not listed, so refused: ``--output``,
``--ext-diff``, ``--textconv``, ``-O``/``--open-files-in-pager``, ``--no-index`` (diff),
``--recurse-submodules``, ``--show-signature``, ``--contents``, every file-list option.
Every combination that shows work-tree file content is one the hard-link pre-check
(:func:`jido_kernel.commands.git.check_worktree_reads`) covers, or it is not listed:
``status -v/--verbose`` (``-vv`` shows the work-tree diff), ``grep --no-exclude-standard``
(ignored files), ``ls-files --eol/--format`` (``%(eolinfo:worktree)``) and
``--exclude-per-directory``, ``check-ignore -v`` (prints ignore-file lines),
``--use-mailmap``."""


def _refuse(command: str, option: str, table: OptionTable, given: str) -> ShellError:
    shown = option if option == given else f"{option} (in {given})"
    allowed = f"allowed: {table.spec}" if table.spec else f"{command} accepts no options"
    return ShellError(f"Security error: option not allowed for {command}: {shown} ({allowed})", reason="not_allowed")


def _needs_value(command: str, option: str) -> ShellError:
    return ShellError(f"Security error: option {option} of {command} needs a value", reason="invalid_argument")


def parse_options(command: str, args: Sequence[str], table: OptionTable | None) -> Parsed:
    """Split ``args`` by ``table`` (GNU conventions, options anywhere before ``--``).

    ``table`` None: a command added to the allow-list without a table; it accepts no
    options. Raises :class:`ShellError` naming the first option not in the table.
    """
    if table is None:
        table = OptionTable(spec="")
        unlisted = True
    else:
        unlisted = False
    parsed = Parsed()
    index, ended = 0, False
    while index < len(args):
        arg = args[index]
        index += 1
        if ended or arg == "-" or not arg.startswith("-"):
            parsed.operands.append(arg)
        elif arg == "--":
            ended = True
        elif unlisted:
            raise ShellError(
                f"Security error: option not allowed for {command}: {arg} ({command} was added to the allow-list "
                "in settings and has no option table, so it accepts no options; put -- before operands that "
                "start with -)",
                reason="not_allowed",
            )
        elif arg.startswith("--"):
            index = _parse_long(command, arg, args, index, table, parsed)
        else:
            index = _parse_short(command, arg, args, index, table, parsed)
    return parsed


def _parse_long(command: str, arg: str, args: Sequence[str], index: int, table: OptionTable, parsed: Parsed) -> int:
    name, eq, value = arg[2:].partition("=")
    option = f"--{name}"
    if name in table.long_flags and not eq:
        parsed.options.append((option, None))
    elif name in table.long_optional:
        parsed.options.append((option, value if eq else None))
    elif name in table.long_valued:
        if not eq:
            if index >= len(args):
                raise _needs_value(command, option)
            value, index = args[index], index + 1
        parsed.options.append((option, value))
    else:
        raise _refuse(command, option, table, arg)
    return index


def _parse_short(command: str, arg: str, args: Sequence[str], index: int, table: OptionTable, parsed: Parsed) -> int:
    if table.numeric and arg[1:].isdigit():
        parsed.options.append(("-NUM", arg[1:]))
        return index
    position = 1
    while position < len(arg):
        letter = arg[position]
        option = f"-{letter}"
        rest = arg[position + 1 :]
        if letter in table.flags:
            parsed.options.append((option, None))
            position += 1
        elif letter in table.optional:
            parsed.options.append((option, rest or None))
            break
        elif letter in table.valued:
            if not rest:
                if index >= len(args):
                    raise _needs_value(command, option)
                rest, index = args[index], index + 1
            parsed.options.append((option, rest))
            break
        else:
            raise _refuse(command, option, table, arg)
    return index


def parse_find(args: Sequence[str]) -> Parsed:
    """``find [-P] [starting point…] [expression]`` with only :data:`FIND_PRIMARIES`.

    Operands are the starting points and the file named by ``-newer`` (``options`` keep
    every primary with its value).
    """
    parsed = Parsed()
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] in _FIND_LEADING:
        parsed.options.append((args[index], None))
        index += 1
    while index < len(args) and not args[index].startswith("-") and args[index] not in ("(", ")", "!"):
        parsed.operands.append(args[index])
        index += 1
    while index < len(args):
        primary = args[index]
        arity = FIND_PRIMARIES.get(primary)
        if arity is None:
            allowed = " ".join(FIND_PRIMARIES)
            raise ShellError(
                f"Security error: option not allowed for find: {primary} (allowed: -P {allowed})", reason="not_allowed"
            )
        values = args[index + 1 : index + 1 + arity]
        if len(values) < arity:
            raise _needs_value("find", primary)
        parsed.options.append((primary, values[0] if values else None))
        if primary == "-newer":
            parsed.operands.append(values[0])
        index += 1 + arity
    return parsed


def markdown_table() -> str:
    """The option tables as a Markdown table (for README)."""
    rows = ["| Command | Allowed options |", "| --- | --- |"]
    for name, table in OPTION_TABLES.items():
        shown = " ".join(["-P", *FIND_PRIMARIES]) if name == "find" else table.spec or "(none)"
        rows.append(f"| `{name}` | `{shown}` |")
    rows.append(f"| `{' '.join(sorted(TEXT_COMMANDS))}` | text arguments (not parsed as options) |")
    for sub, table in GIT_OPTIONS.items():
        rows.append(f"| `git {sub}` | `{table.spec or '(none)'}` |")
    return "\n".join(rows)

"""Reading rootwrap filter files and ``rootwrap.conf`` exactly as oslo.rootwrap 7.10 reads them.

oslo.rootwrap loads every file of a filters directory with ``configparser.RawConfigParser(strict=
False)`` and turns each ``[Filters]`` option into a filter object. This module reproduces that
reading (and its quirks) without importing oslo.rootwrap, and adds what configparser throws away:
the line each entry starts on, and a `FilterProblem` for everything rootwrap would reject, crash
on or silently misread. Nothing here raises on bad input.

Quirks reproduced on purpose (each is also reported as a problem where it changes the meaning):

- option names are lower-cased; ``=`` works as well as ``:``;
- a later duplicate name in one file replaces the earlier value *in the earlier position*;
- indented lines continue the value, blank lines and full-line ``#``/``;`` comments inside it
  do not end it;
- inline comments are not comments: ``CommandFilter, kpartx, root  # x`` runs as ``root  # x``;
- the value is split on every ``,``, so a regex can never hold a comma (``a{1,3}``);
- options of a ``[DEFAULT]`` section are read as filters too, ahead of ``[Filters]``.

`match` answers which filter a command line would match, following each class's own rule.
"""

from __future__ import annotations

import functools
import itertools
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from leastpriv import sourcetree
from leastpriv.migrate.model import Filter, FilterProblem, RootwrapConf
from leastpriv.migrate.risk import assess

__all__ = [
    "FILTER_CLASSES",
    "IMPLICIT_PATH",
    "find_filter_files",
    "match",
    "read_filter_file",
    "read_filters",
    "read_rootwrap_conf",
]

IMPLICIT_PATH = "<implicit>"

# Fields each class needs after its name; fewer makes oslo.rootwrap's constructor raise
# TypeError while it loads, which stops rootwrap altogether.
FILTER_CLASSES: dict[str, int] = {
    "CommandFilter": 2,
    "RegExpFilter": 2,
    "PathFilter": 2,
    "KillFilter": 1,
    "ReadFileFilter": 1,
    "IpFilter": 2,
    "EnvFilter": 2,
    "ChainingFilter": 2,
    "IpNetnsExecFilter": 2,
    "ChainingRegExpFilter": 2,
}
_CHAINING = frozenset({"ChainingFilter", "IpNetnsExecFilter", "ChainingRegExpFilter"})
_NETNS_WORDS = ("net", "netn", "netns")
_EXEC_WORDS = ("e", "ex", "exe", "exec")

# configparser's own patterns (RawConfigParser.SECTCRE / OPTCRE with the default delimiters).
_SECTION_RE = re.compile(r"\[(?P<header>.+)\]")
_OPTION_RE = re.compile(r"(?P<option>.*?)\s*(?P<vi>[=:])\s*(?P<value>.*)$")
_NONSPACE_RE = re.compile(r"\S")
_INLINE_COMMENT_RE = re.compile(r"\s[#;]")


# -- The INI layer: configparser's reading, with line numbers ------------------------------------


@dataclass
class _Option:
    name: str
    line: int
    lines: list[str]

    @property
    def value(self) -> str:
        return "\n".join(self.lines).rstrip()


@dataclass
class _Ini:
    sections: dict[str, dict[str, _Option]] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


def _parse_ini(text: str) -> _Ini:
    """Read `text` as RawConfigParser does, keeping where each option starts."""
    ini = _Ini()
    section: dict[str, _Option] | None = None
    option: _Option | None = None
    indent_level = 0
    for lineno, line in enumerate(text.split("\n"), start=1):
        is_comment = line.strip().startswith(("#", ";"))
        value = "" if is_comment else line.strip()
        if not value:
            if not is_comment and option is not None:
                option.lines.append("")  # blank lines belong to the value (stripped at the end)
            continue
        indent = _NONSPACE_RE.search(line).start()  # type: ignore[union-attr]  # value is non-blank
        if option is not None and indent > indent_level:
            option.lines.append(value)
            continue
        indent_level = indent
        header = _SECTION_RE.match(value)
        if header:
            section = ini.sections.setdefault(header["header"], {})
            option = None
        elif section is None:
            ini.problems.append((lineno, "text before any section header: rootwrap fails on this "
                                         "file (MissingSectionHeaderError)"))
            return ini  # configparser stops at the first such line
        else:
            option = _read_option(ini, section, lineno, value) or option
    return ini


def _read_option(ini: _Ini, section: dict[str, _Option], lineno: int, text: str) -> _Option | None:
    found = _OPTION_RE.match(text)
    if not found or not found["option"]:
        ini.problems.append((lineno, f"not a 'name: Class, ...' line ({text!r}): rootwrap fails "
                                     "on this file (configparser ParsingError)"))
        return None
    name = found["option"].rstrip().lower()
    earlier = section.get(name)
    if earlier is not None:
        ini.problems.append((lineno, f"duplicate name {name!r} replaces the definition on line "
                                     f"{earlier.line}"))
    # Assigning to an existing key keeps its place: the replacement sits where the first one was.
    section[name] = _Option(name, lineno, [found["value"].strip()])
    return section[name]


# -- From INI options to filters -----------------------------------------------------------------


def _env_names(fields: Sequence[str | None]) -> set[str] | None:
    """The leading ``NAME=VALUE`` names, as EnvFilter extracts them; None if one is unknown."""
    names: set[str] = set()
    for value in fields:
        if value is None:
            return None
        if "=" not in value:
            break
        names.add(value.partition("=")[0])
    return names


def _env_exec(exec_path: str, args: Sequence[str]) -> str:
    """The program an EnvFilter runs: the field after its variables (when its exec names env)."""
    count = len(_env_names(args) or ())
    # oslo.rootwrap tests `"env" in exec_path` (a substring test) before swapping the program.
    if "env" in exec_path and count < len(args):
        return args[count]
    return exec_path


def _build(path: str, option: _Option) -> tuple[Filter | None, list[FilterProblem]]:
    fields = [part.strip() for part in option.value.split(",")]
    cls, rest = fields[0], fields[1:]
    if cls not in FILTER_CLASSES:
        message = f"unknown filter class {cls!r}: rootwrap logs it and skips the filter"
        return None, [FilterProblem(path, option.line, message)]
    if len(rest) < FILTER_CLASSES[cls]:
        message = (f"{cls} needs at least {FILTER_CLASSES[cls]} fields, got {len(rest)}: "
                   "rootwrap fails to load (TypeError)")
        return None, [FilterProblem(path, option.line, message)]
    if cls == "KillFilter":
        exec_path, run_as, args, command = "/bin/kill", rest[0], rest[1:], "kill"
    elif cls == "ReadFileFilter":
        exec_path, run_as, args, command = "/bin/cat", "root", rest, "cat"
    else:
        exec_path, run_as, args = rest[0], rest[1], rest[2:]
        program = _env_exec(exec_path, args) if cls == "EnvFilter" else exec_path
        command = posixpath.basename(program)
    flt = Filter(path, option.line, option.name, cls, command, exec_path, run_as, tuple(args))
    problems = [FilterProblem(path, option.line, text) for text in _misreadings(flt, rest)]
    return replace(flt, risk=assess(flt)), problems


def _misreadings(flt: Filter, fields: Sequence[str]) -> list[str]:
    """What in one filter rootwrap reads differently from what its author evidently meant."""
    found = [f"inline comment kept in field {value!r}: rootwrap does not strip it"
             for value in fields if _INLINE_COMMENT_RE.search(value)]
    if any(value == "" for value in fields):
        found.append("empty field (a stray comma?): it counts as an argument")
    if flt.cls in ("RegExpFilter", "ChainingRegExpFilter"):
        found += _regex_misreadings(flt.args)
    elif flt.cls == "PathFilter":
        found += [f"PathFilter argument {value!r} looks like a regex, but PathFilter compares "
                  "literally or by prefix: it never matches what was meant"
                  for value in flt.args if _looks_like_regex(value)]
    elif flt.cls == "KillFilter" and not flt.args:
        found.append("KillFilter without a target: rootwrap raises IndexError on the first kill")
    elif flt.cls == "EnvFilter" and not _env_names(flt.args):
        found.append("EnvFilter without NAME= fields never matches")
    elif flt.cls == "ChainingFilter":
        found.append("ChainingFilter is a base class: it never matches")
    elif flt.cls == "IpNetnsExecFilter" and flt.run_as != "root":
        found.append("IpNetnsExecFilter with a run-as user other than root never matches")
    return found


def _regex_misreadings(patterns: Sequence[str]) -> list[str]:
    found = []
    for index, pattern in enumerate(patterns):
        if index + 1 < len(patterns) and _opens_more_than_closes(pattern):
            joined = f"{pattern},{patterns[index + 1]}"
            found.append(f"regex {joined!r} was split at its comma into two fields")
        try:
            _compiled(pattern)
        except re.error as error:
            found.append(f"regex {pattern!r} does not compile ({error}): the filter never matches")
    return found


def _opens_more_than_closes(pattern: str) -> bool:
    unescaped = re.sub(r"\\.", "", pattern)
    return any(unescaped.count(open_) > unescaped.count(close)
               for open_, close in ("{}", "[]", "()"))


def _looks_like_regex(value: str) -> bool:
    return any(token in value for token in ("(?", ".*", ".+", "\\", "[", "^"))


# -- Reading files and directories ----------------------------------------------------------------


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def read_filter_file(path: Path, *, root: Path) -> tuple[list[Filter], list[FilterProblem]]:
    """The filters of one file, in the order rootwrap would try them, and what is wrong in it.

    Filters are kept even when rootwrap would refuse the whole file (a parse error stops rootwrap
    before it runs anything): a plan wants to know what the file meant, the problems say the rest.
    """
    shown = _relative(Path(path), Path(root))
    try:
        raw = Path(path).read_bytes()
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError) as error:
        return [], [FilterProblem(shown, 0, f"cannot be read as text: {error}")]
    ini = _parse_ini(text)
    problems = [FilterProblem(shown, line, message) for line, message in ini.problems]
    if "Filters" not in ini.sections:
        problems.append(FilterProblem(shown, 0, "no [Filters] section: rootwrap fails on this "
                                                "file (NoSectionError)"))
        return [], problems
    filters: list[Filter] = []
    for option in _filter_options(ini, shown, problems):
        flt, found = _build(shown, option)
        problems += found
        if flt is not None:
            filters.append(flt)
    problems.sort(key=lambda problem: problem.line)
    return filters, problems


def _filter_options(ini: _Ini, shown: str, problems: list[FilterProblem]) -> list[_Option]:
    """``items("Filters")``: [DEFAULT] options first, overridden in place by [Filters] ones."""
    options = dict(ini.sections.get("DEFAULT", {}))
    problems += [FilterProblem(shown, option.line, f"{option.name!r} is in [DEFAULT]: rootwrap "
                                                   "reads it as a filter too")
                 for option in options.values()]
    options.update(ini.sections["Filters"])
    return list(options.values())


def _implicit_privsep_helper() -> Filter:
    # oslo.rootwrap >= 5.0.0 appends this to every filter list, whatever the files say.
    flt = Filter(IMPLICIT_PATH, 0, "privsep-helper", "CommandFilter", "privsep-helper",
                 "privsep-helper", "root", ())
    return replace(flt, risk=assess(flt))


def _directory_files(directory: Path) -> list[Path]:
    # rootwrap uses os.listdir order, which the filesystem decides; sorting keeps reports stable.
    return [directory / name for name in sorted(os.listdir(directory))
            if not name.startswith(".") and (directory / name).is_file()]


def read_filters(paths: Iterable[Path], *, root: Path) -> tuple[list[Filter], list[FilterProblem]]:
    """The filters of files and directories, then rootwrap's implicit ``privsep-helper`` one.

    A directory contributes every non-dot regular file (no suffix needed), by sorted name; rootwrap
    itself uses unsorted ``os.listdir`` order, so where two files' filters both match a command the
    winner may differ on a real host. A missing path is reported (rootwrap skips it silently).
    """
    filters: list[Filter] = []
    problems: list[FilterProblem] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = _directory_files(path)
        elif path.is_file():
            files = [path]
        else:
            problems.append(FilterProblem(_relative(path, Path(root)), 0,
                                          "no such file or directory: rootwrap skips it"))
            continue
        for file in files:
            found, trouble = read_filter_file(file, root=root)
            filters += found
            problems += trouble
    filters.append(_implicit_privsep_helper())
    return filters, problems


def find_filter_files(root: Path) -> list[Path]:
    """Filter files in a source tree or unpacked wheel: files in ``rootwrap.d/`` and ``*.filters``.

    Test directories are skipped (their filter files are fixtures, not what the project runs).
    """
    return [path for path in sourcetree.iter_files(Path(root), suffixes=())
            if not path.name.startswith(".")
            and (path.parent.name == "rootwrap.d" or path.name.endswith(".filters"))]


def read_rootwrap_conf(path: Path, *, root: Path) -> RootwrapConf:
    """``[DEFAULT]`` ``filters_path`` and ``exec_dirs`` of a rootwrap.conf, split as rootwrap does.

    Values are split on ``,`` and *not* stripped, as rootwrap does: ``/a, /b`` yields ``" /b"``, a
    directory rootwrap never finds. An absent ``exec_dirs`` is ``()`` (rootwrap then uses
    ``$PATH``); an absent ``filters_path`` or an unreadable file is ``()`` too (rootwrap exits 97).
    """
    shown = _relative(Path(path), Path(root))
    try:
        ini = _parse_ini(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return RootwrapConf(shown, (), ())
    defaults = ini.sections.get("DEFAULT", {})

    def option(name: str) -> tuple[str, ...]:
        found = defaults.get(name)
        return tuple(found.value.split(",")) if found is not None else ()

    return RootwrapConf(shown, option("filters_path"), option("exec_dirs"))


# -- Matching --------------------------------------------------------------------------------------
# argv items that are None stand for arguments only known at run time. The rule is conservative:
# a filter matches only if it would match whatever those values turn out to be, so a filter that
# needs a specific value at an unknown position does not match. Two exceptions keep the answer
# useful: a regex that is a bare wildcard (`.*`, `.+`) accepts an unknown value, and a KillFilter's
# pid may be unknown (its target process is only known at run time anyway).

_WILDCARDS = frozenset({".*", ".*?", ".+", ".+?"})


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    # rootwrap anchors the end only, by appending "$" (which also matches before a final "\n").
    return re.compile(pattern + "$")


def _pattern_accepts(pattern: str, value: str | None) -> bool:
    if value is None:
        return pattern in _WILDCARDS
    try:
        return _compiled(pattern).match(value) is not None
    except re.error:
        return False  # rootwrap denies on a badly formed pattern


def _names_program(exec_path: str, value: str | None) -> bool:
    return value is not None and value in (exec_path, posixpath.basename(exec_path))


def _match_command(flt: Filter, argv: Sequence[str | None]) -> bool:
    return bool(argv) and _names_program(flt.exec_path, argv[0])


def _match_regexp(flt: Filter, argv: Sequence[str | None]) -> bool:
    if not argv or len(flt.args) != len(argv):
        return False
    return all(map(_pattern_accepts, flt.args, argv))


def _match_chaining_regexp(flt: Filter, argv: Sequence[str | None]) -> bool:
    if not argv or len(flt.args) > len(argv):
        return False
    return all(map(_pattern_accepts, flt.args, argv))


def _path_accepts(constraint: str, value: str | None) -> bool:
    if not posixpath.isabs(constraint):
        return constraint == "pass" or constraint == value
    # rootwrap resolves the value with os.path.realpath; here it is normalised lexically (no
    # symlinks followed, nothing on this host consulted). A relative value depends on rootwrap's
    # working directory, so it does not match for sure.
    if value is None or not posixpath.isabs(value):
        return False
    return posixpath.normpath(value).startswith(constraint)  # by characters, as rootwrap


def _match_path(flt: Filter, argv: Sequence[str | None]) -> bool:
    if len(argv) < 2 or len(flt.args) != len(argv) - 1 or not _match_command(flt, argv):
        return False
    return all(map(_path_accepts, flt.args, argv[1:]))


def _match_kill(flt: Filter, argv: Sequence[str | None]) -> bool:
    # The target (flt.args[0]) is compared with /proc/<pid>/exe at run time; statically only the
    # shape and the signal can be checked.
    if not argv or argv[0] != "kill" or not flt.args:
        return False
    if len(argv) == 3:
        if argv[1] not in flt.args[1:]:
            return False
    elif len(argv) != 2 or len(flt.args) > 1:
        return False
    pid = argv[-1]
    return pid is None or pid.lstrip("+-").strip().isdigit()


def _match_read_file(flt: Filter, argv: Sequence[str | None]) -> bool:
    return list(argv) == ["cat", flt.args[0]]


def _match_ip(flt: Filter, argv: Sequence[str | None]) -> bool:
    if not argv or argv[0] != "ip":
        return False
    for word, following in itertools.pairwise(argv[1:]):
        if word is None and (following is None or following in _EXEC_WORDS):
            return False  # it could be "netns exec"
        if word in _NETNS_WORDS:
            return following is not None and following not in _EXEC_WORDS
    return True


def _match_env(flt: Filter, argv: Sequence[str | None]) -> bool:
    rest = list(argv[1:] if argv and argv[0] == "env" else argv)
    if not rest or len(rest) < len(flt.args):
        return False
    user_names, filter_names = _env_names(rest), _env_names(flt.args)
    if user_names is None or not filter_names or user_names != filter_names:
        return False
    # rootwrap indexes by the *number of distinct* names, as here.
    program = rest[len(user_names)] if len(rest) > len(user_names) else None
    return _names_program(_env_exec(flt.exec_path, flt.args), program)


def _match_netns_exec(flt: Filter, argv: Sequence[str | None]) -> bool:
    return (flt.run_as == "root" and len(argv) >= 4 and argv[0] == "ip"
            and argv[1] in _NETNS_WORDS and argv[2] in _EXEC_WORDS)


_MATCHERS = {
    "CommandFilter": _match_command,
    "ChainingFilter": _match_command,
    "RegExpFilter": _match_regexp,
    "ChainingRegExpFilter": _match_chaining_regexp,
    "PathFilter": _match_path,
    "KillFilter": _match_kill,
    "ReadFileFilter": _match_read_file,
    "IpFilter": _match_ip,
    "EnvFilter": _match_env,
    "IpNetnsExecFilter": _match_netns_exec,
}


def _chained(flt: Filter, argv: Sequence[str | None]) -> list[str | None]:
    """The command a chaining filter hands on, with its program reduced to a basename."""
    if flt.cls == "IpNetnsExecFilter":
        rest = list(argv[4:])
    elif flt.cls == "ChainingRegExpFilter":
        rest = list(argv[len(flt.args):])
    else:
        rest = []  # ChainingFilter hands on nothing, so it never matches
    if rest and rest[0] is not None:
        rest[0] = posixpath.basename(rest[0])
    return rest


def match(filters: Sequence[Filter], argv: Sequence[str | None]) -> Filter | None:
    """The first filter of `filters` that `argv` matches for sure, or None.

    Follows rootwrap's ``match_filter``: filters are tried in order; a chaining filter matches only
    if the rest of the command matches a non-chaining filter with the same run-as user. Unlike
    rootwrap, whether the filter's executable exists on this host is not checked.
    """
    argv = list(argv)
    for flt in filters:
        matcher = _MATCHERS.get(flt.cls)
        if matcher is None or not matcher(flt, argv):
            continue
        if flt.cls in _CHAINING:
            rest = _chained(flt, argv)
            leaves = [other for other in filters
                      if other.run_as == flt.run_as and other.cls not in _CHAINING]
            if not rest or match(leaves, rest) is None:
                continue
        return flt
    return None

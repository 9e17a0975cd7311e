"""Judging a command line built from caller values: which elements are dangerous, and how.

`judge` reads an argument list (constants and caller values, `leastpriv.audit.flowvalue.Elem`)
with the command knowledge base (`leastpriv.data.programs`) and returns each dangerous reach
with its kind; the rules decide which kinds they report. An identifier passed as one operand of
a fixed program that changes nothing (``ip link set dev <name> up``) is not a reach: that is what
a narrow privileged function looks like.
"""

from __future__ import annotations

import ast
import os.path
import re
import shlex
from collections.abc import Callable

from leastpriv.audit.flowvalue import Elem, join_elems
from leastpriv.data.programs import KnowledgeBase, OperandKind, Program

# (kind, role as worded in a finding, the parameters that reach in it)
Reach = tuple[str, str, frozenset[str]]


def judge(argv: list[Elem], kb: KnowledgeBase) -> list[Reach]:
    """The dangerous reaches of one argument list (the program first)."""
    if not argv:
        return []
    first = argv[0]
    if first.labels:
        if first.starred:
            return [("argv", "as the whole argument list", first.labels)]
        return [("program", "as the program", first.labels)]
    names = sorted(os.path.basename(word) for word in first.words())
    labels = join_elems(argv[1:])
    if not labels:
        return []
    programs = [kb.program(name) for name in names]
    shown = "/".join(names)
    inner = _inner_command(argv, names, programs)
    if inner is not None:
        settings = argv[1 : len(argv) - len(inner)]
        return _environment(settings, shown, programs, kb) + judge(inner, kb)
    if any(p.runs == "string" for p in programs):
        script = _fixed_script(argv, programs)
        if script is not None:
            return _script_arguments(*script, shown, kb)
        return [("command-string", f"as arguments of {shown}, which runs them as code", labels)]
    if any(p.runs in ("program", "wrapper") for p in programs) or _runs_subcommand(argv):
        return [("runs-program", f"as arguments of {shown}, which runs a command", labels)]
    if any(p.command_options for p in programs):
        return _with_commands(argv, shown, programs, kb)
    if len(programs) == 1 and programs[0].script_operand:
        return _script_program(argv, shown, programs[0], kb)
    return _arguments(argv, shown, programs, kb)


def _script_program(
    argv: list[Elem], shown: str, program: Program, kb: KnowledgeBase
) -> list[Reach]:
    """sed: its script is code (the e command and s///e run programs, w writes any file), given
    by a string option (-e SCRIPT, -f SCRIPT-FILE) or, without one, as the first operand; the
    other operands are the files it edits or prints, judged as paths. A caller word with no fixed
    text before it, where an option may stand, can be --expression=1e PROGRAM, which runs once
    another file gives it a line. A sandbox option (--sandbox) refuses e, r and w."""
    code: list[int] = []
    operands: list[int] = []
    has_script = sandbox = ended = False
    takes_next: str | None = None
    for index, elem in enumerate(argv[1:], start=1):
        if elem.starred:
            role = f"as a run of arguments of {shown} (its script, which runs programs)"
            return [("argv-tail", role, join_elems(e for e in argv[1:] if e.starred))]
        if takes_next is not None:
            if takes_next == "script":
                code.append(index)
            takes_next = None
            continue
        word = elem.const if not elem.labels else elem.head
        if ended or word is None or not word.startswith("-") or word == "-":
            operands.append(index)
            continue
        if word == "--" and not elem.labels:
            ended = True
            continue
        option = word.partition("=")[0] if word.startswith("--") else word[:2]
        sandbox = sandbox or option in program.sandbox_options
        if option in program.string_options:
            has_script = True
            if elem.labels or "=" in word or (not word.startswith("--") and len(word) > 2):
                code.append(index)  # the script attached: -es/a/b/, "--expression=" + text
            else:
                takes_next = "script"
        elif option == word and not elem.labels and option in program.value_options:
            takes_next = "value"
    if not has_script and operands:
        code.append(operands.pop(0))
    if len(operands) > 1:  # the files it reads: a loose caller word among them may be an option
        loose = [i for i in operands if argv[i].labels and argv[i].head is None]
        code += [i for i in loose if not _ended(argv, i)]
    reaches: list[Reach] = []
    labels = join_elems(argv[i] for i in code)
    if labels and not sandbox:
        role = f"as the script of {shown} (its e command runs programs, w writes files)"
        reaches.append(("command-string", role, labels))
    rest = [e for i, e in enumerate(argv) if i not in code]
    return reaches + _arguments(rest, shown, [program], kb)


def _ended(argv: list[Elem], index: int) -> bool:
    """True when a fixed "--" comes before `index`: the word is then no option."""
    return any(not e.labels and e.const == "--" for e in argv[1:index])


def _with_commands(
    argv: list[Elem], shown: str, programs: list[Program], kb: KnowledgeBase
) -> list[Reach]:
    """find: the words after -exec (-execdir, -ok, -okdir) up to ";" or "{} +" are a command,
    judged as one; the other words are starting points, tests and actions, which run nothing.

    Outside those commands a caller reaches code only with several words: "-exec PROG ;" needs
    the option, the program and a terminator after them. So a run of arguments, or two caller
    words side by side with a terminator somewhere after them, is argument injection into a
    program that runs commands. One caller word after a test (-name, -mindepth) only chooses
    among the files under the starting points; after -fprint it is a file find writes; anywhere
    else it is a starting point or an action, and can be -delete itself, so it is a path the
    command changes. Behind fixed text that does not start with "-" ("/srv/" + name) it can
    only be a starting point, changed when -delete or an -exec of a changing program is there.
    """
    opening = frozenset().union(*(p.command_options for p in programs))
    reaches: list[Reach] = []
    outside: list[int] = []  # the words that are not part of a command find runs
    runs_changing = False
    index = 1
    while index < len(argv):
        elem = argv[index]
        if elem.const not in opening or elem.labels:
            outside.append(index)
            index += 1
            continue
        end = _command_end(argv, index + 1)
        inner = argv[index + 1 : end]
        where = f"in the command {shown} {elem.const} runs"
        reaches += [(kind, f"{role}, {where}", labels) for kind, role, labels in judge(inner, kb)]
        if inner and not inner[0].labels:
            inner_programs = [kb.program(name) for name in inner[0].words()]
            runs_changing = runs_changing or _changes_files(inner_programs, inner)
        index = end + 1
    tail = join_elems(argv[i] for i in outside if argv[i].starred)
    if tail:
        role = f"as a run of arguments of {shown} (it can add {min(opening)} PROG ;)"
        reaches.append(("argv-tail", role, tail))
    free: list[int] = []
    path_values: list[Elem] = []
    for i in outside:
        elem = argv[i]
        if not elem.labels or elem.starred or elem.templated:
            continue
        if _is_path_option(argv[i - 1], elem, programs, kb):
            path_values.append(elem)
        elif not _is_option(argv[i - 1], elem, programs, kb.takes_value) and not _is_format(
            argv, i, programs
        ):
            free.append(i)
    loose = {i for i in free if argv[i].head is None}  # may be any word: "-delete", "-exec"
    paired = join_elems(
        argv[j] for i in sorted(loose) if i + 1 in loose and _may_end_later(argv, i + 2)
        for j in (i, i + 1)
    )
    if paired:
        role = f"as words of {shown} side by side (they can be {min(opening)} PROG)"
        reaches.append(("runs-program", role, paired))
    if path_values:
        reaches.append(
            ("path-option", f"as the value of a file option of {shown}", join_elems(path_values))
        )
    if free and (loose or runs_changing or _changes_files(programs, argv)):
        role = f"as a starting point or action of {shown} (the trees it changes)"
        reaches.append(("operand", role, join_elems(argv[i] for i in free)))
    return reaches


def _is_format(argv: list[Elem], index: int, programs: list[Program]) -> bool:
    """The word at `index` is the second value of an option that takes a file then a format
    (``find -fprintf FILE FORMAT``): the text find writes there, no path or action."""
    if index < 3 or argv[index - 2].labels or argv[index - 2].const is None:
        return False
    return any(argv[index - 2].const in p.format_options for p in programs)


def _command_end(argv: list[Elem], start: int) -> int:
    """The index of the ";" or "{} +" that ends find's -exec command begun at `start`."""
    for index in range(start, len(argv)):
        word = argv[index].const if not argv[index].labels else None
        if word == ";" or (word == "+" and argv[index - 1].const == "{}"):
            return index
    return len(argv)


def _may_end_later(argv: list[Elem], start: int) -> bool:
    """True when a word from `start` on is, or may be, a ";" or "+" that ends an -exec."""
    return any(
        (e.labels and e.head is None) or (not e.labels and e.const in (";", "+"))
        for e in argv[start:]
    )


def _arguments(
    argv: list[Elem], shown: str, programs: list[Program], kb: KnowledgeBase
) -> list[Reach]:
    """Reaches among the arguments of a fixed program that runs no other program."""
    reaches: list[Reach] = []
    tail = join_elems(e for e in argv[1:] if e.starred)
    if tail:
        # Shape A: a caller-built run of arguments picks options, files, devices, sub-commands.
        role = f"as a run of arguments of {shown} (any options and operands the caller wants)"
        reaches.append(("argv-tail", role, tail))
    # A templated element ("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % dev) names a fixed kind of
    # file, as it does when given to open(): not an operand or option value the caller chooses.
    single = [
        (i, e) for i, e in enumerate(argv) if i and e.labels and not e.starred and not e.templated
    ]
    if any(p.kernel_setting for p in programs):
        # A key the code fixes but for a device between its dotted words
        # ("net.ipv4.conf.{dev}.forwarding=1"), or whole ("{KEY}={value}"), leaves the caller a
        # device or a value; "kernel.{name}=…" leaves it kernel.core_pattern, and so does
        # "kernel.core_pattern={value}", whose value is a program (code_settings).
        keys = join_elems(
            e for _, e in single
            if not e.fixed_key or kb.runs_setting((e.head or "").partition("=")[0])
        )
        if keys:
            role = f"as a kernel setting of {shown} (kernel.core_pattern runs a program as root)"
            reaches.append(("kernel-setting", role, keys))
        return reaches
    runs = join_elems(
        e for i, e in single if _is_option(argv[i - 1], e, programs, kb.takes_program)
    )
    if runs:
        # Shape X: the value of --dhcp-script= is a program the fixed program runs as root.
        reaches.append(("program", f"as a program {shown} runs (the value of its option)", runs))
    options = join_elems(e for i, e in single if _is_path_option(argv[i - 1], e, programs, kb))
    if options:
        reaches.append(("path-option", f"as the value of a file option of {shown}", options))
    if _changes_files(programs, argv):
        rest = [(i, e) for i, e in single if not _is_path_option(argv[i - 1], e, programs, kb)]
        kinds = [_operand_kind(argv, i, programs, kb) for i, _ in rest]
        names = join_elems(e for (_, e), kind in zip(rest, kinds, strict=True) if kind == "name")
        paths = join_elems(e for (_, e), kind in zip(rest, kinds, strict=True) if kind == "path")
        if names:
            reaches.append(("name-operand", f"as an operand of {shown}, a name or size", names))
        if paths:
            reaches.append(("operand", f"as an operand of {shown}", paths))
    return reaches


def _operand_kind(
    argv: list[Elem], index: int, programs: list[Program], kb: KnowledgeBase
) -> OperandKind:
    """What the caller value at `index` is to a program that changes its operands: the value of an
    option that takes no path (``--cipher=``) is a name; an operand has the kind its sub-command
    gives its position (``cryptsetup remove NAME``, ``create NAME DEVICE``) or an option that
    says what follows (``multipath -f NAME``), or, when the sub-command is not described or not
    known, the program's `operands`."""
    if _is_option(argv[index - 1], argv[index], programs, kb.takes_value):
        return "name"
    changing = [p for p in programs if p.changes or p.prints]
    default: OperandKind = "name" if all(p.operands == "names" for p in changing) else "path"
    if len(changing) != 1 or not changing[0].subcommands:
        return default
    program = changing[0]
    kinds: tuple[OperandKind, ...] | None = None
    position = 0
    takes_next = False
    for elem in argv[1:index]:
        if takes_next:
            takes_next = False
            continue
        if elem.starred:
            return default  # how many words it holds is unknown, and so is every position after
        word = elem.const if not elem.labels else elem.head
        if kinds is None and elem.const is not None and elem.const in program.subcommands:
            kinds = program.subcommands[elem.const]  # or an option that says it: multipath -f
        elif word is not None and word.startswith("-"):
            takes_next = "=" not in word and _takes_value(program, word, kb)
        elif kinds is not None:
            position += 1
        else:
            return default  # the caller's sub-command, or one the knowledge base does not describe
    if kinds is None:
        return default
    return kinds[min(position, len(kinds) - 1)]


def _takes_value(program: Program, option: str, kb: KnowledgeBase) -> bool:
    """True when `option` of `program`, written alone, takes the next word as its value."""
    name = program.name
    return any(takes(name, option) for takes in (kb.takes_value, kb.takes_path, kb.takes_program))


def _is_path_option(before: Elem, elem: Elem, programs: list[Program], kb: KnowledgeBase) -> bool:
    """``-f PATH`` (the option a separate element) or ``of=PATH`` / ``--config=PATH``."""
    return _is_option(before, elem, programs, kb.takes_path)


def _is_option(
    before: Elem, elem: Elem, programs: list[Program], takes: Callable[[str, str], bool]
) -> bool:
    """`elem` is the value of an option `takes` names: ``-o VALUE`` (the option a separate
    element) or ``--opt=VALUE``."""
    options = [before.const] if before.const is not None and not before.labels else []
    if elem.head is not None and elem.head.endswith("="):
        options += [elem.head, elem.head[:-1]]
    return any(takes(p.name, option) for p in programs for option in options)


def _changes_files(programs: list[Program], argv: list[Elem]) -> bool:
    """True when a program of `programs` writes its operands (or prints them back: cat), given
    its sub-command: a read-only one anywhere among the fixed words (``qemu-img info PATH``,
    ``parted -s DEV print``), or none of the words it needs to change anything (``find DIR``
    without ``-delete``)."""
    words = {e.const for e in argv[1:] if e.const is not None and not e.labels}
    return any(
        (p.changes or p.prints)
        and not words & p.read_only
        and (not p.changes_when or words & p.changes_when)
        for p in programs
    )


def _inner_command(
    argv: list[Elem], names: list[str], programs: list[Program]
) -> list[Elem] | None:
    """The fixed program a wrapper runs (``env LC_ALL=C qemu-img info PATH``), or what runs in a
    namespace (``ip netns exec NS prog …``: the namespace is one operand); None otherwise."""
    if names == ["ip"] and [e.const for e in argv[1:3]] == ["netns", "exec"] and len(argv) > 4:
        return None if argv[3].starred else argv[4:]
    if not programs or not all(p.runs == "wrapper" for p in programs):
        return None
    # Options (with the value of those that take one), the wrapper's own leading operands
    # (timeout DURATION, flock FILE), NAME=value settings and numbers are skipped. A caller value
    # before the inner program may be that program, which the caller then chooses, unless it
    # follows a fixed NAME= of env: it is then a value of the inner program's environment (judged
    # by _environment), and cannot name the program. A string option (flock -c TEXT) runs a
    # command line, not an argument list: there is no inner program to judge.
    assigns = all(p.assignments for p in programs)
    leading = max(p.leading_operands for p in programs)
    takes_next = False
    for index, elem in enumerate(argv[1:], start=1):
        option_value, takes_next = takes_next, False
        if elem.starred or (elem.labels and (option_value or not assigns or not _assigned(elem))):
            return None
        if elem.labels or option_value:
            continue
        word = elem.const
        if word is None or any(word in p.string_options for p in programs):
            return None
        if word.startswith("-"):
            takes_next = "=" not in word and any(word in p.value_options for p in programs)
        elif leading:
            leading -= 1
        elif not ("=" in word or word.replace(".", "").isdigit()):
            return argv[index:]
    return None


def _assigned(elem: Elem) -> str | None:
    """The variable a ``NAME=value`` element sets, when NAME is fixed text (``"HOME=%s" % x``)."""
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", elem.head or elem.const or "")
    return match.group(1) if match else None


def _environment(
    settings: list[Elem], shown: str, programs: list[Program], kb: KnowledgeBase
) -> list[Reach]:
    """The caller values among env's ``NAME=value`` settings that choose code the program it runs
    loads (``LD_PRELOAD=``, ``PATH=``: ``[options] code_env``). Any other variable's value is the
    inner program's business, which the knowledge base does not describe: not a reach."""
    if not all(p.assignments for p in programs):
        return []
    reaches: list[Reach] = []
    for elem in settings:
        name = _assigned(elem) if elem.labels else None
        if name is not None and kb.loads_code(name):
            role = f"as the value of {name}, which makes the program {shown} runs load code"
            reaches.append(("program", role, elem.labels))
    return reaches


def _runs_subcommand(argv: list[Elem]) -> bool:
    """``… exec CMD…`` (ip netns exec with a caller namespace, docker exec): after a constant
    "exec", the rest is a command."""
    consts = [e.const for e in argv]
    if "exec" not in consts:
        return False
    return bool(join_elems(argv[consts.index("exec") + 1 :]))


def _fixed_script(
    argv: list[Elem], programs: list[Program]
) -> tuple[str, str, list[Elem]] | None:
    """(language, code, arguments) of ``sh -c CODE NAME ARG…`` / ``python3 -c CODE ARG…`` when
    CODE and every word before it are fixed: the words after CODE are the script's arguments
    ($0, $1…; sys.argv[1:]), not code. None when the caller reaches the code or the options."""
    if len(programs) != 1 or programs[0].script_arguments is None:
        return None
    for index, elem in enumerate(argv[1:-1], start=1):
        if elem.labels or elem.const is None or not elem.const.startswith("-"):
            return None  # a caller word before the script may be the script or an option
        if elem.const in programs[0].string_options:
            code = argv[index + 1]
            if code.labels or code.const is None:
                return None
            return programs[0].script_arguments, code.const, argv[index + 2 :]
    return None


def _script_arguments(
    language: str, code: str, args: list[Elem], shown: str, kb: KnowledgeBase
) -> list[Reach]:
    """The reaches of caller arguments of a fixed script: a shell script's simple commands are
    judged with its positional parameters in place; a Python script that reads sys.argv runs or
    changes what the caller names when it runs code or touches files. A script the audit cannot
    read, or one that runs its arguments (``eval``, ``exec "$@"``, ``os.system``), keeps them
    code."""
    labels = join_elems(args)
    code_reach: list[Reach] = [
        ("command-string", f"as arguments of the script {shown} runs, which runs them", labels)
    ]
    if language == "python":
        names = _python_names(code)
        if names is None or names & _PYTHON_RUNS:
            return code_reach
        if not names & _PYTHON_ARGV or not names & _PYTHON_FILES:
            return []
        role = f"as an argument of the script {shown} runs (sys.argv), which acts on files"
        return [("operand", role, labels)]
    commands = _shell_commands(code)
    if commands is None:
        return code_reach
    reaches: list[Reach] = []
    for words in commands:
        inner = [_shell_word(word, args) for word in words]
        if not all(inner) or words[0] in _SHELL_RUNS or "=" in words[0]:
            return code_reach
        where = f"in the script {shown} runs"
        reaches += [(kind, f"{role}, {where}", found) for kind, role, found in judge(
            [e for e in inner if e is not None], kb)]
    return reaches


# Names in a Python script that run code or commands, or load it; and those that act on files.
_PYTHON_RUNS = frozenset({
    "exec", "eval", "compile", "__import__", "importlib", "import_module", "system", "popen",
    "subprocess", "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp",
    "spawnv", "spawnve", "spawnvp", "spawnl", "spawnlp", "posix_spawn", "ctypes", "CDLL",
    "runpy", "pickle", "marshal", "getattr", "globals", "vars", "pty", "code",
    # where imports are found: a caller's directory there is the caller's module
    "sys.path", "sys.meta_path", "sys.path_hooks", "sys.modules",
})
_PYTHON_FILES = frozenset({"open", "os", "shutil", "pathlib", "Path", "io", "tempfile", "glob",
                           "fcntl", "tarfile", "zipfile", "fileinput"})
# Names that read the script's arguments: fileinput and argparse read sys.argv unnamed.
_PYTHON_ARGV = frozenset({"argv", "fileinput", "argparse", "optparse"})
# Shell words that run their arguments as code, change the positional parameters, the directory
# or the file mode of what follows, or open a compound command the audit does not read; a script
# with one keeps its arguments code.
_SHELL_RUNS = frozenset({
    "eval", "exec", "source", ".", "command", "builtin", "trap", "alias", "set", "shift",
    "export", "declare", "local", "readonly", "typeset", "let", "read", "getopts", "unset",
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "function", "{", "}", "!", "[[", "select", "time", "xargs", "cd", "pushd", "popd", "enable",
    "hash", "coproc", "umask",
})
# A pipe is not among them: the caller's text on a command's output may be the next one's code.
_SHELL_SEPARATORS = frozenset({";", "&&", "||"})
_POSITIONAL = re.compile(r"\$(?:(\d)|\{(\d+)\}|([@*]))")


def _python_names(code: str) -> frozenset[str] | None:
    """The names and attribute names a Python script uses; None when it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
            if isinstance(node.value, ast.Name) and node.value.id == "sys":
                names.add(f"sys.{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(alias.name.split(".")[0] for alias in node.names)
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
    return frozenset(names)


def _shell_commands(code: str) -> list[list[str]] | None:
    """The words of each simple command of a shell script (``a "$1"; b && c``), quotes kept; None
    when it has a command substitution, a redirection, a pipe, a subshell, a background job or a
    comment, which the audit does not read."""
    if any(mark in code for mark in ("`", "$(", "#", "\\")):
        return None
    lexer = shlex.shlex(code.replace("\n", " ; "), posix=False, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:  # an unclosed quote
        return None
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in _SHELL_SEPARATORS:
            commands.append([])
        elif token[0] in "&|()<>":
            return None
        else:
            commands[-1].append(token)
    return [words for words in commands if words]


def _shell_word(word: str, args: list[Elem]) -> Elem | None:
    """One word of a shell script with its positional parameters ($0 is `args[0]`) in place: a
    caller value unquoted is split into any number of words (starred), as is "$@". None for an
    expansion the audit does not read ($HOME, ${1:-x})."""
    segments = re.findall(r"'[^']*'|\"[^\"]*\"|[^'\"]+", word)
    if "".join(segments) != word:
        return None
    text: list[str] = []
    labels: frozenset[str] = frozenset()
    head: str | None = None
    starred = False
    for segment in segments:
        if segment.startswith("'"):
            text.append(segment[1:-1])
            continue
        quoted = segment.startswith('"')
        body = segment[1:-1] if quoted else segment
        position = 0
        for match in _POSITIONAL.finditer(body):
            text.append(body[position : match.start()])
            position = match.end()
            number = match.group(1) or match.group(2)
            chosen = args[int(number) :][:1] if number else args[1:]
            if any(e.starred for e in args[: int(number or 1) + 1]):
                return None  # which word $N is depends on how many a run of arguments holds
            found = join_elems(chosen)
            if not found:
                text.append(" ".join(e.const or "" for e in chosen))
                continue
            if not labels:
                head = "".join(text) or None
            labels |= found
            starred = starred or not quoted or match.group(3) == "@"
        if "$" in body[position:]:
            return None
        text.append(body[position:])
    if not labels:
        return Elem(frozenset(), "".join(text))
    return Elem(labels, starred=starred, head=head)

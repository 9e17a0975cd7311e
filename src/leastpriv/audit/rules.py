"""The audit rules: one id, one name, one function each; the docstring is the rule's documentation.

Ids come in families of a hundred: LPS0xx check the audit's own comments, LPS1xx judge contexts
(what a daemon may do), LPS2xx judge entrypoints and their callers (what a caller may ask for),
LPS3xx find rootwrap still in use.
A *file* rule sees one module's facts and also runs in the flake8 plugin; a *tree* rule needs every
module of the tree (who imports whom) and runs only in ``leastpriv audit``.

Every finding can be silenced where it is reported with ``# leastpriv: ignore[LPS203] -- reason``;
for a finding about an entrypoint the comment may also sit on its ``def`` or decorator line.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

from leastpriv import caps
from leastpriv.audit.facts import EXECUTION_KINDS, EntrypointFact, FlowFact, ModuleFacts
from leastpriv.audit.index import TreeIndex
from leastpriv.audit.model import Severity
from leastpriv.audit.options import AuditOptions


@dataclass(frozen=True)
class Hit:
    """A rule matched: where, about what, and what a reviewer should read."""

    line: int
    col: int
    symbol: str
    message: str
    path: str | None = None  # None: the path of the module being checked
    also_lines: tuple[int, ...] = ()  # more lines where a suppression comment counts


FileCheck = Callable[[ModuleFacts, AuditOptions], Iterator[Hit]]
TreeCheck = Callable[[TreeIndex, AuditOptions], Iterator[Hit]]


@dataclass(frozen=True)
class Rule:
    """One audit rule."""

    id: str
    name: str
    severity: Severity
    scope: Literal["file", "tree"]
    summary: str
    doc: str
    check: Callable[..., Iterator[Hit]]


RULES: dict[str, Rule] = {}
Check = TypeVar("Check", FileCheck, TreeCheck)


def _rule(rule_id: str, name: str, severity: Severity,
          scope: Literal["file", "tree"] = "file") -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        doc = inspect.cleandoc(check.__doc__ or "")
        RULES[rule_id] = Rule(rule_id, name, severity, scope, _summary(doc), doc, check)
        return check

    return register


def _summary(doc: str) -> str:
    """The first sentence of the *What it does* section."""
    match = re.search(r"## What it does\n(.+?)(?:\n\n|$)", doc, re.S)
    text = " ".join((match.group(1) if match else doc).split())
    return text.split(". ")[0].rstrip(".") + "."


def _ep_id(module: ModuleFacts, entrypoint: EntrypointFact) -> str:
    return f"{module.module}.{entrypoint.name}"


def _ep_lines(entrypoint: EntrypointFact) -> tuple[int, ...]:
    return tuple(range(entrypoint.first_line, entrypoint.line + 1))


# ---- LPS0xx: the audit's own comments ----------------------------------------------------------


@_rule("LPS001", "unknown-ignore-code", Severity.LOW)
def unknown_ignore_code(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for `# leastpriv: ignore[...]` comments that name a code no rule has (`LPS2O3` with a
    letter O, `LPS999`, `E501`), and for `# leastpriv:` comments the audit cannot read as one
    (`ignroe[LPS203]`, `ignore[LPS-203]`, `ignore(LPS203)`): the comment silences nothing.

    ## Why is this bad?
    The reader of the comment believes a finding was reviewed and accepted there; the audit
    still reports it, or — after the code is fixed — the stale comment hides the next real one
    nobody meant to accept. A typo in a suppression should fail as loudly as the finding it meant.

    ## Example
    ```python
    os.chmod(path, 0o640)  # leastpriv: ignore[LPS230] -- path checked above
    ```

    ## Use instead
    Name the rule that reports the finding, or a family prefix of it: `# leastpriv:
    ignore[LPS203] -- path checked above`.

    ## Options
    None.

    ## References
    - docs/audit.md, "Suppressions"
    """
    for line, suppression in sorted(module.suppressions.items()):
        if suppression.malformed:
            yield Hit(
                line,
                0,
                module.module,
                f"'{suppression.malformed}' is not a suppression the audit can read "
                "('# leastpriv: ignore[CODE] -- reason'); it silences nothing",
            )
        unknown = sorted(code for code in suppression.rules if not _known_code(code))
        if unknown:
            yield Hit(
                line,
                0,
                module.module,
                f"'# leastpriv: ignore' names {', '.join(unknown)}, which no rule has; "
                "it silences nothing",
            )


def _known_code(code: str) -> bool:
    """A rule id or a family prefix of one (``LPS2``, ``LPS20``)."""
    return bool(re.fullmatch(r"LPS\d{0,3}", code)) and any(r.startswith(code) for r in RULES)


# ---- LPS1xx: contexts ----------------------------------------------------------------------------
@_rule("LPS101", "broad-context", Severity.MEDIUM)
def broad_context(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for privsep contexts whose capabilities span more than one family (file ownership and
    DAC, network, sys_admin, ptrace, kill, identity, …) or number more than `max-capabilities`.

    ## Why is this bad?
    Every entrypoint of a context runs with all of its capabilities. A context that holds both
    `CAP_NET_ADMIN` and `CAP_DAC_OVERRIDE` lets a bug in a function that only sets a link up
    rewrite any file on the host. One small context per kind of work keeps the damage of each
    function to the kind of work it does.

    ## Example
    ```python
    sys_admin_pctxt = priv_context.PrivContext(
        "nova",
        cfg_section="nova_sys_admin",
        capabilities=[caps.CAP_CHOWN, caps.CAP_NET_ADMIN, caps.CAP_SYS_ADMIN],
    )
    ```

    ## Use instead
    One context per kind of work, holding only that family's capabilities:
    ```python
    files = leastpriv.PrivContext("nova.files", capabilities=[caps.CAP_CHOWN])
    net = leastpriv.PrivContext("nova.net", capabilities=[caps.CAP_NET_ADMIN])
    ```

    ## Options
    - `max-capabilities` (default 2): more capabilities than this is broad even within one family.

    ## References
    - `capabilities(7)`; `leastpriv.caps.family`; docs/capabilities.md
    """
    for context in module.contexts:
        families = caps.families(context.capabilities)
        count = len(context.capabilities)
        if len(families) > 1 or count > options.max_capabilities:
            groups = "; ".join(
                f"{family}: {', '.join(_members(context.capabilities, family))}"
                for family in sorted(families)
            )
            yield Hit(
                context.line,
                context.col,
                f"{module.module}.{context.name}",
                f"context '{context.name}' holds {count} capabilities in {len(families)} "
                f"families ({groups}); split it by the work each entrypoint does",
            )


def _members(capabilities: tuple[str, ...], family: str) -> list[str]:
    return [cap for cap in capabilities if caps.family(cap) == family]


@_rule("LPS102", "sys-admin-context", Severity.HIGH)
def sys_admin_context(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for privsep contexts that hold `CAP_SYS_ADMIN`.

    ## Why is this bad?
    `CAP_SYS_ADMIN` is "the new root": mount, namespaces, BPF, quotas, device ioctls and dozens
    of other operations. A daemon holding it is close to a root daemon, whatever else it drops.

    ## Example
    ```python
    default = priv_context.PrivContext(__name__, capabilities=[caps.CAP_SYS_ADMIN])
    ```

    ## Use instead
    The narrowest capability for the operation (`CAP_NET_ADMIN` for links and routes), and for a
    mount a separate context whose only entrypoint mounts a fixed source on a fixed target.

    ## Options
    None.

    ## References
    - `capabilities(7)`, "CAP_SYS_ADMIN … overloaded"
    """
    for context in module.contexts:
        if "CAP_SYS_ADMIN" in context.capabilities:
            yield Hit(
                context.line,
                context.col,
                f"{module.module}.{context.name}",
                f"context '{context.name}' holds CAP_SYS_ADMIN; use the narrowest "
                "capability the operation needs",
            )


_ROOT_USERS = frozenset({"root", "0"})


@_rule("LPS103", "uid-zero-context", Severity.MEDIUM, scope="tree")
def uid0_context(tree: TreeIndex, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for privsep contexts that keep uid 0: a leastpriv context declaring `user="root"` (or
    `user=0`), and a configuration file section that gives a context of the tree `user = root`
    (the `cfg_section` of a compat or oslo.privsep context).

    ## Why is this bad?
    Capabilities are not the whole of root. A daemon running as uid 0 owns every root-owned file
    and directory: with only `CAP_NET_ADMIN` it can still create files in `/etc`, chmod and
    append to root's 0400 files, and write the non-network `/proc/sys` entries that check euid 0.
    One bug in any entrypoint of such a context is full root. A leastpriv daemon never runs as
    uid 0 unless its context declares it; oslo.privsep keeps uid 0 unless its section sets a
    `user`, so under oslo.privsep every context without one keeps it.

    ## Example
    ```python
    iscsi = leastpriv.PrivContext("svc.iscsi", capabilities=[], user="root")
    ```
    ```ini
    [privsep_osbrick]
    user = root
    ```

    ## Use instead
    Declare uid 0 only for a context whose commands check `euid == 0` themselves (the catalog's
    `needs_uid0`: `iscsiadm`, `multipathd`, `sysctl` of non-network keys), keep only those
    entrypoints in it, and give every other context no `user` (the service user) and only its
    capabilities:
    ```python
    net = leastpriv.PrivContext("svc.net", capabilities=[caps.CAP_NET_ADMIN])
    ```

    ## Options
    None.

    ## References
    - `capabilities(7)`, "uid 0 … file permission checks"; `leastpriv caps` (`needs_uid0`)
    """
    for module in tree.modules.values():
        for context in module.contexts:
            if context.framework == "leastpriv" and context.user in _ROOT_USERS:
                yield Hit(
                    context.line,
                    context.col,
                    f"{module.module}.{context.name}",
                    f"context '{context.name}' keeps uid 0 (user={context.user!r}): every "
                    "entrypoint owns every root-owned file; declare it only for commands "
                    "that check uid 0",
                    path=module.path,
                )
    sections: dict[str, list[str]] = {}
    for context_id, located in tree.contexts.items():
        if located.context is not None and located.context.cfg_section is not None:
            sections.setdefault(located.context.cfg_section, []).append(context_id)
    for config in tree.configs:
        for identity in config.identities:
            if identity.user in _ROOT_USERS and identity.section in sections:
                named = ", ".join(f"'{c}'" for c in sections[identity.section])
                yield Hit(
                    identity.line,
                    0,
                    f"{config.path}[{identity.section}]",
                    f"section [{identity.section}] makes context {named} keep uid 0 "
                    f"(user = {identity.user}); declare it only for commands that check uid 0",
                    path=config.path,
                )


# ---- LPS2xx: entrypoints and callers -------------------------------------------------------------
@_rule("LPS201", "unmarked-entrypoint", Severity.LOW)
def unmarked_entrypoint(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoints whose name does not end in `_privileged`, in leastpriv and in
    oslo.privsep code alike.

    ## Why is this bad?
    A call to an entrypoint crosses into a process with capabilities. When the name says so
    (`chown_privileged(path)`), reviewers of the caller see the boundary without opening the
    module; `chown(path)` looks like any helper.

    ## Example
    ```python
    @nova.privsep.sys_admin_pctxt.entrypoint
    def chmod(path, mode): ...
    ```

    ## Use instead
    A name that ends in `_privileged` and says what the function does to what:
    ```python
    @files.entrypoint
    def chmod_console_log_privileged(path: Annotated[str, PathUnder(LOG_DIR)]) -> None: ...
    ```

    ## Options
    None.

    ## References
    - docs/contracts.md, "Strict policy" (it enforces this name at decoration time)
    """
    for entrypoint in module.entrypoints:
        if not entrypoint.name.endswith("_privileged"):
            yield Hit(
                entrypoint.line,
                entrypoint.col,
                _ep_id(module, entrypoint),
                f"entrypoint '{entrypoint.name}' does not end in '_privileged'",
                also_lines=_ep_lines(entrypoint),
            )


@_rule("LPS202", "shared-privsep-package", Severity.LOW, scope="tree")
def shared_privsep_package(tree: TreeIndex, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for modules of entrypoints grouped in a shared `privsep`/`privileged` package and
    called from modules outside it. Reported once per module, on its first entrypoint.

    ## Why is this bad?
    A shared package of privileged helpers grows into a toolbox: each caller adds the function it
    needs, worded generally ("write a file") so the next caller can reuse it, and every function
    runs under the package's one broad context. The contract of each function ends up defined by
    its loosest caller.

    ## Example
    ```python
    # nova/privsep/path.py, called from nova/virt/libvirt/driver.py and nova/virt/disk/api.py
    @nova.privsep.sys_admin_pctxt.entrypoint
    def writefile(path, mode, content): ...
    ```

    ## Use instead
    A privileged function next to its one caller, named for that caller's need
    (`write_console_log_privileged`), with the narrow context of that subsystem.

    ## Options
    None.

    ## References
    - The seed thread: "privileged functions must be narrow"
    """
    for module in tree.modules.values():
        shared = _shared_package(module.module)
        if shared is None or not module.entrypoints:
            continue
        outside = sorted(
            {
                caller.module.module
                for e in module.entrypoints
                for caller in tree.callers.get(_ep_id(module, e), ())
                if caller.module.module != shared
                and not caller.module.module.startswith(shared + ".")
            }
        )
        if outside:
            first = min(module.entrypoints, key=lambda e: e.line)
            shown = ", ".join(outside[:5]) + (", …" if len(outside) > 5 else "")
            yield Hit(
                first.line,
                first.col,
                module.module,
                f"{len(module.entrypoints)} entrypoints of shared package '{shared}' are "
                f"called from {len(outside)} modules outside it ({shown})",
                path=module.path,
                also_lines=_ep_lines(first),
            )


def _shared_package(module: str) -> str | None:
    parts = module.split(".")
    for index, part in enumerate(parts):
        if part in ("privsep", "privileged"):
            return ".".join(parts[: index + 1])
    return None


def _flow_message(flow: FlowFact) -> str:
    """``parameter 'path' reaches os.chmod at line 6 as the path, and 'mode' as the mode``."""
    (role, params), *others = flow.reaches
    noun, verb = ("parameter", "reaches") if len(params) == 1 else ("parameters", "reach")
    via = f" (via {' → '.join(flow.via)})" if flow.via else ""
    text = f"{noun} {_quoted(params)} {verb} {flow.sink} at line {flow.sink_line}{via} {role}"
    return text + "".join(f", and {_quoted(p)} {r}" for r, p in others)


def _quoted(params: tuple[str, ...]) -> str:
    return ", ".join(f"'{p}'" for p in params)


def _flows(module: ModuleFacts, kinds: frozenset[str], advice: str) -> Iterator[Hit]:
    """A hit per flow of one of `kinds` (leastpriv.audit.facts.FlowFact.kind)."""
    for entrypoint in module.entrypoints:
        for flow in entrypoint.flows:
            if flow.kind in kinds:
                yield Hit(
                    flow.line,
                    flow.col,
                    _ep_id(module, entrypoint),
                    f"{_flow_message(flow)} without a narrowing check; {advice}",
                    also_lines=_ep_lines(entrypoint),
                )


@_rule("LPS203", "wide-file-contract", Severity.HIGH)
def wide_file_contract(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoint parameters that reach a file operation without a narrowing check: a
    path or mode that reaches `open`, `os.chmod/chown/unlink/rename/…`; a path given to a library
    that acts on files (`shutil.*`, `oslo_utils.fileutils`, `tempfile`'s `dir=`,
    `ConfigParser.read`, `pathlib.Path(…).write_text`); a network namespace name given to
    pyroute2 (`netns.create/remove/setns`, `NetNS(name)`, `IPRoute(netns=name)`), which it uses
    as a path under `/var/run/netns`; a path that a fixed destructive command acts on (`rm`,
    `mkfs`, `chmod`, `mount`, `tee`, `cp`, `mv`, …) or takes as an option value (`dd of=PATH`,
    `haproxy -f PATH`, `--config=PATH`); and a kernel setting chosen by the caller
    (`sysctl -w KEY=VALUE`, `/proc/sys/` + key). Which commands change their operands and which
    options take a file is the command knowledge base (`leastpriv/data/commands.toml`); the
    sinks are `leastpriv/data/sinks.toml`. The parameter is followed through assignments, string
    building, `os.path.join`, containers, helper functions of the same module, methods of its
    classes (an object carries what its constructor was given: `IpWrapper(ns).netns.add(name)`,
    `self._run(...)` in a base class, a property), callbacks (`eventlet.spawn(f, path)`,
    `threading.Thread(target=f)`, `map`), `functools.partial`, lambdas and dicts of helpers, and
    functions and methods of other modules of the audited tree (three modules deep). A helper
    that raises unless a parameter is confined (`_check_name(name)`), or returns the test
    (`return NAME_RE.fullmatch(name) is not None`), narrows it like the same check written in
    place: in the module wherever it is called, from another module when the entrypoint calls
    it in its own body, not in a branch (`validate.check_name(name)`,
    `if not validate.is_safe(name): raise`), before the sink. Only the arguments
    that choose what is changed count: the data written into a caller-chosen file is not a
    second finding, and a name or size operand (an LVM volume) is LPS208's. A caller value
    between a fixed directory
    and a fixed file name (`/proc/sys/net/ipv6/conf/{dev}/disable_ipv6`) names an entry of a
    fixed kind and is not reported, given to `open` or to a command (`tee`) alike; a fixed
    extension alone (`/run/{name}.pid`) does not fix the file and is reported.

    `find` changes the trees under its starting points when `-delete`, or an `-exec` of a
    program that changes its operands (`-exec chmod 0600 {} ;`), is among its words: a caller
    starting point is then reported (`find DIR -mindepth 1 -delete`). So is one caller word
    wherever find reads a starting point or an action, with or without `-delete`, because the
    word can be `-delete` itself (`find /srv -type f WORD`). The value of a test (`-name`,
    `-path`, `-mindepth`, `-mtime`) only chooses among the files under the starting points and
    is not reported; the value of `-fprint` (`-fls`, `-fprintf`) is a file find writes, and
    the FORMAT of `-fprintf FILE FORMAT` only the text it writes there (not reported).
    Operand kinds can depend on the sub-command: the device of `cryptsetup luksFormat DEVICE`
    and of `create NAME DEVICE` is reported here, the mapping name of `cryptsetup remove NAME`
    under LPS208.

    A path is read whole however it is built: an f-string, `"…%s…" % x`, `str.format`,
    `os.path.join(a, b, c)`, `pathlib.Path(a, b)`, `Path(a) / b`, a module constant before the
    caller's value (taken as the code's directory); so
    `os.path.join("/proc/sys/net/ipv4/conf", dev, "forwarding")` is a fixed kind like its
    f-string, and `"--pid-file=%s/%s/pid" % (PID_ROOT, router_id)` too (an `--opt=` or `of=`
    before a path is the option; the path after it is judged). `%d`, `{:d}` and `int(x)` make a
    number, not a path, and a value parsed into a fixed shape (`ipaddress.ip_address`,
    `uuid.UUID`, `netaddr.IPNetwork`, `strutils.bool_from_string`: `[values] sanitisers` in
    `sinks.toml`) holds no path either. A program that prints its operands back to the caller
    (`cat`, `head`, `tail`: `prints` in the knowledge base) is judged like one that changes them,
    as `open(path).read()` is. Libraries: `io.FileIO`, `codecs`/`gzip`/`bz2`/`lzma.open`, tempfile's
    `dir=` and `prefix=` (a prefix with `../` leaves the directory; a suffix cannot),
    `tarfile`/`zipfile` `extractall(path)`, `shutil.unpack_archive(extract_dir=)`, pathlib's
    `with_suffix`, `joinpath`, `resolve`, `parent`. A kernel setting is the caller's unless the
    code fixes its key, whole (`f"{KEY}={value}"` after a membership check) or around the
    caller's device (`net.ipv4.conf.{dev}.forwarding`): `"kernel.%s=%s"` still reaches
    `kernel.core_pattern`, and `sysctl -n KEY` writes too when KEY holds `=`. A fixed key whose
    value is a program the kernel runs (`kernel.core_pattern`, `kernel.modprobe`: `code_settings`
    in the knowledge base) is the caller's program when the caller gives the value, by `sysctl`,
    by `tee FILE` with `process_input=`, or by `open(FILE, "w").write(...)` (also
    `/sys/kernel/uevent_helper`: `code_files`). A check the module
    makes in a helper (`def exists(core): return core in available()`), and membership in a
    collection computed from fixed arguments (`name in netns.listnetns()`), narrow like the same
    test written in place.

    ## Why is this bad?
    The caller chooses which file the privileged daemon changes. Anyone who can make the
    unprivileged service call it — one injection bug away — can write `/etc/shadow`, chmod a
    setuid binary, or delete the host's root filesystem. The entrypoint's contract is "any file".

    ## Example
    ```python
    @nova.privsep.sys_admin_pctxt.entrypoint
    def chmod(path, mode):
        os.chmod(path, mode)
    ```
    The same contract in other words, each reported:
    ```python
    processutils.execute("sysctl", "-w", "kernel.%s=%s" % (name, value))
    pathlib.Path("/proc/sys", key.replace(".", "/")).write_text(value)
    tempfile.mkstemp(prefix=prefix, dir="/var/lib/svc/tmp")
    processutils.execute("genisoimage", "-o", path, "/var/lib/svc/drive")
    tarfile.open("/var/lib/svc/bundle.tar").extractall(dest)
    ```

    ## Use instead
    Confine the path to a fixed root (a `PathUnder` contract, or a realpath and containment
    check) and fix the mode in the body:
    ```python
    @files.entrypoint
    def chmod_console_log_privileged(
        path: Annotated[str, PathUnder("/var/lib/nova/instances")],
    ) -> None:
        os.chmod(path, 0o640)
    ```
    A check in the body also counts when it rejects: `os.path.realpath` then `startswith(ROOT)`,
    `os.path.commonpath`, `is_relative_to`, a regex `fullmatch`, or membership in a fixed set,
    followed by `raise` or `return`. `os.path.exists` is not a narrowing check. Not reported:
    ```python
    processutils.execute("sysctl", "-w", "net.ipv4.conf.%s.forwarding=1" % iface)
    open(os.path.join("/proc/sys/net/ipv4/conf", iface, "forwarding"), "w")
    os.unlink("/var/run/svc/%d.pid" % pid)
    tempfile.mkstemp(suffix=suffix, dir="/var/lib/svc/tmp")
    ```

    ## Options
    - `extra-file-sinks`: dotted names of project functions that change files as root.

    ## References
    - CWE-22 (path traversal), CWE-732 (incorrect permission assignment)
    """
    yield from _flows(
        module, _FILE_KINDS, "confine the path (PathUnder, or a realpath + containment check)"
    )


# The kinds of flow each data-flow rule reports (a flow of an execution kind at the same line
# already subsumes a file flow: leastpriv.audit.dataflow.final_flows).
_FILE_KINDS = frozenset(
    {"file", "library", "netns", "operand", "path-option", "kernel-setting"}
)


@_rule("LPS204", "arbitrary-execution", Severity.HIGH)
def arbitrary_execution(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoint parameters that choose what a command sink runs: the program
    (`argv[0]`), the whole argument list (`execute(*cmd)`, `subprocess.run(cmd)`), a shell command
    line, a run of arguments of any program (`['brctl'] + params.split()`,
    `execute('xbtool', *args)`: the caller picks options, files, devices, sub-commands), the
    arguments of a program that runs another one or interprets code (`env`, `nsenter`,
    `ip netns exec`, `sh -c`, `python -c`, `awk`), the value of an option that names a program
    the fixed program runs (`dnsmasq --dhcp-script=`, `tar -I`, `rsync -e`: `program_options` in
    the command knowledge base), a command run after `os.chdir` to a caller's directory, and a
    name turned into code (`getattr(obj, name)(…)`,
    `importutils.import_class(name)`, `importlib.import_module(name)`). Command sinks are
    `processutils.execute`, `utils.execute` and other `execute` wrappers, `subprocess.*`,
    `os.system`, `os.popen`, `os.exec*` and `os.spawn*`.

    An interpreter's operands are code with or without an option (`bash FILE`, `python FILE`,
    `awk PROGRAM`, `sh -c TEXT`), but the words after a fixed script are its arguments
    (`sh -c 'rm -f "$1"' NAME PATH`, `python3 -c CODE ARG`: `script_arguments` in the knowledge
    base): the script's simple commands are judged with them in place (that `rm` is LPS203,
    `ip link set dev "$1" up` nothing; unquoted, `$1` is a run of arguments), and a Python
    script that reads `sys.argv` is judged as acting on a path when it touches files. A script
    that runs its arguments (`eval`, `exec "$@"`, `os.system`, `exec()`), sets what later
    commands use (`cd`, `umask`, `sys.path`) or that the audit does not read (`$(…)`, a
    redirection, a pipe, `if`) keeps them code. `sed`'s script is code (`e` and
    `s///e` run programs, `w` writes any file): the value of `-e`, the script file of `-f`, or
    without them the first operand; its other operands are files (LPS203), but a caller word
    where an option may stand, with another file for it to read, can be
    `--expression=1e PROGRAM` and is reported here (`--sandbox` refuses `e`, `r` and `w`).
    `find` runs a command only through
    `-exec`, `-execdir`, `-ok`
    and `-okdir` (`command_options` in the knowledge base): the words from there to `;` or
    `{} +` are judged as a command of their own (a caller program there is reported, a caller
    pattern of `-exec grep -l PATTERN {} ;` is not). Elsewhere in find's arguments a caller
    reaches `-exec` only with several words, the option, a program and a terminator after them:
    a run of arguments (`find /srv *predicates`), or two caller words side by side with a `;` or
    another caller word after them (`find A B -exec rm {} ;` runs B when A is `-exec`), is
    reported. One caller word is not: in a test's value (`-name WORD`) it stays a pattern;
    elsewhere it can be `-exec`, but the program is then the fixed word after it, not one of the
    caller's (LPS203 reports that word, since it can be `-delete`).

    `env NAME=value PROG …`: a caller value behind a fixed `NAME=` cannot become the program, so
    the rest is judged as the argument list of PROG (`env NETWORK_ID=%s dnsmasq
    --dhcp-script=%s`: the script is reported, as a program dnsmasq runs). The value still lands
    in the environment of a program run as root. It is reported when the variable makes programs
    load or run code (`LD_PRELOAD`, `LD_*`, `PATH`, `PYTHONPATH`, `BASH_ENV`, `OPENSSL_CONF`:
    `[options] code_env` in the knowledge base); any other variable means what the program makes
    of it, which the knowledge base does not describe, and is not reported by itself. A caller
    value with no fixed name before its `=` may be `LD_PRELOAD=…` or the program: reported.
    Other wrappers are judged the same way, by the fixed program they run after their options,
    the values of those options and their own operands (`leading_operands`): `timeout 10s rm
    PATH` and `flock /run/lock/x rm PATH` are judged as `rm PATH` (LPS203), and `flock FILE -c
    TEXT` runs a command line (reported). A caller value where the wrapper reads its own operand
    is reported: it can be an option that moves the program to another word.
    The same holds for a command's `env=` (`env_variables=` of processutils): a caller mapping,
    a caller variable name, or a caller value for such a variable is reported, and so are the
    caller's `**options` to a command sink, which may set them.

    Also reported: a command run in the caller's directory (`cwd=`, `contextlib.chdir`,
    `os.chdir` in a helper of the module), unless the directory is a fixed kind; the caller's
    text as the standard input of an interpreter given no script of its own
    (`execute("sh", process_input=script)`, `subprocess.run(["python3", "-"], input=code)`) or
    of a program that runs its standard input whatever its arguments (`at`, `batch`,
    `crontab -`, `xargs`: `stdin_code`), also through `Popen(..., stdin=PIPE).communicate(text)`;
    `os.execv(path, ["sh", "-c", cmd])` read through its list;
    `pyroute2.NSPopen(ns, argv)`, `asyncio.create_subprocess_shell`, `pty.spawn` and eventlet's
    green `subprocess`; `sys.executable` is read as `python3`; neutron's `utils.execute(cmd)`,
    which takes the command as one list, is judged as that list. Code from a name or from data:
    `operator.methodcaller(name)`, `globals()[name]`, `vars(module)[name]`, `pickle.loads`,
    `yaml.load` without a safe loader, `ctypes.CDLL(path)`, `runpy.run_path`,
    `importlib.util.spec_from_file_location`, and a `jinja2.Template` of the caller's text.
    `getattr(obj, "do_" + action)` picks among a fixed family and is not reported.

    ## Why is this bad?
    It is root as a service: the caller runs any program with the daemon's capabilities. Such an
    entrypoint is a rootwrap without even the filter file.

    ## Example
    ```python
    @privileged.default.entrypoint
    def execute_root(*cmd, **kwargs):
        return processutils.execute(*cmd, **kwargs)
    ```
    The same contract in other words, each reported:
    ```python
    subprocess.run(["make", "install"], cwd=source_dir)
    processutils.execute("sh", process_input=script)
    subprocess.run(["ip", "link", "show"], env={"PATH": path})
    NSPopen(namespace, cmd, flags=0)
    operator.methodcaller(name)(driver)
    jinja2.Template(text).render()
    ```

    ## Use instead
    One entrypoint per operation, with the program fixed and each operand confined:
    ```python
    @net.entrypoint
    def set_link_up_privileged(device: Annotated[str, Match(r"[a-z0-9-]{1,15}")]) -> None:
        processutils.execute("ip", "link", "set", "dev", device, "up")
    ```
    A caller-chosen identifier passed as one operand of a fixed, non-destructive command is not
    reported.

    ## Options
    - `extra-command-sinks`: dotted names of project functions that run commands as root.

    ## References
    - CWE-78 (OS command injection), CWE-250 (execution with unnecessary privileges)
    """
    yield from _flows(module, EXECUTION_KINDS, "fix the program and confine each operand")


@_rule("LPS208", "unconfined-operand", Severity.MEDIUM)
def unconfined_operand(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoint parameters passed without a narrowing check as a name or size operand
    of a command that changes storage: the volume name or size of `lvcreate`, `lvextend`,
    `lvremove` and the other LVM commands whose operands are names, not files or devices (the
    command knowledge base says which: `operands = "names"`).

    Where a program's operands depend on its sub-command, the knowledge base gives each described
    sub-command the kind of each operand in order (`subcommands`): `cryptsetup close NAME` (and
    `remove`, `luksClose`), `cryptsetup luksOpen DEVICE NAME`, `cryptsetup create NAME DEVICE`,
    `dmsetup remove NAME`, and an option that says what follows (`multipath -f NAME` flushes a
    map by its name; `multipath DEVICE` is a device). A name there is this rule's and a device
    LPS203's: nova's `cryptsetup remove TARGET` is reported here, `cryptsetup luksFormat DEVICE`
    under LPS203. So is the value of an option that takes no path (`--cipher=`, `--key-size=`,
    `losetup -o OFFSET`) of such a command.
    A sub-command the knowledge base does not describe, or one the caller chooses, keeps the
    program's kind (paths for cryptsetup and dmsetup).

    ## Why is this bad?
    The caller picks which volume is created, resized or removed, and how big: an unchecked name
    may be another tenant's volume or begin with `-` and turn into an option. It is not a path,
    so confining it to a directory (LPS203's advice) does not fit; its contract does.

    ## Example
    ```python
    @ctx.entrypoint
    def create_volume(vg, name, size):
        processutils.execute("lvcreate", "-n", name, "-L", size, vg)
    ```

    ## Use instead
    Give each operand the contract that fits it: `Match` for a name, `Range` for a size, `OneOf`
    for a fixed set of volume groups, then pass it on unchanged:
    ```python
    @ctx.entrypoint
    def create_volume_privileged(
        name: Annotated[str, Match(r"volume-[0-9a-f-]{36}")],
        size_gib: Annotated[int, Range(1, 16384)],
    ) -> None:
        processutils.execute("lvcreate", "-n", name, "-L", f"{size_gib}g", VOLUME_GROUP)
    ```

    ## Options
    None.

    ## References
    - CWE-88 (argument injection); docs/capability-catalog.md, "Arguments"
    """
    yield from _flows(
        module, frozenset({"name-operand"}), "constrain it (Match for a name, Range for a size)"
    )


@_rule("LPS209", "signal-any-process", Severity.MEDIUM)
def signal_any_process(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoint parameters that choose, without a narrowing check, the process a signal
    is sent to: the pid given to `os.kill` or `os.killpg`.

    ## Why is this bad?
    A daemon holding `CAP_KILL` (or uid 0) may signal every process of the host. A caller who
    picks the pid can stop sshd, the hypervisor's guests, another service's daemons or the
    audit daemon; with `SIGSTOP` it freezes them without a trace in their logs. What the
    service means is narrower: "stop the dnsmasq I started for this network".

    ## Example
    ```python
    @privileged.default.entrypoint
    def kill(pid, signal):
        os.kill(pid, signal)
    ```

    ## Use instead
    Let the daemon find the pid itself, from a file it owns, and check the process is the one the
    service started before signalling it:
    ```python
    @net.entrypoint
    def stop_dnsmasq_privileged(network_id: Annotated[str, Match(r"[0-9a-f-]{36}")]) -> None:
        pid = int(Path(f"/var/lib/neutron/dhcp/{network_id}/pid").read_text())
        if Path(f"/proc/{pid}/comm").read_text().strip() != "dnsmasq":
            raise ValueError(f"process {pid} is not dnsmasq")
        os.kill(pid, signal.SIGTERM)
    ```
    A check in the body that rejects other pids (membership in a fixed set, a comparison followed
    by `raise` or `return`) also counts.

    ## Options
    None.

    ## References
    - CWE-283 (unverified ownership), CWE-250 (execution with unnecessary privileges)
    """
    yield from _flows(
        module, frozenset({"signal"}), "signal only a process the daemon found and checked itself"
    )


@_rule("LPS210", "host-config-input", Severity.HIGH)
def host_config_input(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoint parameters given, without a narrowing check, as the standard input of a
    program that loads it as configuration of the whole host: a firewall ruleset
    (`iptables-restore`, `ip6tables-restore`, `ebtables-restore`, `nft -f -`, `ipset restore`),
    a switch's flows (`ovs-ofctl add-flows BRIDGE -`), passwords and users (`chpasswd`,
    `newusers`). Which programs do so, and when, is the command knowledge base (`input` and
    `input_when` in `leastpriv/data/commands.toml`). Standard input is the `process_input=` or
    `input=` of a command sink. Code on standard input (`sh`, `python3 -`) is LPS204's.

    ## Why is this bad?
    The caller writes the host's configuration, not one entry of it: a ruleset that accepts
    everything, or a DNAT rule that takes another tenant's traffic; flows that mirror a port;
    a new password for root. The entrypoint's contract is "any firewall".

    ## Example
    ```python
    @privileged.default.entrypoint
    def iptables_restore(rules):
        processutils.execute("iptables-restore", process_input=rules)
    ```

    ## Use instead
    Send the parts, checked one by one, and build the rules in the daemon:
    ```python
    @firewall.entrypoint
    def allow_port_privileged(
        device: Annotated[str, Match(r"tap[0-9a-f-]{1,11}")],
        port: Annotated[int, Range(1, 65535)],
    ) -> None:
        processutils.execute("iptables", "-A", "INPUT", "-i", device, "-p", "tcp",
                             "--dport", str(port), "-j", "ACCEPT")
    ```

    ## Options
    None.

    ## References
    - CWE-15 (external control of system or configuration setting)
    """
    yield from _flows(
        module, frozenset({"host-config"}), "send the parts, checked, and build it in the daemon"
    )


@_rule("LPS205", "uncontracted-parameter", Severity.LOW)
def uncontracted_parameter(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoint parameters with no annotation. Reported once per entrypoint, listing the
    parameters, so an oslo.privsep module is not flooded with one finding per argument.

    ## Why is this bad?
    leastpriv checks every annotation in the client and again in the daemon before the call; a
    parameter without one reaches privileged code unchecked. In oslo.privsep code nothing is
    checked at all, so each unannotated parameter is work left for the migration.

    ## Example
    ```python
    @ctx.entrypoint
    def set_mtu_privileged(device, mtu): ...
    ```

    ## Use instead
    Annotate every parameter with its type and a narrowing marker (`Match`, `Range`, `OneOf`,
    `PathUnder`):
    ```python
    @ctx.entrypoint
    def set_mtu_privileged(device: Annotated[str, Match(r"[a-z0-9-]{1,15}")],
                           mtu: Annotated[int, Range(68, 65535)]) -> None: ...
    ```

    ## Options
    None.

    ## References
    - docs/contracts.md (contract types and markers)
    """
    for entrypoint in module.entrypoints:
        if entrypoint.unannotated:
            names = ", ".join(f"'{p}'" for p in entrypoint.unannotated)
            where = (
                "leastpriv checks nothing for them"
                if entrypoint.framework == "leastpriv"
                else "oslo.privsep checks no argument; annotate them when migrating"
            )
            yield Hit(
                entrypoint.line,
                entrypoint.col,
                _ep_id(module, entrypoint),
                f"entrypoint '{entrypoint.name}' has parameters without a contract "
                f"annotation: {names}; {where}",
                also_lines=_ep_lines(entrypoint),
            )


@_rule("LPS206", "hidden-privileged-call", Severity.LOW, scope="tree")
def hidden_privileged_call(tree: TreeIndex, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for calls to an entrypoint written with a name that does not show privilege: no part of
    the name ends in `_privileged` or names a `privsep`/`privileged` module
    (`linux_net.create_tap(...)`, `from .privsep import chown as safe_chown`).

    ## Why is this bad?
    The reviewer of the caller cannot see that the arguments cross into a privileged process, so
    nobody asks where they come from.

    ## Example
    ```python
    from vif_plug_ovs import linux_net
    linux_net.create_veth_pair(dev1, dev2, mtu)
    ```

    ## Use instead
    Call the entrypoint by a name that ends in `_privileged` (rename it; import it without a
    hiding alias):
    ```python
    linux_net.create_veth_pair_privileged(dev1, dev2, mtu)
    ```

    ## Options
    None.

    ## References
    - docs/contracts.md, "Strict policy" (the `_privileged` name)
    """
    for entrypoint_id, calls in sorted(tree.callers.items()):
        for located in calls:
            call = located.call
            if call is None or _in_daemon(tree, located.module, call.caller, entrypoint_id):
                continue  # already in the daemon: nothing crosses the boundary here
            if not _shows_privilege(call.name_used):
                yield Hit(
                    call.line,
                    call.col,
                    call.caller,
                    f"call to entrypoint '{entrypoint_id}' written as '{call.name_used}' "
                    "hides that it runs privileged",
                    path=located.module.path,
                )


def _in_daemon(tree: TreeIndex, module: ModuleFacts, caller: str, target: str) -> bool:
    """True when `caller` (a function id) is, or is nested in, an entrypoint that runs in the
    daemon `target` runs in: of the same context, or of the same module when a context is not
    resolved. A call from one context's daemon to another context still crosses a boundary."""
    parts = caller[len(module.module) + 1 :].split(".") if caller != module.module else []
    enclosing = tree.entrypoints.get(f"{module.module}.{parts[0]}") if parts else None
    if enclosing is None or enclosing.entrypoint is None:
        return False
    callee = tree.entrypoints[target].entrypoint
    mine = tree.context_of(enclosing.entrypoint)
    theirs = tree.context_of(callee) if callee is not None else None
    if mine is not None and theirs is not None:
        return mine == theirs
    return enclosing.module.module == tree.entrypoints[target].module.module


def _shows_privilege(name_used: str) -> bool:
    return any(
        part.endswith("_privileged") or "privsep" in part or "privileged" in part
        for part in name_used.split(".")
    )


@_rule("LPS207", "method-entrypoint", Severity.MEDIUM)
def method_entrypoint(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoints defined in a class body (instance, class and static methods) or in
    a function body, decorated with `<context>.entrypoint`.

    ## Why is this bad?
    oslo.privsep cannot call them remotely. It sends `module.name` (the function's
    `__module__` and `__name__`) and the arguments, `self` among them for a method: the
    instance cannot be serialised, and the daemon's import of `module.name` finds no such
    function (or a module-level one of the same name: another function), so the call breaks as
    soon as a daemon is started — or, where the code only ever runs in client mode off, the
    method has never crossed a boundary at all and its privilege is an illusion. A privileged
    function that reads state from an object also lets whoever builds the object choose that
    state. leastpriv registers module-level functions only.

    ## Example
    ```python
    class Connector:
        @privileged.default.entrypoint
        def flush(self, device): ...
    ```

    ## Use instead
    A module-level function whose parameters carry every value it needs, each with a contract,
    called from the method: `flush_device_privileged(self.device)`.

    ## Options
    None.

    ## References
    - oslo.privsep, `PrivContext._wrap` (the name it sends is `__module__` and `__name__`)
    """
    for entrypoint in module.entrypoints:
        if entrypoint.method:
            yield Hit(
                entrypoint.line,
                entrypoint.col,
                _ep_id(module, entrypoint),
                f"entrypoint '{entrypoint.name}' is not a module-level function: oslo.privsep "
                "cannot call it in its daemon (it sends 'module.name', which names no such "
                "function, and no instance); make it a module-level function",
                also_lines=_ep_lines(entrypoint),
            )


# ---- LPS3xx: rootwrap ----------------------------------------------------------------------------
@_rule("LPS301", "rootwrap-use", Severity.MEDIUM)
def rootwrap_use(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for commands still run through rootwrap: `run_as_root=True` in any call, a
    `root_helper=` argument, and `*-rootwrap` command strings.

    ## Why is this bad?
    rootwrap runs the whole command as full root, after matching it against filter files whose
    patterns are easy to get wrong, and starts a Python interpreter per call. Each use is a
    command that should become a narrow entrypoint.

    ## Example
    ```python
    utils.execute("chown", owner, path, run_as_root=True)
    ```

    ## Use instead
    Replace each rootwrap command with a call to a narrow privileged function that does that one
    operation:
    ```python
    chown_instance_dir_privileged(path)   # a narrow leastpriv entrypoint
    ```

    ## Options
    None.

    ## References
    - oslo.rootwrap documentation; the seed thread ("deprecate rootwrap")
    """
    for use in module.rootwrap:
        if use.kind in ("run_as_root", "root_helper", "rootwrap_command"):
            yield Hit(use.line, use.col, use.scope, f"rootwrap still used: {use.detail}")


@_rule("LPS302", "rootwrap-filter-file", Severity.LOW)
def rootwrap_filter_file(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for rootwrap filter files (`*.filters`, files under `rootwrap.d/`) shipped in the tree.
    Reported once per file, on its first filter.

    ## Why is this bad?
    Each filter is a command a service may run as full root. Shipping filters keeps rootwrap
    alive and lets deployments copy them into `/etc` long after the code stopped using them.

    ## Example
    ```ini
    [Filters]
    chown: CommandFilter, chown, root
    ```

    ## Use instead
    Delete the filter once no `run_as_root=True` call needs it (see LPS301).

    ## Options
    None.

    ## References
    - oslo.rootwrap, "Filter files"
    """
    for use in module.rootwrap:
        if use.kind == "filters":
            yield Hit(use.line, use.col, use.scope, f"rootwrap filter file shipped: {use.detail}")


@_rule("LPS303", "privsep-through-rootwrap", Severity.MEDIUM)
def privsep_through_rootwrap(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for privsep daemons started through rootwrap: `priv_context.init(root_helper=...)`
    (oslo.privsep then runs `<root_helper> privsep-helper …`) and filter entries that allow
    `privsep-helper`.

    ## Why is this bad?
    The daemon's start then depends on rootwrap's configuration and filter matching, and the
    `privsep-helper` filter lets anyone who can run rootwrap start any context by name with a
    config file of their choosing.

    ## Example
    ```python
    priv_context.init(root_helper=shlex.split(utils.get_root_helper()))
    ```

    ## Use instead
    Start the daemon with leastpriv's own helper (`sudo leastpriv-helper`, or fork when the
    service already holds the capabilities) and drop the `privsep-helper` filter.

    ## Options
    None.

    ## References
    - oslo.privsep, `helper_command`; docs/operator-guide.md, "How a daemon starts"
    """
    for use in module.rootwrap:
        if use.kind == "privsep_helper":
            yield Hit(
                use.line,
                use.col,
                use.scope,
                f"privsep daemon launched through rootwrap: {use.detail}",
            )


@_rule("LPS304", "borrowed-context", Severity.MEDIUM)
def borrowed_context(module: ModuleFacts, options: AuditOptions) -> Iterator[Hit]:
    """## What it does
    Checks for entrypoints decorated with a context defined in another top-level package.

    ## Why is this bad?
    The library's privileged code then runs with the capabilities — and in the daemon — of a
    context it does not own: the other package can widen that context, and its operators cannot
    tell from its configuration section which code runs there.

    ## Example
    ```python
    # in mylib/ops.py
    from os_brick import privileged
    @privileged.default.entrypoint
    def flush_privileged(device): ...
    ```

    ## Use instead
    A context owned by the library, with its own `cfg_section` and only the capabilities its
    entrypoints need.

    ## Options
    None.

    ## References
    - docs/api.md, `PrivContext` (`cfg_section`, `capabilities`)
    """
    own = module.top_package
    for entrypoint in module.entrypoints:
        ref = entrypoint.context_ref
        if ref and "." in ref and ref.split(".", 1)[0] != own:
            yield Hit(
                entrypoint.line,
                entrypoint.col,
                _ep_id(module, entrypoint),
                f"entrypoint '{entrypoint.name}' uses context '{ref}' of another package",
                also_lines=_ep_lines(entrypoint),
            )

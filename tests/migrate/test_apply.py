"""`leastpriv migrate --apply`: a patch that git applies, that compiles, and that keeps the code.

On the fixture project, then (when the releases are unpacked, see test_real_code) on cinder,
manila and os-brick, with the share of run-as-root call sites converted and the audit's view of
the patched tree.
"""

from __future__ import annotations

import compileall
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leastpriv.audit import audit
from leastpriv.errors import ContractViolation
from leastpriv.migrate import filters as filter_files
from leastpriv.migrate.apply import TODO, Applied, apply_plan
from leastpriv.migrate.callsites import find_call_sites
from leastpriv.migrate.plan import Plan, build_plan
from leastpriv.migrate.runoptions import STDIN_LIMIT

from .test_plan import FIXTURE, make_plan

pytest.importorskip("libcst", reason="--apply needs libcst (the `migrate` extra)")


def _apply(plan: Plan, root: Path) -> Applied:
    found, _ = filter_files.read_filters(filter_files.find_filter_files(root), root=root)
    return apply_plan(plan, find_call_sites(root, found, jobs=1).calls)


def _patched(root: Path, patch: str, into: Path) -> Path:
    """A copy of `root` with `patch` applied by git, after `git apply --check` said it would."""
    copy = into / root.name
    shutil.copytree(root, copy)
    (into / "change.patch").write_text(patch)
    for check in (["--check"], []):
        subprocess.run(["git", "apply", *check, str(into / "change.patch")], cwd=copy,
                       check=True, capture_output=True)
    return copy


def _compiles(copy: Path, patch: str) -> bool:
    """Whether every file the patch writes byte-compiles (the fixture has a broken file on
    purpose, which the patch does not touch)."""
    touched = {line[len("+++ b/"):] for line in patch.splitlines() if line.startswith("+++ b/")}
    assert touched
    return all(compileall.compile_file(copy / path, quiet=1) for path in sorted(touched))


def test_the_fixture_patch_applies_compiles_and_keeps_everything_else(tmp_path):
    applied = _apply(make_plan(), FIXTURE)
    copy = _patched(FIXTURE, applied.patch, tmp_path)
    assert _compiles(copy, applied.patch)
    console = (copy / "demo/virt/console.py").read_text()
    # One argument a line, aligned with the parenthesis: the call would not fit in 79 columns.
    assert "file_owner.chown_console_log_privileged(owner=uid,\n" in console
    assert "file_owner.chown_console_log_privileged(owner=uid, console_log=console_log)" \
        in " ".join(console.split())
    assert all(len(line) <= 79 for line in console.splitlines()
               if line not in (FIXTURE / "demo/virt/console.py").read_text().splitlines())
    assert "from demo.privileged_calls import file_owner\n" in console
    # Every line of the original is still there but the one call that was rewritten.
    original = (FIXTURE / "demo/virt/console.py").read_text().splitlines()
    kept = [line for line in original if "run_as_root=True" not in line]
    assert all(line in console.splitlines() for line in kept)
    assert (copy / "demo/privileged_calls/file_owner.py").is_file()


def test_a_call_it_cannot_convert_keeps_its_code_under_a_todo_with_the_reason(tmp_path):
    applied = _apply(make_plan(), FIXTURE)
    copy = _patched(FIXTURE, applied.patch, tmp_path)
    lines = (copy / "demo/volume/lvm.py").read_text().splitlines()
    index = lines.index("        self._execute(*cmd, run_as_root=True)")
    top = index - 1
    while lines[top].strip().startswith("#   "):  # the reason, wrapped at 79 columns
        top -= 1
    assert lines[top].strip().startswith(TODO.strip())
    assert all(len(line) <= 79 for line in lines[top:index])
    left = {(c.site.path, c.site.line) for c in applied.conversions if not c.converted}
    assert ("demo/volume/lvm.py", 32) in left
    assert all(c.reason for c in applied.conversions if not c.converted)


def test_a_converted_result_is_read_as_execute_returned_it(tmp_path):
    applied = _apply(make_plan(), FIXTURE)
    copy = _patched(FIXTURE, applied.patch, tmp_path)
    text = (copy / "demo/volume/lvm.py").read_text()
    assert "out, _err = sys_admin_block.list_logical_volumes_privileged(" in text
    stub = (copy / "demo/privileged_calls/sys_admin_block.py").read_text()
    assert "return result.stdout, result.stderr" in stub


# -- real releases ---------------------------------------------------------------------------

_ROOT = os.environ.get("LEASTPRIV_REAL_CODE")
# Share of `execute(..., run_as_root=True)` call sites converted, as measured (docs/migration.md).
FLOORS = {"cinder": 0.70, "manila": 0.80, "os_brick": 0.70}


@pytest.mark.slow  # a minute: three releases, each audited before and after
@pytest.mark.parametrize("project", sorted(FLOORS))
def test_real_release_patch_applies_compiles_and_removes_its_rootwrap_findings(project, tmp_path):
    tree = Path(_ROOT or "", project)
    if not _ROOT or not tree.is_dir():
        pytest.skip(f"{project} is not unpacked under LEASTPRIV_REAL_CODE (scripts/dev does it)")
    applied = _apply(build_plan(tree), tree)
    sites = [c for c in applied.conversions if c.site.via == "run_as_root"]
    share = sum(c.converted for c in sites) / len(sites)
    assert share >= FLOORS[project]
    copy = _patched(tree, applied.patch, tmp_path)
    assert _compiles(copy, applied.patch)
    before, after = audit(tree), audit(copy)
    converted = {(c.site.path, c.site.line) for c in applied.conversions if c.converted}
    old_lps301 = [f for f in before.findings if f.rule == "LPS301"
                  and (f.path, f.line) in converted]
    assert old_lps301  # the audit saw those call sites ...
    assert sum(f.rule == "LPS301" for f in after.findings) <= \
        sum(f.rule == "LPS301" for f in before.findings) - len(old_lps301)  # ... and no longer
    known = {(f.rule, f.path, f.symbol) for f in before.findings}
    assert [f for f in after.findings
            if f.rule.startswith("LPS2") and (f.rule, f.path, f.symbol) not in known] == []


# -- exit codes and stdin, as oslo.concurrency's execute() had them -------------------------

_OSLO_SERVICE = '''\
import os

from oslo_concurrency import processutils as putils


def read_optional(name):
    path = os.path.join('{data}', name)
    out, _err = putils.execute('cat', path, run_as_root=True, check_exit_code=[0, 1])
    return out


def read_required(name):
    path = os.path.join('{data}', name)
    try:
        out, _err = putils.execute('cat', '--', path, run_as_root=True)
    except putils.ProcessExecutionError as exc:
        return exc.exit_code
    return out


def append(name, text):
    path = os.path.join('{data}', name)
    # the caller's comment stays
    putils.execute('tee', '-a', path, process_input=text, run_as_root=True,
                   check_exit_code=True)


def forwarded(name, check):
    path = os.path.join('{data}', name)
    putils.execute('tee', path, run_as_root=True, check_exit_code=check)
'''


@pytest.fixture
def oslo_service(tmp_path):
    """A project that runs its commands with oslo.concurrency's execute(), patched."""
    pytest.importorskip("oslo_concurrency", reason="oslo.concurrency is in the test extra")
    tree = tmp_path / "tree" / "svc"
    (tree / "svc").mkdir(parents=True)
    (tree / "svc" / "__init__.py").write_text("")
    (tmp_path / "data").mkdir()
    (tree / "svc" / "files.py").write_text(_OSLO_SERVICE.format(data=tmp_path / "data"))
    plan = build_plan(tree)
    applied = _apply(plan, tree)
    return plan, applied, _patched(tree, applied.patch, tmp_path)


def test_exit_codes_and_stdin_are_taken_over_and_the_rest_left_with_its_reason(oslo_service):
    plan, applied, copy = oslo_service
    assert plan.oslo_concurrency
    text = (copy / "svc/files.py").read_text()
    assert "process_input=encodeutils.to_utf8(text))" in text
    assert "from oslo_utils import encodeutils\n" in text
    assert "check_exit_code=[0, 1]" not in text and "    # the caller's comment stays\n" in text
    left = {c.site.line: c.reason for c in applied.conversions if not c.converted}
    forwarded = "    putils.execute('tee', path, run_as_root=True, check_exit_code=check)"
    assert forwarded in text
    # check_exit_code=check: a function's codes are fixed, so that call is left.
    assert list(left) == [_OSLO_SERVICE.splitlines().index(forwarded) + 1]


def test_a_converted_call_accepts_the_callers_exit_codes_raises_what_execute_raised_and_feeds_stdin(
        oslo_service, tmp_path, monkeypatch):
    """The patched functions run for real (in this process, contracts checked)."""
    from leastpriv.testing import in_process

    _, _, copy = oslo_service
    monkeypatch.syspath_prepend(str(copy))
    try:
        files = importlib.import_module("svc.files")
        contexts = [importlib.import_module(f"svc.privileged_calls.{name}")
                    for name in ("file_access", "file_read")]
        with in_process(contexts[0].file_access, contexts[1].file_read):
            assert files.read_optional("missing") == ""  # cat exits 1: accepted
            assert files.read_required("missing") == 1  # caught as ProcessExecutionError
            files.append("log", "pass\u00e9")
            assert (tmp_path / "data" / "log").read_bytes() == "pass\u00e9".encode()
            assert files.read_required("log") == "pass\u00e9"
            with pytest.raises(ContractViolation):  # stdin is bounded: refused, not cut short
                files.append("log", "x" * (STDIN_LIMIT + 1))
            assert (tmp_path / "data" / "log").read_bytes() == "pass\u00e9".encode()
    finally:  # the patched package goes with the test
        for name in [m for m in sys.modules if m == "svc" or m.startswith("svc.")]:
            del sys.modules[name]


# -- argv built from a literal list and options appended under a condition ---------------------

_OPTIONAL_OPTIONS = '''\
CALLS = []


def execute(*cmd, **kwargs):
    """Records the argv as processutils.execute() would run it (each item through str())."""
    CALLS.append([str(item) for item in cmd])
    return '', ''


def open_volume(mapping, dev_path, cipher=None, key_size=None, readonly=False):
    cmd = ['cryptsetup', 'open', '--type', 'plain']
    if cipher is not None:
        cmd.extend(['--cipher', cipher])
    if key_size is not None:
        cmd.extend(['--key-size', key_size])
    if readonly:
        cmd.append('--readonly')
    cmd.extend([dev_path, mapping])
    return execute(*cmd, run_as_root=True)


def open_with_options(dev_name, dev_path, options):
    cmd = ['cryptsetup', 'open']
    for option in options:
        cmd.extend(['--perf', option])
    cmd.extend([dev_path, dev_name])
    return execute(*cmd, run_as_root=True)


def open_named_option(dev_name, dev_path, flag, value):
    cmd = ['cryptsetup', 'open']
    if value is not None:
        cmd.extend([flag, value])
    cmd.extend([dev_path, dev_name])
    return execute(*cmd, run_as_root=True)


def open_rebound(dev_name, dev_path, cipher=None):
    cmd = ['cryptsetup', 'open']
    if cipher is not None:
        cmd.extend(['--cipher', cipher])
    cipher = 'aes'
    cmd.extend([dev_path, dev_name])
    return execute(*cmd, run_as_root=True)


VERBOSE = False


def open_verbose(dev_name, dev_path):
    cmd = ['cryptsetup', 'open']
    if VERBOSE:
        cmd.append('--verbose')
    cmd.extend([dev_path, dev_name])
    return execute(*cmd, run_as_root=True)
'''
# Prints each argument on its own line: what the patched call made the program run.
_RECORDER = "#!/bin/sh\nfor arg in \"$@\"; do printf '%s\\n' \"$arg\"; done\n"
# Each branch of each condition: (cipher, key_size, readonly).
_BRANCHES = [(None, None, False), ("aes-xts-plain64", 512, True), ("aes-cbc-essiv:sha256", None, 1),
             (None, 256, 0)]


def _purge(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[name]


@pytest.fixture
def optional_options(tmp_path):
    """A project whose cryptsetup argv gets options appended under conditions, and its patch; the
    rootwrap filter names a recorder as cryptsetup, so the stub runs it for real."""
    recorder = tmp_path / "bin" / "cryptsetup"
    recorder.parent.mkdir()
    recorder.write_text(_RECORDER)
    recorder.chmod(0o755)
    tree = tmp_path / "tree" / "crypt"
    (tree / "crypt").mkdir(parents=True)
    (tree / "crypt" / "__init__.py").write_text("")
    (tree / "crypt" / "volume.py").write_text(_OPTIONAL_OPTIONS)
    (tree / "etc" / "rootwrap.d").mkdir(parents=True)
    (tree / "etc" / "rootwrap.d" / "volume.filters").write_text(
        f"[Filters]\ncryptsetup: CommandFilter, {recorder}, root\n")
    plan = build_plan(tree)
    applied = _apply(plan, tree)
    return tree, plan, applied, _patched(tree, applied.patch, tmp_path)


def test_options_appended_under_a_condition_become_optional_parameters(optional_options):
    _, _, applied, copy = optional_options
    lines = _OPTIONAL_OPTIONS.splitlines()
    converted = {c.site.line for c in applied.conversions if c.converted}
    left = {c.site.line: c.reason for c in applied.conversions if not c.converted}
    assert converted == {lines.index("    return execute(*cmd, run_as_root=True)") + 1}
    # A loop, an option whose name is a variable, a condition's name bound again before the call,
    # a test on a global (another function may change it between the test and the call): each
    # left with what made its argv unknown.
    assert len(left) == 4
    reasons = [left[line] for line in sorted(left)]
    assert "loop" in reasons[0]
    assert "condition" in reasons[1]
    assert "'cipher' is bound again" in reasons[2]
    assert "condition" in reasons[3]
    text = (copy / "crypt/volume.py").read_text()
    assert "cipher=None if cipher is None else str(cipher)" in text
    assert "readonly=bool(readonly)" in text
    assert _compiles(copy, applied.patch)


def test_the_patched_call_runs_the_argv_the_original_passed_to_execute_on_every_branch(
        optional_options, monkeypatch):
    from leastpriv.testing import in_process

    tree, plan, _, copy = optional_options
    dev = ("crypt-volume-0001", "/dev/null")
    monkeypatch.syspath_prepend(str(tree))
    try:
        original = importlib.import_module("crypt.volume")
        expected = []
        for cipher, key_size, readonly in _BRANCHES:
            original.open_volume(*dev, cipher=cipher, key_size=key_size, readonly=readonly)
            expected.append(original.CALLS[-1])
    finally:
        _purge("crypt")
    assert len({tuple(argv) for argv in expected}) == len(_BRANCHES)  # each branch differs
    monkeypatch.syspath_prepend(str(copy))
    try:
        patched = importlib.import_module("crypt.volume")
        (context,) = [importlib.import_module(f"crypt.privileged_calls.{c.name}")
                      for c in plan.contexts]
        with in_process(getattr(context, plan.contexts[0].name)):
            for (cipher, key_size, readonly), argv in zip(_BRANCHES, expected, strict=True):
                out, _err = patched.open_volume(*dev, cipher=cipher, key_size=key_size,
                                                readonly=readonly)
                assert out.splitlines() == argv[1:]
            with pytest.raises(ContractViolation):  # the option's value is still checked
                patched.open_volume(*dev, cipher="--key-file=/etc/shadow")
    finally:
        _purge("crypt")

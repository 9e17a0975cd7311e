"""``leastpriv audit``: exit statuses, settings precedence, baselines, several roots, progress.

Most tests stand a hand-built result in for the analyser (`_audit_one`), so they check the command
line alone; the end-to-end tests at the bottom run the real analyser on a small tree.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from leastpriv.audit import cli as audit_cli
from leastpriv.audit.model import AuditResult, Finding, Severity
from leastpriv.audit.options import AuditOptions
from leastpriv.cli import main

RULES = {rid: SimpleNamespace(id=rid, name=f"rule-{rid}", severity=sev, summary="s", doc="")
         for rid, sev in [("LPS101", Severity.MEDIUM), ("LPS201", Severity.LOW),
                          ("LPS203", Severity.HIGH)]}


def finding(rule: str, severity: Severity, line: int = 3, path: str = "pkg/mod.py") -> Finding:
    return Finding(path, line, 0, rule, severity, "pkg.mod.f", f"{rule} at line {line}")


class FakeAnalyser:
    """Stands in for `leastpriv.audit.analyzer.audit`; records what it was asked."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.calls: list[tuple[Path, AuditOptions]] = []

    def __call__(self, path: Path, options: AuditOptions,
                 progress: Callable[[int, int], None] | None) -> AuditResult:
        self.calls.append((path, options))
        return AuditResult(root=str(path), findings=list(self.findings), files_read=1)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    return tmp_path


@pytest.fixture
def analyser(monkeypatch: pytest.MonkeyPatch) -> FakeAnalyser:
    fake = FakeAnalyser([finding("LPS201", Severity.LOW), finding("LPS203", Severity.HIGH, 9)])
    monkeypatch.setattr(audit_cli, "_audit_one", fake)
    monkeypatch.setattr(audit_cli, "_rules", lambda: RULES)
    return fake


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    status = main(["audit", "--format", "json", "--no-progress", *argv])
    out = capsys.readouterr().out
    return status, json.loads(out) if out else {}


def test_findings_at_the_default_threshold_exit_1(analyser, tree, capsys) -> None:
    status, doc = run_json(capsys, str(tree))
    assert status == 1 and len(doc["findings"]) == 2


@pytest.mark.parametrize("fail_on, findings, expected", [
    ("high", [finding("LPS201", Severity.LOW)], 0),
    ("high", [finding("LPS203", Severity.HIGH)], 1),
    ("medium", [finding("LPS101", Severity.MEDIUM)], 1),
    ("low", [], 0),
])
def test_fail_on_sets_the_threshold(analyser, tree, capsys, fail_on, findings, expected) -> None:
    analyser.findings = findings
    assert run_json(capsys, "--fail-on", fail_on, str(tree))[0] == expected


@pytest.mark.parametrize("argv", [
    ["does/not/exist"],
    ["--select", "LPS9", "{tree}"],
    ["--ignore", "E501", "{tree}"],
    ["--baseline", "{tree}/absent.json", "{tree}"],
    ["--config", "{tree}/absent.toml", "{tree}"],
    ["--jobs", "0", "{tree}"],
])
def test_usage_errors_exit_2(analyser, tree, capsys, argv: list[str]) -> None:
    status = main(["audit", "--no-progress", *(a.format(tree=tree) for a in argv)])
    assert status == 2 and analyser.calls == []


def test_an_unknown_option_exits_2(analyser, tree) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "--frmat", "json", str(tree)])
    assert exit_info.value.code == 2


def test_unknown_config_keys_exit_2(analyser, tree, capsys) -> None:
    (tree / "pyproject.toml").write_text("[tool.leastpriv]\nmax-caps = 3\n")
    assert main(["audit", "--no-progress", str(tree)]) == 2


def test_pyproject_settings_reach_the_analyser(analyser, tree, capsys) -> None:
    (tree / "pyproject.toml").write_text(
        '[tool.leastpriv]\nselect = ["LPS2"]\nignore = ["LPS201"]\nmax-capabilities = 4\n'
        'exclude = ["*/gen/*"]\nextra-file-sinks = ["pkg.fs.put"]\nfail-on = "high"\n')
    analyser.findings = [finding("LPS101", Severity.MEDIUM)]
    status, _ = run_json(capsys, str(tree / "pkg"))
    options = analyser.calls[0][1]
    assert status == 0  # fail-on = high from the file
    assert options.select == {"LPS2"} and options.ignore == {"LPS201"}
    assert options.max_capabilities == 4 and options.exclude == ("*/gen/*",)
    assert options.extra_file_sinks == ("pkg.fs.put",)


def test_command_line_overrides_pyproject(analyser, tree, capsys) -> None:
    (tree / "pyproject.toml").write_text('[tool.leastpriv]\nselect = ["LPS2"]\nfail-on = "high"\n')
    analyser.findings = [finding("LPS101", Severity.MEDIUM)]
    status, _ = run_json(capsys, "--select", "lps1", "--fail-on", "medium", "--max-capabilities",
                         "5", str(tree))
    options = analyser.calls[0][1]
    assert status == 1 and options.select == {"LPS1"} and options.max_capabilities == 5


def test_explicit_config_file_is_used(analyser, tree, tmp_path_factory, capsys) -> None:
    config = tmp_path_factory.mktemp("elsewhere") / "pyproject.toml"
    config.write_text('[tool.leastpriv]\nignore = ["LPS203"]\n')
    run_json(capsys, "--config", str(config), str(tree))
    assert analyser.calls[0][1].ignore == {"LPS203"}


def test_baseline_hides_accepted_findings_even_after_they_move(analyser, tree, capsys) -> None:
    accepted = tree / "baseline.json"
    assert main(["audit", "--no-progress", "--write-baseline", str(accepted), str(tree)]) == 0
    analyser.findings = [finding("LPS201", Severity.LOW, 30), finding("LPS203", Severity.HIGH, 90),
                         finding("LPS101", Severity.MEDIUM)]
    status, doc = run_json(capsys, "--baseline", str(accepted), str(tree))
    assert status == 1 and [f["rule"] for f in doc["findings"]] == ["LPS101"]


def test_baseline_covering_everything_exits_0(analyser, tree, capsys) -> None:
    accepted = tree / "baseline.json"
    main(["audit", "--no-progress", "--write-baseline", str(accepted), str(tree)])
    status, doc = run_json(capsys, "--baseline", str(accepted), str(tree))
    assert status == 0 and doc["findings"] == []


def test_several_roots_report_paths_from_their_common_parent(analyser, tmp_path, capsys) -> None:
    for name in ("nova", "neutron"):
        (tmp_path / name).mkdir()
    _, doc = run_json(capsys, str(tmp_path / "nova"), str(tmp_path / "neutron"))
    assert doc["root"] == str(tmp_path)
    assert sorted({f["path"] for f in doc["findings"]}) == ["neutron/pkg/mod.py", "nova/pkg/mod.py"]


def test_output_file_receives_the_report(analyser, tree, capsys) -> None:
    target = tree / "report.sarif"
    main(["audit", "--no-progress", "--format", "sarif", "--output", str(target), str(tree)])
    assert capsys.readouterr().out == ""
    assert json.loads(target.read_text())["version"] == "2.1.0"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def drawn(done: int, total: int) -> str:
    """What the bar writes on a terminal after one update and the finish."""
    terminal = FakeTerminal()
    bar = audit_cli.ProgressBar.for_stream(terminal)
    assert bar is not None
    bar(done, total)
    bar.finish()
    return terminal.getvalue()


def test_progress_bar_draws_on_a_terminal_for_large_trees() -> None:
    output = drawn(1000, 1000)
    assert "\r[" in output and output.endswith("\r")


def test_progress_bar_stays_silent_for_small_trees_and_pipes() -> None:
    assert drawn(5, 10) == ""
    assert audit_cli.ProgressBar.for_stream(io.StringIO()) is None


# End to end: the installed command and the real analyser.

PRIVSEP = '''\
from oslo_privsep import capabilities as caps
from oslo_privsep import priv_context

pctxt = priv_context.PrivContext(
    "demo", cfg_section="demo_privileged",
    capabilities=[caps.CAP_NET_ADMIN, caps.CAP_SYS_ADMIN, caps.CAP_CHOWN],
)


@pctxt.entrypoint
def writefile(path, content):
    with open(path, "w") as f:
        f.write(content)
'''


@pytest.fixture
def real_tree(tmp_path: Path) -> Path:
    pytest.importorskip("leastpriv.audit.analyzer", reason="the analyser has not landed")
    package = tmp_path / "demo" / "privsep"
    package.mkdir(parents=True)
    (tmp_path / "demo" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(PRIVSEP)
    (tmp_path / "demo" / "broken.py").write_text("import oslo_privsep\ndef (:\n")
    return tmp_path


def leastpriv(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leastpriv", "audit", *argv],
                          capture_output=True, text=True, timeout=120, check=False)


def test_end_to_end_json_finds_the_context_and_the_wide_entrypoint(real_tree: Path) -> None:
    proc = leastpriv("--format", "json", str(real_tree))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [c["id"] for c in doc["contexts"]] == ["demo.privsep.pctxt"]
    assert {"LPS102", "LPS203"} <= {f["rule"] for f in doc["findings"]}
    assert [s["path"] for s in doc["skipped"]] == ["demo/broken.py"]


def test_end_to_end_text_goes_to_a_pipe_without_colour_or_progress(real_tree: Path) -> None:
    proc = leastpriv(str(real_tree))
    assert proc.returncode == 1
    assert "\x1b[" not in proc.stdout and "\r" not in proc.stderr
    assert "demo/privsep/__init__.py" in proc.stdout.splitlines()


def test_end_to_end_ignoring_every_failing_rule_exits_0(real_tree: Path) -> None:
    assert leastpriv("--fail-on", "high", "--ignore", "LPS1,LPS2", str(real_tree)).returncode == 0


# A linter kept in CI: exit codes, and trees that cannot be read whole.

def test_exit_zero_reports_findings_but_exits_0(analyser, tree, capsys) -> None:
    status, doc = run_json(capsys, "--exit-zero", str(tree))
    assert status == 0 and len(doc["findings"]) == 2


def test_an_internal_error_exits_2_never_1(tree, monkeypatch, capsys) -> None:
    def crash(*args: object) -> AuditResult:
        raise RuntimeError("a bug in a rule")

    monkeypatch.setattr(audit_cli, "_audit_one", crash)
    assert main(["audit", "--no-progress", str(tree)]) == 2
    assert "RuntimeError" in capsys.readouterr().err


def test_version_prints_and_exits_0(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.split()[:2] == ["leastpriv", "audit"]


def test_symlink_loops_are_warnings_naming_the_path(real_tree: Path) -> None:
    (real_tree / "demo" / "a.py").symlink_to("b.py")
    (real_tree / "demo" / "b.py").symlink_to("a.py")
    (real_tree / "demo" / "up").symlink_to("..")  # a directory loop: never entered
    proc = leastpriv("--format", "json", str(real_tree))
    assert proc.returncode == 1  # the findings of the readable files
    assert "Traceback" not in proc.stderr
    skipped = {s["path"] for s in json.loads(proc.stdout)["skipped"]}
    assert {"demo/a.py", "demo/b.py"} <= skipped
    warned = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert any("demo/a.py" in line for line in warned)


def test_verbose_lists_the_files_read_but_not_parsed(real_tree: Path) -> None:
    (real_tree / "demo" / "plain.py").write_text("x = 1\n")
    quiet, verbose = leastpriv(str(real_tree)), leastpriv("-v", str(real_tree))
    assert "demo/plain.py" not in quiet.stderr
    assert "demo/plain.py" in verbose.stderr


@pytest.mark.skipif(
    not Path("/usr/bin/setpriv").exists() or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root and setpriv to run the audit without the DAC capabilities",
)
def test_an_unreadable_directory_is_a_warning_and_the_rest_is_audited(real_tree: Path) -> None:
    locked = real_tree / "demo" / "locked"
    locked.mkdir()
    (locked / "mod.py").write_text("import oslo_privsep\n")
    locked.chmod(0)
    try:
        # uid 0 without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH obeys the 000 mode, as a
        # service user in CI would.
        drop = "-dac_override,-dac_read_search"
        proc = subprocess.run(
            ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", sys.executable, "-m",
             "leastpriv", "audit", "--format", "json", str(real_tree)],
            capture_output=True, text=True, timeout=120, check=False,
        )
    finally:
        locked.chmod(0o700)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert "demo/locked" in {s["path"] for s in doc["skipped"]}
    assert [c["id"] for c in doc["contexts"]] == ["demo.privsep.pctxt"]
    assert any("demo/locked" in line for line in proc.stderr.splitlines())


def test_a_path_that_is_a_symlink_loop_is_an_error_naming_it_not_a_traceback(tmp_path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    proc = leastpriv(str(tmp_path / "loop"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(tmp_path / "loop") in proc.stderr


BORROWING = '''\
from demo.privsep import pctxt


@pctxt.entrypoint
def chown_privileged(path: str) -> None:
    pass
'''


def test_a_package_directory_gives_the_ids_its_parent_gives(real_tree: Path) -> None:
    # `leastpriv audit nova` on an unpacked wheel names the package itself: its modules are
    # still demo.*, so an entrypoint on the package's own context is not "borrowed" (LPS304).
    (real_tree / "demo" / "privsep" / "fs.py").write_text(BORROWING)
    from_parent = json.loads(leastpriv("--format", "json", str(real_tree)).stdout)
    from_package = json.loads(leastpriv("--format", "json", str(real_tree / "demo")).stdout)

    def ids(doc: dict) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        return ([c["id"] for c in doc["contexts"]], [e["id"] for e in doc["entrypoints"]],
                sorted((f["rule"], f["symbol"]) for f in doc["findings"]))

    assert ids(from_package) == ids(from_parent)
    assert "LPS304" not in {f["rule"] for f in from_package["findings"]}


def test_a_closed_stdout_is_an_io_error_not_a_crash(real_tree: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "leastpriv", "audit", str(real_tree)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=120, check=False, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_a_closed_stderr_still_reports_and_fails_on_findings(real_tree: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "leastpriv", "audit", "--format", "json",
                           str(real_tree)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, timeout=120, check=False, preexec_fn=lambda: os.close(2))
    assert proc.returncode == 1
    assert [c["id"] for c in json.loads(proc.stdout)["contexts"]] == ["demo.privsep.pctxt"]


def test_a_full_disk_on_stdout_is_an_io_error(real_tree: Path) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "leastpriv", "audit", str(real_tree)],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                              check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("make", [
    lambda tmp: tmp,  # an empty directory
    lambda tmp: (tmp / "README.md", (tmp / "README.md").write_text("# x\n"))[0],
], ids=["empty-tree", "not-python"])
def test_a_path_with_nothing_to_audit_is_a_warning_naming_it(tmp_path: Path, make) -> None:
    path = make(tmp_path)
    proc = leastpriv(str(path))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert any("warning" in line and str(path) in line for line in proc.stderr.splitlines())


def test_a_path_that_is_neither_file_nor_directory_is_a_usage_error() -> None:
    proc = leastpriv("/dev/null")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "/dev/null" in proc.stderr


def test_fail_on_takes_any_case(analyser, tree, capsys) -> None:
    analyser.findings = [finding("LPS101", Severity.MEDIUM)]
    assert run_json(capsys, "--fail-on", "HIGH", str(tree))[0] == 0


@pytest.mark.parametrize("argv", [
    ["--baseline", "{tree}/bad.json", "{tree}"],
    ["--write-baseline", "{tree}/no/such/dir/b.json", "{tree}"],
], ids=["malformed-baseline", "unwritable-baseline"])
def test_baseline_errors_exit_2_naming_the_file(analyser, tree, capsys, argv) -> None:
    (tree / "bad.json").write_text("not json\n")
    argv = [a.format(tree=tree) for a in argv]
    assert main(["audit", "--no-progress", *argv]) == 2
    assert argv[1] in capsys.readouterr().err


@pytest.mark.parametrize("terms", [800, 20000], ids=["deep-for-the-walk", "deep-for-the-parser"])
def test_a_file_nested_too_deeply_is_skipped_not_a_crash(real_tree: Path, terms: int) -> None:
    # A generated expression: 800 terms parse but overflow a recursive walk; 20000 overflow the
    # parser itself. Either is one file to skip, never the whole run.
    (real_tree / "demo" / "deep.py").write_text(
        "import oslo_privsep\nx = " + " + ".join(["1"] * terms) + "\n")
    proc = leastpriv("--format", "json", str(real_tree))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert "demo/deep.py" in {s["path"] for s in doc["skipped"]}
    assert [c["id"] for c in doc["contexts"]] == ["demo.privsep.pctxt"]


@pytest.mark.parametrize("extra", ["{tree}", "{tree}/demo", "{tree}/demo/privsep/__init__.py"])
def test_overlapping_paths_are_audited_once(real_tree: Path, extra: str) -> None:
    once = json.loads(leastpriv("--format", "json", str(real_tree)).stdout)
    twice = json.loads(leastpriv("--format", "json", str(real_tree),
                                 extra.format(tree=real_tree)).stdout)
    assert twice["findings"] == once["findings"] and twice["contexts"] == once["contexts"]


@pytest.mark.parametrize("pattern", ["demo/privsep", "privsep", "privsep/", "./demo/privsep/*",
                                     "__init__.py", "*/privsep/*"])
def test_exclude_takes_directory_and_file_names_as_flake8_does(real_tree, pattern) -> None:
    doc = json.loads(leastpriv("--format", "json", "--exclude", pattern, str(real_tree)).stdout)
    assert doc["contexts"] == []  # demo/privsep/__init__.py, the only context, was not read

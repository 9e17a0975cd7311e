"""What `audit` builds from a tree: contexts, entrypoints, callers, skipped files, progress."""

from __future__ import annotations

from pathlib import Path

from leastpriv.audit import AuditOptions, audit
from leastpriv.audit.model import Finding

FIXTURES = Path(__file__).parent / "fixtures"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_contexts_record_capabilities_and_cfg_section() -> None:
    result = audit(FIXTURES / "LPS202_tree")
    (context,) = result.contexts
    assert (
        context.id,
        context.path,
        context.cfg_section,
        context.capabilities,
        context.framework,
    ) == (
        "svc.privsep.sys_admin_pctxt",
        "svc/privsep/__init__.py",
        "svc_sys_admin",
        ("CAP_CHOWN",),
        "oslo.privsep",
    )


def test_entrypoints_resolve_contexts_imported_from_other_modules_and_list_callers() -> None:
    result = audit(FIXTURES / "LPS206_tree")
    by_id = {e.id: e for e in result.entrypoints}
    tap = by_id["svc.linux_net.create_tap"]
    assert tap.context == "svc.privileged.vif_plug"
    assert tap.params == ("dev",)
    assert {(c.path, c.caller, c.name_used) for c in tap.callers} >= {
        ("svc/plug.py", "svc.plug.plug", "linux_net.create_tap"),
        ("svc/plug.py", "svc.plug.plug", "make_tap"),
        ("svc/linux_net.py", "svc.linux_net.create_tap_privileged", "create_tap"),
    }
    assert all(c.caller != "svc.unrelated.caller" for c in tap.callers)


def test_file_that_does_not_parse_is_skipped_not_fatal(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "svc/broken.py": "from oslo_privsep import priv_context\ndef f(:\n",
            "svc/ok.py": "import subprocess\nsubprocess.run(['ls'], run_as_root=True)\n",
        },
    )
    result = audit(root)
    assert [(s.path, s.line) for s in result.skipped] == [("svc/broken.py", 2)]
    assert [f.rule for f in result.findings] == ["LPS301"]


def test_tests_are_excluded_unless_asked(tmp_path: Path) -> None:
    root = _write(tmp_path, {"svc/tests/test_x.py": "f(run_as_root=True)\n"})
    assert audit(root).findings == []
    assert [f.rule for f in audit(root, AuditOptions(include_tests=True)).findings] == ["LPS301"]


def test_findings_are_sorted_and_paths_relative(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "b.py": "f(run_as_root=True)\n",
            "a.py": "g(x)\nf(run_as_root=True)\nf(run_as_root=True)\n",
        },
    )
    findings = audit(root).findings
    assert findings == sorted(findings)
    assert [(f.path, f.line) for f in findings] == [("a.py", 2), ("a.py", 3), ("b.py", 1)]
    assert all(isinstance(f, Finding) for f in findings)


def test_progress_reports_every_file_and_ends_complete(tmp_path: Path) -> None:
    root = _write(tmp_path, {f"m{i}.py": "x = 1\n" for i in range(5)})
    seen: list[tuple[int, int]] = []
    result = audit(root, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5) and result.files_read == 5
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_parallel_and_serial_runs_agree(tmp_path: Path) -> None:
    files = {f"svc/m{i}.py": "utils.execute('ls', run_as_root=True)\n" for i in range(80)}
    root = _write(tmp_path, files)
    serial = audit(root, AuditOptions(jobs=1))
    parallel = audit(root, AuditOptions(jobs=2))
    assert serial.findings == parallel.findings and len(serial.findings) == 80


def test_excluded_globs_are_not_read(tmp_path: Path) -> None:
    root = _write(
        tmp_path, {"legacy/x.py": "f(run_as_root=True)\n", "new/y.py": "f(run_as_root=True)\n"}
    )
    result = audit(root, AuditOptions(exclude=("legacy/*",)))
    assert [f.path for f in result.findings] == ["new/y.py"]

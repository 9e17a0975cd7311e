"""How often the audit's data-flow rules are right, on entrypoints labelled by reading them.

    python benchmarks/audit_accuracy.py [--labels FILE] [--trees DIR] [--list]

The labels (benchmarks/data/audit_labels.csv, the first set; audit_labels_after.csv, the second;
audit_labels_fresh.csv, the third; audit_labels_fourth.csv, the fourth) say, for each entrypoint
of an OpenStack release,
whether a caller could make it do damage beyond a narrow operation, in which shape (issue 10's
letters A-I; P: a plain path to a file call or a changing command; X: the program or the whole
command; O: dangerous in a way no data-flow rule looks for; "-": not dangerous), and which rule
should say so. They were written by reading each body and the helpers it calls, before running
the audit on it. The releases are fetched from PyPI (``pip download --no-deps``: the wheel, or
the source archive of a release published without one) into benchmarks/.cache/labelled and
unpacked there.

Printed, side by side: per data-flow rule (LPS203, LPS204, LPS208, LPS209, LPS210) recall --
labelled for that rule and reported by it -- and precision -- reported by it and labelled
dangerous; per shape, recall -- dangerous in that shape and reported by any of them -- and
precision -- reported with a flow of that shape's kind and labelled dangerous; and how many
labelled entrypoints the audit found at
all. ``--list`` adds every disagreement.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from leastpriv.audit import AuditOptions
from leastpriv.audit.analyzer import audit_with_flows
from leastpriv.audit.facts import FlowFact

HERE = Path(__file__).resolve().parent
LABELS = HERE / "data" / "audit_labels.csv"
TREES = HERE / ".cache" / "labelled"
RULES = ("LPS203", "LPS204", "LPS208", "LPS209", "LPS210")
# The shape each kind of flow (leastpriv.audit.facts.FlowFact.kind) is evidence of.
KIND_SHAPE = {
    "file": "P", "operand": "P", "library": "H", "netns": "B", "path-option": "D",
    "kernel-setting": "C", "name-operand": "I", "argv-tail": "A", "command-string": "E",
    "workdir": "F", "dispatch": "G", "program": "X", "argv": "X", "shell": "X",
    "runs-program": "X", "signal": "O", "host-config": "O",
}
SHAPES = ("A", "B", "C", "D", "E", "F", "G", "H", "I", "P", "X", "O")


@dataclass(frozen=True)
class Label:
    project: str
    version: str
    entrypoint: str  # module:function
    dangerous: bool
    shape: str
    rule: str
    reason: str

    @property
    def audit_id(self) -> str:
        return self.entrypoint.replace(":", ".")


@dataclass(frozen=True)
class Verdict:
    """What the audit said about one labelled entrypoint."""

    label: Label
    found: bool
    rules: frozenset[str]
    shapes: frozenset[str]


def read_labels(path: Path) -> list[Label]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Label(r["project"], r["version"], r["entrypoint"], r["dangerous"] == "yes",
                  r["shape"], r["rule"], r["reason"])
            for r in csv.DictReader(handle)
        ]


def tree(project: str, version: str, root: Path) -> Path:
    """The unpacked wheel of `project` `version` under `root`, fetched the first time."""
    name = f"{project.replace('-', '_')}-{version}"
    target = root / name
    if target.is_dir():
        return target
    wheels = root / "wheels"
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels)]
    wheel_only = [*pip, "--only-binary", ":all:", f"{project}=={version}"]
    if subprocess.run(wheel_only, stderr=subprocess.DEVNULL).returncode == 0:
        (wheel,) = wheels.glob(f"{name}-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            # A ZipFile, which drops absolute paths and '..' itself; the rule is for tarfile.
            archive.extractall(target)  # noqa: S202
        return target
    # Some old releases have no wheel (os-vif 1.0 to 1.6, os-vif-bigswitch 12.0.0): the top
    # directory of their source archive holds the same package tree.
    subprocess.run([*pip, "--no-binary", ":all:", "--no-build-isolation", f"{project}=={version}"],
                   check=True)
    (sdist,) = {*wheels.glob(f"{project}-{version}.tar.gz"), *wheels.glob(f"{name}.tar.gz")}
    unpacked = root / f"{name}.sdist"
    with tarfile.open(sdist) as sources:
        sources.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    top.rename(target)
    unpacked.rmdir()
    return target


def judge(labels: list[Label], root: Path) -> list[Verdict]:
    by_tree: dict[tuple[str, str], list[Label]] = defaultdict(list)
    for label in labels:
        by_tree[(label.project, label.version)].append(label)
    verdicts = []
    for (project, version), group in sorted(by_tree.items()):
        result, flows = audit_with_flows(tree(project, version, root), AuditOptions())
        found = {e.id for e in result.entrypoints}
        for label in group:
            rules = frozenset(
                f.rule for f in result.findings if f.symbol == label.audit_id and f.rule in RULES
            )
            verdicts.append(Verdict(label, label.audit_id in found, rules,
                                    _shapes(flows.get(label.audit_id, ()), rules)))
    return verdicts


def _shapes(flows: Iterable[FlowFact], rules: frozenset[str]) -> frozenset[str]:
    """The shapes the reported flows are evidence of (none when nothing was reported)."""
    return frozenset(KIND_SHAPE[f.kind] for f in flows if f.kind in KIND_SHAPE) if rules else (
        frozenset()
    )


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.2f} ({part}/{whole})" if whole else "-"


def rule_table(verdicts: list[Verdict]) -> list[str]:
    lines = ["| rule | recall | precision |", "|---|---|---|"]
    for rule in RULES:
        expected = [v for v in verdicts if v.label.rule == rule]
        reported = [v for v in verdicts if rule in v.rules]
        hits = sum(rule in v.rules for v in expected)
        right = sum(v.label.dangerous for v in reported)
        lines.append(f"| {rule} | {_ratio(hits, len(expected))} | "
                     f"{_ratio(right, len(reported))} |")
    return lines


def shape_table(verdicts: list[Verdict]) -> list[str]:
    lines = ["| shape | labelled dangerous | recall (any of the rules) | precision |",
             "|---|---|---|---|"]
    for shape in SHAPES:
        dangerous = [v for v in verdicts if v.label.dangerous and v.label.shape == shape]
        reported = [v for v in verdicts if shape in v.shapes]
        hits = sum(bool(v.rules) for v in dangerous)
        right = sum(v.label.dangerous for v in reported)
        if dangerous or reported:
            lines.append(f"| {shape} | {len(dangerous)} | {_ratio(hits, len(dangerous))} | "
                         f"{_ratio(right, len(reported))} |")
    return lines


def disagreements(verdicts: list[Verdict]) -> list[str]:
    lines = []
    for v in verdicts:
        label = v.label
        missed = label.rule in RULES and label.rule not in v.rules
        false = bool(v.rules) and not label.dangerous
        if missed or false:
            said = ",".join(sorted(v.rules)) or "nothing"
            lines.append(f"- {label.project} {label.version} `{label.entrypoint}`: labelled "
                         f"{label.shape}/{label.rule}, audit said {said} -- {label.reason}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--trees", type=Path, default=TREES)
    parser.add_argument("--list", action="store_true", help="also list every disagreement")
    args = parser.parse_args()
    verdicts = judge(read_labels(args.labels), args.trees)
    projects = sorted({(v.label.project, v.label.version) for v in verdicts})
    found = sum(v.found for v in verdicts)
    print(f"{len(verdicts)} labelled entrypoints in {len(projects)} releases; "
          f"{sum(v.label.dangerous for v in verdicts)} dangerous; found by the audit: "
          f"{found}/{len(verdicts)}")
    print()
    print("\n".join(rule_table(verdicts)))
    print()
    print("\n".join(shape_table(verdicts)))
    if args.list:
        print()
        print("\n".join(disagreements(verdicts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

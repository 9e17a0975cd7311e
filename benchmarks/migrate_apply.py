"""How many run-as-root call sites `leastpriv migrate --apply` converts, and why not the others.

    python benchmarks/migrate_apply.py [--trees DIR] [--list]

The trees are the releases docs/migration.md reads (cinder 29.0.0, manila 23.0.1, os-brick
7.1.1), unpacked by ``scripts/dev test`` under ``.cache/real-code`` (``$LEASTPRIV_REAL_CODE``).
For each project: the `execute(..., run_as_root=True)` call sites converted and all run-as-root
call sites converted (sudo strings, root helper strings and ``**kwargs`` dicts too), then the
sites left, by the reason the patch's ``# TODO(leastpriv)`` gives, one bucket per reason, biggest
first. ``--list`` adds every site left with its reason. ``--audit`` also applies each patch with
``git apply`` to a copy of the tree, byte-compiles every file it writes and audits the tree before
and after: LPS301 (rootwrap left behind) before -> after, and LPS2xx findings the patch added
(tests/migrate/test_apply.py asserts the same on the same trees).
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from leastpriv.audit import audit
from leastpriv.migrate import filters as filter_files
from leastpriv.migrate.apply import Applied, apply_plan
from leastpriv.migrate.callsites import find_call_sites
from leastpriv.migrate.plan import build_plan

PROJECTS = ("cinder", "manila", "os_brick")
DEFAULT_TREES = Path(__file__).resolve().parent.parent / ".cache" / "real-code"


def applied(tree: Path) -> Applied:
    found, _ = filter_files.read_filters(filter_files.find_filter_files(tree), root=tree)
    return apply_plan(build_plan(tree), find_call_sites(tree, found).calls)


def bucket(reason: str) -> str:
    """A reason without its details: what it says before a colon or a parenthesis."""
    head = re.split(r"[:(]", reason, maxsplit=1)[0]
    return head.replace(" changes how the command runs", "").strip()


def audited(tree: Path, patch: str) -> str:
    """LPS301 before -> after and the LPS2xx findings the patch added, once it applied."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / tree.name
        shutil.copytree(tree, copy)
        (Path(scratch) / "change.patch").write_text(patch)
        subprocess.run(["git", "apply", str(Path(scratch) / "change.patch")], cwd=copy,
                       check=True, capture_output=True)
        written = {line[len("+++ b/"):] for line in patch.splitlines()
                   if line.startswith("+++ b/")}
        compiles = all(compileall.compile_file(copy / path, quiet=1) for path in written)
        before, after = audit(tree), audit(copy)
    known = {(f.rule, f.path, f.symbol) for f in before.findings}
    added = [f for f in after.findings
             if f.rule.startswith("LPS2") and (f.rule, f.path, f.symbol) not in known]
    lps301 = [sum(f.rule == "LPS301" for f in report.findings) for report in (before, after)]
    return (f"applies, {'compiles' if compiles else 'DOES NOT COMPILE'}; "
            f"LPS301 {lps301[0]} -> {lps301[1]}; new LPS2xx: {len(added)}")


def share(converted: int, total: int) -> str:
    return f"{converted} of {total} ({converted / total:.0%})" if total else "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trees", type=Path,
                        default=Path(os.environ.get("LEASTPRIV_REAL_CODE", DEFAULT_TREES)))
    parser.add_argument("--list", action="store_true", help="every site left, with its reason")
    parser.add_argument("--audit", action="store_true",
                        help="apply each patch to a copy, compile it, audit before and after")
    args = parser.parse_args()
    print(f"{'project':<10} {'run_as_root=True converted':<28} all run-as-root converted")
    results = {}
    for project in PROJECTS:
        tree = args.trees / project
        if not tree.is_dir():
            print(f"{project:<10} missing: {tree} (scripts/dev test unpacks it)")
            continue
        result = results[project] = applied(tree)
        execute = [c for c in result.conversions if c.site.via == "run_as_root"]
        print(f"{project:<10} {share(sum(c.converted for c in execute), len(execute)):<28} "
              f"{share(sum(c.converted for c in result.conversions), len(result.conversions))}")
        if args.audit:
            print(f"{'':<10} {audited(tree, result.patch)}")
    for project, result in results.items():
        left = [c for c in result.conversions if not c.converted]
        print(f"\n{project}: {len(left)} sites left, by reason (run_as_root=True / all)")
        execute = Counter(bucket(c.reason) for c in left if c.site.via == "run_as_root")
        every = Counter(bucket(c.reason) for c in left)
        for reason, count in every.most_common():
            print(f"  {execute[reason]:>3} / {count:>3}  {reason}")
        if args.list:
            for c in left:
                print(f"    {c.site.path}:{c.site.line}  {c.reason}")


if __name__ == "__main__":
    main()

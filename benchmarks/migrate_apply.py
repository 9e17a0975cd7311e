"""How many run-as-root call sites `leastpriv migrate --apply` converts, and why not the others.

    python benchmarks/migrate_apply.py [--trees DIR] [--list]

The trees are the releases docs/migration.md reads (cinder 29.0.0, manila 23.0.1, os-brick
7.1.1), unpacked by ``scripts/dev test`` under ``.cache/real-code`` (``$LEASTPRIV_REAL_CODE``).
For each project: the `execute(..., run_as_root=True)` call sites converted and all run-as-root
call sites converted (sudo strings, root helper strings and ``**kwargs`` dicts too), then the
sites left, by the reason the patch's ``# TODO(leastpriv)`` gives, one bucket per reason, biggest
first. ``--list`` adds every site left with its reason. That the patch applies, compiles and adds
no LPS2xx finding is checked by tests/migrate/test_apply.py on the same trees.
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from pathlib import Path

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


def share(converted: int, total: int) -> str:
    return f"{converted} of {total} ({converted / total:.0%})" if total else "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trees", type=Path,
                        default=Path(os.environ.get("LEASTPRIV_REAL_CODE", DEFAULT_TREES)))
    parser.add_argument("--list", action="store_true", help="every site left, with its reason")
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

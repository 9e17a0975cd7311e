"""The catch rate of the audit's data-flow rules on the red-team variant fixtures, per shape.

    python benchmarks/audit_variants.py [--list]

The fixtures (tests/audit/fixtures/LPS20*_variants*) hold, for each of issue 10's shapes A-I,
entrypoints written the other ways real code expresses it, each marked bad (a data-flow rule
should report it, naming the rule) or good (none should). Printed per shape: bad ones reported by
any of LPS203/LPS204/LPS208, bad ones reported by the rule named, good ones reported (false
positives). ``--list`` names every miss and false positive. Written by the rules' red team, so
these are fixtures, not a held-out measurement: a miss here is a shape the rules do not know.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.audit.variants import Case, cases, verdicts


def _ratio(hit: int, total: int) -> str:
    return f"{hit}/{total}" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="name every miss and false positive")
    args = parser.parse_args()
    reported = verdicts()
    by_shape: dict[str, list[Case]] = defaultdict(list)
    for case in cases():
        by_shape[case.shape].append(case)
    print("| shape | bad reported | by the rule named | good reported (false positives) |")
    print("|---|---|---|---|")
    totals = [0, 0, 0, 0, 0]
    wrong: list[str] = []
    for shape in sorted(by_shape):
        bad = [c for c in by_shape[shape] if c.bad]
        good = [c for c in by_shape[shape] if not c.bad]
        caught = [c for c in bad if reported.get(c.entrypoint)]
        named = [c for c in bad if c.rule in reported.get(c.entrypoint, ())]
        false = [c for c in good if reported.get(c.entrypoint)]
        counts = (len(caught), len(named), len(bad), len(false), len(good))
        totals = [t + n for t, n in zip(totals, counts, strict=True)]
        print(
            f"| {shape} | {_ratio(len(caught), len(bad))} | {_ratio(len(named), len(bad))} "
            f"| {_ratio(len(false), len(good))} |"
        )
        for case in bad:
            said = sorted(reported.get(case.entrypoint, ()))
            if case.rule not in said:
                said_text = ", ".join(said) or "nothing"
                wrong.append(
                    f"miss {shape} {case.entrypoint} (want {case.rule}, said {said_text}): "
                    f"{case.what}"
                )
        for case in false:
            said_text = ", ".join(sorted(reported[case.entrypoint]))
            wrong.append(f"false {shape} {case.entrypoint} (said {said_text}): {case.what}")
    caught_all, named_all, bad_all, false_all, good_all = totals
    print(f"| all | {_ratio(caught_all, bad_all)} | {_ratio(named_all, bad_all)} "
          f"| {_ratio(false_all, good_all)} |")
    if args.list:
        print()
        print("\n".join(wrong))


if __name__ == "__main__":
    main()

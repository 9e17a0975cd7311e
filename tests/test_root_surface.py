"""What runs as root: the leastpriv modules the exec helper and the daemon load, and their size.

The list and the total are written in docs/security-model.md ("Less to read as root"); the tests
keep that page true, and track the issue's target of at most 1,800 lines. Run this file as a
script to print the table for the page.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[1] / "docs" / "security-model.md"
TARGET = 1800
# What `python -I -m leastpriv.privileged.helper` imports before it reads a request (the daemon
# module included); a context's own module adds what it imports itself.
MEASURE = """
import json, sys
import leastpriv.privileged.helper, leastpriv.privileged.daemon
loaded = {name: module.__file__ for name, module in sys.modules.items()
          if name == "leastpriv" or name.startswith("leastpriv.")}
print(json.dumps({name: sum(1 for _ in open(path, encoding="utf-8"))
                  for name, path in sorted(loaded.items())}))
"""
ROW = re.compile(r"^\| `(leastpriv[\w.]*)` \| (\d+) \|$", re.MULTILINE)
TOTAL = re.compile(r"^\| \*\*total\*\* \| \*\*(\d+)\*\* \|$", re.MULTILINE)


def measured() -> dict[str, int]:
    """Line count of each leastpriv module the helper and daemon load, in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-I", "-c", MEASURE], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def documented() -> tuple[dict[str, int], int]:
    text = DOC.read_text(encoding="utf-8")
    total = TOTAL.search(text)
    assert total is not None, "docs/security-model.md has no total row"
    return {name: int(lines) for name, lines in ROW.findall(text)}, int(total.group(1))


def test_the_security_model_lists_exactly_the_modules_loaded_as_root() -> None:
    rows, _ = documented()
    assert sorted(rows) == sorted(measured())


def test_the_documented_total_is_within_ten_percent_of_the_measured_one() -> None:
    rows, total = documented()
    assert total == sum(rows.values())
    actual = sum(measured().values())
    assert abs(total - actual) <= actual // 10, f"measured {actual}, documented {total}"


# The caller's half of what both sides share: modules the helper and the daemon must never load.
CALLERS_HALF = ("leastpriv.unprivileged", "leastpriv.config_oslo", "leastpriv.cap_families")


def test_root_loads_none_of_the_callers_half() -> None:
    assert [name for name in measured() if name.startswith(CALLERS_HALF)] == []


@pytest.mark.xfail(reason="issue 8's target (at most 1,800 lines loaded as root) is not met: what "
                   "remains is what root runs. privileged/ (about 1,200 lines: isolation, the "
                   "drop, dispatch, the scheduler) and paths (about 290: the resolution the daemon "
                   "trusts) are the root side itself; checks, markers, binding and contract "
                   "(about 1,180) compile each contract when the helper imports the context's "
                   "module as root, before the drop, and check every call in the daemon; those "
                   "three alone exceed 1,800. wire (about 620: frames, decoding bounds, the "
                   "daemon's wait, exception encoding), context, config, caps and errors (about "
                   "840: registry, configuration, /proc reading for the drop) are the rest; the "
                   "caller's halves are in unprivileged/, config_oslo and cap_families",
                   strict=True)
def test_at_most_1800_lines_run_as_root() -> None:
    assert sum(measured().values()) <= TARGET


if __name__ == "__main__":
    counts = measured()
    print("| module | lines |\n|---|---|")
    for name, lines in counts.items():
        print(f"| `{name}` | {lines} |")
    print(f"| **total** | **{sum(counts.values())}** |")

"""`leastpriv migrate`: plan a project's move off oslo.rootwrap onto small leastpriv contexts.

`filters` reads rootwrap filter files and rootwrap.conf exactly as oslo.rootwrap does and answers
which filter a command matches; `risk` says what each filter really allows; `catalog` says which
capabilities a command needs (from the data file ``leastpriv/data/commands.toml``); `model` holds
the records they share. `callsites` finds the commands a project runs as root, `plan` joins all of
it into small contexts of narrow functions, `stubs` writes those functions as Python modules, and
`status` says where a project stands.
"""

from leastpriv.migrate.callsites import find_call_sites
from leastpriv.migrate.catalog import Catalog, load_catalog
from leastpriv.migrate.filters import (
    find_filter_files,
    match,
    read_filter_file,
    read_filters,
    read_rootwrap_conf,
)
from leastpriv.migrate.model import (
    CommandEntry,
    Filter,
    FilterProblem,
    RootCallSite,
    RootwrapConf,
)
from leastpriv.migrate.plan import Plan, build_plan, plan_from
from leastpriv.migrate.risk import assess
from leastpriv.migrate.stubs import write_stubs

__all__ = [
    "Catalog",
    "CommandEntry",
    "Filter",
    "FilterProblem",
    "Plan",
    "RootCallSite",
    "RootwrapConf",
    "assess",
    "build_plan",
    "find_call_sites",
    "find_filter_files",
    "load_catalog",
    "match",
    "plan_from",
    "read_filter_file",
    "read_filters",
    "read_rootwrap_conf",
    "write_stubs",
]

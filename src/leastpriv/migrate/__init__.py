"""`leastpriv migrate`: plan a project's move off oslo.rootwrap onto small leastpriv contexts.

`filters` reads rootwrap filter files and rootwrap.conf exactly as oslo.rootwrap does and answers
which filter a command matches; `risk` says what each filter really allows; `catalog` says which
capabilities a command needs (from the data file ``leastpriv/data/commands.toml``); `model` holds
the records they share.
"""

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
    ProjectScan,
    RootCallSite,
    RootwrapConf,
)
from leastpriv.migrate.risk import assess

# The call-site finder and the plan (another change) re-export their public names here too.

__all__ = [
    "Catalog",
    "CommandEntry",
    "Filter",
    "FilterProblem",
    "ProjectScan",
    "RootCallSite",
    "RootwrapConf",
    "assess",
    "find_filter_files",
    "load_catalog",
    "match",
    "read_filter_file",
    "read_filters",
    "read_rootwrap_conf",
]

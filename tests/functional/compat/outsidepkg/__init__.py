"""Outside every compat context's prefix: a daemon must never import it for a request."""

import os

mark = os.environ.get("COMPAT_IMPORT_MARK")
if mark:
    with open(os.path.join(mark, __name__), "w"):
        pass


def anything():
    return os.getpid()

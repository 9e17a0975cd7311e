"""Below the prefix but no entrypoint: importing it leaves a mark, serving from it must fail."""

import os

mark = os.environ.get("COMPAT_IMPORT_MARK")
if mark:
    with open(os.path.join(mark, __name__), "w"):
        pass


def not_an_entrypoint():
    return os.getpid()

"""The one-import change, applied as a project would make it: ``oslo_privsep`` read as
``leastpriv.compat`` in the released modules of os-vif, os-brick and nova, with oslo_privsep
itself made unimportable, so nothing of the drop-in can be what serves them.

`install()` in the caller; run as a script (the helper command) it is privsep-helper with the
same change in place.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
from types import CodeType

PACKAGES = frozenset({"os_vif", "vif_plug_ovs", "os_brick", "nova"})
_IMPORT = re.compile(r"\boslo_privsep\b")


class _OneImportLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        source = self.get_data(self.path).decode()
        return compile(_IMPORT.sub("leastpriv.compat", source), self.path, "exec",
                       dont_inherit=True)


class _OneImportFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name.partition(".")[0] not in PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)  # type: ignore[arg-type]
        if spec is None or not (spec.origin or "").endswith(".py"):
            return spec
        with open(spec.origin, "rb") as stream:  # type: ignore[arg-type]
            if b"oslo_privsep" not in stream.read():
                return spec
        spec.loader = _OneImportLoader(name, spec.origin)  # type: ignore[arg-type]
        return spec


def install() -> None:
    sys.modules["oslo_privsep"] = None  # type: ignore[assignment] - makes every import fail
    sys.meta_path.insert(0, _OneImportFinder())


if __name__ == "__main__":
    install()
    from leastpriv.compat.daemon import helper_main

    helper_main()

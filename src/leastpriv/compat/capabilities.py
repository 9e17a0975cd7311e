"""oslo.privsep's `capabilities` names: ``CAP_*`` numbers, `CAPS_BY*` and `get_caps`.

The numbers are leastpriv's own `Capability` values; setting capabilities is the daemon's job
(`leastpriv.privileged.privileges`), so oslo.privsep's `drop_all_caps_except` is absent on purpose.
"""

from __future__ import annotations

import os

from leastpriv import caps
from leastpriv.caps import Capability

Capabilities = Capability
CAPS_BYNAME: dict[str, int] = {cap.name: int(cap) for cap in Capability}
CAPS_BYVALUE: dict[int, str] = {int(cap): cap.name for cap in Capability}
globals().update(CAPS_BYNAME)  # CAP_NET_ADMIN = 12, ... as oslo.privsep's module attributes


def get_caps() -> tuple[list[int], list[int], list[int]]:
    """This process's (effective, permitted, inheritable) capabilities, as sorted lists of ints."""
    held = caps.read_process_capabilities(os.getpid())
    return (sorted(map(int, held.effective)), sorted(map(int, held.permitted)),
            sorted(map(int, held.inheritable)))

"""`oslo_privsep.daemon` is `leastpriv.compat.daemon`: the same module object, so a test that
patches a name here (nova's fixture replaces RootwrapClientChannel) patches what the code uses.

Run as a script (``python .../oslo_privsep/daemon.py --privsep_context ...``, as oslo.privsep's
own tests start their helper), it is privsep-helper.
"""

import sys

from leastpriv.compat import daemon

if __name__ == "__main__":
    daemon.helper_main()

sys.modules[__name__] = daemon

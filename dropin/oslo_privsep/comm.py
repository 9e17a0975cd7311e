"""`oslo_privsep.comm` is `leastpriv.compat.comm`: the same module object
(a test that patches a name here patches what the code uses)."""

import sys

from leastpriv.compat import comm

sys.modules[__name__] = comm

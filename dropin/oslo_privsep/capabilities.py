"""`oslo_privsep.capabilities` is `leastpriv.compat.capabilities`: the same module object
(a test that patches a name here patches what the code uses)."""

import sys

from leastpriv.compat import capabilities

sys.modules[__name__] = capabilities

"""`oslo_privsep.priv_context` is `leastpriv.compat.priv_context`: the same module object
(a test that patches a name here patches what the code uses)."""

import sys

from leastpriv.compat import priv_context

sys.modules[__name__] = priv_context

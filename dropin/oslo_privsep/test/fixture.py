"""`oslo_privsep.test.fixture` is `leastpriv.compat.fixture` (UnprivilegedPrivsepFixture)."""

import sys

from leastpriv.compat import fixture

sys.modules[__name__] = fixture

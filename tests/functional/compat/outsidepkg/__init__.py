"""Outside every compat context's prefix: a daemon must never import it for a request. Its
import would be logged, as compatpkg.unlisted's is."""

import logging
import os

logging.getLogger(__name__).warning("module %s imported", __name__)


def anything():
    return os.getpid()

"""Below the prefix but no entrypoint: its import is logged (the daemon forwards the record),
serving from it must fail."""

import logging
import os

logging.getLogger(__name__).warning("module %s imported", __name__)


def not_an_entrypoint():
    return os.getpid()

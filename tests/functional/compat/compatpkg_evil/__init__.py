"""Beside the compat contexts' prefix ``compatpkg`` but not below it: its import is logged (the
daemon forwards the record), and a daemon of a ``compatpkg`` context must never import it."""

import logging

logging.getLogger(__name__).warning("module %s imported", __name__)


def anything():
    return "ran"

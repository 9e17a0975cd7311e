"""oslo.privsep 3.12's API over leastpriv's daemon: ``from leastpriv.compat import priv_context``.

The modules here have oslo.privsep's names (`priv_context`, `daemon`, `comm`, `capabilities`,
`fixture`) so that a project changes one import and nothing else. Only the decoration policy is
relaxed (no ``_privileged`` suffix, unannotated parameters, ``*args``/``**kwargs``); the daemon is
leastpriv's own, with every guarantee it gives a native context. The ``oslo_privsep`` drop-in
distribution (``dropin/``) re-exports these modules under oslo.privsep's import name.
"""

__all__ = ["capabilities", "comm", "daemon", "fixture", "priv_context"]

"""oslo.privsep's import name, served by leastpriv (the leastpriv-oslo-privsep distribution)."""

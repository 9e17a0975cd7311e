"""Example services that use leastpriv the way the seed thread asks: small contexts, narrow
contracts, ``*_privileged`` names, each privileged function beside its one caller.

They live inside the package (not only in the repository's ``examples/`` folder) so that an
installed leastpriv can run them: ``leastpriv demo`` imports them, and a daemon started through the
helper loads a context by module path (``leastpriv-helper --context
leastpriv.examples.console_and_network.console:console_ctx``), which only works for a module the
daemon's interpreter can import.
"""

"""The caller's side: the channel client and the daemon launchers."""

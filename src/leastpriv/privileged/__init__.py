"""The privileged side: what runs inside the daemon."""

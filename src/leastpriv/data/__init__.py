"""The command knowledge base (``commands.toml``) and its reader, shared by audit and migrate."""

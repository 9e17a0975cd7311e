"""What a caller can tune about an audit; shared by the analyser, the rules and the command line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditOptions:
    """How one audit runs. Every field has the default a first-time user wants."""

    include_tests: bool = False
    select: frozenset[str] | None = None  # rule ids or prefixes ("LPS2"); None = every rule
    ignore: frozenset[str] = frozenset()
    max_capabilities: int = 2  # LPS101: more than this many is broad, even within one family
    extra_file_sinks: tuple[str, ...] = ()  # dotted names, e.g. "mylib.fsutil.write_as_root"
    extra_command_sinks: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()  # globs relative to the root
    jobs: int | None = None

    def wants(self, rule_id: str) -> bool:
        """True when `rule_id` is selected and not ignored (both match by prefix)."""
        if any(rule_id.startswith(prefix) for prefix in self.ignore):
            return False
        return self.select is None or any(rule_id.startswith(prefix) for prefix in self.select)

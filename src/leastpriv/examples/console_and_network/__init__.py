"""An instance-hosting service's two privileged needs, as two small contexts.

- `console`: write and chown an instance's console log (CAP_CHOWN, CAP_DAC_OVERRIDE);
- `network`: create an instance's veth pair inside a network namespace (CAP_NET_ADMIN).

Each module holds its own context and its privileged functions beside the one function that calls
them; nothing here is shared between the two, on purpose: a shared ``privsep/`` module invites reuse
and, with reuse, wider contracts (see docs/why.md). This package imports neither module, so that
loading one context never loads the other.
"""

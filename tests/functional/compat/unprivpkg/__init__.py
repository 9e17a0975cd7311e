"""A compat context and its entrypoints, written as a project writes them, for the test that a
non-root user runs under `UnprivilegedPrivsepFixture` (test_compat_fixture.py)."""

import os

from leastpriv.compat import capabilities, priv_context

net = priv_context.PrivContext(
    "unprivpkg",
    cfg_section="unprivpkg_net",
    pypath="unprivpkg.net",
    capabilities=[capabilities.CAP_NET_ADMIN, capabilities.CAP_CHOWN],
)


@net.entrypoint
def identity():
    """This process's pid, uid and /proc/self/status lines."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {"pid": os.getpid(), "uid": os.getuid(),
            **{key: fields[key].strip() for key in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs")}}


@net.entrypoint
def give_to_root(path):
    os.chown(path, 0, 0)


@net.entrypoint
def status_of(program):
    """The Uid and capability lines of `program` run as ``program /proc/self/status``."""
    import subprocess

    out = subprocess.run([program, "/proc/self/status"], capture_output=True, text=True,
                         check=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {key: fields[key].split() for key in ("Uid", "CapEff", "CapPrm")}

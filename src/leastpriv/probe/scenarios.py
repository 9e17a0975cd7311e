"""One invocation per catalog command that the probe can run safely: what `probe --catalog` runs.

Each scenario is what the catalog's reason describes, set up so that only privilege can make it
succeed: files and directories made by root (mode 0755 or 0600) in the sandbox's private
``/tmp``, a root-owned process to signal, a tmpfs to unmount. Commands left out need what the
sandbox does not give on purpose (a real block device, a host daemon, the host's own kernel
settings): `UNPROBED` says why, so the catalog can say it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from leastpriv.probe.sandbox import PID_PLACEHOLDER


@dataclass(frozen=True)
class Scenario:
    """A command line (relative paths are under the sandbox's /tmp) and the root setup it needs."""

    argv: tuple[str, ...]
    setup: tuple[tuple[str, ...], ...] = ()
    sleeper: bool = False  # argv's {pid} is a root-owned process
    scope: str = ""  # what the scenario covers when the catalog entry says more


_ROOT_DIR = ("mkdir", "-m", "0755", "d")
_ROOT_FILE = ("install", "-m", "0644", "/dev/null", "d/f")
_SECRET = ("install", "-m", "0600", "/dev/null", "d/secret")

SCENARIOS: dict[str, Scenario] = {
    "cat": Scenario(("cat", "d/secret"), (_ROOT_DIR, _SECRET)),
    "chgrp": Scenario(("chgrp", "1234", "d/f"), (_ROOT_DIR, _ROOT_FILE)),
    "chmod": Scenario(("chmod", "0600", "d/f"), (_ROOT_DIR, _ROOT_FILE)),
    "chown": Scenario(("chown", "1234:1234", "d/f"), (_ROOT_DIR, _ROOT_FILE)),
    "cp": Scenario(("cp", "d/secret", "d/copy"), (_ROOT_DIR, _SECRET)),
    "dd": Scenario(
        ("dd", "if=/dev/zero", "of=d/secret", "bs=4096", "count=1", "conv=notrunc"),
        (_ROOT_DIR, _SECRET),
    ),
    "ip": Scenario(("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")),
    "kill": Scenario(("kill", "-TERM", PID_PLACEHOLDER), sleeper=True),
    "ln": Scenario(("ln", "-s", "f", "d/link"), (_ROOT_DIR, _ROOT_FILE)),
    "mkdir": Scenario(("mkdir", "d/new"), (_ROOT_DIR,)),
    "mount": Scenario(("mount", "-t", "tmpfs", "none", "d"), (_ROOT_DIR,)),
    "mv": Scenario(("mv", "d/f", "d/g"), (_ROOT_DIR, _ROOT_FILE)),
    "rm": Scenario(("rm", "-f", "d/f"), (_ROOT_DIR, _ROOT_FILE)),
    "rmdir": Scenario(("rmdir", "d/e"), (_ROOT_DIR, ("mkdir", "d/e"))),
    "sysctl": Scenario(
        ("sysctl", "-w", "net.ipv4.ip_forward=1"),
        scope="a net.* key of the sandbox's own network namespace; other keys are the host's "
        "and are never written",
    ),
    "tc": Scenario(("tc", "qdisc", "add", "dev", "lo", "root", "pfifo")),
    "tee": Scenario(("tee", "d/f"), (_ROOT_DIR, _ROOT_FILE)),
    "touch": Scenario(("touch", "d/new"), (_ROOT_DIR,)),
    "truncate": Scenario(("truncate", "-s", "0", "d/f"), (_ROOT_DIR, _ROOT_FILE)),
    "umount": Scenario(("umount", "d"), (_ROOT_DIR, ("mount", "-t", "tmpfs", "none", "d"))),
}

UNPROBED: dict[str, str] = {
    "blockdev": "needs a real block device; the sandbox's /dev has none on purpose",
    "losetup": "needs /dev/loop-control; the sandbox's /dev has none on purpose",
    "dmsetup": "needs /dev/mapper/control; the sandbox's /dev has none on purpose",
    "service": "talks to the host's systemd over D-Bus",
    "dbus-send": "talks to the host's system bus",
    "docker": "talks to the host's container daemon",
}

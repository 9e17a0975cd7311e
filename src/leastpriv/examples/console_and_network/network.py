"""Instance networking: the network context, its privileged function and its one caller.

The daemon holds CAP_NET_ADMIN and nothing else, and can do one thing: create a veth pair, both
ends inside a named network namespace of this service. It never touches the host's interfaces.

How it reaches into the namespace, and why this way. Checked for real (Linux 6.x, iproute2 6.1,
a process with CAP_NET_ADMIN only in every set, bounding set cut to it, no_new_privs):

- ``ip -n NS link add …`` fails with EPERM: ``ip -n`` calls setns(2), and entering a network
  namespace needs CAP_SYS_ADMIN. So does a thread that opens ``/run/netns/NS`` and calls setns.
  Granting CAP_SYS_ADMIN to run one veth command is exactly what the seed thread warns about.
- An RTM_NEWLINK request that carries ``IFLA_NET_NS_FD`` (an open namespace file) creates the
  device directly in that namespace, and the kernel asks only for CAP_NET_ADMIN over the target
  namespace (``rtnl_link_get_net_capable``). Opening ``/run/netns/NS`` read-only needs no
  capability (mode 0444). ``ip link add NAME netns NS type veth peer name PEER netns NS`` does the
  same, but that would mean the daemon running a program; one netlink message sent from Python
  keeps the privileged side to a few readable lines and a fixed request, with no PATH, no exec.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Annotated

import leastpriv
from leastpriv import caps
from leastpriv.contract import Match

NETNS_DIR = "/run/netns"  # where `ip netns add` (iproute2) pins named namespaces

CAPABILITIES = [caps.CAP_NET_ADMIN]  # one capability of the network family; no CAP_SYS_ADMIN
# Not uid 0: CAP_NET_ADMIN kept as an unprivileged account (see console.py).
net_ctx = leastpriv.PrivContext("leastpriv.examples.network", capabilities=CAPABILITIES,
                                user="nobody")

# Only this service's namespaces, only this service's interface names (IFNAMSIZ is 16 with NUL).
NamespaceName = Annotated[str, Match(r"leastpriv-demo-[0-9a-f]{8}")]
VethName = Annotated[str, Match(r"lp[0-9a-f]{8}-[ab]")]


@net_ctx.entrypoint
def add_instance_veth_privileged(namespace: NamespaceName, name: VethName, peer: VethName) -> None:
    """Create the veth pair `name` <-> `peer`, both ends inside network namespace `namespace`."""
    ns_fd = os.open(os.path.join(NETNS_DIR, namespace), os.O_RDONLY | os.O_CLOEXEC)
    try:
        new_veth_pair_in_namespace(ns_fd, name, peer)
    finally:
        os.close(ns_fd)


def plug_instance_veth(namespace: str, instance_id: str) -> tuple[str, str]:
    """Give instance `instance_id` (hex) a veth pair inside `namespace`; return the two names.

    The one caller of `add_instance_veth_privileged`: names are derived here, on the unprivileged
    side, and the daemon only checks them against the pattern.
    """
    name, peer = f"lp{instance_id[:8]}-a", f"lp{instance_id[:8]}-b"
    add_instance_veth_privileged(namespace, name, peer)
    return name, peer


# -- One rtnetlink request: RTM_NEWLINK, kind veth, both ends placed by namespace fd -------------
# Constants from <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/veth.h>.
_NETLINK_ROUTE = 0
_RTM_NEWLINK = 16
_NLMSG_ERROR = 2
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
_IFLA_IFNAME, _IFLA_LINKINFO, _IFLA_NET_NS_FD = 3, 18, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA = 1, 2
_VETH_INFO_PEER = 1

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_IFINFOMSG = struct.Struct("=BxHiII")  # family, (pad), type, index, flags, change
_RTATTR = struct.Struct("=HH")  # length, type
_ERROR_CODE = struct.Struct("=i")


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def _link(name: str, ns_fd: int) -> bytes:
    """An ifinfomsg naming a new device `name` to be created in the namespace `ns_fd` refers to."""
    return (
        _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        + _attr(_IFLA_IFNAME, name.encode("ascii") + b"\0")
        + _attr(_IFLA_NET_NS_FD, struct.pack("=I", ns_fd))
    )


def new_veth_pair_in_namespace(ns_fd: int, name: str, peer: str) -> None:
    """Send one RTM_NEWLINK for a veth pair inside namespace `ns_fd`; raise `OSError` on refusal.

    Without CAP_NET_ADMIN the kernel answers EPERM, raised here as `PermissionError`.
    """
    linkinfo = _attr(_IFLA_INFO_KIND, b"veth") + _attr(
        _IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, _link(peer, ns_fd))
    )
    body = _link(name, ns_fd) + _attr(_IFLA_LINKINFO, linkinfo)
    flags = _NLM_F_REQUEST | _NLM_F_ACK | _NLM_F_CREATE | _NLM_F_EXCL
    sequence = 1
    request = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), _RTM_NEWLINK, flags, sequence, 0) + body
    with socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, _NETLINK_ROUTE
    ) as sock:
        # The kernel answers at once; a bound wait keeps a lost reply from holding a worker.
        sock.settimeout(5.0)
        sock.bind((0, 0))
        sock.sendall(request)
        while True:
            reply = sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(reply):
                length, kind, _, seq, _ = _NLMSGHDR.unpack_from(reply, offset)
                if length < _NLMSGHDR.size:
                    raise OSError(f"malformed rtnetlink reply (message length {length})")
                if kind == _NLMSG_ERROR and seq == sequence:
                    (error,) = _ERROR_CODE.unpack_from(reply, offset + _NLMSGHDR.size)
                    if error:
                        # OSError(errno, text) builds the matching subclass (PermissionError…).
                        raise OSError(-error, os.strerror(-error), f"veth {name}/{peer}")
                    return  # an error code of 0 is the kernel's acknowledgement
                offset += (length + 3) & ~3

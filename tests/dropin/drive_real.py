"""Drive one released project's privileged module through leastpriv; print what happened (JSON).

    python drive_real.py WAY METHOD SCENARIO [ROOT]

WAY      dropin: the modules as released, importing oslo_privsep (the drop-in);
         compat: the same modules with the one-import change (`one_import`).
METHOD   fork | rootwrap (privsep-helper started as oslo.privsep starts it).
SCENARIO linux_net (os-vif's vif_plug_ovs.linux_net: run it in a network namespace),
         execute_root (os-brick), nova_path (nova.privsep.path under the directory ROOT).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def _start(context: Any, way: str, method: str) -> None:
    from oslo_config import cfg

    cfg.CONF([], project="leastpriv-dropin-test")
    if way == "compat":
        helper = f"{sys.executable} {HERE / 'one_import.py'}"
    else:
        helper = str(Path(sys.prefix) / "bin" / "privsep-helper")
    cfg.CONF.set_override("helper_command", helper, group=context.cfg_section)
    from leastpriv.compat import priv_context

    context.start(priv_context.Method.FORK if method == "fork" else priv_context.Method.ROOTWRAP)


def _daemon(context: Any) -> dict[str, Any]:
    from leastpriv import caps

    pid = context.channel.pid
    held = caps.read_process_capabilities(pid)
    return {"pid": pid, "caller_pid": os.getpid(), "uid": held.uid,
            "no_new_privs": held.no_new_privs,
            **{name: sorted(caps.names(getattr(held, name)))
               for name in ("effective", "permitted", "inheritable", "bounding", "ambient")}}


def _exception(exc: BaseException) -> dict[str, Any]:
    cls = type(exc)
    return {"class": f"{cls.__module__}.{cls.__qualname__}",
            "exit_code": getattr(exc, "exit_code", None),
            "stderr": getattr(exc, "stderr", None)}


def _sys_net(dev: str, field: str) -> str | None:
    path = Path("/sys/class/net", dev, field)
    if field == "master":
        return path.resolve().name if path.exists() else None
    return path.read_text().strip() if path.exists() else None


def linux_net(way: str, method: str) -> dict[str, Any]:
    from vif_plug_ovs import linux_net, privsep

    _start(privsep.vif_plug, way, method)
    seen: dict[str, Any] = {}
    linux_net.create_veth_pair("lpveth0", "lpveth1", 1400)
    seen["veth_mtu"] = [_sys_net(dev, "mtu") for dev in ("lpveth0", "lpveth1")]
    linux_net.ensure_bridge("lpbr0")
    linux_net.add_bridge_port("lpbr0", "lpveth0")
    seen["master"] = _sys_net("lpveth0", "master")
    linux_net.set_device_mtu("lpveth1", 1450)
    seen["set_mtu"] = _sys_net("lpveth1", "mtu")
    linux_net.create_tap("lptap0", 1300, "fa:16:3e:00:00:01")
    seen["tap"] = [_sys_net("lptap0", field) for field in ("mtu", "address")]
    linux_net.set_interface_state("lpveth1", "down")
    seen["state_down"] = _sys_net("lpveth1", "flags")
    seen["daemon"] = _daemon(privsep.vif_plug)
    linux_net.delete_bridge("lpbr0", "lpveth0")
    for dev in ("lpveth0", "lptap0"):
        linux_net.delete_net_dev(dev)
    seen["left"] = sorted(os.listdir("/sys/class/net"))
    return seen


def execute_root(way: str, method: str) -> dict[str, Any]:
    import os_brick.privileged
    from os_brick.privileged import rootwrap

    _start(os_brick.privileged.default, way, method)
    seen: dict[str, Any] = {}
    seen["out"] = list(rootwrap.execute_root("sh", "-c", "echo $PPID; id -u"))
    try:
        rootwrap.execute_root("sh", "-c", "echo failing >&2; exit 3")
    except Exception as exc:
        seen["raised"] = _exception(exc)
    seen["daemon"] = _daemon(os_brick.privileged.default)
    return seen


def nova_path(way: str, method: str, root: str) -> dict[str, Any]:
    import nova.privsep
    from nova.privsep import path

    _start(nova.privsep.sys_admin_pctxt, way, method)
    seen: dict[str, Any] = {}
    target = os.path.join(root, "instances", "one")
    path.makedirs(target)
    log = os.path.join(target, "console.log")
    path.writefile(log, "w", "hello console")
    path.chown(log, uid=4242, gid=4243)
    path.chmod(log, 0o640)
    info = os.stat(log)
    seen["stat"] = [info.st_uid, info.st_gid, oct(info.st_mode & 0o777)]
    seen["last_bytes"] = repr(path.last_bytes(log, 7))
    try:
        path.chmod(os.path.join(root, "missing"), 0o600)
    except Exception as exc:
        seen["raised"] = _exception(exc)
    seen["daemon"] = _daemon(nova.privsep.sys_admin_pctxt)
    return seen


def main() -> None:
    way, method, scenario = sys.argv[1:4]
    if way == "compat":
        sys.path.insert(0, str(HERE))
        import one_import

        one_import.install()
    if scenario == "nova_path":
        result = nova_path(way, method, sys.argv[4])
    else:
        result = {"linux_net": linux_net, "execute_root": execute_root}[scenario](way, method)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

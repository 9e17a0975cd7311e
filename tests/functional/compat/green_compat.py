"""Run in a fresh interpreter by test_compat_eventlet.py: a compat context's calls under
``eventlet.monkey_patch()``, as cinder, nova and manila make them.

    python green_compat.py fork|rootwrap many|timeout
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402 - after patching, as eventlet asks
import sys  # noqa: E402

import compatpkg  # noqa: E402
from compatpkg import netops  # noqa: E402
from oslo_config import cfg  # noqa: E402

from leastpriv.compat import comm, priv_context  # noqa: E402


def many() -> dict[str, object]:
    wrong, errors = 0, []

    def caller(number: int) -> None:
        nonlocal wrong
        for call in range(100):
            try:
                if netops.echo(number, call) != ((number, call), {}):
                    wrong += 1
            except Exception as exc:
                errors.append(type(exc).__name__)

    pool = eventlet.GreenPool(16)
    for number in range(16):
        pool.spawn(caller, number)
    pool.waitall()
    return {"calls": 1600, "wrong": wrong, "errors": errors}


def timeout() -> dict[str, object]:
    ticks = 0

    def ticker() -> None:
        nonlocal ticks
        while True:
            eventlet.sleep(0.01)
            ticks += 1

    eventlet.spawn(ticker)
    try:
        netops.slow(1.0)
        raised = None
    except comm.PrivsepTimeout:
        raised = "PrivsepTimeout"
    return {"raised": raised, "ticks while waiting": ticks, "next call": netops.slow(0.01)}


def main() -> None:
    method, name = sys.argv[1:3]
    cfg.CONF([], project="compat-green")
    cfg.CONF.set_override("helper_command", f"{sys.executable} -m leastpriv.compat.daemon",
                          group="compat_netadmin")
    compatpkg.netadmin.start(priv_context.Method.FORK if method == "fork"
                             else priv_context.Method.ROOTWRAP)
    result = {"many": many, "timeout": timeout}[name]()
    compatpkg.netadmin.stop()
    print(json.dumps(result))


main()

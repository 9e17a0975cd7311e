"""The oslo.config layer of a context's configuration: leastpriv's options, and the values an
operator gave them.

`leastpriv.config.resolve` loads this module only in a process that imported ``oslo_config.cfg``
itself; the options are the TOML file's keys, registered in the group named after the context's
section, and their values go through the same parsers (`leastpriv.config`).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from leastpriv.config import _PARSERS, METHODS, ContextConfig, _parse_values

__all__ = ["oslo_config_values"]


def oslo_config_values(section: str, defaults: ContextConfig) -> dict[str, Any]:
    """The settings an operator gave through oslo.config, in a process that uses it.

    "Uses it" means the application imported ``oslo_config.cfg`` already (call this only then):
    leastpriv never imports oslo.config itself (it is slow to import, and a CONF that nobody
    parses holds only defaults), and registers its options only in a process where they can be set.
    """
    cfg = sys.modules["oslo_config.cfg"]
    conf = cfg.CONF
    _register_oslo_options(cfg, conf, section)
    raw = {}
    for key in _PARSERS:
        if _set_by_operator(cfg, conf, section, key):
            value = conf[section][key]
            if value is not None:
                raw[key] = value
    return _parse_values(raw, defaults, f"oslo.config [{section}]")


def _register_oslo_options(cfg: Any, conf: Any, section: str) -> None:
    options = [
        cfg.ListOpt("capabilities", help="Capabilities kept by this context's daemon; "
                    "may only remove capabilities the context declares."),
        cfg.StrOpt("helper_command", help="Command that starts the privileged daemon."),
        cfg.StrOpt("user", help="User the privileged daemon runs as."),
        cfg.StrOpt("group", help="Group the privileged daemon runs as."),
        cfg.IntOpt("thread_pool_size", help="Threads serving calls in the daemon."),
        cfg.StrOpt("logger_name", help="Logger that receives the daemon's log records."),
        cfg.FloatOpt("timeout", help="Seconds a privileged call may take."),
        cfg.StrOpt("umask", help="Octal umask of the daemon, such as 027."),
        cfg.IntOpt("max_frame_size", help="Largest message on the channel, in bytes."),
        cfg.StrOpt("method", choices=METHODS, help="How the daemon is started."),
    ]
    for option in options:
        # The application (or oslo.privsep) may have registered a name in this group already,
        # with its own type; its value is then read through that option and parsed as ours.
        with contextlib.suppress(cfg.DuplicateOptError):
            conf.register_opt(option, group=section)


def _set_by_operator(cfg: Any, conf: Any, section: str, key: str) -> bool:
    """Whether `key` holds more than its option's default (a file, the command line, …)."""
    try:
        location = conf.get_location(key, group=section)
    except cfg.Error:
        return False
    # A default set in code (set_default) is not the operator's: oslo.privsep contexts that share
    # a section each set their own capabilities as its default, and the last one would win.
    return location is not None and location.location not in (cfg.Locations.opt_default,
                                                               cfg.Locations.set_default)

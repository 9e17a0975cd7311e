"""Generated stubs on real OpenStack releases: every caller's value passes its contract.

The releases are those docs/migration.md reads (cinder 29.0.0, manila 23.0.1, os-brick 7.1.1),
unpacked under ``$LEASTPRIV_REAL_CODE`` as scripts/dev does; without them these tests skip.

For each generated function and each call site it replaces, the value the call site passes at
each parameter is fed through the generated contract: the literal when the caller writes one (the
part of it a template leaves to the parameter: ``/dev/null`` of ``of=/dev/null``), else a value
reconstructed from what the caller's expression is (an IQN for ``target_iqn``, a path under the
root for a path). Then the modules are linted as an OpenStack project would lint them.
"""

from __future__ import annotations

import functools
import os
import posixpath
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import pytest

from leastpriv.checks import compile_annotation
from leastpriv.contract import Match, MaxLen, OneOf, PathUnder
from leastpriv.markers import Refused
from leastpriv.migrate import templates
from leastpriv.migrate.callsites import FoundCall
from leastpriv.migrate.model import RootCallSite
from leastpriv.migrate.plan import (
    OptionalPart,
    Param,
    Plan,
    Template,
    build_plan,
    is_boolean,
    program_index,
)
from leastpriv.migrate.stubs import write_stubs

_ROOT = os.environ.get("LEASTPRIV_REAL_CODE")
PROJECTS = ("cinder", "manila", "os_brick")


@functools.cache
def _plan(project: str) -> Plan:
    if not _ROOT:
        pytest.skip("LEASTPRIV_REAL_CODE is not set: no unpacked OpenStack releases")
    tree = Path(_ROOT, project)
    if not tree.is_dir():
        pytest.skip(f"{tree} is missing: scripts/dev downloads and unpacks the release there")
    return build_plan(tree)


def _reconstructed(param: Param, root: str | None, source: str, *, component: bool = False) -> str:
    """A value of the kind the caller's expression holds, for a parameter it does not write;
    `component`: the part after a ``/`` the caller wrote (``'/dev/mapper/%s' % dev_name``)."""
    name = f"{param.name} {source}".lower()
    if component or source.rsplit(".", 1)[-1] == "dev_name":
        # os-brick's dev_name (encryptors/cryptsetup.py, luks.py): a device-mapper name,
        # 'crypt-%s' % os.path.basename(symlink_path), not a path beneath /dev.
        return "crypt-volume-0001"
    if param.marker == "PathUnder":
        return posixpath.join(root or "/", "volume-0001")
    if is_boolean(source):
        return str(source.count("=") % 2 == 0)  # execute() passes str(True) or str(False)
    if 'Match(r"/dev/' in param.annotation:
        return "/dev/sdb"  # the caller's expression names a device
    if ":/" in param.annotation:
        return "192.0.2.1:/shares/share-0001"  # mount -t nfs SOURCE: an export, by mount(8)
    if "mac" in param.name.split("_"):
        return "fa:16:3e:00:00:01"  # a port's MAC address, as neutron and manila make them
    if param.name.endswith("_id") or "uuid" in param.name:
        return str(uuid.UUID(int=7))  # a port's or a server's id
    if "{0,14}" in param.annotation:
        return "tap0123abcd-ef"  # an interface name (15 bytes at most)
    examples = [
        ("iqn", "iqn.2010-10.org.openstack:volume-" + str(uuid.UUID(int=1))),
        ("export", "192.0.2.1:/shares/share-0001"),
        ("initiator", "iqn.1993-08.org.debian:01:abcdef"),
        # CHAP credentials as cinder's volume_utils.generate_username/password make them.
        ("auth_user", "Tx4Kq7mZ2aB9cD3eF5gH"), ("auth_pass", "Tx4Kq7mZ2aB9cD3eF5gH"),
        ("chap_auth", "Tx4Kq7mZ2aB9cD3eF5gH"),
        ("group", "1000"), ("uid", "1000"), ("gid", "1000"),
        ("uuid", str(uuid.UUID(int=7))), ("_id", str(uuid.UUID(int=7))),
        ("size", "10"), ("count", "10"), ("seek", "10"), ("skip", "10"), ("block", "4096"),
        ("mode", "0644"), ("uid", "1000"), ("gid", "1000"), ("owner", "cinder"),
        ("user", "cinder"), ("group", "cinder"), ("ip", "192.0.2.1"), ("addr", "192.0.2.1"),
        ("port", "3260"), ("pid", "4242"), ("dev", "/dev/sdb"),
    ]
    return next((value for hint, value in examples if hint in name), "volume-0001")


def _marker(param: Param, namespace: dict[str, Any]) -> Any:
    # eval of the generator's own output: the annotation text it writes into the stub.
    annotated = eval(param.annotation, namespace)  # noqa: S307 - see above
    return annotated.__metadata__[0]


# What the callers feed on stdin (luks, cryptsetup, pstorage): a passphrase as os-brick's
# _get_passphrase and cinder make it from a 512-bit key, hex digits, encoded as execute() did.
PASSPHRASE = ("0123456789abcdef" * 8).encode()


def _passes(marker: Any, value: str | bytes) -> bool:
    if isinstance(marker, Match):
        return marker.pattern.fullmatch(value) is not None and "\n" not in value
    if isinstance(marker, OneOf):
        return value in marker.values
    if isinstance(marker, MaxLen):
        return len(value) <= marker.n
    if isinstance(marker, PathUnder):
        # Lexically, as the check does before it asks the file system (the roots are the
        # deployment's, not this machine's).
        path = posixpath.normpath(value)
        return value.startswith("/") and any(
            path.startswith(root.rstrip("/") + "/") for root in marker.roots)
    raise AssertionError(f"unknown marker {marker!r}")


def _accepts_absent(part: OptionalPart, namespace: dict[str, Any]) -> bool:
    """Whether the parameter of items a caller appends under a condition takes what the call
    site passes when the condition does not hold (None; False for items without a value), and
    True for items without a value, as the stub's annotation is compiled for a real call."""
    if not part.takes_value:
        annotation: Any = bool
        values: tuple[Any, ...] = (False, True)
    else:
        annotation, values = eval(part.param.annotation, namespace) | None, (None,)  # noqa: S307
    rule = compile_annotation(annotation, strict=False)
    try:
        for value in values:
            rule.to_wire(value)
    except Refused:
        return False
    return True


def _values(
    call: FoundCall, index: int, item: str | Param | Template | OptionalPart
) -> list[tuple[Param, str | None, str]]:
    """(parameter, the call site's literal or None, its expression) for one argv item."""
    literal, source = call.site.argv[index], call.sources[index]
    if isinstance(item, OptionalPart):
        # The value the caller appends when its condition holds is the name it tests.
        condition = dict(call.optional)[index].condition
        return [(item.param, None, condition)] if item.takes_value else []
    if isinstance(item, Param):
        return [(item, literal, source)]
    if isinstance(item, str):
        return []
    params = [part for part in item.parts if isinstance(part, Param)]
    if literal is None:
        pieces = [p for p in templates.parse(source) if isinstance(p, templates.Expr)]
        return [(param, None, piece) for param, piece in zip(params, pieces, strict=True)]
    shape = tuple("\0" if isinstance(part, Param) else part for part in item.parts)
    split = templates.split_literal(literal, shape)
    assert split is not None, (literal, shape)
    return [(param, value, repr(value)) for param, value in zip(params, split, strict=True)]


def _rejections(project: str) -> tuple[int, list[str]]:
    plan = _plan(project)
    calls = _calls(plan)
    checked, rejected = 0, []
    for context in plan.contexts:
        for function in context.functions:
            namespace: dict[str, Any] = {"Annotated": Annotated, "Match": Match,
                                         "OneOf": OneOf, "PathUnder": PathUnder}
            namespace.update({p.root_constant: p.root_value for p in function.params
                              if p.root_constant})
            components = {part for item in function.argv if isinstance(item, Template)
                          for before, part in zip(item.parts, item.parts[1:], strict=False)
                          if isinstance(before, str) and before.endswith("/")}
            for site in function.call_sites:
                call = calls[site]
                start = program_index(call.site.argv)
                for offset, item in enumerate(function.argv, start=start + 1):
                    if isinstance(item, OptionalPart):
                        checked += 1
                        if not _accepts_absent(item, namespace):
                            rejected.append(f"{site.path}:{site.line} {function.name}"
                                            f"({item.param.name} absent) {item.param.annotation}")
                    for param, literal, source in _values(call, offset, item):
                        value = literal if literal is not None else _reconstructed(
                            param, param.root_value, source, component=param in components)
                        checked += 1
                        if not _passes(_marker(param, namespace), value):
                            rejected.append(f"{site.path}:{site.line} {function.name}"
                                            f"({param.name}={value!r}) {param.annotation}")
                if function.options.stdin:
                    checked += 1
                    stdin = function.params[-1]
                    if not _passes(_marker(stdin, namespace | {"MaxLen": MaxLen}), PASSPHRASE):
                        rejected.append(f"{site.path}:{site.line} {function.name}(process_input)")
    return checked, rejected


def _calls(plan: Plan) -> dict[RootCallSite, FoundCall]:
    from leastpriv.migrate import filters as filter_files
    from leastpriv.migrate.callsites import find_call_sites

    root = Path(plan.root)
    found, _ = filter_files.read_filters(filter_files.find_filter_files(root), root=root)
    return {c.site: c for c in find_call_sites(root, found).calls}


@pytest.mark.parametrize("project", PROJECTS)
def test_every_call_sites_value_passes_its_generated_contract(project):
    checked, rejected = _rejections(project)
    assert checked > 0
    assert rejected == []


@pytest.mark.parametrize("project", PROJECTS)
def test_stubs_pass_flake8_with_hacking_and_ruff(project, tmp_path):
    pytest.importorskip("hacking", reason="flake8 with OpenStack's hacking is in the test extra")
    write_stubs(_plan(project), tmp_path)
    # hacking's own settings (79 columns, H-rules on); the leastpriv plugin is audited elsewhere.
    # Run from the stubs' directory, so that no configuration of this repository applies.
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--extend-ignore=LPS",
                             "--enable-extensions=H106,H203,H204,H205", "."],
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    assert flake8.stdout == "" and flake8.returncode == 0
    # Ruff's defaults, isort with one import per line (hacking's H301).
    config = tmp_path / "ruff.toml"
    config.write_text("[lint.isort]\nforce-single-line = true\n")
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--config", str(config), "."],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert ruff.returncode == 0, ruff.stdout

"""`UnprivilegedPrivsepFixture` in the hands of a project's tests run by a user that is not root:
the fixture starts a real daemon that runs the entrypoints as that user, holding nothing."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from system_users import made_user, readable_by_everyone

pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")
pytest.importorskip("fixtures", reason="UnprivilegedPrivsepFixture needs fixtures")

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: makes a user and runs as it"),
]
HERE = Path(__file__).parent
FIXTURE_IMPORTS = "import leastpriv.compat.fixture, leastpriv.compat.daemon"


def _reachable_by_anyone(path: Path) -> bool:
    """Whether any user may run `path`: every directory above it searchable by others."""
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents) and bool(
        path.stat().st_mode & stat.S_IXOTH)


def _user_python() -> Path | None:
    """An interpreter of this Python's minor version that the test's user can run: this one, or
    else the system's (this one may live where only root looks, as under /root here); it runs a
    copy of what the fixture imports. None without one, or without setpriv."""
    if shutil.which("setpriv") is None:
        return None
    for python in (Path(sys.executable).resolve(), Path("/usr/bin/python3")):
        if not python.exists() or not _reachable_by_anyone(python):
            continue
        done = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, check=False)
        if done.stdout.strip() == str(sys.version_info[:2]):
            return python
    return None


USER_PYTHON = _user_python()


def _imported_top_levels() -> set[str]:
    """The top-level modules the fixture's import loads from site-packages."""
    code = (f"{FIXTURE_IMPORTS}; import sys, sysconfig; "
            "site = (sysconfig.get_path('purelib'), sysconfig.get_path('platlib')); "
            "print(' '.join({name.partition('.')[0] for name, module in list(sys.modules.items())"
            " if (getattr(module, '__file__', None) or '').startswith(site)}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return set(done.stdout.split())


def _copy_top_level(name: str, site: Path) -> None:
    """Copy module or package `name` and its distribution's metadata into `site`."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, name
    origin = Path(spec.origin)
    if spec.submodule_search_locations:
        shutil.copytree(origin.parent, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(origin, site / origin.name)
    for distribution in importlib.metadata.packages_distributions().get(name, []):
        path = importlib.metadata.distribution(distribution)._path  # type: ignore[attr-defined]
        if not (site / path.name).exists():
            shutil.copytree(path, site / path.name)


@pytest.fixture
def user_tree() -> Iterator[Path]:
    """A root-owned tree the user can read: what the fixture imports, and `unprivpkg`."""
    top = Path(tempfile.mkdtemp(prefix="lpcompat-fixture-"))
    try:
        site = top / "site"
        site.mkdir()
        for name in _imported_top_levels() | {"leastpriv"}:
            _copy_top_level(name, site)
        shutil.copytree(HERE / "unprivpkg", site / "unprivpkg",
                        ignore=shutil.ignore_patterns("__pycache__"))
        readable_by_everyone(top)
        yield top
    finally:
        shutil.rmtree(top)


@pytest.fixture
def user(user_tree: Path) -> Iterator[pwd.struct_passwd]:
    with made_user(f"lpfixture{os.getpid() % 100000}") as name:
        yield pwd.getpwnam(name)


@pytest.fixture
def gaining_programs(user_tree: Path) -> list[Path]:
    """Copies of cat that gain privilege when run: setuid root, and with a file capability."""
    setuid, file_cap = user_tree / "setuid-cat", user_tree / "filecap-cat"
    for program in (setuid, file_cap):
        shutil.copy2("/usr/bin/cat", program)
    setuid.chmod(0o4755)
    subprocess.run(["setcap", "cap_dac_read_search+ep", str(file_cap)], check=True)
    return [setuid, file_cap]


def _as_user(user: pwd.struct_passwd, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`argv` run as `user` (its own uid and gid, no other group, nothing inheritable)."""
    return subprocess.run(
        ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
         "--inh-caps=-all", *argv],
        capture_output=True, text=True, timeout=120, check=False, cwd=cwd,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(cwd)})


def _privileged(status: dict[str, list[str]]) -> bool:
    """Whether the program ran with uid 0 anywhere or a capability (its /proc status lines)."""
    return "0" in status["Uid"] or int(status["CapEff"][0], 16) != 0


@pytest.mark.skipif(USER_PYTHON is None, reason="needs setpriv and an interpreter of this "
                    "Python's minor version that any user may run")
def test_fixture_runs_entrypoints_in_a_powerless_daemon_for_a_non_root_user(
        user_tree: Path, user: pwd.struct_passwd, gaining_programs: list[Path]) -> None:
    owned = user_tree / "owned"
    owned.write_text("")
    os.chown(owned, user.pw_uid, user.pw_gid)
    # The attack first: run by this user outside any daemon, each program does gain privilege.
    for program in gaining_programs:
        done = _as_user(user, user_tree, str(program), "/proc/self/status")
        fields = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
        assert _privileged({key: fields[key].split() for key in ("Uid", "CapEff")}), program

    done = _as_user(user, user_tree, str(USER_PYTHON), "-I", "-c",
                    f"import sys; sys.path[:0] = [{str(user_tree / 'site')!r}]; "
                    "import runpy; runpy.run_module('unprivpkg.run', run_name='__main__')",
                    str(owned), *map(str, gaining_programs))
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["caller"]["uid"] == user.pw_uid
    daemon = seen["daemon"]
    assert daemon["pid"] != seen["caller"]["pid"]  # a daemon of its own, not in-process
    assert daemon["uid"] == user.pw_uid
    assert int(daemon["CapEff"], 16) == int(daemon["CapPrm"], 16) == 0
    assert daemon["NoNewPrivs"] == "1"
    assert seen["chown"] == "PermissionError"
    assert owned.stat().st_uid == user.pw_uid
    # The daemon keeps the user's bounding set (it cannot shrink it), and it gives nothing: the
    # same programs run by the daemon gain neither uid 0 nor a capability.
    assert int(daemon["CapBnd"], 16) != 0
    assert [_privileged(status) for status in seen["programs"].values()] == [False, False]
    assert seen["channel_after"] == "None"  # the fixture's cleanup stopped the daemon
    assert seen["daemon_left"] is False

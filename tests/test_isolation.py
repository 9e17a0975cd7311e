"""What the exec helper trusts under sudo: files only root can change, the caller's own socket
directory; and the limits it resets."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.conftest import requires_root

from leastpriv import PolicyError
from leastpriv.privileged import isolation
from leastpriv.privileged.isolation import check_root_only, check_socket_dir

pytestmark = requires_root
NOBODY = 65534


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    """A root-owned 0755 directory (pytest's tmp_path is 0700, which is root's alone too)."""
    directory = tmp_path / "etc"
    directory.mkdir(mode=0o755)
    return directory


def config_in(directory: Path, mode: int = 0o644, uid: int = 0) -> Path:
    path = directory / "leastpriv.toml"
    path.write_text("[x]\n")
    path.chmod(mode)
    os.chown(path, uid, -1)
    return path


def test_a_root_owned_file_in_root_owned_directories_is_accepted(root_dir: Path) -> None:
    path = config_in(root_dir)
    assert check_root_only(str(path)) == str(path.resolve())


def test_a_file_owned_by_another_user_is_refused(root_dir: Path) -> None:
    with pytest.raises(PolicyError):
        check_root_only(str(config_in(root_dir, uid=NOBODY)))


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
def test_a_file_others_can_write_is_refused(root_dir: Path, mode: int) -> None:
    with pytest.raises(PolicyError):
        check_root_only(str(config_in(root_dir, mode=mode)))


def test_a_directory_others_can_write_is_refused(root_dir: Path) -> None:
    path = config_in(root_dir)
    root_dir.chmod(0o777)  # anyone could rename another file into place
    with pytest.raises(PolicyError):
        check_root_only(str(path))


def test_a_directory_owned_by_another_user_is_refused(root_dir: Path) -> None:
    path = config_in(root_dir)
    os.chown(root_dir, NOBODY, -1)
    with pytest.raises(PolicyError):
        check_root_only(str(path))


def test_a_sticky_root_owned_directory_like_tmp_is_accepted(root_dir: Path) -> None:
    path = config_in(root_dir)
    root_dir.chmod(0o1777)  # nobody else can remove or replace root's file in it
    assert check_root_only(str(path)) == str(path.resolve())


def test_a_symlink_is_judged_by_the_file_it_leads_to(root_dir: Path, tmp_path: Path) -> None:
    foreign = config_in(root_dir, uid=NOBODY)
    link = tmp_path / "link.toml"
    link.symlink_to(foreign)
    with pytest.raises(PolicyError):
        check_root_only(str(link))


# -- code: no sticky exemption for the file or the directory holding it ---------------------------

def test_code_in_a_sticky_world_writable_directory_is_refused(root_dir: Path) -> None:
    root_dir.chmod(0o1777)  # anyone may add a module (or its __pycache__) beside root's
    module = root_dir / "mod.py"
    module.write_text("")
    with pytest.raises(PolicyError):
        check_root_only(str(module), strict=2)


def test_code_below_a_sticky_root_directory_is_accepted(root_dir: Path) -> None:
    (root_dir.parent).chmod(0o1777)  # like /tmp above a root-owned 0755 tree
    module = root_dir / "mod.py"
    module.write_text("")
    assert check_root_only(str(module), strict=2) == str(module.resolve())


def test_a_missing_file_is_judged_by_the_directory_that_would_hold_it(root_dir: Path) -> None:
    cached = root_dir / "__pycache__" / "mod.cpython-311.pyc"
    assert check_root_only(str(cached), strict=2) == str(cached)
    root_dir.chmod(0o777)  # anyone could create __pycache__ and plant the bytecode
    with pytest.raises(PolicyError):
        check_root_only(str(cached), strict=2)


def test_a_symlink_in_a_directory_others_can_write_is_refused(root_dir: Path,
                                                              tmp_path: Path) -> None:
    target = root_dir / "real.py"
    target.write_text("")
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)
    link = open_dir / "link.py"
    link.symlink_to(target)  # root's file, but anyone may point the link elsewhere
    with pytest.raises(PolicyError):
        check_root_only(str(link))


def test_check_code_names_a_package_file_others_can_write(root_dir: Path) -> None:
    package = root_dir / "pkg"
    package.mkdir(mode=0o755)
    (package / "__init__.py").write_text("")
    isolation.check_code(str(package))
    (package / "__init__.py").chmod(0o666)
    with pytest.raises(PolicyError) as refused:
        isolation.check_code(str(package))
    assert str(package / "__init__.py") in str(refused.value)


def test_later_imports_are_refused_from_a_package_others_can_write(root_dir: Path) -> None:
    # The finder check_later_imports installs, asked directly (installing it would outlive this
    # test): it finds a module as the import system would, and refuses one others can change.
    for name, mode in (("lp_root_only_pkg", 0o755), ("lp_writable_pkg", 0o777)):
        (root_dir / name).mkdir()
        (root_dir / name).chmod(mode)
        (root_dir / name / "__init__.py").write_text("")
    sys.path.insert(0, str(root_dir))
    try:
        finder = isolation._RootOnlyImports()
        spec = finder.find_spec("lp_root_only_pkg", None)
        assert spec is not None and spec.origin == str(root_dir / "lp_root_only_pkg/__init__.py")
        with pytest.raises(PolicyError):
            finder.find_spec("lp_writable_pkg", None)
    finally:
        sys.path.remove(str(root_dir))


def test_a_module_in_a_root_owned_zip_archive_is_judged_by_the_archive(root_dir: Path) -> None:
    archive = root_dir / "lp_modules.zip"
    with zipfile.ZipFile(archive, "w") as written:
        written.writestr("lp_zipped.py", "")
    sys.path.insert(0, str(archive))
    try:
        spec = isolation._RootOnlyImports().find_spec("lp_zipped", None)
        assert spec is not None
        archive.chmod(0o666)
        with pytest.raises(PolicyError):
            isolation._RootOnlyImports().find_spec("lp_zipped", None)
    finally:
        sys.path.remove(str(archive))
        sys.path_importer_cache.pop(str(archive), None)


# -- the socket's directory ---------------------------------------------------------------------

def test_a_socket_in_the_invoking_users_private_directory_is_accepted(tmp_path: Path) -> None:
    directory = tmp_path / "sock"
    directory.mkdir(mode=0o700)
    os.chown(directory, NOBODY, -1)
    check_socket_dir(str(directory / "channel"), NOBODY)


@pytest.mark.parametrize(("owner", "mode"), [(0, 0o700), (NOBODY, 0o770), (NOBODY, 0o1777)])
def test_a_socket_directory_not_the_invoking_users_alone_is_refused(
        tmp_path: Path, owner: int, mode: int) -> None:
    directory = tmp_path / "sock"
    directory.mkdir()
    directory.chmod(mode)
    os.chown(directory, owner, -1)
    with pytest.raises(PolicyError):
        check_socket_dir(str(directory / "channel"), NOBODY)


def test_a_socket_directory_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    os.chown(real, NOBODY, -1)
    link = tmp_path / "link"
    link.symlink_to(real)
    os.lchown(link, NOBODY, -1)
    with pytest.raises(PolicyError):
        check_socket_dir(str(link / "channel"), NOBODY)


# -- limits ---------------------------------------------------------------------------------------

LIMITS = """
import json, resource
from leastpriv.privileged import isolation
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
resource.setrlimit(resource.RLIMIT_CORE, (0, resource.RLIM_INFINITY))
isolation.reset_limits()
print(json.dumps({name: resource.getrlimit(getattr(resource, name))
                  for name in ("RLIMIT_FSIZE", "RLIMIT_CPU", "RLIMIT_CORE")}))
"""


def test_reset_limits_sets_the_helpers_own_whatever_the_caller_left() -> None:
    done = subprocess.run([sys.executable, "-c", LIMITS], capture_output=True, text=True,
                          check=True)
    unlimited = [resource.RLIM_INFINITY] * 2
    assert json.loads(done.stdout) == {"RLIMIT_FSIZE": unlimited, "RLIMIT_CPU": unlimited,
                                       "RLIMIT_CORE": [0, 0]}


def test_check_code_refuses_a_bytecode_prefix_others_can_write(
        root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = root_dir / "pycache"
    prefix.mkdir(mode=0o777)
    prefix.chmod(0o777)  # PYTHONPYCACHEPREFIX there: anyone could plant the bytecode root loads
    monkeypatch.setattr(sys, "pycache_prefix", str(prefix))
    with pytest.raises(PolicyError):
        isolation.check_code(str(root_dir))


def test_a_socket_directory_that_does_not_exist_is_refused_like_any_other(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        check_socket_dir(str(tmp_path / "missing" / "channel"), NOBODY)


ISOLATE = """
import ctypes, json, os
from leastpriv.privileged import isolation
isolation.isolate_process()
dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
print(json.dumps({"dumpable": dumpable, "cwd": os.getcwd(), "environ": dict(os.environ)}))
"""


def test_isolate_process_leaves_a_root_process_undumpable_in_root_with_path_only(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", ISOLATE], cwd=tmp_path, capture_output=True,
                          text=True, check=True, env={**os.environ, "FROM_CALLER": "1"})
    assert json.loads(done.stdout) == {"dumpable": 0, "cwd": "/",
                                       "environ": {"PATH": isolation.SAFE_PATH}}

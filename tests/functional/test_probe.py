"""`leastpriv probe` for real: commands and a privileged function run in throwaway namespaces.

Each security promise of the sandbox comes with its attack: a trial holding every capability
as uid 0 tries to write a host file, a host kernel setting, and to signal a host process, and
each fails while the host stays as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from tests.conftest import requires_root

from leastpriv.migrate.catalog import load_catalog, parse_catalog
from leastpriv.probe import cli
from leastpriv.probe.runner import Prober, held_capabilities, probe

pytestmark = [pytest.mark.functional, requires_root]


def _host_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    return sorted(line.split("link/")[0] for line in out.stdout.splitlines())


def test_ip_veth_needs_net_admin_only_and_leaves_the_host_interfaces_alone():
    before = _host_links()
    argv = ["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]
    result = probe(argv, load_catalog().lookup("ip"))
    assert result.capabilities == ("CAP_NET_ADMIN",)
    assert result.needs_uid0 is False and result.agrees
    # The catalog set worked, then the set without CAP_NET_ADMIN failed: two trials, as evidence.
    assert [(t.capabilities, t.exit == 0) for t in result.trials] == [
        (("CAP_NET_ADMIN",), True), ((), False)]
    assert _host_links() == before


def test_a_wrong_catalog_entry_is_corrected_by_the_search_from_every_capability():
    # chown claimed to need CAP_KILL: that fails, so the search starts from every capability.
    wrong = load_catalog().lookup("kill")
    setup = [["install", "-m", "0644", "/dev/null", "f"]]
    result = probe(["chown", "1234", "f"], wrong, setup=setup)
    assert result.capabilities == ("CAP_CHOWN",) and not result.needs_uid0
    assert not result.agrees


def test_attack_writing_a_host_file_with_every_capability_as_root_fails(tmp_path):
    target = tmp_path / "written-from-the-sandbox"
    prober = Prober(["sh", "-c", f"echo pwned > {target}"])
    assert not prober.succeeds(held_capabilities(), as_root=True)
    assert not target.exists()


def test_attack_writing_a_host_kernel_setting_fails():
    setting = Path("/proc/sys/kernel/core_uses_pid")  # not namespaced: the host's own
    value = setting.read_text().strip()  # written back unchanged, were the sandbox to leak
    prober = Prober(["sh", "-c", f"echo {value} > {setting}"])
    assert not prober.succeeds(held_capabilities(), as_root=True)
    assert "Read-only file system" in prober.trials[-1].output


def test_attack_signalling_a_host_process_fails():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        prober = Prober(["kill", "-TERM", str(sleeper.pid)])
        assert not prober.succeeds(held_capabilities(), as_root=True)
        assert sleeper.poll() is None  # still running: the sandbox's PID namespace hides it
    finally:
        sleeper.kill()
        sleeper.wait()


def test_catalog_probe_writes_verified_for_each_command_found_here(tmp_path, capsys):
    catalog_file = tmp_path / "commands.toml"
    shipped = resources.files("leastpriv").joinpath("data/commands.toml").read_text()
    catalog_file.write_text(shipped)
    code = cli.run(cli_args(["--catalog", "--catalog-file", str(catalog_file), "--format",
                             "json"]))
    reports = json.loads(capsys.readouterr().out)
    assert code in (cli.EXIT_AGREES, cli.EXIT_DIFFERS)
    probed = {report["argv"][0] for report in reports}
    assert {"chown", "chmod", "cat", "dd", "tee", "kill", "ip", "mount", "umount",
            "sysctl"} <= probed
    rewritten = parse_catalog(catalog_file.read_text())
    for report in reports:
        entry = rewritten.lookup(report["argv"][0])
        assert entry.verified["capabilities"] == report["capabilities"]
        assert entry.verified["needs_uid0"] == report["needs_uid0"]
    # Only `verified` lines were added: every other line of the file is unchanged.
    kept = [line for line in catalog_file.read_text().splitlines()
            if not line.startswith("verified = ")]
    assert kept == [line for line in shipped.splitlines() if not line.startswith("verified = ")]


def test_entrypoint_probe_shrinks_a_function_to_what_its_body_needs(capsys):
    args = {"namespace": "leastpriv-demo-0000abcd", "name": "lp0000abcd-a",
            "peer": "lp0000abcd-b"}
    code = cli.run(cli_args([
        "--setup", "ip netns add leastpriv-demo-0000abcd", "--format", "json",
        "--entrypoint",
        "leastpriv.examples.console_and_network.network:add_instance_veth_privileged",
        "--args", json.dumps(args)]))
    (report,) = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_AGREES
    assert report["capabilities"] == ["CAP_NET_ADMIN"] and report["needs_uid0"] is False
    assert not os.path.exists("/run/netns/leastpriv-demo-0000abcd")  # made in the sandbox only


def cli_args(argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")
def test_refuses_when_it_cannot_build_namespaces():
    from leastpriv.probe.sandbox import namespace_inodes, verify_fresh

    with pytest.raises(RuntimeError):
        verify_fresh(namespace_inodes())  # this test process is in the host's namespaces

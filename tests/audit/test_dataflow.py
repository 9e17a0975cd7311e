"""The roles in which parameters reach a sink: only the dangerous ones are recorded."""

from __future__ import annotations

import functools

import pytest
from tests.audit import variants

from leastpriv.audit.visitor import scan_module

_HEAD = (
    "import os\nfrom oslo_concurrency import processutils\nfrom oslo_utils import fileutils\n"
    "from oslo_privsep import priv_context\n"
    "ctx = priv_context.PrivContext(__name__, capabilities=[0])\n"
    "@ctx.entrypoint\n"
)


def _reaches(body: str) -> list[tuple[tuple[str, tuple[str, ...]], ...]]:
    facts = scan_module(_HEAD + body, path="m.py", module="svc.m", is_package=False)
    (entrypoint,) = facts.entrypoints
    return [flow.reaches for flow in entrypoint.flows]


def test_only_the_directory_of_write_to_tempfile_is_a_path() -> None:
    reaches = _reaches(
        "def write(content, _path, suffix, prefix):\n"
        "    fileutils.write_to_tempfile(content, path=_path, suffix=suffix, prefix=prefix)\n"
    )
    assert reaches == [(("as the path", ("_path",)),)]


def test_chmod_reports_the_path_and_the_mode_in_their_own_roles() -> None:
    reaches = _reaches("def chmod(path, mode):\n    os.chmod(path, mode)\n")
    assert reaches == [(("as the path", ("path",)), ("as the mode", ("mode",)))]


def test_owner_ids_of_chown_are_not_a_role_worth_reporting() -> None:
    assert _reaches("def chown(path, uid, gid):\n    os.chown(path, uid, gid)\n") == [
        (("as the path", ("path",)),)
    ]


def test_every_caller_value_among_a_destructive_commands_arguments_is_one_role() -> None:
    reaches = _reaches(
        "def mkfs(fs, device):\n    processutils.execute('mkfs', '-t', fs, device)\n"
    )
    assert reaches == [(("as an operand of mkfs", ("device", "fs")),)]


def test_read_only_sub_command_of_a_destructive_program_is_not_a_flow() -> None:
    assert _reaches("def info(path):\n    processutils.execute('qemu-img', 'info', path)\n") == []


# ---- the red-team variants (tests/audit/fixtures/LPS20*_variants*, see tests/audit/variants.py)
_CASES = variants.cases()
# Variants the audit still judges wrongly: each is a strict xfail, so fixing one fails here until
# it leaves this set.
_STILL_WRONG = frozenset(
    {
        "svc_fixture.lps203_variants.write_basename",
        "svc_fixture.lps204_variants.python_fixed_code",
        "svc_fixture.lps204_variants7.vtysh_file",
    }
)


@functools.cache
def _verdicts() -> dict[str, frozenset[str]]:
    return variants.verdicts()


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="known miss"))
        if c.entrypoint in _STILL_WRONG
        else c
        for c in _CASES
    ],
    ids=lambda c: c.entrypoint.rsplit(".", 1)[-1],
)
def test_variant_is_reported_by_its_rule_when_bad_and_by_none_when_good(
    case: variants.Case,
) -> None:
    reported = _verdicts().get(case.entrypoint, frozenset())
    if case.bad:
        assert case.rule in reported
    else:
        assert reported == frozenset()


def test_every_variant_fixture_has_bad_and_good_cases_of_each_shape() -> None:
    shapes = {(c.shape, c.bad) for c in _CASES}
    assert shapes == {(s, b) for s in "ABCDEFGHIP" for b in (True, False)}

"""The execute() keywords a generated function takes over, and those it leaves to the caller."""

from __future__ import annotations

import pytest

from leastpriv.migrate.runoptions import DEFAULT, RunOptions, read


@pytest.mark.parametrize(("keywords", "expected"), [
    ((), DEFAULT),
    ((("check_exit_code", "True"),), DEFAULT),
    ((("check_exit_code", "None"),), DEFAULT),
    ((("check_exit_code", "False"),), RunOptions(ok_codes=None)),
    ((("check_exit_code", "4"),), RunOptions(ok_codes=(4,))),
    ((("check_exit_code", "[4, 0, 4]"),), RunOptions(ok_codes=(0, 4))),
    ((("check_exit_code", "(0, 21)"), ("process_input", "passphrase")),
     RunOptions(ok_codes=(0, 21), stdin=True)),
    ((("process_input", "None"),), DEFAULT),
    ((("attempts", "1"), ("delay_on_retry", "False")), DEFAULT),
])
def test_literal_exit_codes_and_stdin_become_the_functions_behaviour(keywords, expected):
    assert read(keywords) == expected


@pytest.mark.parametrize("keywords", [
    (("check_exit_code", "check_exit_code"),),  # forwarded: the caller decides
    (("check_exit_code", "[0, ok]"),),
    (("check_exit_code", "[]"),),
    (("check_exit_code", "'0'"),),
    (("attempts", "3"),),  # the wait between tries depends on the wrapper
    (("attempts", "CONF.attempts"),),
    (("delay_on_retry", "retry"),),
    (("timeout", "5"),),
    (("log_errors", "processutils.LOG_ALL_ERRORS"),),
    (("**", "kwargs"),),
])
def test_anything_else_is_a_reason_not_to_convert(keywords):
    reason = read(keywords)
    assert isinstance(reason, str) and reason

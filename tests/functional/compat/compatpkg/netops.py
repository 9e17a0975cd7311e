"""Entrypoints in a module of their own, in oslo.privsep's style: no suffix, no annotations."""

import os
import subprocess

import compatpkg
from compatpkg import errors


@compatpkg.netadmin.entrypoint
def getpid():
    return os.getpid()


@compatpkg.netadmin.entrypoint
def echo(*args, **kwargs):
    return args, kwargs


@compatpkg.netadmin.entrypoint
def nested_getpid():
    return getpid()


@compatpkg.netadmin.entrypoint
def nested_other():
    return compatpkg.other_pid()


@compatpkg.netadmin.entrypoint
def fail(code, text):
    raise errors.CommandFailed(code, text)


@compatpkg.netadmin.entrypoint
def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@compatpkg.netadmin.entrypoint_with_timeout(0.2)
def slow(seconds):
    import time

    time.sleep(seconds)
    return seconds


@compatpkg.netadmin.entrypoint
def log_twice(secret):
    import logging

    log = logging.getLogger("compatpkg.netops")
    log.info("info line with %s", secret)
    log.warning("warning line")

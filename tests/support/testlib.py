"""Small helpers the Python tests share (tests/support)."""
import os
import socket
import sys
import time


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline."""


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, timeout, every=0.25):
    """Polls cond() until it returns something true (and returns that), or
    raises WaitTimeout naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise WaitTimeout("timed out after %gs waiting for %s" % (timeout, what))


def key_hash(key):
    """docs/routing.md's fnv1a64-high32 of a key (a str)."""
    h = 14695981039346656037
    for b in key.encode():
        h ^= b
        h = (h * 1099511628211) % (1 << 64)
    return h >> 32


def take_arg(flag, env, from_argv):
    """The value of `flag VALUE` on the command line when `from_argv` (pass
    `__name__ == "__main__"`: a test run as a script), removed from sys.argv
    so that unittest does not see it; else $env; else ""."""
    value = os.environ.get(env, "")
    if from_argv and flag in sys.argv:
        i = sys.argv.index(flag)
        value = sys.argv[i + 1] if i + 1 < len(sys.argv) else ""
        del sys.argv[i:i + 2]
    return value

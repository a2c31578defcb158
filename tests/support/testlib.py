"""Small helpers the Python data-plane tests share (tests/support)."""
import socket
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

"""Small process and socket helpers shared by the replay driver
(hack/replay/run.py), the demo's data plane (hack/demo/dataplane.py) and the
pod runner (hack/podrunner/podrunner.py). Standard library only."""
import signal
import socket
import subprocess


def free_port():
    """A loopback TCP port that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def redis_ping(host, port, timeout=0.5):
    """True when a Redis server on host:port answers PING with PONG (not LOADING)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as c:
            c.sendall(b"PING\r\n")
            return c.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def stop_process(popen, timeout):
    """SIGTERM, then SIGKILL when `popen` has not exited within `timeout` seconds."""
    popen.send_signal(signal.SIGTERM)
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()

"""A minimal Kubernetes API client for the replay driver and the recorders.

Reads a kubeconfig with embedded or file client certificates (as written by
hack/controlplane.sh) and talks HTTPS with the standard library only: the
driver patches pods many times a second and spawning kubectl for each write
would be too slow.
"""
import base64
import http.client
import json
import os
import ssl
import tempfile
import threading
import urllib.parse

import yaml


class ApiError(Exception):
    def __init__(self, status, method, path, body):
        super().__init__(f"{method} {path}: HTTP {status}: {body[:300]}")
        self.status = status


def _material(entry, key):
    """Returns file contents (bytes) for `key-data` (base64) or `key` (path)."""
    if entry.get(key + "-data"):
        return base64.b64decode(entry[key + "-data"])
    if entry.get(key):
        with open(entry[key], "rb") as f:
            return f.read()
    return None


class Client:
    def __init__(self, kubeconfig, timeout=10.0):
        with open(kubeconfig) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        url = urllib.parse.urlparse(cluster["server"])
        self.host, self.port = url.hostname, url.port or 443
        self.timeout = timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="shardcast-replay-")
        ca, cert, key = _material(cluster, "certificate-authority"), \
            _material(user, "client-certificate"), _material(user, "client-key")
        self.ctx = ssl.create_default_context()
        if ca:
            self.ctx.load_verify_locations(cadata=ca.decode())
        if cert and key:
            cp, kp = os.path.join(self._tmp.name, "c.pem"), os.path.join(self._tmp.name, "k.pem")
            with open(cp, "wb") as f:
                f.write(cert)
            with open(kp, "wb") as f:
                f.write(key)
            self.ctx.load_cert_chain(cp, kp)
        self.token = user.get("token")
        self._local = threading.local()

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.timeout)
            self._local.conn = c
        return c

    def request(self, method, path, body=None, content_type="application/json"):
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
                break
            except (OSError, http.client.HTTPException):
                self._local.conn = None
                c.close()
                if attempt == 1:
                    raise
        if r.status >= 300:
            raise ApiError(r.status, method, path, raw.decode(errors="replace"))
        return json.loads(raw) if raw else {}

    def get(self, path):
        return self.request("GET", path)

    def merge_patch(self, path, body):
        return self.request("PATCH", path, body, "application/merge-patch+json")


def parse_cpu_millis(q):
    """Kubernetes CPU quantity -> millicores ("250m", "1", "123456789n", "1.5")."""
    q = str(q).strip()
    units = {"n": 1e-6, "u": 1e-3, "m": 1.0, "k": 1e6, "M": 1e9}
    if q and q[-1] in units:
        return float(q[:-1]) * units[q[-1]]
    return float(q) * 1000.0

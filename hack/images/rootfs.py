#!/usr/bin/env python3
"""Writes the root file system of one Shardcast image as a reproducible tar.

The tar holds exactly:
  - the binary (debug sections stripped) at /usr/local/bin/NAME;
  - the shared libraries it loads, as `ldd` resolves them, each at the path
    the dynamic loader looks it up by, and the loader itself (PT_INTERP);
  - CA certificates (/etc/ssl/certs/ca-certificates.crt);
  - /etc/passwd and /etc/group with root and nonroot (65532), /etc/nsswitch.conf,
    /home/nonroot (owned by 65532) and /tmp (1777).
Entries are sorted, owned by numeric ids, with mtime 0, so the same inputs
give the same bytes. hack/images.sh adds the tar to an empty image with buildah.

usage: rootfs.py --binary PATH --out rootfs.tar [--libs-out libs.txt]
"""
import argparse
import io
import os
import re
import subprocess
import sys
import tarfile

NONROOT = 65532
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PASSWD = ("root:x:0:0:root:/root:/sbin/nologin\n"
          f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n")
GROUP = f"root:x:0:\nnonroot:x:{NONROOT}:\n"
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"


def fail(msg):
    sys.exit(f"rootfs.py: {msg}")


def interpreter(binary):
    """The PT_INTERP path of an ELF executable, or None for a static one."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"{binary}: not an ELF file ({out.stderr.strip()})")
    m = re.search(r"\[Requesting program interpreter: ([^\]]+)\]", out.stdout)
    return m.group(1) if m else None


def shared_libraries(binary):
    """Absolute paths of the shared objects `binary` loads (loader included)."""
    interp = interpreter(binary)
    if interp is None:
        return []
    # The loader lists the transitive closure in load order (`ldd` does the same).
    out = subprocess.run([interp, "--list", binary], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"{binary}: {interp} --list failed: {out.stderr.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if "=> not found" in line:
            fail(f"{binary}: missing library: {line}")
        m = re.match(r"\S+ => (/\S+) \(0x", line) or re.match(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    if interp not in libs:
        libs.append(interp)
    return sorted(set(libs))


class Tar:
    def __init__(self):
        self.entries = {}  # path -> (TarInfo, bytes or None)

    def _info(self, path, kind, mode, uid=0):
        ti = tarfile.TarInfo(path.lstrip("/"))
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, uid, 0
        ti.uname = ti.gname = ""
        return ti

    def dir(self, path, mode=0o755, uid=0):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p not in self.entries:
                self.entries[p] = (self._info(p, tarfile.DIRTYPE, 0o755), None)
        self.entries[path.strip("/")] = (self._info(path, tarfile.DIRTYPE, mode, uid), None)

    def file(self, path, data, mode=0o644):
        self.dir(os.path.dirname(path))
        ti = self._info(path, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.entries[path.strip("/")] = (ti, data)

    def write(self, out):
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
            for path in sorted(self.entries):
                ti, data = self.entries[path]
                tf.addfile(ti, io.BytesIO(data) if data is not None else None)


def stripped(binary):
    tmp = binary + ".image-strip"
    r = subprocess.run(["objcopy", "--strip-debug", binary, tmp], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"objcopy --strip-debug {binary}: {r.stderr.strip()}")
    try:
        with open(tmp, "rb") as f:
            return f.read()
    finally:
        os.unlink(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--libs-out")
    a = ap.parse_args()
    if not os.path.isfile(a.binary):
        fail(f"--binary: no file {a.binary}")
    if not os.path.isfile(CA_BUNDLE):
        fail(f"no CA bundle at {CA_BUNDLE} (Debian package ca-certificates)")
    t = Tar()
    name = os.path.basename(a.binary)
    t.file(f"/usr/local/bin/{name}", stripped(a.binary), 0o755)
    libs = shared_libraries(a.binary)
    for lib in libs:
        with open(lib, "rb") as f:  # follows symlinks: the image holds the file itself
            t.file(lib, f.read(), 0o755)
    with open(CA_BUNDLE, "rb") as f:
        t.file(CA_BUNDLE, f.read())
    t.file("/etc/passwd", PASSWD.encode())
    t.file("/etc/group", GROUP.encode())
    t.file("/etc/nsswitch.conf", NSSWITCH.encode())
    t.dir("/home/nonroot", 0o700, NONROOT)
    t.dir("/tmp", 0o1777)
    t.write(a.out)
    if a.libs_out:
        with open(a.libs_out, "w") as f:
            for lib in libs:
                f.write(f"{lib} {os.path.getsize(lib)}\n")


if __name__ == "__main__":
    main()

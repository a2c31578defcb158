#!/usr/bin/env python3
"""Unpacks an oci-archive into DEST/rootfs after checking every blob.

Checks: oci-layout version, one manifest in index.json; the manifest, the
config and every layer exist under blobs/sha256, with the sha256 digest and
the size the referrer states; each layer's uncompressed digest matches the
config's rootfs.diff_ids. Then applies the layers in order (whiteouts
honoured, no path may leave the root) and prints the image config's
"config" object as JSON on stdout.

usage: oci_unpack.py ARCHIVE DEST
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile


def fail(msg):
    sys.exit(f"oci_unpack: {msg}")


def blob(layout, desc, what):
    algo, _, hexd = desc["digest"].partition(":")
    if algo != "sha256":
        fail(f"{what}: unsupported digest {desc['digest']}")
    path = os.path.join(layout, "blobs", "sha256", hexd)
    if not os.path.isfile(path):
        fail(f"{what}: blob {desc['digest']} missing")
    data = open(path, "rb").read()
    if hashlib.sha256(data).hexdigest() != hexd:
        fail(f"{what}: blob {desc['digest']} does not match its digest")
    if len(data) != desc["size"]:
        fail(f"{what}: blob is {len(data)} bytes, descriptor says {desc['size']}")
    return data


def safe_path(root, name):
    name = name.lstrip("./").lstrip("/")
    full = os.path.normpath(os.path.join(root, name))
    if full != root and not full.startswith(root + os.sep):
        fail(f"layer entry {name!r} leaves the root")
    return full


def apply_layer(root, data):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        for m in tf.getmembers():
            base = os.path.basename(m.name.rstrip("/"))
            if base.startswith(".wh."):
                target = safe_path(root, os.path.join(os.path.dirname(m.name), base[4:]))
                if base == ".wh..wh..opq":
                    for e in os.listdir(os.path.dirname(target)):
                        shutil.rmtree(os.path.join(os.path.dirname(target), e), ignore_errors=True)
                elif os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                elif os.path.lexists(target):
                    os.unlink(target)
                continue
            if m.islnk() or m.issym():
                if m.islnk():
                    safe_path(root, m.linkname)
            safe_path(root, m.name)
            tf.extract(m, root, numeric_owner=True)


def main():
    if len(sys.argv) != 3:
        fail("usage: oci_unpack.py ARCHIVE DEST")
    archive, dest = sys.argv[1], os.path.abspath(sys.argv[2])
    layout = os.path.join(dest, "layout")
    root = os.path.join(dest, "rootfs")
    os.makedirs(layout)
    os.makedirs(root)
    with tarfile.open(archive) as tf:
        for m in tf.getmembers():
            safe_path(layout, m.name)
        tf.extractall(layout)
    if json.load(open(os.path.join(layout, "oci-layout"))).get("imageLayoutVersion") != "1.0.0":
        fail("oci-layout: imageLayoutVersion is not 1.0.0")
    index = json.load(open(os.path.join(layout, "index.json")))
    if len(index.get("manifests", [])) != 1:
        fail(f"index.json: want one manifest, have {len(index.get('manifests', []))}")
    mdesc = index["manifests"][0]
    manifest = json.loads(blob(layout, mdesc, "manifest"))
    config = json.loads(blob(layout, manifest["config"], "config"))
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(manifest["layers"]):
        fail("config: diff_ids and manifest layers differ in number")
    for i, ldesc in enumerate(manifest["layers"]):
        data = blob(layout, ldesc, f"layer {i}")
        if ldesc["mediaType"].endswith("+gzip"):
            data = gzip.decompress(data)
        if "sha256:" + hashlib.sha256(data).hexdigest() != diff_ids[i]:
            fail(f"layer {i}: uncompressed digest does not match config diff_ids[{i}]")
        apply_layer(root, data)
    out = dict(config.get("config", {}))
    out["_ref"] = mdesc.get("annotations", {}).get("org.opencontainers.image.ref.name", "")
    out["_layers"] = len(manifest["layers"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()

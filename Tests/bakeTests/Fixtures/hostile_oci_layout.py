# An OCI image layout of one small image, written without bake, optionally broken in one
# way for the tests of hostile bases (HostileInputTests): python3 hostile_oci_layout.py
# LAYOUT REF [MUTATION]. Mutations: index-not-json, index-empty, index-array,
# index-deeply-nested, index-huge, config-without-rootfs, size-as-string, size-huge,
# size-negative, digest-traversal, sha512-layer.
import gzip, hashlib, io, json, os, sys, tarfile
layout, ref = sys.argv[1], sys.argv[2]
mutation = sys.argv[3] if len(sys.argv) > 3 else ""
os.makedirs(layout + "/blobs/sha256", exist_ok=True)
def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    open(layout + "/blobs/sha256/" + digest, "wb").write(data)
    return "sha256:" + digest
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
    info = tarfile.TarInfo("etc"); info.type = tarfile.DIRTYPE; info.mode = 0o755; tar.addfile(info)
    data = b"base\n"; info = tarfile.TarInfo("etc/hello"); info.size = len(data); tar.addfile(info, io.BytesIO(data))
tar_bytes = raw.getvalue()
layer = gzip.compress(tar_bytes, mtime=0)
config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
    "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]}}
if mutation == "config-without-rootfs": del config["rootfs"]
config = json.dumps(config).encode()
config_digest = blob(config)
layer_digest = blob(layer)
layer_descriptor = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": len(layer)}
if mutation == "size-as-string": layer_descriptor["size"] = str(len(layer))
if mutation == "size-huge": layer_descriptor["size"] = 2 ** 62
if mutation == "size-negative": layer_descriptor["size"] = -1
if mutation == "digest-traversal": layer_descriptor["digest"] = "sha256:../../etc/passwd"
if mutation == "sha512-layer":
    digest = hashlib.sha512(layer).hexdigest()
    os.makedirs(layout + "/blobs/sha512", exist_ok=True)
    open(layout + "/blobs/sha512/" + digest, "wb").write(layer)
    layer_descriptor["digest"] = "sha512:" + digest
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
    "layers": [layer_descriptor]}).encode()
manifest_digest = blob(manifest)
index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": manifest_digest, "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": ref}}]}).encode()
index = {"index-not-json": b"{not json", "index-empty": b"", "index-array": b"[]",
         "index-deeply-nested": b"[" * 100000 + b"]" * 100000,
         "index-huge": index[:-1] + b', "annotations": {"pad": "' + b"a" * (100 << 20) + b'"}}'}.get(mutation, index)
open(layout + "/index.json", "wb").write(index)
open(layout + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(layout + "/layer-digest", "w").write(layer_digest[7:])

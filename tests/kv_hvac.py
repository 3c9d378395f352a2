"""hvac (the most used Python client) against the KV v2 engine and the mount API.

Run by tests/kv.rs (`hvac_kv_v2_and_mounts`) as: python kv_hvac.py <addr> <root token>.
Every expectation was checked against a real OpenBao 2.7.2. Exits non-zero on the first failure.
"""

import sys
import time

import hvac
from hvac import exceptions

addr, token = sys.argv[1], sys.argv[2]
c = hvac.Client(url=addr, token=token)
kv = c.secrets.kv.v2


def expect_raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")


def check_version_meta(meta, version):
    assert sorted(meta) == [
        "created_time",
        "custom_metadata",
        "deletion_time",
        "destroyed",
        "version",
    ], meta
    assert meta["version"] == version, meta
    assert meta["deletion_time"] == "" and meta["destroyed"] is False, meta


def wait_ready(mount):
    """OpenBao answers 400 "Upgrading from non-versioned to versioned data" for a moment after
    a KV v2 mount is enabled or moved (on raft); wait, bounded, until it serves."""
    deadline = time.time() + 30
    while True:
        try:
            kv.read_configuration(mount_point=mount)
            return
        except exceptions.InvalidRequest as e:
            assert "Upgrading from non-versioned to versioned data" in str(e), e
            assert time.time() < deadline, f"{mount} still upgrading"
            time.sleep(0.02)


# Mounts through hvac.
c.sys.enable_secrets_engine("kv", path="hv", options={"version": "2"}, description="hvac kv")
wait_ready("hv")
mounts = c.sys.list_mounted_secrets_engines()["data"]
assert mounts["hv/"]["type"] == "kv", mounts["hv/"]
assert mounts["hv/"]["options"] == {"version": "2"}, mounts["hv/"]
assert mounts["hv/"]["description"] == "hvac kv", mounts["hv/"]
e = expect_raises(
    exceptions.InvalidRequest, c.sys.enable_secrets_engine, "kv", path="hv"
)
assert e.errors == ["path is already in use at hv/"], e.errors

# create_or_update_secret / read_secret_version
r = kv.create_or_update_secret("app/db", {"user": "u", "pw": "p1"}, mount_point="hv")
check_version_meta(r["data"], 1)
assert r["data"]["custom_metadata"] is None
r = kv.create_or_update_secret("app/db", {"user": "u", "pw": "p2"}, cas=1, mount_point="hv")
check_version_meta(r["data"], 2)
e = expect_raises(
    exceptions.InvalidRequest,
    kv.create_or_update_secret,
    "app/db",
    {"x": 1},
    cas=1,
    mount_point="hv",
)
assert e.errors == ["check-and-set parameter did not match the current version"], e.errors
r = kv.read_secret_version("app/db", mount_point="hv", raise_on_deleted_version=True)
assert r["data"]["data"] == {"user": "u", "pw": "p2"}, r
check_version_meta(r["data"]["metadata"], 2)
r = kv.read_secret_version("app/db", version=1, mount_point="hv", raise_on_deleted_version=True)
assert r["data"]["data"]["pw"] == "p1", r
r = kv.read_secret("app/db", mount_point="hv")
assert r["data"]["data"]["pw"] == "p2", r
e = expect_raises(
    exceptions.InvalidPath,
    kv.read_secret_version,
    "app/none",
    mount_point="hv",
    raise_on_deleted_version=True,
)
assert e.json == {"errors": []}, e.json

# patch (hvac reads, merges and writes back with cas)
r = kv.patch("app/db", {"pw": "p3", "extra": "e"}, mount_point="hv")
check_version_meta(r["data"], 3)
r = kv.read_secret_version("app/db", mount_point="hv", raise_on_deleted_version=True)
assert r["data"]["data"] == {"user": "u", "pw": "p3", "extra": "e"}, r
expect_raises(exceptions.InvalidPath, kv.patch, "app/none", {"a": 1}, mount_point="hv")

# list_secrets uses the LIST verb; an empty list is a 404 with {"errors": []}.
kv.create_or_update_secret("app/cache", {"a": 1}, mount_point="hv")
kv.create_or_update_secret("app/sub/leaf", {"a": 1}, mount_point="hv")
assert kv.list_secrets("", mount_point="hv")["data"]["keys"] == ["app/"]
assert kv.list_secrets("app", mount_point="hv")["data"]["keys"] == ["cache", "db", "sub/"]
e = expect_raises(exceptions.InvalidPath, kv.list_secrets, "nothing", mount_point="hv")
assert e.json == {"errors": []}, e.json

# delete_latest_version_of_secret: a deleted version is a 404 that still carries its metadata.
r = kv.delete_latest_version_of_secret("app/db", mount_point="hv")
assert r.status_code == 204, r
e = expect_raises(
    exceptions.InvalidPath,
    kv.read_secret_version,
    "app/db",
    mount_point="hv",
    raise_on_deleted_version=True,
)
assert e.json["data"]["data"] is None, e.json
assert e.json["data"]["metadata"]["version"] == 3, e.json
assert e.json["data"]["metadata"]["deletion_time"] != "", e.json
r = kv.read_secret_version("app/db", mount_point="hv", raise_on_deleted_version=False)
assert r["data"]["data"] is None and r["data"]["metadata"]["destroyed"] is False, r

# undelete / delete_secret_versions / destroy_secret_versions
assert kv.undelete_secret_versions("app/db", [3], mount_point="hv").status_code == 204
r = kv.read_secret_version("app/db", mount_point="hv", raise_on_deleted_version=True)
assert r["data"]["data"]["pw"] == "p3", r
assert kv.delete_secret_versions("app/db", [1], mount_point="hv").status_code == 204
assert kv.destroy_secret_versions("app/db", [2], mount_point="hv").status_code == 204
meta = kv.read_secret_metadata("app/db", mount_point="hv")["data"]
assert sorted(meta["versions"]) == ["1", "2", "3"], meta
assert meta["versions"]["1"]["deletion_time"] != "" and not meta["versions"]["1"]["destroyed"]
assert meta["versions"]["2"]["destroyed"] is True and meta["versions"]["2"]["deletion_time"] == ""
assert meta["versions"]["3"]["deletion_time"] == "" and not meta["versions"]["3"]["destroyed"]
assert meta["current_version"] == 3 and meta["oldest_version"] == 0, meta
assert meta["custom_metadata"] is None and meta["max_versions"] == 0, meta

# update_metadata / configure / read_configuration
assert (
    kv.update_metadata(
        "app/db", max_versions=2, custom_metadata={"owner": "ops"}, mount_point="hv"
    ).status_code
    == 204
)
meta = kv.read_secret_metadata("app/db", mount_point="hv")["data"]
assert meta["max_versions"] == 2 and meta["custom_metadata"] == {"owner": "ops"}, meta
r = kv.read_secret_version("app/db", mount_point="hv", raise_on_deleted_version=True)
assert r["data"]["metadata"]["custom_metadata"] == {"owner": "ops"}, r
kv.create_or_update_secret("app/db", {"pw": "p4"}, mount_point="hv")
meta = kv.read_secret_metadata("app/db", mount_point="hv")["data"]
assert sorted(meta["versions"]) == ["3", "4"] and meta["oldest_version"] == 3, meta
assert kv.configure(max_versions=5, cas_required=True, mount_point="hv").status_code == 204
conf = kv.read_configuration(mount_point="hv")["data"]
assert conf == {
    "cas_required": True,
    "delete_version_after": "0s",
    "max_versions": 5,
    "metadata_cas_required": False,
}, conf
e = expect_raises(
    exceptions.InvalidRequest,
    kv.create_or_update_secret,
    "app/new",
    {"a": 1},
    mount_point="hv",
)
assert e.errors == ["check-and-set parameter required for this call"], e.errors
r = kv.create_or_update_secret("app/new", {"a": 1}, cas=0, mount_point="hv")
assert r["data"]["version"] == 1, r
kv.configure(max_versions=5, cas_required=False, mount_point="hv")

# delete_metadata_and_all_versions
assert kv.delete_metadata_and_all_versions("app/db", mount_point="hv").status_code == 204
e = expect_raises(exceptions.InvalidPath, kv.read_secret_metadata, "app/db", mount_point="hv")
assert e.json == {"errors": []}, e.json
assert kv.list_secrets("app", mount_point="hv")["data"]["keys"] == ["cache", "new", "sub/"]

# tune, move, disable
assert c.sys.tune_mount_configuration("hv", default_lease_ttl="1h", description="tuned").status_code == 204
tune = c.sys.read_mount_configuration("hv")["data"]
assert tune["default_lease_ttl"] == 3600 and tune["description"] == "tuned", tune
assert tune["options"] == {"version": "2"}, tune
moved = c.sys.move_backend("hv", "hv-moved")
migration = moved["data"]["migration_id"]
deadline = time.time() + 15
while True:
    status = c.read(f"sys/remount/status/{migration}")["data"]
    if status["migration_info"]["status"] == "success":
        break
    assert status["migration_info"]["status"] != "failure", status
    assert time.time() < deadline, status
    time.sleep(0.05)
assert status["migration_info"]["source_mount"] == "hv/", status
assert status["migration_info"]["target_mount"] == "hv-moved/", status
wait_ready("hv-moved")
r = kv.read_secret_version("app/cache", mount_point="hv-moved", raise_on_deleted_version=True)
assert r["data"]["data"] == {"a": 1}, r
mounts = c.sys.list_mounted_secrets_engines()["data"]
assert "hv/" not in mounts and mounts["hv-moved/"]["description"] == "tuned", mounts
assert c.sys.disable_secrets_engine("hv-moved").status_code == 204
assert "hv-moved/" not in c.sys.list_mounted_secrets_engines()["data"]

# KV v1 through hvac
c.sys.enable_secrets_engine("kv", path="hv1", options={"version": "1"})
kv1 = c.secrets.kv.v1
assert kv1.create_or_update_secret("a", {"k": "v"}, mount_point="hv1").status_code == 204
r = kv1.read_secret("a", mount_point="hv1")
assert r["data"] == {"k": "v"} and r["lease_duration"] == 2764800, r
assert kv1.list_secrets("", mount_point="hv1")["data"]["keys"] == ["a"]
assert kv1.delete_secret("a", mount_point="hv1").status_code == 204
expect_raises(exceptions.InvalidPath, kv1.read_secret, "a", mount_point="hv1")

print("ok")

"""hvac against auth methods: sys/auth, userpass and AppRole.

Run by tests/auth.rs (`hvac_userpass`, `hvac_approle`) as:
python auth_hvac.py <addr> <root token> userpass|approle. Exits non-zero on the first failure.
"""

import re
import sys

import hvac
from hvac import exceptions

addr, root, part = sys.argv[1], sys.argv[2], sys.argv[3]
c = hvac.Client(url=addr, token=root)
assert c.is_authenticated()

ACCESSOR = re.compile(r"^auth_(userpass|approle|token)_[0-9a-f]{8}$")


def fails(exc, errors, fn, *args, **kwargs):
    """fn(*args, **kwargs) raises exc, whose errors are exactly `errors`."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        assert e.errors == errors, (e.errors, errors)
        return
    raise AssertionError(f"{fn.__name__} should raise {exc.__name__}")


READER = 'path "sys/mounts" {\n  capabilities = ["read"]\n}\n'


def userpass():
    # sys/auth: enable two userpass mounts, one at a path of its own, and list them.
    c.sys.enable_auth_method("userpass")
    c.sys.enable_auth_method("userpass", description="people", path="up2")
    fails(
        exceptions.InvalidRequest,
        ["path is already in use at userpass/"],
        c.sys.enable_auth_method,
        "userpass",
    )
    methods = c.sys.list_auth_methods()
    data = methods["data"]
    assert sorted(data) == ["token/", "up2/", "userpass/"], data
    # The sys answer also carries the mounts at the top level (OpenBao's old shape).
    assert sorted(k for k in methods if k.endswith("/")) == ["token/", "up2/", "userpass/"]
    assert data["up2/"]["type"] == "userpass" and data["up2/"]["description"] == "people"
    assert data["userpass/"]["type"] == "userpass"
    assert data["token/"]["type"] == "token"
    for m in data.values():
        assert ACCESSOR.match(m["accessor"]), m
        assert m["accessor"].split("_")[1] == m["type"], m

    # userpass: a user (name lower-cased, legacy `policies`), a login, the token it gives.
    c.sys.create_or_update_acl_policy(name="reader", policy=READER)
    c.auth.userpass.create_or_update_user("Alice", password="alice-pw", policies=["reader"])
    user = c.auth.userpass.read_user("alice")["data"]
    assert user["token_policies"] == ["reader"] and user["policies"] == ["reader"], user
    assert "password" not in user and "password_hash" not in user, user
    assert c.auth.userpass.list_user()["data"]["keys"] == ["alice"]

    u = hvac.Client(url=addr)
    auth = u.auth.userpass.login("alice", "alice-pw")["auth"]
    assert auth["policies"] == ["default", "reader"], auth
    assert auth["metadata"] == {"username": "alice"}, auth
    assert auth["orphan"] is True and auth["token_type"] == "service", auth
    assert u.token == auth["client_token"]  # use_token=True
    assert u.is_authenticated()
    u.sys.list_mounted_secrets_engines()  # the `reader` policy grants this
    fails(
        exceptions.InvalidRequest,
        ["invalid username or password"],
        hvac.Client(url=addr).auth.userpass.login,
        "alice",
        "wrong",
    )
    fails(
        exceptions.InvalidRequest,
        ["invalid username or password"],
        hvac.Client(url=addr).auth.userpass.login,
        "nobody",
        "alice-pw",
    )
    c.auth.userpass.update_password_on_user("alice", "new-pw")
    hvac.Client(url=addr).auth.userpass.login("alice", "new-pw")
    # A second mount: the same user name is another user there.
    c.auth.userpass.create_or_update_user("alice", password="up2-pw", mount_point="up2")
    v = hvac.Client(url=addr)
    v.auth.userpass.login("alice", "up2-pw", mount_point="up2")
    assert v.auth.token.lookup_self()["data"]["path"] == "auth/up2/login/alice"

    # Disabling a method revokes the tokens it issued.
    c.sys.disable_auth_method("up2")
    fails(exceptions.Forbidden, ["permission denied"], v.auth.token.lookup_self)
    assert v.is_authenticated() is False
    assert u.is_authenticated()
    c.sys.disable_auth_method("userpass")
    assert u.is_authenticated() is False
    assert sorted(c.sys.list_auth_methods()["data"]) == ["token/"]


def approle():
    c.sys.enable_auth_method("approle", description="machines", path="apps")
    methods = c.sys.list_auth_methods()["data"]
    assert sorted(methods) == ["apps/", "token/"], methods
    assert methods["apps/"]["type"] == "approle", methods
    assert methods["apps/"]["description"] == "machines", methods
    assert ACCESSOR.match(methods["apps/"]["accessor"]), methods
    c.sys.create_or_update_acl_policy(name="reader", policy=READER)

    # AppRole at apps/: a role, its role id, a secret id, a login, the token it gives.
    c.auth.approle.create_or_update_approle(
        "web",
        token_policies=["reader"],
        token_ttl="60m",
        token_max_ttl="4h",
        mount_point="apps",
    )
    role = c.auth.approle.read_role("web", mount_point="apps")["data"]
    assert role["token_policies"] == ["reader"] and role["token_ttl"] == 3600, role
    assert role["token_max_ttl"] == 14400 and role["bind_secret_id"] is True, role
    role_id = c.auth.approle.read_role_id("web", mount_point="apps")["data"]["role_id"]
    assert len(role_id) == 36, role_id
    secret = c.auth.approle.generate_secret_id("web", mount_point="apps")["data"]
    assert sorted(secret) == [
        "secret_id",
        "secret_id_accessor",
        "secret_id_num_uses",
        "secret_id_ttl",
    ], secret
    a = hvac.Client(url=addr)
    auth = a.auth.approle.login(role_id, secret["secret_id"], mount_point="apps")["auth"]
    assert auth["policies"] == ["default", "reader"], auth
    assert auth["metadata"] == {"role_name": "web"}, auth
    assert auth["lease_duration"] == 3600, auth
    assert a.token == auth["client_token"]
    a.sys.list_mounted_secrets_engines()
    fails(
        exceptions.InvalidRequest,
        ["invalid role or secret ID"],
        hvac.Client(url=addr).auth.approle.login,
        role_id,
        "00000000-0000-0000-0000-000000000000",
        mount_point="apps",
    )

    # Disabling the method revokes the tokens it issued.
    c.sys.disable_auth_method("apps")
    fails(exceptions.Forbidden, ["permission denied"], a.auth.token.lookup_self)
    assert a.is_authenticated() is False
    assert sorted(c.sys.list_auth_methods()["data"]) == ["token/"]


{"userpass": userpass, "approle": approle}[part]()
print("ok")

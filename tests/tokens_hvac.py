"""hvac against tokens, ACL policies and response wrapping.

Run by tests/tokens.rs (`hvac_tokens_policies_and_wrapping`) as:
python tokens_hvac.py <addr> <root token>. Exits non-zero on the first failure.
"""

import sys

import hvac
from hvac import exceptions

addr, root = sys.argv[1], sys.argv[2]
c = hvac.Client(url=addr, token=root)
assert c.is_authenticated()

ACL_DENIED = "1 error occurred:\n\t* permission denied\n\n"


def fails(exc, errors, fn, *args, **kwargs):
    """fn(*args, **kwargs) raises exc, whose errors are exactly `errors`."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        assert e.errors == errors, (e.errors, errors)
        return
    raise AssertionError(f"{fn.__name__} should raise {exc.__name__}")


# Policies: create_or_update / read / list / delete; names are lower-cased.
READER = 'path "secret/*" {\n  capabilities = ["read"]\n}\n'
c.sys.create_or_update_acl_policy(name="Reader", policy=READER)
assert c.sys.list_acl_policies()["data"]["keys"] == ["default", "reader", "root"]
got = c.sys.read_acl_policy("reader")["data"]
assert got["name"] == "reader" and got["policy"] == READER and got["version"] == 1, got
c.sys.create_or_update_acl_policy(
    name="zz-token-ops",
    policy='path "auth/token/create" {\n  capabilities = ["update"]\n}\n',
)
assert c.sys.list_acl_policies()["data"]["keys"] == ["default", "reader", "zz-token-ops", "root"]
fails(exceptions.InvalidPath, [], c.sys.read_acl_policy, "nosuch")
fails(
    exceptions.InvalidRequest,
    ['failed to parse policy: path "a": path "a": invalid capability "raed"'],
    c.sys.create_or_update_acl_policy,
    name="bad",
    policy='path "a" {\n  capabilities = ["raed"]\n}',
)
fails(
    exceptions.InvalidRequest,
    ["cannot delete default policy"],
    c.sys.delete_acl_policy,
    "default",
)
# hvac's legacy helpers (sys/policy).
assert "reader" in c.sys.list_policies()["data"]["policies"]

# Tokens: create / lookup_self / renew_self / lookup / lookup_accessor / revoke.
t = c.auth.token.create(policies=["reader", "zz-token-ops"], ttl="1h", meta={"team": "a"})["auth"]
assert t["policies"] == ["default", "reader", "zz-token-ops"], t
assert t["lease_duration"] == 3600 and t["renewable"] and not t["orphan"], t
assert t["token_type"] == "service" and t["num_uses"] == 0, t
assert t["metadata"] == {"team": "a"}, t
user = hvac.Client(url=addr, token=t["client_token"])
assert user.is_authenticated()
me = user.auth.token.lookup_self()["data"]
assert me["policies"] == ["default", "reader", "zz-token-ops"], me
assert me["id"] == t["client_token"] and me["accessor"] == t["accessor"], me
# hvac sends display_name="token"; the server prefixes "token-" to any given name.
assert me["display_name"] == "token-token" and me["meta"] == {"team": "a"}, me
assert 3500 < me["ttl"] <= 3600, me
renewed = user.auth.token.renew_self(increment="30m")["auth"]
assert renewed["lease_duration"] == 1800, renewed
renewed = c.auth.token.renew(t["client_token"], increment=600)["auth"]
assert renewed["lease_duration"] == 600, renewed
assert c.auth.token.lookup(t["client_token"])["data"]["id"] == t["client_token"]
by_acc = c.auth.token.lookup_accessor(t["accessor"])["data"]
assert by_acc["id"] == "" and by_acc["accessor"] == t["accessor"], by_acc
fails(exceptions.Forbidden, ["bad token"], c.auth.token.lookup, "s.nonexistent000000000000")

# A child of the user; the user may not write policies (the ACL's 403 text).
child = user.auth.token.create(policies=["reader"])["auth"]
assert child["policies"] == ["default", "reader"], child
fails(
    exceptions.InvalidRequest,
    ["child policies must be subset of parent"],
    user.auth.token.create,
    policies=["root"],
)
fails(
    exceptions.Forbidden,
    [ACL_DENIED],
    user.sys.create_or_update_acl_policy,
    name="x",
    policy='path "a" {\n capabilities = ["read"]\n}',
)
# Orphans survive their creator's revocation; children do not.
orphan = c.auth.token.create_orphan(policies=["reader"])["auth"]
assert orphan["orphan"], orphan
c.auth.token.revoke(t["client_token"])
assert not user.is_authenticated()
fails(exceptions.Forbidden, ["permission denied"], user.auth.token.lookup_self)
assert not hvac.Client(url=addr, token=child["client_token"]).is_authenticated()
assert hvac.Client(url=addr, token=orphan["client_token"]).is_authenticated()
c.auth.token.revoke_accessor(orphan["accessor"])
assert not hvac.Client(url=addr, token=orphan["client_token"]).is_authenticated()
# revoke_self
selfish = hvac.Client(url=addr, token=c.auth.token.create(policies=["reader"])["auth"]["client_token"])
selfish.auth.token.revoke_self()
assert not selfish.is_authenticated()

# Token roles.
c.auth.token.create_or_update_role(
    "app", allowed_policies=["reader"], orphan=True, token_explicit_max_ttl="1h"
)
assert c.auth.token.list_roles()["data"]["keys"] == ["app"]
role = c.auth.token.read_role("app")["data"]
assert role["allowed_policies"] == ["reader"] and role["orphan"], role
assert role["token_explicit_max_ttl"] == 3600, role
made = c.auth.token.create(role_name="app", ttl="2h")
assert made["auth"]["orphan"] and made["auth"]["lease_duration"] == 3600, made
assert made["warnings"] == [
    'TTL of "2h" exceeded the effective max_ttl of "1h"; TTL value is capped accordingly'
], made
c.auth.token.delete_role("app")
fails(exceptions.InvalidPath, [], c.auth.token.read_role, "app")

# Wrapping: a wrapped token creation unwraps to its auth block, once.
wrapped = c.auth.token.create(policies=["reader"], wrap_ttl="2m")["wrap_info"]
assert wrapped["ttl"] == 120 and wrapped["creation_path"] == "auth/token/create", wrapped
unwrapped = c.sys.unwrap(wrapped["token"])
assert unwrapped["auth"]["policies"] == ["default", "reader"], unwrapped
assert unwrapped["auth"]["accessor"] == wrapped["wrapped_accessor"], unwrapped
fails(
    exceptions.InvalidRequest,
    ["wrapping token is not valid or does not exist"],
    c.sys.unwrap,
    wrapped["token"],
)
# sys.wrap (X-Vault-Wrap-TTL in seconds), unwrapped by a client holding the wrapping token
# itself (hvac then sends an empty body).
w = c.sys.wrap(payload={"k": "v", "n": 1}, ttl=60)["wrap_info"]
assert w["ttl"] == 60 and w["creation_path"] == "sys/wrapping/wrap", w
holder = hvac.Client(url=addr, token=w["token"])
assert holder.sys.unwrap()["data"] == {"k": "v", "n": 1}
fails(exceptions.InvalidRequest, ["wrapping token is not valid or does not exist"], holder.sys.unwrap)
# Any read can be wrapped: the cubbyhole here.
c.adapter.post("/v1/cubbyhole/note", json={"text": "hello"})
resp = c.adapter.get("/v1/cubbyhole/note", wrap_ttl="90s")
assert resp["request_id"] == "" and resp["data"] is None, resp
assert resp["wrap_info"]["creation_path"] == "cubbyhole/note", resp
assert c.sys.unwrap(resp["wrap_info"]["token"])["data"] == {"text": "hello"}

# Clean up the policies.
c.sys.delete_acl_policy("reader")
c.sys.delete_acl_policy("zz-token-ops")
assert c.sys.list_acl_policies()["data"]["keys"] == ["default", "root"]
print("ok")

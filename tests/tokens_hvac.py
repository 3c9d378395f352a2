"""hvac against tokens, ACL policies and response wrapping.

Run by tests/tokens.rs (`hvac_tokens_policies_and_wrapping`) as:
python tokens_hvac.py <addr> <root token>. Exits non-zero on the first failure.
"""

import sys

import hvac
from hvac import exceptions

addr, root = sys.argv[1], sys.argv[2]
c = hvac.Client(url=addr, token=root)

c.sys.create_or_update_acl_policy(
    name="reader", policy='path "secret/*" {\n  capabilities = ["read"]\n}\n'
)
assert "reader" in c.sys.list_acl_policies()["data"]["keys"]
assert "secret/*" in c.sys.read_acl_policy("reader")["data"]["policy"]

t = c.auth.token.create(policies=["reader"], ttl="1h")["auth"]
assert t["policies"] == ["default", "reader"], t
user = hvac.Client(url=addr, token=t["client_token"])
me = user.auth.token.lookup_self()["data"]
assert me["policies"] == ["default", "reader"], me
assert 3500 < me["ttl"] <= 3600, me
renewed = user.auth.token.renew_self(increment="30m")["auth"]
assert renewed["lease_duration"] == 1800, renewed
assert user.is_authenticated()

try:
    user.sys.create_or_update_acl_policy(name="x", policy='path "a" {\n capabilities = ["read"]\n}')
    raise AssertionError("a reader may not write policies")
except exceptions.Forbidden:
    pass

wrapped = c.auth.token.create(policies=["reader"], wrap_ttl="2m")["wrap_info"]
unwrapped = c.sys.unwrap(wrapped["token"])
assert unwrapped["auth"]["policies"] == ["default", "reader"], unwrapped
try:
    c.sys.unwrap(wrapped["token"])
    raise AssertionError("a wrapping token is single use")
except exceptions.InvalidRequest:
    pass

c.auth.token.revoke(t["client_token"])
assert not user.is_authenticated()
c.sys.delete_acl_policy("reader")
assert "reader" not in c.sys.list_acl_policies()["data"]["keys"]
print("ok")

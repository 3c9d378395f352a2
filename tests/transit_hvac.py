"""hvac against the Transit secrets engine (mounted at transit/).

Run by tests/transit.rs (`hvac_transit`) as: python transit_hvac.py <addr> <root token>.
Exits non-zero on the first failure. Every expectation holds on a real OpenBao 2.7.2.
"""

import base64
import json
import sys

import hvac
from hvac import exceptions

addr, root, server = sys.argv[1], sys.argv[2], sys.argv[3]
c = hvac.Client(url=addr, token=root)
assert c.is_authenticated()
t = c.secrets.transit


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fails(exc, errors, fn, *args, **kwargs):
    """fn(*args, **kwargs) raises exc, whose errors are exactly `errors`."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        assert e.errors == errors, (e.errors, errors)
        return
    raise AssertionError(f"{fn.__name__} should raise {exc.__name__}")


PT = b64(b"hvac says hi")

# create_key / read_key / list_keys.
created = t.create_key("app")
assert created["data"]["type"] == "aes256-gcm96", created
assert created["data"]["latest_version"] == 1
t.create_key("signer", key_type="ed25519")
t.create_key("rsa", key_type="rsa-2048")
t.create_key("ecdsa", key_type="ecdsa-p256")
t.create_key(
    "portable", exportable=True, allow_plaintext_backup=True, key_type="chacha20-poly1305"
)
t.create_key("ctx", derived=True, convergent_encryption=True)
key = t.read_key("app")["data"]
assert key["name"] == "app" and key["supports_encryption"] is True, key
assert list(key["keys"]) == ["1"], key
signer = t.read_key("signer")["data"]
assert signer["supports_signing"] is True and signer["supports_encryption"] is False, signer
assert t.list_keys()["data"]["keys"] == ["app", "ctx", "ecdsa", "portable", "rsa", "signer"]
fails(exceptions.InvalidPath, [], t.read_key, "missing")

# encrypt_data / decrypt_data (single, context, batch).
ct = t.encrypt_data("app", plaintext=PT)["data"]["ciphertext"]
assert ct.startswith("vault:v1:"), ct
assert t.decrypt_data("app", ciphertext=ct)["data"]["plaintext"] == PT
ctx = b64(b"tenant")
c1 = t.encrypt_data("ctx", plaintext=PT, context=ctx)["data"]["ciphertext"]
c2 = t.encrypt_data("ctx", plaintext=PT, context=ctx)["data"]["ciphertext"]
assert c1 == c2, (c1, c2)
assert t.decrypt_data("ctx", ciphertext=c1, context=ctx)["data"]["plaintext"] == PT
fails(
    exceptions.InvalidRequest,
    ["cipher: message authentication failed"],
    t.decrypt_data,
    "ctx",
    ciphertext=c1,
    context=b64(b"other"),
)
batch = t.encrypt_data("app", batch_input=[{"plaintext": PT}, {"plaintext": b64(b"2")}])
results = batch["data"]["batch_results"]
assert len(results) == 2 and all(r["ciphertext"].startswith("vault:v1:") for r in results)
dec = t.decrypt_data("app", batch_input=[{"ciphertext": r["ciphertext"]} for r in results])
assert [r["plaintext"] for r in dec["data"]["batch_results"]] == [PT, b64(b"2")]
fails(
    exceptions.InvalidRequest,
    ["illegal base64 data at input byte 0"],
    t.encrypt_data,
    "app",
    plaintext="!!",
)
# upsert via encrypt_data, with a type.
t.encrypt_data("made-by-encrypt", plaintext=PT, type="aes128-gcm96")
assert t.read_key("made-by-encrypt")["data"]["type"] == "aes128-gcm96"
# associated_data.
ad = b64(b"aad")
cad = t.encrypt_data("app", plaintext=PT, associated_data=ad)["data"]["ciphertext"]
assert t.decrypt_data("app", ciphertext=cad, associated_data=ad)["data"]["plaintext"] == PT
fails(
    exceptions.InvalidRequest,
    ["cipher: message authentication failed"],
    t.decrypt_data,
    "app",
    ciphertext=cad,
)

# rotate_key / rewrap_data / update_key_configuration.
rotated = t.rotate_key("app")
if rotated is not None and hasattr(rotated, "status_code"):
    assert rotated.status_code in (200, 204), rotated
assert t.read_key("app")["data"]["latest_version"] == 2
ct2 = t.encrypt_data("app", plaintext=PT)["data"]["ciphertext"]
assert ct2.startswith("vault:v2:"), ct2
rw = t.rewrap_data("app", ciphertext=ct)["data"]
assert rw["ciphertext"].startswith("vault:v2:") and rw["key_version"] == 2, rw
assert t.decrypt_data("app", ciphertext=rw["ciphertext"])["data"]["plaintext"] == PT
t.update_key_configuration("app", min_decryption_version=2)
fails(
    exceptions.InvalidRequest,
    ["ciphertext or signature version is disallowed by policy (too old)"],
    t.decrypt_data,
    "app",
    ciphertext=ct,
)

# sign_data / verify_signed_data.
for name, kwargs in [
    ("signer", {}),
    ("signer", {"marshaling_algorithm": "jws"}),
    ("ecdsa", {"hash_algorithm": "sha2-384"}),
    ("ecdsa", {"marshaling_algorithm": "jws"}),
    ("rsa", {"signature_algorithm": "pss", "hash_algorithm": "sha2-512"}),
    ("rsa", {"signature_algorithm": "pkcs1v15"}),
]:
    sig = t.sign_data(name, hash_input=PT, **kwargs)["data"]["signature"]
    assert sig.startswith("vault:v1:"), sig
    ok = t.verify_signed_data(name, hash_input=PT, signature=sig, **kwargs)
    assert ok["data"]["valid"] is True, (name, kwargs, ok)
    bad = t.verify_signed_data(name, hash_input=b64(b"other"), signature=sig, **kwargs)
    assert bad["data"]["valid"] is False, (name, kwargs, bad)
fails(
    exceptions.InvalidRequest,
    ["key type aes256-gcm96 does not support signing"],
    t.sign_data,
    "app",
    hash_input=PT,
)

# generate_hmac / verify_signed_data with hmac.
for alg in [None, "sha2-512", "sha2-224"]:
    kwargs = {"algorithm": alg} if alg else {}
    mac = t.generate_hmac("app", hash_input=PT, **kwargs)["data"]["hmac"]
    assert mac.startswith("vault:v2:"), mac
    v = t.verify_signed_data("app", hash_input=PT, hmac=mac, hash_algorithm=alg)
    assert v["data"]["valid"] is True, (alg, v)
    v = t.verify_signed_data("app", hash_input=b64(b"x"), hmac=mac, hash_algorithm=alg)
    assert v["data"]["valid"] is False, (alg, v)

# generate_data_key, generate_random_bytes, hash_data.
dk = t.generate_data_key("app", key_type="plaintext", bits=512)["data"]
assert len(base64.b64decode(dk["plaintext"])) == 64
assert t.decrypt_data("app", ciphertext=dk["ciphertext"])["data"]["plaintext"] == dk["plaintext"]
wrapped = t.generate_data_key("app", key_type="wrapped")["data"]
assert "plaintext" not in wrapped and wrapped["ciphertext"].startswith("vault:v2:"), wrapped
rnd = t.generate_random_bytes(n_bytes=16, output_format="hex")["data"]["random_bytes"]
assert len(bytes.fromhex(rnd)) == 16
h = t.hash_data(hash_input=b64(b"hello world"), algorithm="sha2-256")["data"]["sum"]
assert h == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9", h

# export_key, backup_key / restore_key.
exported = t.export_key("portable", key_type="encryption-key")["data"]
assert exported["name"] == "portable" and list(exported["keys"]) == ["1"], exported
fails(
    exceptions.InvalidRequest,
    ["private key material is not exportable"],
    t.export_key,
    "app",
    key_type="encryption-key",
)
pct = t.encrypt_data("portable", plaintext=PT)["data"]["ciphertext"]
backup = t.backup_key("portable")["data"]["backup"]
assert json.loads(base64.b64decode(backup))["policy"]["name"] == "portable"
t.restore_key(backup, name="portable-copy")
copy = t.read_key("portable-copy")["data"]
assert copy["type"] == "chacha20-poly1305" and copy["name"] == "portable-copy", copy
assert "restore_info" in copy, copy
assert t.decrypt_data("portable-copy", ciphertext=pct)["data"]["plaintext"] == PT
assert t.export_key("portable-copy", key_type="encryption-key")["data"]["keys"] == exported["keys"]
# OpenBao answers this caller's mistake with a 500, Coffer with a 400 (docs/compat.md).
fails(
    exceptions.InternalServerError if server == "openbao" else exceptions.InvalidRequest,
    ['1 error occurred:\n\t* key "portable-copy" already exists\n\n']
    if server == "openbao"
    else ['key "portable-copy" already exists'],
    t.restore_key,
    backup,
    name="portable-copy",
)
t.restore_key(backup, name="portable-copy", force=True)

# trim_key, delete_key.
t.rotate_key("portable")
t.update_key_configuration("portable", min_decryption_version=2)
t.update_key_configuration("portable", min_encryption_version=2)
t.trim_key("portable", min_version=2)
assert t.read_key("portable")["data"]["min_available_version"] == 2
fails(
    exceptions.InvalidRequest,
    ["error deleting policy portable: deletion is not allowed for this key"],
    t.delete_key,
    "portable",
)
t.update_key_configuration("portable", deletion_allowed=True)
t.delete_key("portable")
fails(exceptions.InvalidPath, [], t.read_key, "portable")

print("ok")
